//! The capability gate: the one place where a plugin's imports are served.
//!
//! Every function a plugin can import from Cordon (`model`, `workspace`,
//! `log`) is implemented here and nowhere else. Each call is checked against
//! the plugin's [`Grants`] and recorded (target `cordon::audit`) before it
//! is delegated to a backend or the workspace. Policy plugs in by deciding
//! the grants; nothing downstream of the gate checks permissions again, and
//! nothing upstream can reach a backend without passing here.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use wasmtime::component::{Resource, ResourceTable};

use crate::api::PluginError;
use crate::api::cordon::plugin::{log, model, types, workspace};
use crate::backends::{Chunk, ChunkStream, Router, estimate_tokens};
use crate::runtime::meter::CpuMeter;
use crate::workspace::{Workspace, WorkspaceError};

/// A capability a plugin may be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Model,
    WorkspaceRead,
    Log,
}

impl Capability {
    /// The name used in policy files and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Model => "model",
            Capability::WorkspaceRead => "workspace.read",
            Capability::Log => "log",
        }
    }
}

/// What one plugin may do. Deny by default: [`Grants::default`] grants
/// nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Grants {
    pub model: bool,
    pub workspace_read: bool,
    pub log: bool,
}

impl Grants {
    /// What Cordon's own plugins get until a policy says otherwise.
    pub fn first_party() -> Self {
        Grants {
            model: true,
            workspace_read: true,
            log: true,
        }
    }

    /// What any other plugin gets until a policy says otherwise.
    pub fn third_party() -> Self {
        Grants {
            log: true,
            ..Grants::default()
        }
    }

    /// Whether `capability` is granted.
    pub fn allows(&self, capability: Capability) -> bool {
        match capability {
            Capability::Model => self.model,
            Capability::WorkspaceRead => self.workspace_read,
            Capability::Log => self.log,
        }
    }

    /// Names of the granted capabilities.
    pub fn names(&self) -> Vec<&'static str> {
        [
            Capability::Model,
            Capability::WorkspaceRead,
            Capability::Log,
        ]
        .into_iter()
        .filter(|c| self.allows(*c))
        .map(Capability::as_str)
        .collect()
    }
}

/// What the gate delegates to once a call is allowed.
#[derive(Clone, Default)]
pub struct Services {
    /// Model backends and routes.
    pub router: Router,
    /// The workspace plugins may read, if any.
    pub workspace: Option<Workspace>,
    /// Counters of what went through the gate.
    pub stats: Arc<GateStats>,
}

/// Counters of what went through the gate, for `cordon/stats` and
/// benchmarks.
#[derive(Debug, Default)]
pub struct GateStats {
    /// Requests sent to a model backend.
    pub model_requests: AtomicU64,
    /// Capability checks that were denied.
    pub denials: AtomicU64,
}

/// Per-call caps on what a plugin may log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    /// Messages kept per call.
    pub messages: usize,
    /// Bytes kept per message.
    pub message_bytes: usize,
}

impl Default for LogLimits {
    fn default() -> Self {
        LogLimits {
            messages: 100,
            message_bytes: 2048,
        }
    }
}

/// Most bytes a plugin may send to a model in one request.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// Most files one `list-files` call returns.
const MAX_LIST: u32 = 10_000;

/// The gate for one plugin call: it holds the plugin's identity and grants,
/// and serves the imports.
pub struct Gate {
    plugin: Arc<str>,
    digest: Arc<str>,
    grants: Grants,
    services: Arc<Services>,
    meter: Arc<CpuMeter>,
    table: ResourceTable,
    log_limits: LogLimits,
    logged: usize,
    dropped_logs: usize,
}

/// A streamed model answer, as the plugin's `completion-stream` resource.
pub struct ModelStream {
    chunks: ChunkStream,
    usage: model::Usage,
    done: bool,
}

impl Gate {
    /// A gate for one call of `plugin`.
    pub fn new(
        plugin: Arc<str>,
        digest: Arc<str>,
        grants: Grants,
        services: Arc<Services>,
        meter: Arc<CpuMeter>,
        log_limits: LogLimits,
    ) -> Self {
        Gate {
            plugin,
            digest,
            grants,
            services,
            meter,
            table: ResourceTable::new(),
            log_limits,
            logged: 0,
            dropped_logs: 0,
        }
    }

