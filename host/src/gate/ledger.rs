//! What one plugin call decided and recorded: every audit record of the
//! call is written through its `Ledger`, which caps how many one call may
//! write (so a plugin that asks for a denied file 100 000 times costs one
//! line per cap, not 77 MiB) and records, once, what the caps kept out.
//!
//! A streamed answer holds the ledger too, so a stream the plugin drops (or
//! never reads to its end) is still charged and recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::SystemTime;

use cordon_policy::{AuditRecord, CallFacts, Decision};

use super::Services;
use super::admit::{Admitted, describe_backend};
use crate::api::PluginError;
use crate::api::model;
use crate::backends::CallMeta;
use crate::text;

/// Per-call caps on audit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Records one call may write. Past it, allowed requests are refused
    /// (nothing happens without its record) and denials are only counted.
    pub records: usize,
    /// Denials one call may record; later ones are counted.
    pub denial_records: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            records: 512,
            denial_records: 32,
        }
    }
}

/// The identity of one call and what it has recorded so far.
pub struct Ledger {
    plugin: Arc<str>,
    digest: Arc<str>,
    services: Arc<Services>,
    caps: Caps,
    records: AtomicUsize,
    denial_records: AtomicUsize,
    /// Allowed requests refused because the call had used its records.
    refused: AtomicUsize,
    /// Denials that were not written.
    unrecorded_denials: AtomicUsize,
    finished: AtomicBool,
}

impl Ledger {
    /// The ledger of one call of `plugin` (build `digest`).
    pub fn new(plugin: Arc<str>, digest: Arc<str>, services: Arc<Services>, caps: Caps) -> Self {
        Ledger {
            plugin,
            digest,
            services,
            caps,
            records: AtomicUsize::new(0),
            denial_records: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            unrecorded_denials: AtomicUsize::new(0),
            finished: AtomicBool::new(false),
        }
    }

    /// The plugin's name.
    pub fn plugin(&self) -> &str {
        &self.plugin
    }

    pub(super) fn services(&self) -> &Services {
        &self.services
    }

    /// Record `decision` on `capability` (tracing and the audit logs) and
    /// turn a denial into the plugin's `denied` error. A decision that
    /// cannot be written to a configured audit log, or that is over the
    /// call's cap on records, is a denial.
    pub fn decided(
        &self,
        capability: &str,
        detail: &str,
        decision: Decision,
        fill: impl FnOnce(&mut AuditRecord),
    ) -> Result<(), PluginError> {
        if !decision.allowed {
            self.services.stats.denials.fetch_add(1, Ordering::Relaxed);
            if self.take(&self.denial_records, self.caps.denial_records) {
                let _ = self.write(capability, detail, &decision, fill);
            } else {
                self.unrecorded_denials.fetch_add(1, Ordering::Relaxed);
            }
            return Err(PluginError::Denied(decision.reason));
        }
        if self.records.load(Ordering::Relaxed) >= self.caps.records {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(PluginError::Denied(format!(
                "this call has written {} audit records, the most one call may; \
                 nothing more is done without a record",
                self.caps.records
            )));
        }
        self.write(capability, detail, &decision, fill)
            .map_err(|e| {
                PluginError::Denied(format!(
                    "{e}; no model or file access without an audit trail"
                ))
            })
    }

    /// Take one of `counter`'s `cap` slots (and one of the call's records).
    fn take(&self, counter: &AtomicUsize, cap: usize) -> bool {
        if counter.fetch_add(1, Ordering::Relaxed) >= cap {
            return false;
        }
        self.records.load(Ordering::Relaxed) < self.caps.records
    }

