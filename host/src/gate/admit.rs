//! The one admission path of a model request. Every kind of request (chat,
//! streamed chat, fill-in-the-middle) passes [`Gate::admit`] in the same
//! order: capability → size (stop strings included) → route → the
//! policy's model, residency and path rules → budget → token cap →
//! redaction of every string that leaves → the audit record of the
//! admission. What it returns, [`Admitted`], is what the request's own
//! record is written from when it ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use cordon_policy::{AuditRecord, CallFacts, Decision, Processing};

use super::{Capability, Gate};
use crate::api::PluginError;
use crate::api::model;
use crate::backends::{Backend, Call};
use crate::policy::Policy;

/// Most bytes a plugin may send to a model in one request.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// Which backend a request goes to.
pub(super) enum Pick {
    /// The one routed to the plugin.
    Routed,
    /// For completion: the routed one, or the local model while the routed
    /// one cannot be used (see [`fallback`](super::fallback)).
    Completion,
    /// The local model, where the policy allows it.
    Local,
}

/// A model request that passed [`Gate::admit`].
pub(super) struct Admitted {
    pub backend: Arc<dyn Backend>,
    pub redacted: Redactions,
    /// Bytes sent, after redaction.
    pub bytes: usize,
    /// Tokens sent, estimated from the bytes.
    pub input_estimate: u64,
    /// The token cap the request was sent with.
    pub max_tokens: u32,
    pub facts: CallFacts,
    pub call: Call,
}

impl Admitted {
    /// Whether the request leaves the machine: waiting on it is then not
    /// host work, and what it sends is redacted when the policy says so.
    pub fn is_remote(&self) -> bool {
        leaves_the_machine(&*self.backend)
    }
}

impl Gate {
    /// Ask the policy whether this plugin holds `capability`, and record
    /// the decision.
    pub(super) fn check(&self, capability: Capability, detail: &str) -> Result<(), PluginError> {
        let decision = self
            .services()
            .policy
            .capability(self.ledger.plugin(), capability);
        self.ledger
            .decided(capability.as_str(), detail, decision, |_| {})
    }

    /// Everything a model request passes before it may leave, in one order
    /// for every kind of request (`operation`: `chat` or `text_completion`).
    /// Returns the backend and the prepared call.
    pub(super) fn admit(
        &self,
        operation: &str,
        purpose: &str,
        mut texts: Vec<&mut String>,
        stop: &mut [String],
        max_tokens: &mut u32,
        pick: Pick,
    ) -> Result<Admitted, PluginError> {
        let plugin = self.ledger.plugin();
        let services = self.services();
        self.check(Capability::Model, purpose)?;
        // Everything that leaves counts, stop strings included.
        check_request_size(total_bytes(&texts, stop))?;
        let routed = services.router.backend_for(plugin)?;
        let backend = match pick {
            Pick::Routed => routed,
            Pick::Completion => services.completion_backend(plugin, routed),
            Pick::Local => services.local_for(plugin).unwrap_or(routed),
        };
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
        let decision = services.policy.route(plugin, &route);
        let call_facts = CallFacts {
            call_id: Some(next_call_id()),
            operation: Some(operation.to_owned()),
            endpoint: facts.endpoint_host.clone(),
            auth: facts.auth.map(str::to_owned),
            processing: Some(processing.audit_form()),
            guardrail: facts.guardrail.as_ref().map(|(_, full)| full.clone()),
            inference_geo: facts.inference_geo.clone(),
            ..CallFacts::default()
        };
        self.ledger.decided("model", "route", decision, |r| {
            describe_backend(r, &*backend);
            r.call = call_facts.clone();
        })?;
        let policy = &services.policy;
        if let Err(e) = policy.acquire(plugin) {
            // A budget hit is a denial like any other, and recorded as one.
            let reason = e.to_string();
            let denial = Decision {
                allowed: false,
                reason: reason.clone(),
                layer: None,
            };
            let _ = self.ledger.decided("model", "budget", denial, |r| {
                describe_backend(r, &*backend);
                r.call = call_facts.clone();
            });
            return Err(match e {
                cordon_policy::BudgetError::RequestsPerMinute { .. } => {
                    PluginError::RateLimited(reason)
                }
                _ => PluginError::BudgetExceeded(reason),
            });
        }
        *max_tokens = capped_tokens(policy, plugin, *max_tokens);
        let mut redacted = Redactions::default();
        let on = leaves_the_machine(&*backend) && policy.redacts();
        for text in texts.iter_mut() {
            redacted.scrub(on, text);
        }
        for text in stop.iter_mut() {
            redacted.scrub(on, text);
        }
        let bytes = total_bytes(&texts, stop);
        let mut metadata = std::collections::BTreeMap::new();
        if let Some(id) = &call_facts.call_id {
            metadata.insert("cordon_call".to_owned(), id.clone());
        }
        metadata.insert("cordon_plugin".to_owned(), plugin.to_owned());
        services
            .stats
            .model_requests
            .fetch_add(1, Ordering::Relaxed);
        Ok(Admitted {
            backend,
            redacted,
            bytes,
            input_estimate: bytes.div_ceil(4) as u64,
            max_tokens: *max_tokens,
            facts: call_facts,
            call: Call {
                metadata,
                ..Call::default()
            },
        })
    }

