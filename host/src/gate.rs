//! The capability gate: the one place where a plugin's imports are served.
//!
//! Every function a plugin can import from Cordon (`model`, `workspace`,
//! `log`) is implemented here and nowhere else. Each call is decided by the
//! effective policy (which holds Cordon's built-in defaults as a layer, so
//! there is nothing else to consult) and recorded (target `cordon::audit`)
//! before it is delegated to a backend or the workspace. Nothing downstream
//! of the gate checks permissions again, and nothing upstream can reach a
//! backend without passing here.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use wasmtime::component::{Resource, ResourceTable};

use crate::api::PluginError;
use crate::api::cordon::plugin::{log, model, types, workspace};
use crate::backends::{Backend, Call, CallMeta, Chunk, ChunkStream, Router, estimate_tokens};
use crate::policy::Policy;
use crate::runtime::meter::CpuMeter;
use crate::workspace::{Workspace, WorkspaceError};
use cordon_policy::{AuditRecord, CallFacts, Decision, Processing};
use std::time::SystemTime;

pub use cordon_policy::Capability;

/// Names of the capabilities `plugin` holds under `policy`.
pub fn granted(policy: &Policy, plugin: &str) -> Vec<&'static str> {
    Capability::ALL
        .into_iter()
        .filter(|c| policy.capability(plugin, *c).allowed)
        .map(Capability::as_str)
        .collect()
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
    /// The team policy, its budgets and audit logs.
    pub policy: Arc<Policy>,
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

/// The gate for one plugin call: it holds the plugin's identity,
/// and serves the imports.
pub struct Gate {
    plugin: Arc<str>,
    digest: Arc<str>,
    services: Arc<Services>,
    meter: Arc<CpuMeter>,
    table: ResourceTable,
    log_limits: LogLimits,
    logged: usize,
    dropped_logs: usize,
    /// The policy's answer on `log`, asked once per call.
    log_allowed: Option<bool>,
    /// Where streamed answer text goes as it arrives, when the caller shows it.
    stream_sink: Option<TextSink>,
}

/// Receives the pieces of streamed model answers as the plugin reads them,
/// so that the editor can show an explanation while it is being written.
pub type TextSink = tokio::sync::mpsc::UnboundedSender<String>;

/// A streamed model answer, as the plugin's `completion-stream` resource.
pub struct ModelStream {
    chunks: ChunkStream,
    usage: model::Usage,
    done: bool,
    /// Where it comes from, for the audit record written when it ends.
    backend: Arc<dyn Backend>,
    bytes: usize,
    redacted: Redactions,
    facts: CallFacts,
    reported: CallMeta,
}

impl Gate {
    /// A gate for one call of `plugin`.
    pub fn new(
        plugin: Arc<str>,
        digest: Arc<str>,
        services: Arc<Services>,
        meter: Arc<CpuMeter>,
        log_limits: LogLimits,
    ) -> Self {
        Gate {
            plugin,
            digest,
            services,
            meter,
            table: ResourceTable::new(),
            log_limits,
            logged: 0,
            dropped_logs: 0,
            log_allowed: None,
            stream_sink: None,
        }
    }

    /// Send the text of every streamed answer of this call to `sink` too.
    pub fn show_streams(&mut self, sink: TextSink) {
        self.stream_sink = Some(sink);
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
        let policy = &self.services.policy;
        let decision = policy.capability(&self.plugin, capability);
        self.decided(capability.as_str(), detail, decision, |_| {})
    }

    /// Record `decision` (tracing and the audit logs) and turn a denial into
    /// the plugin's `denied` error. A decision that cannot be written to a
    /// configured audit log is a denial.
    fn decided(
        &self,
        capability: &str,
        detail: &str,
        decision: Decision,
        fill: impl FnOnce(&mut AuditRecord),
    ) -> Result<(), PluginError> {
        tracing::info!(
            target: "cordon::audit",
            plugin = %self.plugin,
            digest = %self.digest,
            capability,
            detail,
            decision = if decision.allowed { "allow" } else { "deny" },
            reason = %decision.reason,
        );
        let mut record = AuditRecord::new(SystemTime::now(), &self.plugin, capability, &decision);
        record.digest = Some(self.digest.to_string());
        fill(&mut record);
        let written = self.services.policy.audit(&record);
        if !decision.allowed {
            self.services.stats.denials.fetch_add(1, Ordering::Relaxed);
            return Err(PluginError::Denied(decision.reason));
        }
        written.map_err(|e| {
            PluginError::Denied(format!(
                "{e}; no model or file access without an audit trail"
            ))
        })
    }

