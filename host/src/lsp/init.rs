//! Initialization: `initialize` (the workspace root, settings layered from
//! `cordon.toml` and `initializationOptions`, the position encoding, the
//! session with the built-in plugins, the server's capabilities, the
//! start-up messages), and the settings and session the other modules read.
//! The plugin folders are loaded after `initialize` has answered, in the
//! background: a plugin that is slow to compile or to `describe` itself
//! never delays the editor's start, and requests made meanwhile are served
//! by the plugins already loaded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use serde_json::Value;
use tower_lsp_server::Client;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::*;

use super::client::ClientSupport;
use super::convert::{failed, invalid_params};
use super::encoding::Encoding;
use super::handlers::code_action::EXPLAIN_KIND;
use super::handlers::command::{EXPLAIN_COMMAND, REFACTOR_COMMAND};
use super::progress;
use super::server::Lsp;
use super::settings::Settings;
use super::status::{State, Status};
use crate::catalog::{Catalog, PluginDir};
use crate::runtime::Runtime;

/// What `initialize` sets up.
pub(crate) struct Session {
    pub(crate) runtime: Runtime,
    /// The plugins loaded so far: the built-in ones at first, then every
    /// plugin of the plugin folders (see [`Session::catalog`]).
    catalog: RwLock<Arc<Catalog>>,
    /// Set while the plugin folders are being loaded.
    loading: AtomicBool,
    pub(crate) encoding: Encoding,
    /// What the client supports.
    pub(crate) client: ClientSupport,
    /// The first backend that could not be set up, said at start.
    unavailable: Option<String>,
    /// Follows the policy files while the server runs.
    _policy_watcher: Option<notify::RecommendedWatcher>,
    /// Follows the plugin folders once they are loaded.
    pub(crate) plugin_watcher: std::sync::Mutex<Option<notify::RecommendedWatcher>>,
}

impl Session {
    /// The plugins loaded now. A request takes this once and keeps it: a
    /// plugin that finishes loading meanwhile serves the next request.
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        Arc::clone(&self.catalog.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The catalog, to replace it (a reload).
    pub(crate) fn catalog_write(&self) -> std::sync::RwLockWriteGuard<'_, Arc<Catalog>> {
        self.catalog.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Take the plugin loaded from `path` out of service.
    pub(crate) fn catalog_remove(&self, path: &std::path::Path) {
        let mut catalog = self.catalog_write();
        let mut next = (**catalog).clone();
        next.remove(path);
        *catalog = Arc::new(next);
    }

    /// Whether the plugin folders are still being loaded.
    pub(crate) fn loading(&self) -> bool {
        self.loading.load(Ordering::SeqCst)
    }
}

/// Load the plugins of `dirs` next to the built-in ones (each in service
/// when ready), then follow the folders for the rest of the session.
async fn load_plugin_dirs(
    session: Arc<Session>,
    dirs: Vec<PluginDir>,
    client: Client,
    status: Status,
) {
    let editor = super::reload::Editor { client, status };
    super::reload::load_all(&session, &dirs, &editor).await;
    session.loading.store(false, Ordering::SeqCst);
    match super::reload::follow(Arc::clone(&session), dirs, editor) {
        Ok(watcher) => {
            *session
                .plugin_watcher
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(watcher)
        }
        Err(err) => tracing::warn!("plugin changes will apply only after a restart: {err}"),
    }
}

/// `initialized`: the first status (the client may be sent notifications
/// from now on).
pub(crate) async fn initialized(lsp: &Lsp) {
    let Ok(session) = lsp.session() else {
        return;
    };
    match &session.unavailable {
        Some(problem) => lsp.show_status(State::Unavailable, problem, None).await,
        None => lsp.show_ready().await,
    }
}

impl Lsp {
    /// What `initialize` set up.
    pub(crate) fn session(&self) -> Result<&Arc<Session>> {
        // tower-lsp answers requests before `initialize` itself; this is
        // reached only if `initialize` failed.
        self.session.get().ok_or_else(|| Error {
            code: ErrorCode::ServerError(-32002),
            message: "Cordon is not initialized: the `initialize` request failed".into(),
            data: None,
        })
    }

