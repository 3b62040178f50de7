//! The server and its dispatcher: the state every handler shares, and the
//! `LanguageServer` impl, which only delegates each request or notification
//! to the module that serves it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde_json::Value;
use tokio::sync::OnceCell;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService};

use super::cache::Cache;
use super::documents::Documents;
use super::fanout::Lanes;
use super::handlers::{self, stats::LspStats};
use super::init::{self, Session};
use super::settings::Settings;
use super::status::Status;
use super::stragglers::Stragglers;

/// How the server is started.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Workspace root; default: the client's first workspace folder.
    pub workspace: Option<PathBuf>,
    /// More plugin folders.
    pub plugin_dirs: Vec<PathBuf>,
    /// `--config`: the configuration file to use instead of the layers.
    pub config: Option<PathBuf>,
}

/// Serve LSP on stdin/stdout until the client exits. Returns whether the
/// client asked to shut down first (`exit` without `shutdown` is an error
/// exit, as the specification says).
pub async fn serve(options: Options) -> bool {
    let shut_down = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&shut_down);
    let (service, socket) = LspService::build(move |client| Lsp::new(client, options, flag))
        .custom_method("textDocument/inlineCompletion", Lsp::inline_completion)
        .custom_method("cordon/stats", Lsp::stats)
        .finish();
    super::transport::serve(
        service,
        socket,
        super::stdio::stdin(),
        super::stdio::stdout(),
    )
    .await;
    shut_down.load(Ordering::SeqCst)
}

/// The server's state, shared by the handlers.
pub(crate) struct Lsp {
    pub(crate) client: Client,
    pub(crate) stats: LspStats,
    /// Set when `shutdown` arrives.
    pub(crate) shut_down: Arc<AtomicBool>,
    pub(crate) options: Options,
    pub(crate) session: OnceCell<Arc<Session>>,
    pub(crate) documents: Documents,
    pub(crate) settings: RwLock<Settings>,
    pub(crate) cache: Mutex<Cache>,
    /// Third-party completion plugins' standing.
    pub(crate) stragglers: Stragglers,
    /// Third-party refactor plugins' standing (offering actions).
    pub(crate) late_actions: Stragglers,
    /// Bounds on third-party plugin calls in flight.
    pub(crate) lanes: Lanes,
    /// The status the client was last told.
    pub(crate) status: Status,
}

/// Lock a mutex even if a holder panicked: the data stays usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Lsp {
    fn new(client: Client, options: Options, shut_down: Arc<AtomicBool>) -> Self {
        Lsp {
            client,
            stats: LspStats::default(),
            shut_down,
            options,
            session: OnceCell::new(),
            documents: Documents::default(),
            settings: RwLock::new(Settings::default()),
            cache: Mutex::new(Cache::default()),
            stragglers: Stragglers::new("completion"),
            late_actions: Stragglers::new("refactor"),
            lanes: Lanes::default(),
            status: Status::default(),
        }
    }

    /// `textDocument/inlineCompletion` (a custom method: tower-lsp-server
    /// has no handler for it).
    async fn inline_completion(
        &self,
        params: InlineCompletionParams,
    ) -> Result<Option<InlineCompletionResponse>> {
        handlers::inline::inline_completion(self, params).await
    }

    /// `cordon/stats`: counters for tests and benchmarks.
    async fn stats(&self) -> Result<Value> {
        handlers::stats::stats(self)
    }
}

impl LanguageServer for Lsp {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        init::initialize(self, params).await
    }

    async fn initialized(&self, _: InitializedParams) {
        init::initialized(self).await;
    }

    async fn shutdown(&self) -> Result<()> {
        self.shut_down.store(true, Ordering::SeqCst);
        self.documents.cancel_all();
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let uri = params.text_document.uri.clone();
        self.open_document(params);
        self.show_opened_status(&uri).await;
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        self.change_document(params).await;
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        self.documents.close(&params.text_document.uri);
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        self.change_settings(&params.settings).await;
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        handlers::completion::completion(self, params).await
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        handlers::code_action::code_action(self, params).await
    }

    async fn code_action_resolve(&self, action: CodeAction) -> Result<CodeAction> {
        handlers::code_action::resolve(self, action).await
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<Value>> {
        handlers::command::execute_command(self, params).await
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        handlers::hover::hover(self, params).await
    }
}