    /// The meter charged for this call.
    pub fn meter(&self) -> &Arc<CpuMeter> {
        &self.meter
    }

    /// Log messages dropped because they exceeded the caps.
    pub fn dropped_logs(&self) -> usize {
        self.dropped_logs
    }

    /// Decide whether `capability` is allowed, and record the decision.
    fn check(&self, capability: Capability, detail: &str) -> Result<(), PluginError> {
        let allowed = self.grants.allows(capability);
        tracing::info!(
            target: "cordon::audit",
            plugin = %self.plugin,
            digest = %self.digest,
            capability = capability.as_str(),
            detail,
            decision = if allowed { "allow" } else { "deny" },
        );
        if allowed {
            Ok(())
        } else {
            self.services.stats.denials.fetch_add(1, Ordering::Relaxed);
            Err(PluginError::Denied(format!(
                "plugin `{}` is not granted the `{}` capability",
                self.plugin,
                capability.as_str()
            )))
        }
    }

    fn check_chat(&self, request: &model::ChatRequest) -> Result<(), PluginError> {
        self.check(Capability::Model, request.purpose.as_str())?;
        if request.messages.is_empty() {
            return Err(PluginError::InvalidRequest(
                "a chat request needs at least one message".into(),
            ));
        }
        let bytes = request.system.len()
            + request
                .messages
                .iter()
                .map(|m| m.content.len())
                .sum::<usize>();
        check_request_size(bytes)
    }

    fn record_model_call(
        &self,
        backend: &str,
        provider: &str,
        model: &str,
        result: &Result<model::Response, PluginError>,
        bytes: usize,
    ) {
        let (input, output, outcome) = match result {
            Ok(r) => (r.usage.input_tokens, r.usage.output_tokens, "ok"),
            Err(e) => (0, 0, e.kind()),
        };
        tracing::info!(
            target: "cordon::audit",
            plugin = %self.plugin,
            digest = %self.digest,
            capability = "model",
            backend,
            provider,
            model,
            bytes_sent = bytes,
            input_tokens = input,
            output_tokens = output,
            outcome,
        );
    }
}

fn check_request_size(bytes: usize) -> Result<(), PluginError> {
    if bytes > MAX_REQUEST_BYTES {
        return Err(PluginError::InvalidRequest(format!(
            "the request is {bytes} bytes; at most {MAX_REQUEST_BYTES} may be sent to a model"
        )));
    }
    Ok(())
}

fn workspace_error(err: WorkspaceError) -> PluginError {
    match err {
        WorkspaceError::Outside(_) => PluginError::Denied(err.to_string()),
        WorkspaceError::Io { .. } => PluginError::Unavailable(err.to_string()),
        _ => PluginError::InvalidRequest(err.to_string()),
    }
}

impl types::Host for Gate {}

impl model::Host for Gate {
    async fn chat(
        &mut self,
        request: model::ChatRequest,
    ) -> wasmtime::Result<Result<model::Response, PluginError>> {
        let _paused = self.meter.pause();
        if let Err(e) = self.check_chat(&request) {
            return Ok(Err(e));
        }
        let backend = match self.services.router.backend_for(&self.plugin) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        self.services
            .stats
            .model_requests
            .fetch_add(1, Ordering::Relaxed);
        let result = backend.chat(&request).await;
        let bytes = request.system.len()
            + request
                .messages
                .iter()
                .map(|m| m.content.len())
                .sum::<usize>();
        self.record_model_call(
            backend.name(),
            backend.provider(),
            backend.model(),
            &result,
            bytes,
        );
        Ok(result)
    }

    async fn fim(
        &mut self,
        request: model::FimRequest,
    ) -> wasmtime::Result<Result<model::Response, PluginError>> {
        let _paused = self.meter.pause();
        if let Err(e) = self.check(Capability::Model, "completion") {
            return Ok(Err(e));
        }
        let bytes = request.prefix.len() + request.suffix.len();
        if let Err(e) = check_request_size(bytes) {
            return Ok(Err(e));
        }
        let backend = match self.services.router.backend_for(&self.plugin) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        self.services
            .stats
            .model_requests
            .fetch_add(1, Ordering::Relaxed);
        let result = backend.fim(&request).await;
        self.record_model_call(
            backend.name(),
            backend.provider(),
            backend.model(),
            &result,
            bytes,
        );
        Ok(result)
    }