    /// [`Gate::admit`] for a chat request: system prompt, every message and
    /// the stop strings.
    pub(super) fn admit_chat(
        &self,
        request: &mut model::ChatRequest,
    ) -> Result<Admitted, PluginError> {
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
        self.admit("chat", &purpose, texts, stop, max_tokens, Pick::Routed)
    }
}

impl Gate {
    /// [`Gate::admit`] for a fill-in-the-middle request: prefix, suffix and
    /// the stop strings.
    /// `local`: for the local model (the routed backend failed to answer).
    pub(super) fn admit_fim(
        &self,
        request: &mut model::FimRequest,
        local: bool,
    ) -> Result<Admitted, PluginError> {
        let model::FimRequest {
            prefix,
            suffix,
            stop,
            max_tokens,
            ..
        } = request;
        self.admit(
            "text_completion",
            "completion",
            vec![prefix, suffix],
            stop,
            max_tokens,
            if local { Pick::Local } else { Pick::Completion },
        )
    }
}

fn total_bytes(texts: &[&mut String], stop: &[String]) -> usize {
    texts.iter().map(|t| t.len()).sum::<usize>() + stop.iter().map(String::len).sum::<usize>()
}

/// The most tokens a request of `plugin` may ask for.
fn capped_tokens(policy: &Policy, plugin: &str, asked: u32) -> u32 {
    let cap = policy.limits(plugin).max_output_tokens;
    cap.map_or(asked, |cap| {
        asked.min(u32::try_from(cap).unwrap_or(u32::MAX))
    })
}

pub(super) fn describe_backend(r: &mut AuditRecord, backend: &dyn Backend) {
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
    // The process id is read once: `getpid` is a system call.
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let pid = *PID.get_or_init(std::process::id);
    format!("{:x}-{pid:x}-{n:x}", now.as_secs())
}

/// What redaction removed from one request (counts only, never the text).
#[derive(Default)]
pub(super) struct Redactions {
    pub count: usize,
    pub kinds: std::collections::BTreeMap<String, usize>,
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

/// Whether a request to `backend` leaves the machine (everything but the
/// built-in local model does).
pub(super) fn leaves_the_machine(backend: &dyn Backend) -> bool {
    backend.provider() != "local"
}

fn check_request_size(bytes: usize) -> Result<(), PluginError> {
    if bytes > MAX_REQUEST_BYTES {
        return Err(PluginError::InvalidRequest(format!(
            "the request is {bytes} bytes; at most {MAX_REQUEST_BYTES} may be sent to a model"
        )));
    }
    Ok(())
}