    /// The settings in force.
    pub(crate) fn settings(&self) -> Settings {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Apply a settings change, or report it and keep the previous ones.
    pub(crate) async fn change_settings(&self, value: &Value) {
        let result = self.settings().with(value);
        match result {
            Ok(next) => *self.settings.write().unwrap_or_else(|e| e.into_inner()) = next,
            Err(err) => {
                tracing::warn!("{err}");
                self.client
                    .show_message(
                        MessageType::ERROR,
                        format!("Cordon: {err}; the previous settings stay in force"),
                    )
                    .await;
            }
        }
    }

    /// The progress token of a request that carries `given`.
    pub(crate) fn progress_token(&self, given: Option<ProgressToken>) -> progress::Token {
        let server_may_create = self.session().is_ok_and(|s| s.client.server_progress);
        progress::Token::choose(given, server_may_create)
    }
}

/// `initialize`: find the workspace, layer the settings, negotiate the
/// position encoding, start the session and follow the policy files.
pub(crate) async fn initialize(lsp: &Lsp, params: InitializeParams) -> Result<InitializeResult> {
    let root = lsp
        .options
        .workspace
        .clone()
        .or_else(|| {
            params
                .workspace_folders
                .as_ref()
                .and_then(|f| f.first())
                .and_then(|f| f.uri.to_file_path().map(|p| p.into_owned()))
        })
        .or_else(|| {
            #[allow(deprecated)] // older clients send only rootUri
            params
                .root_uri
                .as_ref()
                .and_then(|u| u.to_file_path().map(|p| p.into_owned()))
        })
        .or_else(|| std::env::current_dir().ok())
        .ok_or_else(|| invalid_params("no workspace folder"))?;
    // Settings: cordon.toml's [lsp], then initializationOptions. A bad
    // file or option must not cost the user the whole server: report it
    // and carry on with what is valid.
    let mut warnings = Vec::new();
    let config = match crate::config::load(
        lsp.options.config.as_deref(),
        Some(&root),
        crate::policy::trusted_workspace(&root),
    ) {
        Ok(config) => config,
        Err(err) => {
            warnings.push((
                MessageType::ERROR,
                format!("Cordon: {err}; using the built-in defaults"),
            ));
            crate::config::Config::default()
        }
    };
    for layer in [Some(&config.lsp), params.initialization_options.as_ref()]
        .into_iter()
        .flatten()
    {
        match lsp.settings().with(layer) {
            Ok(next) => *lsp.settings.write().unwrap_or_else(|e| e.into_inner()) = next,
            Err(err) => warnings.push((
                MessageType::ERROR,
                format!("Cordon: {err}; the setting was ignored"),
            )),
        }
    }
    let encoding = Encoding::negotiate(
        params
            .capabilities
            .general
            .as_ref()
            .and_then(|g| g.position_encodings.as_deref()),
    );
    let support = ClientSupport::of(&params.capabilities);
    let (
        crate::session::Session {
            runtime,
            catalog,
            backend_errors,
        },
        plugin_dirs,
    ) = crate::session::start_builtin(&root, &config, &lsp.options.plugin_dirs, true)
        .await
        .map_err(|e| failed(e, "start"))?;
    let unavailable = backend_errors.first().map(|e| format!("Cordon: {e}"));
    let problems = catalog
        .errors
        .iter()
        .map(|e| format!("Cordon: plugin not loaded: {e}"))
        .chain(backend_errors.iter().map(|e| format!("Cordon: {e}")));
    warnings.extend(problems.map(|p| (MessageType::WARNING, p)));
    // Said plainly, once: what the repository ships and is not in force.
    if let Some(notice) = crate::trust::status(&root).notice() {
        warnings.push((MessageType::INFO, format!("Cordon: {notice}")));
    }
    for (_, warning) in &warnings {
        tracing::warn!("{warning}");
    }
    // The specification allows window/showMessage during `initialize`;
    // sent here, the messages reach the editor before any answer.
    for (kind, warning) in warnings {
        lsp.client.show_message(kind, warning).await;
    }
    let (reload_errors, mut reload_errors_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let policy_watcher = match runtime.services().policy().watch(move |e| {
        let _ = reload_errors.send(e);
    }) {
        Ok(w) => Some(w),
        Err(err) => {
            tracing::warn!("policy changes will apply only after a restart: {err}");
            None
        }
    };
    let client = lsp.client.clone();
    tokio::spawn(async move {
        while let Some(error) = reload_errors_rx.recv().await {
            client.show_message(MessageType::ERROR, error).await;
        }
    });
    let session = Arc::new(Session {
        runtime,
        catalog: RwLock::new(Arc::new(catalog)),
        loading: AtomicBool::new(true),
        encoding,
        client: support,
        unavailable,
        _policy_watcher: policy_watcher,
        plugin_watcher: std::sync::Mutex::new(None),
    });
    if lsp.session.set(Arc::clone(&session)).is_ok() {
        tokio::spawn(load_plugin_dirs(
            session,
            plugin_dirs,
            lsp.client.clone(),
            lsp.status.clone(),
        ));
    }

    Ok(InitializeResult {
        server_info: Some(ServerInfo {
            name: "cordon".into(),
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        capabilities: capabilities(encoding),
        ..InitializeResult::default()
    })
}

/// What the server offers, with positions in `encoding`.
fn capabilities(encoding: Encoding) -> ServerCapabilities {
    let code_action_kinds = vec![
        CodeActionKind::REFACTOR,
        CodeActionKind::REFACTOR_REWRITE,
        CodeActionKind::REFACTOR_EXTRACT,
        CodeActionKind::new(EXPLAIN_KIND),
    ];
    ServerCapabilities {
        position_encoding: Some(encoding.kind()),
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                ..TextDocumentSyncOptions::default()
            },
        )),
        completion_provider: Some(CompletionOptions {
            // Members and paths only: an editor that completes as you type
            // with a lone match inserted (Neovim's default `completeopt`)
            // must never turn a space or a parenthesis into a word.
            trigger_characters: Some(vec![".".into(), ":".into()]),
            ..CompletionOptions::default()
        }),
        inline_completion_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(code_action_kinds),
            resolve_provider: Some(true),
            ..CodeActionOptions::default()
        })),
        // Both take the client's work-done token: an explanation
        // streams into its progress reports.
        execute_command_provider: Some(ExecuteCommandOptions {
            commands: vec![EXPLAIN_COMMAND.into(), REFACTOR_COMMAND.into()],
            work_done_progress_options: WorkDoneProgressOptions {
                work_done_progress: Some(true),
            },
        }),
        hover_provider: Some(HoverProviderCapability::Options(HoverOptions {
            work_done_progress_options: WorkDoneProgressOptions {
                work_done_progress: Some(true),
            },
        })),
        ..ServerCapabilities::default()
    }
}
