//! The LSP request handlers.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService};

use super::cache::{self, Cache};
use super::encoding::Encoding;
use super::progress;
use super::settings::Settings;
use super::stragglers::Stragglers;
use crate::api;
use crate::catalog::Catalog;
use crate::context;
use crate::document::Document;
use crate::gate::TextSink;
use crate::runtime::{CallError, Origin, Plugin, Runtime};

/// How long other completion plugins may take once one has answered.
const STRAGGLER_GRACE: std::time::Duration = std::time::Duration::from_millis(5);
/// The command that explains the code at a range.
const EXPLAIN_COMMAND: &str = "cordon.explain";
/// The command that applies a refactor action, with an instruction.
const REFACTOR_COMMAND: &str = "cordon.refactor";
/// LSP `RequestFailed`: the request was valid but could not be served.
const REQUEST_FAILED: i64 = -32803;

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

/// What `initialize` sets up.
struct Session {
    runtime: Runtime,
    catalog: Catalog,
    encoding: Encoding,
    /// The client accepts progress tokens created by the server.
    server_progress: bool,
    /// Follows the policy files while the server runs.
    _policy_watcher: Option<notify::RecommendedWatcher>,
}

/// An in-flight request that a newer one supersedes.
#[derive(Default)]
struct Slot {
    cancel: Option<CancellationToken>,
}

impl Slot {
    /// Cancel what runs here and start a new request.
    fn replace(&mut self) -> CancellationToken {
        if let Some(old) = self.cancel.take() {
            old.cancel();
        }
        let token = CancellationToken::new();
        self.cancel = Some(token.clone());
        token
    }

    fn cancel(&mut self) {
        if let Some(old) = self.cancel.take() {
            old.cancel();
        }
    }
}

/// An open document.
struct Open {
    doc: Document,
    version: i32,
    language_id: String,
    /// Workspace-relative path shown to plugins.
    path: String,
    inline: Slot,
    completion: Slot,
}

/// A consistent view of a document for one request.
struct Snapshot {
    doc: Document,
    version: i32,
    ctx: api::DocumentContext,
}

/// Counters of the LSP layer.
#[derive(Default)]
struct LspStats {
    inline_requests: AtomicU64,
    superseded: AtomicU64,
    cache_hits: AtomicU64,
    plugin_calls: AtomicU64,
    /// Completion plugin calls dropped as stragglers.
    stragglers_dropped: AtomicU64,
    /// Completion plugin calls not made because the plugin was benched.
    benched_skips: AtomicU64,
}

struct Lsp {
    client: Client,
    stats: LspStats,
    /// Set when `shutdown` arrives.
    shut_down: Arc<AtomicBool>,
    options: Options,
    session: OnceCell<Arc<Session>>,
    documents: Mutex<HashMap<Uri, Open>>,
    settings: RwLock<Settings>,
    cache: Mutex<Cache>,
    stragglers: Stragglers,
    /// Messages found during `initialize`, shown once the client says
    /// `initialized` (the client library sends nothing to the editor
    /// before that).
    start_messages: Mutex<Vec<(MessageType, String)>>,
}

fn invalid_params(message: impl Into<String>) -> Error {
    Error {
        code: ErrorCode::InvalidParams,
        message: message.into().into(),
        data: None,
    }
}

fn failed(message: impl Into<String>, kind: &str) -> Error {
    Error {
        code: ErrorCode::ServerError(REQUEST_FAILED),
        message: message.into().into(),
        data: Some(json!({ "kind": kind })),
    }
}

fn call_failed(err: &CallError) -> Error {
    failed(err.to_string(), err.kind())
}

fn modified() -> Error {
    Error {
        message: "the document changed while the answer was computed".into(),
        ..Error::content_modified()
    }
}

/// A third-party plugin's completion call in its own task, so that a plugin
/// busy between two epoch yields never delays the other plugins' answers.
/// Dropped before it finishes (the request was answered or cancelled), it
/// aborts the call at once: the epoch is advanced so that the plugin yields
/// now rather than at the next tick, and the aborted task ends there.
struct Spawned {
    call: AbortOnDropHandle<std::result::Result<Vec<api::CompletionItem>, CallError>>,
    engine: wasmtime::Engine,
}

