//! Cordon's team policy: the pure logic behind the capability gate.
//!
//! A policy says which plugin may use which capability, which providers,
//! backends, models and regions it may reach, what content never leaves the
//! machine, which secrets are redacted, the limits and budgets of each
//! plugin, which builds may run, and where the audit log goes. This crate
//! reads and validates the policy files, combines the layers, answers the
//! gate's questions, and provides the redactor, the budgets and the audit
//! log. It does no I/O other than reading policy files and writing/reading
//! audit logs; wiring it into the gate, the CLI and file watching is the
//! host's job.
//!
//! # The file
//!
//! ```toml
//! [plugins."*"]                      # default for every plugin, incl. unknown ones
//! capabilities = ["model", "log"]    # model | workspace.read | log
//! providers = ["bedrock", "local"]   # anthropic | bedrock | openai | local
//! backends = ["claude-bedrock", "local"]   # configured backend names (globs)
//! models = ["anthropic.claude-*", "local"] # model ids (globs)
//! regions = ["us-east-1", "us-west-2"]     # globs
//! requests_per_minute = 60
//! tokens_per_day = 200000
//! max_output_tokens = 1024
//!
//! [plugins.completion]
//! capabilities = ["model", "workspace.read", "log"]
//! workspace_read = ["src/**"]        # globs, workspace-relative
//! memory_mib = 64
//! cpu_ms = 100
//! output_kib = 256
//! sha256 = ["<64 lowercase hex>"]    # only these builds may run
//!
//! [content]
//! exclude = ["**/.env", "**/*.pem", "secrets/**"]
//! redact_secrets = true
//!
//! [audit]
//! path = "audit.jsonl"               # relative to the layer's folder
//! prompts = false                    # never prompt text by default
//!
//! [audit.export]                     # organisation layer only
//! endpoint = "https://otel-collector.example.com:4318"
//! protocol = "http/protobuf"
//! headers = { Authorization = "CORDON_OTLP_AUTH" }  # header → env var
//! ca_file = "collector-ca.pem"
//! ```
//!
//! Unknown keys, wrong types, bad globs, unknown capability or provider
//! names, malformed digests and numbers out of range are errors with file,
//! line and column ([`PolicyError`]).
//!
//! # Layers and how they combine
//!
//! Organisation, workspace and user layers ([`layer_paths`], [`load`]); the
//! effective policy is their intersection: a lower layer can only narrow
//! what a higher one allows. See [`Effective`] for the exact rules.
//!
//! # What the host must do
//!
//! - Check [`Effective::is_configured`]: with no policy file, apply the
//!   built-in defaults; otherwise ask the policy for every call.
//! - Before a plugin runs: [`Effective::allows_digest`] with its sha256, and
//!   apply [`Effective::limits`] (memory, CPU, output).
//! - At the gate: [`Effective::allows_capability`] for every import;
//!   [`Effective::allows_model`] *before any byte leaves*;
//!   [`Budgets::try_acquire`] before and [`Budgets::record_tokens`] after each
//!   model request; [`Effective::allows_read`] for every workspace read.
//! - Resolve `..` and symlinks (and check the result is inside the
//!   workspace) before [`Effective::is_excluded`] / [`Effective::allows_read`];
//!   never give an excluded document to a plugin at all.
//! - Call [`redact()`] on everything sent to a remote backend when
//!   [`Effective::redact_secrets`] is on (it is on by default), and record
//!   its counts, never the secrets.
//! - Write an [`AuditRecord`] for every decision and model call to every
//!   [`Effective::audit_sinks`] log ([`AuditLog::open_sink`]).
//! - On reload, keep the last valid [`Effective`] when [`load`] fails and
//!   report the [`PolicyErrors`]; at start, an invalid policy means refusing
//!   what is not granted (fail closed, never open).

#![warn(missing_docs)]

pub mod audit;
mod budget;
mod defaults;
mod effective;
mod error;
mod explain;
mod layer;
mod parse;
mod pattern;
pub mod redact;
pub mod residency;
mod rules;

pub use audit::{
    Anchor, AuditError, AuditLog, AuditRecord, CallFacts, VerifyError, VerifyReport, verify,
    verify_with_anchor,
};
pub use budget::{BudgetError, Budgets};
pub use defaults::builtin_defaults;
pub use effective::{Decision, Effective, Limits, Route};
pub use error::{PolicyError, PolicyErrors, Problem};
pub use explain::{ExcludePattern, Explanation, Grant, LayerUse, Source};
pub use layer::{
    Layer, LayerFile, REQUIRED_MARKER, SYSTEM_DIR, Sources, layer_paths, layer_paths_with,
};
pub use parse::{load, load_sources, parse_layer, valid_endpoint};
pub use redact::{Redacted, redact};
pub use residency::Processing;
pub use rules::{AuditSink, Capability, ExportTarget, LayerPolicy, LimitKind, Provider};