    async fn chat_stream(
        &mut self,
        request: model::ChatRequest,
    ) -> wasmtime::Result<Result<Resource<ModelStream>, PluginError>> {
        let _paused = self.meter.pause();
        if let Err(e) = self.check_chat(&request) {
            return Ok(Err(e));
        }
        let backend = match self.services.router.backend_for(&self.plugin) {
            Ok(b) => b,
            Err(e) => return Ok(Err(e)),
        };
        self.services
            .stats
            .model_requests
            .fetch_add(1, Ordering::Relaxed);
        let chunks = match backend.chat_stream(&request).await {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let stream = ModelStream {
            chunks,
            usage: model::Usage {
                input_tokens: 0,
                output_tokens: 0,
            },
            done: false,
        };
        Ok(Ok(self.table.push(stream)?))
    }
}

impl model::HostCompletionStream for Gate {
    async fn next(
        &mut self,
        stream: Resource<ModelStream>,
    ) -> wasmtime::Result<Result<Option<String>, PluginError>> {
        let _paused = self.meter.pause();
        let stream = self.table.get_mut(&stream)?;
        while !stream.done {
            match stream.chunks.next().await {
                Some(Ok(Chunk::Text(text))) => {
                    stream.usage.output_tokens = stream
                        .usage
                        .output_tokens
                        .saturating_add(estimate_tokens(&text));
                    return Ok(Ok(Some(text)));
                }
                Some(Ok(Chunk::Usage(usage))) => stream.usage = usage,
                Some(Err(e)) => {
                    stream.done = true;
                    return Ok(Err(e));
                }
                None => stream.done = true,
            }
        }
        Ok(Ok(None))
    }

    async fn usage(&mut self, stream: Resource<ModelStream>) -> wasmtime::Result<model::Usage> {
        Ok(self.table.get(&stream)?.usage)
    }

    async fn drop(&mut self, stream: Resource<ModelStream>) -> wasmtime::Result<()> {
        // Dropping the chunk stream abandons the request to the backend.
        self.table.delete(stream)?;
        Ok(())
    }
}

impl workspace::Host for Gate {
    async fn read_file(&mut self, path: String) -> wasmtime::Result<Result<String, PluginError>> {
        let _paused = self.meter.pause();
        if let Err(e) = self.check(Capability::WorkspaceRead, &path) {
            return Ok(Err(e));
        }
        let Some(ws) = &self.services.workspace else {
            return Ok(Err(PluginError::Unavailable("no workspace is open".into())));
        };
        Ok(ws.read(&path).map_err(workspace_error))
    }

    async fn list_files(
        &mut self,
        glob: String,
        limit: u32,
    ) -> wasmtime::Result<Result<Vec<String>, PluginError>> {
        let _paused = self.meter.pause();
        if let Err(e) = self.check(Capability::WorkspaceRead, &glob) {
            return Ok(Err(e));
        }
        let Some(ws) = &self.services.workspace else {
            return Ok(Err(PluginError::Unavailable("no workspace is open".into())));
        };
        let ws = ws.clone();
        let limit = limit.min(MAX_LIST) as usize;
        // Walking a large tree blocks; keep it off the async workers.
        let listed = tokio::task::spawn_blocking(move || ws.list(&glob, limit)).await?;
        Ok(listed.map_err(workspace_error))
    }
}

impl log::Host for Gate {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let _paused = self.meter.pause();
        if !self.grants.log {
            if self.dropped_logs == 0 {
                // Record the denial once per call, not once per message.
                let _ = self.check(Capability::Log, "");
            }
            self.dropped_logs += 1;
            return Ok(());
        }
        if self.logged >= self.log_limits.messages {
            self.dropped_logs += 1;
            return Ok(());
        }
        self.logged += 1;
        let mut end = message.len().min(self.log_limits.message_bytes);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        let text = &message[..end];
        let plugin = &*self.plugin;
        match level {
            log::Level::Trace => tracing::trace!(target: "cordon::plugin", plugin, "{text}"),
            log::Level::Debug => tracing::debug!(target: "cordon::plugin", plugin, "{text}"),
            log::Level::Info => tracing::info!(target: "cordon::plugin", plugin, "{text}"),
            log::Level::Warn => tracing::warn!(target: "cordon::plugin", plugin, "{text}"),
            log::Level::Error => tracing::error!(target: "cordon::plugin", plugin, "{text}"),
        }
        Ok(())
    }
}