impl Spawned {
    async fn complete(
        session: &Arc<Session>,
        plugin: &Arc<Plugin>,
        snap: &Snapshot,
    ) -> std::result::Result<Vec<api::CompletionItem>, CallError> {
        let task = {
            let (session, plugin) = (Arc::clone(session), Arc::clone(plugin));
            let (doc, ctx) = (snap.doc.clone(), snap.ctx.clone());
            tokio::spawn(async move { session.runtime.complete(&plugin, &doc, &ctx).await })
        };
        let mut spawned = Spawned {
            call: AbortOnDropHandle::new(task),
            engine: session.runtime.engine().clone(),
        };
        match (&mut spawned.call).await {
            Ok(result) => result,
            Err(err) => Err(CallError::Trap {
                plugin: plugin.name().to_owned(),
                message: format!("the call's task failed: {err}"),
            }),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if !self.call.is_finished() {
            self.call.abort();
            self.engine.increment_epoch();
        }
    }
}

/// Which plugins of `catalog` provide `feature`.
fn providers<'a>(catalog: &'a Catalog, feature: &'a str) -> impl Iterator<Item = &'a Arc<Plugin>> {
    catalog
        .plugins
        .iter()
        .filter(move |p| p.features().contains(&feature))
}

/// Lock a mutex even if a holder panicked: the data stays usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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
            documents: Mutex::new(HashMap::new()),
            settings: RwLock::new(Settings::default()),
            cache: Mutex::new(Cache::default()),
            stragglers: Stragglers::default(),
            start_messages: Mutex::new(Vec::new()),
        }
    }

    fn session(&self) -> Result<&Arc<Session>> {
        // tower-lsp answers requests before `initialize` itself; this is
        // reached only if `initialize` failed.
        self.session.get().ok_or_else(|| Error {
            code: ErrorCode::ServerError(-32002),
            message: "Cordon is not initialized: the `initialize` request failed".into(),
            data: None,
        })
    }

    fn settings(&self) -> Settings {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Apply a settings change, or report it and keep the previous ones.
    async fn change_settings(&self, value: &Value) {
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

    /// A snapshot of `uri` with the context for `position` (and `selection`).
    fn snapshot(
        &self,
        uri: &Uri,
        position: Position,
        selection: Option<Range>,
    ) -> Result<Snapshot> {
        let encoding = self.session()?.encoding;
        let windows = self.settings().windows;
        let documents = lock(&self.documents);
        let open = documents
            .get(uri)
            .ok_or_else(|| invalid_params(format!("document {} is not open", uri.as_str())))?;
        // A document the policy excludes is never shown to any plugin.
        if let Some(excluded) = self
            .session()?
            .runtime
            .services()
            .policy
            .excluded(&open.path)
        {
            return Err(failed(
                format!("{} is excluded by policy: {}", open.path, excluded.reason),
                "excluded",
            ));
        }
        let doc = open.doc.clone();
        let cursor = encoding.to_api(&doc, position).map_err(|e| {
            invalid_params(format!(
                "position {}:{}: {e}",
                position.line, position.character
            ))
        })?;
        let selection = match selection {
            Some(range) if range.start != range.end => Some(
                encoding
                    .range_to_api(&doc, range)
                    .map_err(|e| invalid_params(format!("range: {e}")))?,
            ),
            _ => None,
        };
        let request = context::Request {
            path: &open.path,
            language_id: &open.language_id,
            cursor,
            selection,
            diagnostics: &[],
        };
        let ctx =
            context::build(&doc, &request, windows).map_err(|e| invalid_params(e.to_string()))?;
        Ok(Snapshot {
            version: open.version,
            doc,
            ctx,
        })
    }

    fn version(&self, uri: &Uri) -> Option<i32> {
        lock(&self.documents).get(uri).map(|o| o.version)
    }

    /// Start a request in one of the document's slots, cancelling the
    /// request it supersedes.
    fn supersede(&self, uri: &Uri, inline: bool) -> Result<CancellationToken> {
        let mut documents = lock(&self.documents);
        let open = documents
            .get_mut(uri)
            .ok_or_else(|| invalid_params(format!("document {} is not open", uri.as_str())))?;
        Ok(if inline {
            open.inline.replace()
        } else {
            open.completion.replace()
        })
    }

    /// Completion items from every completion plugin (answers are cached), or
    /// the error if none could answer. Plugins run concurrently; once an
    /// answer is in and every built-in plugin has finished, the others get
    /// [`STRAGGLER_GRACE`] more and are then dropped, so a slow or spinning
    /// third-party plugin never holds up the answer (and one that is late
    /// too often is benched, see [`Stragglers`]).
    async fn complete(
        &self,
        session: &Arc<Session>,
        snap: &Snapshot,
    ) -> Result<Vec<api::CompletionItem>> {
        let now = std::time::Instant::now();
        let (called, benched): (Vec<&Arc<Plugin>>, Vec<_>) =
            providers(&session.catalog, "completion").partition(|plugin| {
                plugin.origin == Origin::Builtin || !self.stragglers.benched(plugin.name(), now)
            });
        self.stats
            .benched_skips
            .fetch_add(benched.len() as u64, Ordering::Relaxed);
        let mut pending: FuturesUnordered<_> = called
            .iter()
            .map(|&plugin| async move {
                let key = cache::key(
                    plugin.name(),
                    session.runtime.services().policy.generation(),
                    &snap.ctx,
                );
                let cached = lock(&self.cache).get(key);
                let result = match cached {
                    Some(hit) => {
                        self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                        Ok(hit)
                    }
                    None if plugin.origin == Origin::Builtin => {
                        self.stats.plugin_calls.fetch_add(1, Ordering::Relaxed);
                        session.runtime.complete(plugin, &snap.doc, &snap.ctx).await
                    }
                    None => {
                        self.stats.plugin_calls.fetch_add(1, Ordering::Relaxed);
                        Spawned::complete(session, plugin, snap).await
                    }
                };
                (key, plugin.name(), plugin.origin == Origin::Builtin, result)
            })
            .collect();
        // Third-party plugins still working.
        let mut others: Vec<&str> = called
            .iter()
            .filter(|p| p.origin != Origin::Builtin)
            .map(|p| p.name())
            .collect();
        // Cordon's own plugins are always waited for; other plugins get the
        // grace once an answer is in and no built-in plugin is still working.
        let mut builtins_left = providers(&session.catalog, "completion")
            .filter(|p| p.origin == Origin::Builtin)
            .count();
        let mut items = Vec::new();
        let mut first_error = None;
        let mut answered = false;
        let mut grace_started = false;
        let grace = tokio::time::sleep(STRAGGLER_GRACE);
        tokio::pin!(grace);
        loop {
            if answered && builtins_left == 0 && !self.stragglers.any_waited_for(&others) {
                break;
            }
            if answered && builtins_left == 0 && !grace_started {
                grace_started = true;
                grace
                    .as_mut()
                    .reset(tokio::time::Instant::now() + STRAGGLER_GRACE);
            }
            let next = if grace_started {
                tokio::select! {
                    next = pending.next() => next,
                    _ = &mut grace => None,
                }
            } else {
                pending.next().await
            };
            let Some((key, name, builtin, result)) = next else {
                break;
            };
            if builtin {
                builtins_left -= 1;
            } else {
                others.retain(|other| *other != name);
                self.stragglers.on_time(name);
            }
            match result {
                Ok(found) => {
                    answered = true;
                    lock(&self.cache).put(key, found.clone());
                    items.extend(found);
                }
                Err(err) => {
                    tracing::warn!("{err}");
                    first_error.get_or_insert(err);
                }
            }
        }
        if !others.is_empty() {
            tracing::debug!(
                "completion plugin(s) too slow, answering without them: {}",
                others.join(", ")
            );
            self.stats
                .stragglers_dropped
                .fetch_add(others.len() as u64, Ordering::Relaxed);
            // In the editor's log, not a pop-up: the user can do nothing
            // about it but read why that plugin's items went away.
            for message in self.stragglers.late(&others, std::time::Instant::now()) {
                tracing::warn!("{message}");
                self.client.log_message(MessageType::WARNING, message).await;
            }
        }
        match first_error {
            Some(err) if !answered => Err(call_failed(&err)),
            _ => Ok(items),
        }
    }

    async fn inline_completion(
        &self,
        params: InlineCompletionParams,
    ) -> Result<Option<InlineCompletionResponse>> {
        let settings = self.settings();
        if !settings.inline_completion {
            return Ok(None);
        }
        let session = Arc::clone(self.session()?);
        let tdp = params.text_document_position;
        let uri = tdp.text_document.uri;
        let token = self.supersede(&uri, true)?;
        self.stats.inline_requests.fetch_add(1, Ordering::Relaxed);
        // Bursts of keystrokes: wait for a pause; a newer request or an edit
        // cancels this one while it waits. An explicit request runs at once.
        if params.context.trigger_kind != InlineCompletionTriggerKind::INVOKED
            && !settings.debounce.is_zero()
        {
            tokio::select! {
                _ = token.cancelled() => {
                    self.stats.superseded.fetch_add(1, Ordering::Relaxed);
                    return Ok(None);
                }
                _ = tokio::time::sleep(settings.debounce) => {}
            }
        }
        let snap = self.snapshot(&uri, tdp.position, None)?;
        let items = tokio::select! {
            // Dropping the call drops the plugin instance and its model request.
            _ = token.cancelled() => {
                self.stats.superseded.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            items = self.complete(&session, &snap) => items?,
        };
        if self.version(&uri) != Some(snap.version) {
            return Ok(None);
        }
        let encoding = session.encoding;
        let items = items
            .into_iter()
            .map(|item| InlineCompletionItem {
                insert_text: item.insert_text,
                filter_text: None,
                range: Some(encoding.range_to_lsp(&snap.doc, item.replace)),
                command: None,
                insert_text_format: Some(InsertTextFormat::PLAIN_TEXT),
            })
            .collect();
        Ok(Some(InlineCompletionResponse::List(InlineCompletionList {
            items,
        })))
    }

    /// Run Cordon command `command`; an explanation streams into `sink`.
    async fn run_command(
        &self,
        command: &str,
        arguments: &[Value],
        sink: Option<TextSink>,
    ) -> Result<Option<Value>> {
        match command {
            EXPLAIN_COMMAND => {
                let (uri, range) = self.command_target(arguments)?;
                let markdown = self.explain_at(&uri, range, sink).await?;
                // For clients that ignore command results.
                self.client.show_message(MessageType::INFO, &markdown).await;
                Ok(Some(Value::String(markdown)))
            }
            REFACTOR_COMMAND => {
                let (uri, range) = self.command_target(arguments)?;
                let arg = &arguments[0];
                let (Some(plugin), Some(id)) = (arg["plugin"].as_str(), arg["action"].as_str())
                else {
                    return Err(invalid_params(
                        "`cordon.refactor` needs `plugin` and `action`",
                    ));
                };
                let edit = self
                    .refactor_edit(&uri, range, plugin, id, arg["instruction"].as_str(), None)
                    .await?;
                match self.client.apply_edit(edit).await {
                    Ok(response) if response.applied => Ok(Some(json!({ "applied": true }))),
                    Ok(response) => Err(failed(
                        format!(
                            "the editor did not apply the edit: {}",
                            response.failure_reason.unwrap_or_default()
                        ),
                        "not-applied",
                    )),
                    Err(err) => Err(failed(format!("applying the edit: {err}"), "not-applied")),
                }
            }
            other => Err(invalid_params(format!(
                "unknown command `{other}` (known: {EXPLAIN_COMMAND}, {REFACTOR_COMMAND})"
            ))),
        }
    }

    /// `cordon/stats`: counters for tests and benchmarks.
    async fn stats(&self) -> Result<Value> {
        let session = self.session()?;
        let gate = &session.runtime.services().stats;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Ok(json!({
            "model_requests": get(&gate.model_requests),
            "denials": get(&gate.denials),
            "inline_requests": get(&self.stats.inline_requests),
            "superseded": get(&self.stats.superseded),
            "cache_hits": get(&self.stats.cache_hits),
            "plugin_calls": get(&self.stats.plugin_calls),
            "stragglers_dropped": get(&self.stats.stragglers_dropped),
            "benched_skips": get(&self.stats.benched_skips),
            "open_documents": lock(&self.documents).len(),
        }))
    }

    /// The progress token of a request that carries `given`.
    fn progress_token(&self, given: Option<ProgressToken>) -> progress::Token {
        let server_may_create = self.session().is_ok_and(|s| s.server_progress);
        progress::Token::choose(given, server_may_create)
    }

    /// The arguments of the Cordon commands.
    fn command_target(&self, arguments: &[Value]) -> Result<(Uri, Range)> {
        let arg = arguments.first().ok_or_else(|| {
            invalid_params("expected one argument: { \"uri\": ..., \"range\": ... }")
        })?;
        let uri: Uri = serde_json::from_value(arg["uri"].clone())
            .map_err(|e| invalid_params(format!("argument `uri`: {e}")))?;
        let range: Range = serde_json::from_value(arg["range"].clone())
            .map_err(|e| invalid_params(format!("argument `range`: {e}")))?;
        Ok((uri, range))
    }

    /// The explanation of `range`; the text streams into `sink` as the model
    /// writes it.
    async fn explain_at(&self, uri: &Uri, range: Range, sink: Option<TextSink>) -> Result<String> {
        let session = Arc::clone(self.session()?);
        let snap = self.snapshot(uri, range.end, Some(range))?;
        let mut first_error = None;
        for plugin in providers(&session.catalog, "explain") {
            match session
                .runtime
                .explain(plugin, &snap.ctx, sink.clone())
                .await
            {
                Ok(markdown) => {
                    if self.version(uri) != Some(snap.version) {
                        return Err(modified());
                    }
                    return Ok(markdown);
                }
                Err(err) => {
                    tracing::warn!("{err}");
                    first_error.get_or_insert(err);
                }
            }
        }
        Err(match first_error {
            Some(err) => call_failed(&err),
            None => failed("no loaded plugin provides explain", "not-provided"),
        })
    }

    /// Edits of refactor action `id` of `plugin` at `range`.
    async fn refactor_edit(
        &self,
        uri: &Uri,
        range: Range,
        plugin: &str,
        id: &str,
        instruction: Option<&str>,
        expected_version: Option<i32>,
    ) -> Result<WorkspaceEdit> {
        let session = Arc::clone(self.session()?);
        let snap = self.snapshot(uri, range.end, Some(range))?;
        if expected_version.is_some_and(|v| v != snap.version) {
            return Err(modified());
        }
        let plugin = session
            .catalog
            .get(plugin)
            .ok_or_else(|| invalid_params(format!("unknown plugin `{plugin}`")))?;
        let edits = session
            .runtime
            .apply(plugin, &snap.doc, &snap.ctx, id, instruction)
            .await
            .map_err(|e| call_failed(&e))?;
        if self.version(uri) != Some(snap.version) {
            return Err(modified());
        }
        let edits = edits
            .into_iter()
            .map(|e| TextEdit {
                range: session.encoding.range_to_lsp(&snap.doc, e.range),
                new_text: e.new_text,
            })
            .collect();
        Ok(WorkspaceEdit {
            changes: Some(HashMap::from([(uri.clone(), edits)])),
            ..WorkspaceEdit::default()
        })
    }
}

impl LanguageServer for Lsp {
    async fn initialized(&self, _: InitializedParams) {
        let messages = std::mem::take(&mut *lock(&self.start_messages));
        for (kind, message) in messages {
            self.client.show_message(kind, message).await;
        }
    }

    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let root = self
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
            self.options.config.as_deref(),
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
            match self.settings().with(layer) {
                Ok(next) => *self.settings.write().unwrap_or_else(|e| e.into_inner()) = next,
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
        let server_progress = params
            .capabilities
            .window
            .as_ref()
            .and_then(|w| w.work_done_progress)
            .unwrap_or(false);
        let crate::session::Session {
            runtime,
            catalog,
            backend_errors,
        } = crate::session::start(&root, &config, &self.options.plugin_dirs, true)
            .await
            .map_err(|e| failed(e, "start"))?;
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
        // Shown at `initialized`: before it, the client library drops
        // server-to-client notifications.
        lock(&self.start_messages).extend(warnings);
        let (reload_errors, mut reload_errors_rx) =
            tokio::sync::mpsc::unbounded_channel::<String>();
        let policy_watcher = match runtime.services().policy.watch(move |e| {
            let _ = reload_errors.send(e);
        }) {
            Ok(w) => Some(w),
            Err(err) => {
                tracing::warn!("policy changes will apply only after a restart: {err}");
                None
            }
        };
        let client = self.client.clone();
        tokio::spawn(async move {
            while let Some(error) = reload_errors_rx.recv().await {
                client.show_message(MessageType::ERROR, error).await;
            }
        });
        let _ = self.session.set(Arc::new(Session {
            runtime,
            catalog,
            encoding,
            server_progress,
            _policy_watcher: policy_watcher,
        }));

        let code_action_kinds = vec![
            CodeActionKind::REFACTOR,
            CodeActionKind::REFACTOR_REWRITE,
            CodeActionKind::REFACTOR_EXTRACT,
            CodeActionKind::new("cordon.explain"),
        ];
        Ok(InitializeResult {
            server_info: Some(ServerInfo {
                name: "cordon".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            }),
            capabilities: ServerCapabilities {
                position_encoding: Some(encoding.kind()),
                text_document_sync: Some(TextDocumentSyncCapability::Options(
                    TextDocumentSyncOptions {
                        open_close: Some(true),
                        change: Some(TextDocumentSyncKind::INCREMENTAL),
                        ..TextDocumentSyncOptions::default()
                    },
                )),
                completion_provider: Some(CompletionOptions {
                    trigger_characters: Some(vec![".".into(), ":".into(), "(".into(), " ".into()]),
                    ..CompletionOptions::default()
                }),
                inline_completion_provider: Some(OneOf::Left(true)),
                code_action_provider: Some(CodeActionProviderCapability::Options(
                    CodeActionOptions {
                        code_action_kinds: Some(code_action_kinds),
                        resolve_provider: Some(true),
                        ..CodeActionOptions::default()
                    },
                )),
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
            },
            ..InitializeResult::default()
        })
    }

    async fn shutdown(&self) -> Result<()> {
        self.shut_down.store(true, Ordering::SeqCst);
        for open in lock(&self.documents).values_mut() {
            open.inline.cancel();
            open.completion.cancel();
        }
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let item = params.text_document;
        let path = item.uri.to_file_path().and_then(|p| {
            self.session
                .get()
                .and_then(|s| s.runtime.services().workspace.as_ref())
                .and_then(|ws| ws.relative(&p))
        });
        let path = path.unwrap_or_else(|| {
            item.uri
                .path()
                .as_str()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        });
        let open = Open {
            doc: Document::new(&item.text),
            version: item.version,
            language_id: item.language_id,
            path,
            inline: Slot::default(),
            completion: Slot::default(),
        };
        lock(&self.documents).insert(item.uri, open);
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let Some(encoding) = self.session.get().map(|s| s.encoding) else {
            return;
        };
        let uri = params.text_document.uri;
        let mut lost = None;
        {
            let mut documents = lock(&self.documents);
            let Some(open) = documents.get_mut(&uri) else {
                tracing::warn!("change to a document that is not open: {}", uri.as_str());
                return;
            };
            for change in params.content_changes {
                match change.range {
                    None => open.doc = Document::new(&change.text),
                    Some(range) => {
                        let span = encoding
                            .range_to_api(&open.doc, range)
                            .and_then(|r| open.doc.span(r));
                        match span {
                            Ok((start, end)) => open.doc.replace(start, end, &change.text),
                            Err(err) => lost = Some(err),
                        }
                    }
                }
            }
            open.version = params.text_document.version;
            // Answers in flight were computed for the old text.
            open.inline.cancel();
            open.completion.cancel();
        }
        if let Some(err) = lost {
            // The editor and Cordon no longer agree on the text; answers
            // would land in the wrong place until the file is reopened.
            tracing::error!("change outside {}: {err}", uri.as_str());
            self.client
                .show_message(
                    MessageType::WARNING,
                    format!(
                        "Cordon: an edit to {} did not fit the text it knows ({err}); close and reopen the file",
                        uri.as_str()
                    ),
                )
                .await;
        }
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        if let Some(mut open) = lock(&self.documents).remove(&params.text_document.uri) {
            open.inline.cancel();
            open.completion.cancel();
        }
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        self.change_settings(&params.settings).await;
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let session = Arc::clone(self.session()?);
        let tdp = params.text_document_position;
        let uri = tdp.text_document.uri;
        let token = self.supersede(&uri, false)?;
        let snap = self.snapshot(&uri, tdp.position, None)?;
        let items = tokio::select! {
            _ = token.cancelled() => {
                // An edit made the answer stale; otherwise a newer request
                // for the same document took over.
                return Err(if self.version(&uri) != Some(snap.version) {
                    modified()
                } else {
                    Error::request_cancelled()
                });
            }
            items = self.complete(&session, &snap) => items?,
        };
        if self.version(&uri) != Some(snap.version) {
            return Err(modified());
        }
        let encoding = session.encoding;
        let items = items
            .into_iter()
            .enumerate()
            .map(|(rank, item)| CompletionItem {
                label: item.label,
                kind: Some(CompletionItemKind::TEXT),
                detail: item.detail,
                sort_text: Some(format!("{rank:04}")),
                text_edit: Some(CompletionTextEdit::Edit(TextEdit {
                    range: encoding.range_to_lsp(&snap.doc, item.replace),
                    new_text: item.insert_text,
                })),
                ..CompletionItem::default()
            })
            .collect();
        // Answers depend on every keystroke: ask the client to come back.
        Ok(Some(CompletionResponse::List(CompletionList {
            is_incomplete: true,
            items,
        })))
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let session = Arc::clone(self.session()?);
        let uri = params.text_document.uri;
        let range = params.range;
        let wanted = |kind: &CodeActionKind| {
            params
                .context
                .only
                .as_ref()
                .is_none_or(|only| only.iter().any(|o| kind.as_str().starts_with(o.as_str())))
        };
        let snap = self.snapshot(&uri, range.end, Some(range))?;
        let mut actions = Vec::new();
        for plugin in providers(&session.catalog, "refactor") {
            let offered = match session.runtime.actions(plugin, &snap.ctx).await {
                Ok(offered) => offered,
                Err(err) => {
                    tracing::warn!("{err}");
                    continue;
                }
            };
            for action in offered {
                // Actions that need the user's words are reached through the
                // `cordon.refactor` command, from clients that can ask.
                let kind = CodeActionKind::from(action.kind.clone());
                if action.needs_instruction || !wanted(&kind) {
                    continue;
                }
                actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                    title: action.title,
                    kind: Some(kind),
                    data: Some(json!({
                        "uri": uri,
                        "range": range,
                        "version": snap.version,
                        "plugin": plugin.name(),
                        "id": action.id,
                    })),
                    ..CodeAction::default()
                }));
            }
        }
        let explain_kind = CodeActionKind::new("cordon.explain");
        if providers(&session.catalog, "explain").next().is_some() && wanted(&explain_kind) {
            actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: "Explain this code (Cordon)".into(),
                kind: Some(explain_kind),
                command: Some(Command {
                    title: "Explain this code".into(),
                    command: EXPLAIN_COMMAND.into(),
                    arguments: Some(vec![json!({ "uri": uri, "range": range })]),
                }),
                ..CodeAction::default()
            }));
        }
        Ok(Some(actions))
    }

    async fn code_action_resolve(&self, mut action: CodeAction) -> Result<CodeAction> {
        let Some(data) = action.data.clone() else {
            return Ok(action);
        };
        let field = |name: &str| data.get(name).cloned().unwrap_or(Value::Null);
        let uri: Uri = serde_json::from_value(field("uri"))
            .map_err(|e| invalid_params(format!("data.uri: {e}")))?;
        let range: Range = serde_json::from_value(field("range"))
            .map_err(|e| invalid_params(format!("data.range: {e}")))?;
        let version = field("version")
            .as_i64()
            .and_then(|v| i32::try_from(v).ok());
        let (Some(plugin), Some(id)) = (
            field("plugin").as_str().map(str::to_owned),
            field("id").as_str().map(str::to_owned),
        ) else {
            return Err(invalid_params("data needs `plugin` and `id`"));
        };
        // Resolving calls the model; the request carries no token of its
        // own, so the server creates one when the client allows it.
        let token = self.progress_token(None);
        let edit = progress::run(&self.client, token, &action.title, |_| {
            self.refactor_edit(&uri, range, &plugin, &id, None, version)
        })
        .await?;
        action.edit = Some(edit);
        Ok(action)
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<Value>> {
        let token = self.progress_token(params.work_done_progress_params.work_done_token);
        progress::run(&self.client, token, &params.command, |sink| {
            self.run_command(&params.command, &params.arguments, sink)
        })
        .await
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        if !self.settings().hover_explain {
            return Ok(None);
        }
        let tdp = params.text_document_position_params;
        let range = Range {
            start: tdp.position,
            end: tdp.position,
        };
        // Only under the client's token: hovers are too frequent for the
        // server to create a progress for each.
        let token =
            progress::Token::choose(params.work_done_progress_params.work_done_token, false);
        let markdown = progress::run(&self.client, token, "explain", |sink| {
            self.explain_at(&tdp.text_document.uri, range, sink)
        })
        .await?;
        Ok(Some(Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: markdown,
            }),
            range: None,
        }))
    }
}