    /// Everything a model request passes before it may leave, in one order
    /// for every kind of request: capability, size, route, the policy's
    /// model and residency rules, the budget, the token cap, redaction, and
    /// the audit record of the admission. Returns the backend and the
    /// prepared call.
    fn admit(
        &self,
        purpose: &str,
        mut texts: Vec<&mut String>,
        stop: &mut [String],
        max_tokens: &mut u32,
    ) -> Result<Admitted, PluginError> {
        self.check(Capability::Model, purpose)?;
        // Everything that leaves counts, stop strings included.
        let bytes = texts.iter().map(|t| t.len()).sum::<usize>()
            + stop.iter().map(String::len).sum::<usize>();
        check_request_size(bytes)?;
        let backend = self.services.router.backend_for(&self.plugin)?;
        if let Some(reason) = backend.unusable() {
            return Err(PluginError::Unavailable(reason.to_owned()));
        }
        let facts = backend.route();
        let route = facts.route(
            backend.provider(),
            backend.name(),
            backend.model(),
            backend.region(),
        );
        let processing: Processing = route.processing();
        let decision = self.services.policy.route(&self.plugin, &route);
        let call_facts = CallFacts {
            call_id: Some(next_call_id()),
            endpoint: facts.endpoint_host.clone(),
            auth: facts.auth.map(str::to_owned),
            processing: Some(processing.audit_form()),
            guardrail: facts.guardrail.as_ref().map(|(_, full)| full.clone()),
            inference_geo: facts.inference_geo.clone(),
            ..CallFacts::default()
        };
        let fill = |r: &mut AuditRecord| {
            describe_backend(r, &*backend);
            r.call = call_facts.clone();
        };
        self.decided("model", "route", decision, fill)?;
        let policy = &self.services.policy;
        policy.acquire(&self.plugin).map_err(|e| match e {
            cordon_policy::BudgetError::RequestsPerMinute { .. } => {
                PluginError::RateLimited(e.to_string())
            }
            _ => PluginError::BudgetExceeded(e.to_string()),
        })?;
        *max_tokens = self.max_tokens(*max_tokens);
        let mut redacted = Redactions::default();
        let on = must_redact(policy, &*backend);
        for text in texts.iter_mut() {
            redacted.scrub(on, text);
        }
        for text in stop.iter_mut() {
            redacted.scrub(on, text);
        }
        let bytes = texts.iter().map(|t| t.len()).sum::<usize>()
            + stop.iter().map(String::len).sum::<usize>();
        let mut metadata = std::collections::BTreeMap::new();
        if let Some(id) = &call_facts.call_id {
            metadata.insert("cordon_call".to_owned(), id.clone());
        }
        metadata.insert("cordon_plugin".to_owned(), self.plugin.to_string());
        self.services
            .stats
            .model_requests
            .fetch_add(1, Ordering::Relaxed);
        Ok(Admitted {
            backend,
            redacted,
            bytes,
            facts: call_facts,
            call: Call {
                metadata,
                ..Call::default()
            },
        })
    }

    /// The most tokens a request of this plugin may ask for.
    fn max_tokens(&self, asked: u32) -> u32 {
        let cap = self.services.policy.limits(&self.plugin).max_output_tokens;
        cap.map_or(asked, |cap| {
            asked.min(u32::try_from(cap).unwrap_or(u32::MAX))
        })
    }

    fn record_model_call(
        &self,
        backend: &dyn Backend,
        result: &Result<model::Response, PluginError>,
        bytes: usize,
        redacted: &Redactions,
        facts: &CallFacts,
        reported: CallMeta,
    ) {
        let (input, output, outcome) = match result {
            Ok(r) => (r.usage.input_tokens, r.usage.output_tokens, "ok"),
            Err(e) => (0, 0, e.kind()),
        };
        self.services
            .policy
            .spend(&self.plugin, u64::from(input) + u64::from(output));
        let guardrail = reported.stop_reason.as_deref() == Some("guardrail_intervened");
        let decision = Decision {
            allowed: true,
            reason: if guardrail {
                "sent; the guardrail intervened and the answer was withheld".to_owned()
            } else {
                format!("sent; outcome {outcome}")
            },
            layer: None,
        };
        let _ = self.decided("model", "request", decision, |r| {
            describe_backend(r, backend);
            r.input_tokens = Some(u64::from(input));
            r.output_tokens = Some(u64::from(output));
            r.bytes_sent = Some(bytes as u64);
            r.redactions = redacted.count;
            r.redaction_kinds = redacted.kinds.clone();
            r.call = CallFacts {
                request_id: reported.request_id,
                stop_reason: reported.stop_reason,
                inference_geo: reported
                    .inference_geo
                    .or_else(|| facts.inference_geo.clone()),
                ..facts.clone()
            };
        });
    }
}

