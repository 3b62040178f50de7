//! `textDocument/completion`: the completion plugins' items at the cursor,
//! superseded by the next completion request for the document.

use std::sync::Arc;

use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;

use crate::lsp::convert::{self, modified};
use crate::lsp::documents::SlotKind;
use crate::lsp::server::Lsp;

pub(crate) async fn completion(
    lsp: &Lsp,
    params: CompletionParams,
) -> Result<Option<CompletionResponse>> {
    let session = Arc::clone(lsp.session()?);
    let tdp = params.text_document_position;
    let uri = tdp.text_document.uri;
    let token = lsp.documents.supersede(&uri, SlotKind::Completion)?;
    let snap = lsp.snapshot(&uri, tdp.position, None)?;
    let items = tokio::select! {
        _ = token.cancelled() => {
            // An edit made the answer stale; otherwise a newer request
            // for the same document took over.
            return Err(if lsp.version(&uri) != Some(snap.version) {
                modified()
            } else {
                Error::request_cancelled()
            });
        }
        items = lsp.complete(&session, &snap) => items?,
    };
    if lsp.version(&uri) != Some(snap.version) {
        return Err(modified());
    }
    let items =
        convert::completion_items(items, &snap.doc, session.encoding, session.client.snippets);
    // Answers depend on every keystroke: ask the client to come back.
    Ok(Some(CompletionResponse::List(CompletionList {
        is_incomplete: true,
        items,
    })))
}
