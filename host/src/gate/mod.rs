//! The capability gate: the one place where a plugin's imports are served.
//!
//! Every function a plugin can import from Cordon (`model`, `workspace`,
//! `log`) is implemented here and nowhere else, one module per interface
//! (`model`, `workspace`, `log`), as wasmtime-wasi's host crates do. Each
//! call is decided by the effective policy (which holds Cordon's built-in
//! defaults as a layer, so there is nothing else to consult) and recorded
//! (target `cordon::audit`) by the call's [`Ledger`] before it is delegated
//! to a backend or the workspace; model requests pass one admission
//! function (`admit`). Nothing downstream of the gate checks permissions
//! again, and nothing upstream can reach a backend without passing here:
//! [`Services`] hands its router to nobody.
//!
//! Imports return [`Refusal`] (wasmtime's `trappable_error_type`), so a
//! denial is `?` and a trap is `?` too.

mod admit;
pub mod fallback;
mod ledger;
mod log;
mod model;
mod v0_1_0;
mod workspace;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use wasmtime::component::ResourceTable;

use crate::api::PluginError;
use crate::api::cordon::plugin::types;
use crate::backends::{Backend, Router};
use crate::policy::Policy;
use crate::runtime::meter::CpuMeter;
use crate::workspace::Workspace;

pub use cordon_policy::Capability;
use fallback::Fallbacks;
pub use fallback::Notice;
pub use ledger::{Caps, Ledger};
pub use model::ModelStream;

/// Names of the capabilities `plugin` holds under `policy`.
pub fn granted(policy: &Policy, plugin: &str) -> Vec<&'static str> {
    Capability::ALL
        .into_iter()
        .filter(|c| policy.capability(plugin, *c).allowed)
        .map(Capability::as_str)
        .collect()
}

/// What the gate delegates to once a call is allowed. The router is
/// private to the gate: front ends read the policy, the workspace and the
/// counters, and reach a model only through a plugin call.
#[derive(Clone, Default)]
pub struct Services {
    router: Router,
    workspace: Option<Workspace>,
    stats: Arc<GateStats>,
    policy: Arc<Policy>,
    /// Remote backends completion avoids for now.
    fallbacks: Arc<Fallbacks>,
}

impl Services {
    /// Services routing model requests through `router`, reading
    /// `workspace`, decided by `policy`.
    pub fn new(router: Router, workspace: Option<Workspace>, policy: Arc<Policy>) -> Self {
        Services {
            router,
            workspace,
            stats: Arc::default(),
            policy,
            fallbacks: Arc::default(),
        }
    }

    /// The team policy, its budgets and audit logs.
    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    /// The workspace plugins may read, if any.
    pub fn workspace(&self) -> Option<&Workspace> {
        self.workspace.as_ref()
    }

    /// Counters of what went through the gate.
    pub fn stats(&self) -> &Arc<GateStats> {
        &self.stats
    }

    /// What changed since the last call in which model completes (a remote
    /// backend that went down or came back), each change once.
    pub fn take_notices(&self) -> Vec<Notice> {
        self.fallbacks.take_notices()
    }

    /// Why `plugin` cannot have a chat model answer it now (explanations
    /// and refactors need one), in words that say what to do; `None` when
    /// it can ask.
    pub fn chat_unavailable(&self, plugin: &str) -> Option<String> {
        let decision = self.policy.capability(plugin, Capability::Model);
        if !decision.allowed {
            return Some(format!(
                "the policy does not grant plugin `{plugin}` the `model` capability ({})",
                decision.reason
            ));
        }
        let backend = match self.router.backend_for(plugin) {
            Ok(backend) => backend,
            Err(err) => return Some(err.message().to_owned()),
        };
        if let Some(reason) = backend.unusable() {
            return Some(reason.to_owned());
        }
        (!admit::leaves_the_machine(&*backend)).then(|| {
            format!(
                "plugin `{plugin}` needs a chat model and is routed to the offline `local` model, which only completes code: \
                 configure a chat backend (anthropic, bedrock or openai) under [backends] in cordon.toml and route `{plugin}` to it"
            )
        })
    }

    /// The backend a completion request of `plugin` goes to: `routed`, or
    /// the local model while `routed` cannot be used and the policy lets
    /// `plugin` use the local model.
    fn completion_backend(&self, plugin: &str, routed: Arc<dyn Backend>) -> Arc<dyn Backend> {
        if !admit::leaves_the_machine(&*routed) {
            return routed;
        }
        if self.fallbacks.avoids(routed.name(), Instant::now()) {
            return self.local_for(plugin).unwrap_or(routed);
        }
        match (routed.unusable(), self.local_for(plugin)) {
            (Some(reason), Some(local)) => {
                self.fallbacks.broken(routed.name(), reason);
                local
            }
            _ => routed,
        }
    }

    /// After `backend` failed to answer a completion request of `plugin`
    /// with `reason`: whether the request should go to the local model
    /// instead (the policy lets `plugin` use it).
    fn fall_back(&self, plugin: &str, backend: &dyn Backend, reason: &str) -> bool {
        if self.local_for(plugin).is_none() {
            return false;
        }
        self.fallbacks
            .failed(backend.name(), reason, Instant::now());
        true
    }

    /// The local model, if the policy lets `plugin` send to it.
    pub(crate) fn local_for(&self, plugin: &str) -> Option<Arc<dyn Backend>> {
        let local = self.router.local()?;
        let facts = local.route();
        let route = facts.route(local.provider(), local.name(), local.model(), None);
        self.policy.route(plugin, &route).allowed.then_some(local)
    }
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

/// Why an import returned no value: an `error` the plugin sees, or a trap
/// that ends its call (a budget used up, a bad resource handle).
#[derive(Debug)]
pub enum Refusal {
    /// Returned to the plugin as the WIT `error`.
    Error(PluginError),
    /// Ends the call.
    Trap(wasmtime::Error),
}

impl From<PluginError> for Refusal {
    fn from(error: PluginError) -> Self {
        Refusal::Error(error)
    }
}

impl From<wasmtime::Error> for Refusal {
    fn from(error: wasmtime::Error) -> Self {
        Refusal::Trap(error)
    }
}

impl From<wasmtime::component::ResourceTableError> for Refusal {
    fn from(error: wasmtime::component::ResourceTableError) -> Self {
        Refusal::Trap(error.into())
    }
}

impl From<tokio::task::JoinError> for Refusal {
    fn from(error: tokio::task::JoinError) -> Self {
        Refusal::Trap(wasmtime::Error::msg(format!("a host task failed: {error}")))
    }
}

/// The gate for one plugin call: it holds the call's [`Ledger`] (the
/// plugin's identity, the services, what was recorded) and serves the
/// imports.
pub struct Gate {
    ledger: Arc<Ledger>,
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
            ledger: Arc::new(Ledger::new(plugin, digest, services, Caps::default())),
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

    /// The call has ended: anything its caps kept out of the audit log is
    /// recorded now, once.
    pub fn finish(&mut self) {
        // Streams the plugin never dropped are accounted as abandoned.
        self.table = ResourceTable::new();
        self.ledger.finish(self.dropped_logs);
    }

    fn services(&self) -> &Services {
        self.ledger.services()
    }
}

impl types::Host for Gate {
    fn convert_error(&mut self, refusal: Refusal) -> wasmtime::Result<PluginError> {
        match refusal {
            Refusal::Error(error) => Ok(error),
            Refusal::Trap(trap) => Err(trap),
        }
    }
}