impl Gate {
    /// [`Gate::record_model_call`] for a request that has just ended.
    fn record_admitted(&self, admitted: &Admitted, result: &Result<model::Response, PluginError>) {
        self.record_model_call(
            &*admitted.backend,
            result,
            admitted.bytes,
            &admitted.redacted,
            &admitted.facts,
            admitted.call.reported(),
        );
    }
}

/// A model request that passed [`Gate::admit`].
struct Admitted {
    backend: Arc<dyn Backend>,
    redacted: Redactions,
    /// Bytes sent, after redaction.
    bytes: usize,
    facts: CallFacts,
    call: Call,
}

fn describe_backend(r: &mut AuditRecord, backend: &dyn Backend) {
    r.backend = Some(backend.name().to_owned());
    r.provider = Some(backend.provider().to_owned());
    r.model = Some(backend.model().to_owned());
    r.region = backend.region().map(str::to_owned);
}

/// A process-unique id for one model call: its admission and request
/// records carry it, and Bedrock gets it as `requestMetadata.cordon_call`.
fn next_call_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{:x}-{:x}-{n:x}", now.as_secs(), std::process::id())
}

/// What redaction removed from one request (counts only, never the text).
#[derive(Default)]
struct Redactions {
    count: usize,
    kinds: std::collections::BTreeMap<String, usize>,
}

impl Redactions {
    /// Redact `text` in place when `on`.
    fn scrub(&mut self, on: bool, text: &mut String) {
        if !on {
            return;
        }
        let found = cordon_policy::redact(text);
        if found.count > 0 {
            self.count += found.count;
            for (kind, n) in found.kinds {
                *self.kinds.entry(kind.to_owned()).or_default() += n;
            }
            *text = found.text;
        }
    }
}

/// Whether secrets must be removed before a request goes to `backend`:
/// everything that leaves the machine is scrubbed when the policy says so.
fn must_redact(policy: &Policy, backend: &dyn Backend) -> bool {
    backend.provider() != "local" && policy.redacts()
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
        mut request: model::ChatRequest,
    ) -> wasmtime::Result<Result<model::Response, PluginError>> {
        let _paused = self.meter.pause();
        let admitted = match self.admit_chat(&mut request) {
            Ok(admitted) => admitted,
            Err(e) => return Ok(Err(e)),
        };
        let result = admitted.backend.chat(&request, &admitted.call).await;
        self.record_admitted(&admitted, &result);
        Ok(result)
    }

    async fn fim(
        &mut self,
        mut request: model::FimRequest,
    ) -> wasmtime::Result<Result<model::Response, PluginError>> {
        let _paused = self.meter.pause();
        let model::FimRequest {
            prefix,
            suffix,
            stop,
            max_tokens,
            ..
        } = &mut request;
        let admitted = match self.admit("completion", vec![prefix, suffix], stop, max_tokens) {
            Ok(admitted) => admitted,
            Err(e) => return Ok(Err(e)),
        };
        let result = admitted.backend.fim(&request, &admitted.call).await;
        self.record_admitted(&admitted, &result);
        Ok(result)
    }

    async fn chat_stream(
        &mut self,
        mut request: model::ChatRequest,
    ) -> wasmtime::Result<Result<Resource<ModelStream>, PluginError>> {
        let _paused = self.meter.pause();
        let admitted = match self.admit_chat(&mut request) {
            Ok(admitted) => admitted,
            Err(e) => return Ok(Err(e)),
        };
        let chunks = match admitted.backend.chat_stream(&request, &admitted.call).await {
            Ok(c) => c,
            Err(e) => {
                self.record_admitted(&admitted, &Err(e.clone()));
                return Ok(Err(e));
            }
        };
        let stream = ModelStream {
            chunks,
            usage: model::Usage {
                input_tokens: 0,
                output_tokens: 0,
            },
            done: false,
            bytes: admitted.bytes,
            backend: admitted.backend,
            redacted: admitted.redacted,
            facts: admitted.facts,
            reported: admitted.call.reported(),
        };
        Ok(Ok(self.table.push(stream)?))
    }
}