    fn write(
        &self,
        capability: &str,
        detail: &str,
        decision: &Decision,
        fill: impl FnOnce(&mut AuditRecord),
    ) -> Result<(), String> {
        self.records.fetch_add(1, Ordering::Relaxed);
        // The detail (a path, a glob) is the plugin's text.
        let detail = text::one_line(detail, 256);
        tracing::info!(
            target: "cordon::audit",
            plugin = %self.plugin,
            digest = %self.digest,
            capability,
            detail,
            decision = if decision.allowed { "allow" } else { "deny" },
            reason = %decision.reason,
        );
        let mut record = AuditRecord::new(SystemTime::now(), &self.plugin, capability, decision);
        record.digest = Some(self.digest.to_string());
        fill(&mut record);
        self.services.policy.audit(&record)
    }

    /// The end of an admitted model request: its tokens count against the
    /// budget and its record is written (the outcome, the tokens, what was
    /// redacted, the provider's request id).
    pub(super) fn record_model_call(
        &self,
        admitted: &Admitted,
        result: &Result<model::Response, PluginError>,
        reported: CallMeta,
    ) {
        let (input, output, reason) = match result {
            Ok(r) => (r.usage.input_tokens, r.usage.output_tokens, None),
            Err(e) => (0, 0, Some(format!("sent; outcome {}", e.kind()))),
        };
        self.record_request(
            admitted,
            u64::from(input),
            u64::from(output),
            reason,
            reported,
        );
    }

    /// A streamed answer the plugin stopped reading: the request may have
    /// gone on generating, so the budget is charged the most it could have
    /// cost (its input and its full `max_tokens`), never less than what
    /// arrived.
    pub(super) fn record_abandoned(
        &self,
        admitted: &Admitted,
        usage: model::Usage,
        pieces: usize,
        reported: CallMeta,
    ) {
        let input = u64::from(usage.input_tokens).max(admitted.input_estimate);
        let output = u64::from(usage.output_tokens).max(u64::from(admitted.max_tokens));
        let reason = format!(
            "sent; the plugin dropped the stream after {pieces} pieces; charged its \
             budgeted maximum of {} tokens",
            input + output
        );
        self.record_request(admitted, input, output, Some(reason), reported);
    }

    fn record_request(
        &self,
        admitted: &Admitted,
        input: u64,
        output: u64,
        reason: Option<String>,
        reported: CallMeta,
    ) {
        self.services.policy.spend(&self.plugin, input + output);
        let guardrail = reported.stop_reason.as_deref() == Some("guardrail_intervened");
        let reason = match reason {
            _ if guardrail => "sent; the guardrail intervened and the answer was withheld".into(),
            Some(reason) => reason,
            None => "sent; outcome ok".to_owned(),
        };
        let decision = Decision {
            allowed: true,
            reason,
            layer: None,
        };
        let facts = &admitted.facts;
        // The request has been made: its record is written even past the
        // cap, so that no model call goes unrecorded.
        let _ = self.write("model", "request", &decision, |r| {
            describe_backend(r, &*admitted.backend);
            r.input_tokens = Some(input);
            r.output_tokens = Some(output);
            r.bytes_sent = Some(admitted.bytes as u64);
            r.redactions = admitted.redacted.count;
            r.redaction_kinds = admitted.redacted.kinds.clone();
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

    /// The call has ended: what the caps kept out of the log (and the log
    /// messages dropped) is recorded in one record.
    pub fn finish(&self, dropped_logs: usize) {
        if self.finished.swap(true, Ordering::Relaxed) {
            return;
        }
        let refused = self.refused.load(Ordering::Relaxed);
        let denials = self.unrecorded_denials.load(Ordering::Relaxed);
        if refused == 0 && denials == 0 && dropped_logs == 0 {
            return;
        }
        let decision = Decision {
            allowed: false,
            reason: format!(
                "the call went over its caps ({} records, {} of them denials, per call): \
                 {refused} requests refused, {denials} further denials and {dropped_logs} \
                 log messages not recorded",
                self.caps.records, self.caps.denial_records
            ),
            layer: None,
        };
        let _ = self.write("call", "caps", &decision, |_| {});
    }
}
