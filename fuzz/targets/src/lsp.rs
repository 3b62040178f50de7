//! `lsp_transport`: the bytes an editor sends to `cordon lsp`, through
//! Cordon's framing filter (`cordon::lsp::filter_client_bytes`, the input
//! side of the transport) and then a real tower-lsp `LspService` (a
//! minimal language server, so the JSON-RPC and LSP deserialisation
//! Cordon relies on runs on what the filter forwards).
//!
//! Checks: every error reply is one frame holding a JSON-RPC error; every
//! forwarded frame is a JSON-RPC message tower-lsp accepts; the service
//! reads everything forwarded and answers every request it was sent
//! (tower-lsp stops reading at a message it cannot decode: the filter must
//! never let one through), within a time bound.

use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncReadExt;
use tower_lsp_server::jsonrpc::{self, Request, Response};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

/// The fuzz target.
pub fn lsp_transport(data: &[u8]) {
    crate::input::block_on(run(data));
}

async fn run(data: &[u8]) {
    let (forwarded, replies) = cordon::lsp::filter_client_bytes(data).await;
    for reply in &replies {
        let (body, rest) = split_frame(reply).expect("an error reply is one frame");
        assert!(rest.is_empty(), "an error reply is one frame");
        let value: Value = serde_json::from_slice(body).expect("an error reply is JSON");
        assert!(value["error"]["code"].is_i64(), "not an error: {value}");
    }
    let mut rest = &forwarded[..];
    let mut requests = 0;
    let mut exited = false;
    while !rest.is_empty() {
        let (body, tail) = split_frame(rest).expect("a forwarded frame is well-formed");
        rest = tail;
        let value: Value = serde_json::from_slice(body).expect("a forwarded body is JSON");
        if value.get("method").is_some() {
            let request: Request =
                serde_json::from_value(value).expect("a forwarded request decodes");
            if request.method() == "exit" {
                exited = true;
            }
            if !exited && request.id().is_some() {
                requests += 1;
            }
        } else {
            let _: Response = serde_json::from_value(value).expect("a forwarded response decodes");
        }
    }
    if forwarded.is_empty() {
        return;
    }
    let (service, socket) = LspService::build(|client| Minimal { _client: client })
        .custom_method("textDocument/inlineCompletion", Minimal::inline_completion)
        .finish();
    let (output, mut from_server) = tokio::io::duplex(1 << 16);
    let serve = Server::new(&forwarded[..], output, socket).serve(service);
    let mut written = Vec::new();
    let read = from_server.read_to_end(&mut written);
    let ((), read) =
        tokio::time::timeout(Duration::from_secs(10), async { tokio::join!(serve, read) })
            .await
            .expect("the language server hung on forwarded input");
    read.expect("reading the server's output");
    let mut answers = 0;
    let mut rest = &written[..];
    while !rest.is_empty() {
        let (body, tail) = split_frame(rest).expect("the server writes frames");
        rest = tail;
        let value: Value = serde_json::from_slice(body).expect("the server writes JSON");
        if value.get("method").is_none() {
            answers += 1;
        }
    }
    assert!(
        answers >= requests,
        "{requests} requests forwarded, {answers} answered: the server stopped reading"
    );
}

/// One `Content-Length` frame at the start of `bytes`: its body and the rest.
fn split_frame(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let end = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&bytes[..end]).ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))?
        .trim()
        .parse()
        .ok()?;
    let body = bytes.get(end + 4..end + 4 + length)?;
    Some((body, &bytes[end + 4 + length..]))
}

/// A language server that answers the requests Cordon serves with empty
/// results, so that tower-lsp decodes every one's parameters.
struct Minimal {
    _client: Client,
}

impl Minimal {
    /// `textDocument/inlineCompletion` (a custom method, as in Cordon).
    async fn inline_completion(
        &self,
        _: InlineCompletionParams,
    ) -> jsonrpc::Result<Option<InlineCompletionResponse>> {
        Ok(None)
    }
}

impl LanguageServer for Minimal {
    async fn initialize(&self, _: InitializeParams) -> jsonrpc::Result<InitializeResult> {
        Ok(InitializeResult::default())
    }

    async fn shutdown(&self) -> jsonrpc::Result<()> {
        Ok(())
    }

    async fn did_open(&self, _: DidOpenTextDocumentParams) {}

    async fn did_change(&self, _: DidChangeTextDocumentParams) {}

    async fn did_close(&self, _: DidCloseTextDocumentParams) {}

    async fn did_change_configuration(&self, _: DidChangeConfigurationParams) {}

    async fn completion(&self, _: CompletionParams) -> jsonrpc::Result<Option<CompletionResponse>> {
        Ok(None)
    }

    async fn code_action(
        &self,
        _: CodeActionParams,
    ) -> jsonrpc::Result<Option<CodeActionResponse>> {
        Ok(None)
    }

    async fn code_action_resolve(&self, action: CodeAction) -> jsonrpc::Result<CodeAction> {
        Ok(action)
    }

    async fn execute_command(&self, _: ExecuteCommandParams) -> jsonrpc::Result<Option<LSPAny>> {
        Ok(None)
    }

    async fn hover(&self, _: HoverParams) -> jsonrpc::Result<Option<Hover>> {
        Ok(None)
    }
}