impl Gate {
    /// [`Gate::admit`] for a chat request: system prompt, every message and
    /// the stop strings.
    fn admit_chat(&self, request: &mut model::ChatRequest) -> Result<Admitted, PluginError> {
        if request.messages.is_empty() {
            self.check(Capability::Model, request.purpose.as_str())?;
            return Err(PluginError::InvalidRequest(
                "a chat request needs at least one message".into(),
            ));
        }
        let purpose = request.purpose.as_str().to_owned();
        let model::ChatRequest {
            system,
            messages,
            stop,
            max_tokens,
            ..
        } = request;
        let mut texts: Vec<&mut String> = vec![system];
        texts.extend(messages.iter_mut().map(|m| &mut m.content));
        self.admit(&purpose, texts, stop, max_tokens)
    }
}

impl model::HostCompletionStream for Gate {
    async fn next(
        &mut self,
        stream: Resource<ModelStream>,
    ) -> wasmtime::Result<Result<Option<String>, PluginError>> {
        let _paused = self.meter.pause();
        let handle = stream;
        let stream = self.table.get_mut(&handle)?;
        let mut ended = None;
        while !stream.done {
            match stream.chunks.next().await {
                Some(Ok(Chunk::Text(text))) => {
                    stream.usage.output_tokens = stream
                        .usage
                        .output_tokens
                        .saturating_add(estimate_tokens(&text));
                    if let Some(sink) = &self.stream_sink {
                        // A closed sink means nobody is watching any more.
                        let _ = sink.send(text.clone());
                    }
                    return Ok(Ok(Some(text)));
                }
                Some(Ok(Chunk::Usage(usage))) => stream.usage = usage,
                Some(Ok(Chunk::Meta(meta))) => stream.reported = meta,
                Some(Err(e)) => {
                    stream.done = true;
                    ended = Some(Err(e));
                }
                None => {
                    stream.done = true;
                    ended = Some(Ok(()));
                }
            }
        }
        // The answer is complete (or failed): count its tokens against the
        // budget and write its audit record, once.
        let Some(outcome) = ended else {
            return Ok(Ok(None));
        };
        let stream = self.table.get(&handle)?;
        let result = outcome.clone().map(|()| model::Response {
            text: String::new(),
            usage: stream.usage,
            stop_reason: model::StopReason::End,
            backend: stream.backend.name().to_owned(),
            model: stream.backend.model().to_owned(),
        });
        self.record_model_call(
            &*stream.backend,
            &result,
            stream.bytes,
            &stream.redacted,
            &stream.facts,
            stream.reported.clone(),
        );
        Ok(outcome.map(|()| None))
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
        // Policy rules match the resolved path: `..` and symlinks cannot
        // dodge an exclusion.
        let resolved = match ws.resolve(&path).map(|p| ws.relative(&p)) {
            Ok(Some(rel)) => rel,
            Ok(None) => {
                return Ok(Err(PluginError::Denied(format!(
                    "`{path}` is outside the workspace"
                ))));
            }
            Err(e) => return Ok(Err(workspace_error(e))),
        };
        let decision = self.services.policy.read(&self.plugin, &resolved);
        if let Err(e) = self.decided("workspace.read", &resolved, decision, |_| {}) {
            return Ok(Err(e));
        }
        Ok(ws.read(&resolved).map_err(workspace_error))
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
        let policy = Arc::clone(&self.services.policy);
        let plugin = Arc::clone(&self.plugin);
        // Walking a large tree blocks; keep it off the async workers. Files
        // the plugin may not read are not listed either.
        let listed = tokio::task::spawn_blocking(move || {
            ws.list(&glob, usize::MAX).map(|all| {
                all.into_iter()
                    .filter(|rel| policy.read(&plugin, rel).allowed)
                    .take(limit)
                    .collect::<Vec<_>>()
            })
        })
        .await?;
        Ok(listed.map_err(workspace_error))
    }
}

impl log::Host for Gate {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let _paused = self.meter.pause();
        // The policy decides `log` like every other capability; asked once
        // per call, and a denial is recorded once, not once per message.
        let allowed = match self.log_allowed {
            Some(allowed) => allowed,
            None => {
                let allowed = self.check(Capability::Log, "").is_ok();
                self.log_allowed = Some(allowed);
                allowed
            }
        };
        if !allowed || self.logged >= self.log_limits.messages {
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

impl Gate {
    /// The policy's answer on `log` in this call, if it was asked.
    pub fn log_decision(&self) -> Option<bool> {
        self.log_allowed
    }

    /// Whether the plugin may log (its captured stdout/stderr are logged
    /// only then too).
    pub fn may_log(&mut self) -> bool {
        match self.log_allowed {
            Some(allowed) => allowed,
            None => {
                let allowed = self.check(Capability::Log, "stdout/stderr").is_ok();
                self.log_allowed = Some(allowed);
                allowed
            }
        }
    }
}
