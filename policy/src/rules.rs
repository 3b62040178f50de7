//! The validated content of one policy file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::Layer;
use crate::pattern::{NamePatterns, PathPatterns};

/// A capability a plugin may be granted (the fixed set of plugin imports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Capability {
    /// `model`: ask a language model.
    #[serde(rename = "model")]
    Model,
    /// `workspace.read`: read files of the workspace (narrowed by
    /// `workspace_read` globs and `content.exclude`).
    #[serde(rename = "workspace.read")]
    WorkspaceRead,
    /// `log`: write to the host's log.
    #[serde(rename = "log")]
    Log,
}

impl Capability {
    /// Every capability, in a fixed order.
    pub const ALL: [Capability; 3] = [
        Capability::Model,
        Capability::WorkspaceRead,
        Capability::Log,
    ];

    /// The name used in policy files and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Model => "model",
            Capability::WorkspaceRead => "workspace.read",
            Capability::Log => "log",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Capability {
    type Err = ();
    /// Parses a policy-file name (`model`, `workspace.read`, `log`).
    fn from_str(s: &str) -> Result<Self, ()> {
        Capability::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or(())
    }
}

/// A kind of model provider (the fixed set of backend kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Anthropic's API.
    Anthropic,
    /// Amazon Bedrock.
    Bedrock,
    /// An OpenAI-compatible API.
    Openai,
    /// The built-in offline model; nothing leaves the machine.
    Local,
}

impl Provider {
    /// Every provider, in a fixed order.
    pub const ALL: [Provider; 4] = [
        Provider::Anthropic,
        Provider::Bedrock,
        Provider::Openai,
        Provider::Local,
    ];

    /// The name used in policy files and by backends.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::Bedrock => "bedrock",
            Provider::Openai => "openai",
            Provider::Local => "local",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = ();
    /// Parses a provider name (`anthropic`, `bedrock`, `openai`, `local`).
    fn from_str(s: &str) -> Result<Self, ()> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or(())
    }
}

/// A per-plugin numeric limit that policy can set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// `memory_mib`: linear memory of one plugin instance, MiB.
    MemoryMib,
    /// `cpu_ms`: CPU time of the plugin's own code per call, milliseconds.
    CpuMs,
    /// `output_kib`: size of what one call returns, KiB.
    OutputKib,
    /// `max_output_tokens`: tokens a model may generate for one request.
    MaxOutputTokens,
    /// `requests_per_minute`: model requests in any 60-second window.
    RequestsPerMinute,
    /// `tokens_per_day`: model tokens (input + output) in any 24-hour window.
    TokensPerDay,
}

impl LimitKind {
    /// Every limit, in a fixed order.
    pub const ALL: [LimitKind; 6] = [
        LimitKind::MemoryMib,
        LimitKind::CpuMs,
        LimitKind::OutputKib,
        LimitKind::MaxOutputTokens,
        LimitKind::RequestsPerMinute,
        LimitKind::TokensPerDay,
    ];

    /// The key used in policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::MemoryMib => "memory_mib",
            LimitKind::CpuMs => "cpu_ms",
            LimitKind::OutputKib => "output_kib",
            LimitKind::MaxOutputTokens => "max_output_tokens",
            LimitKind::RequestsPerMinute => "requests_per_minute",
            LimitKind::TokensPerDay => "tokens_per_day",
        }
    }

    /// The accepted range, inclusive. `requests_per_minute = 0` and
    /// `tokens_per_day = 0` are allowed and mean "no model requests".
    pub fn range(self) -> (u64, u64) {
        match self {
            LimitKind::MemoryMib => (1, 65_536),
            LimitKind::CpuMs => (1, 3_600_000),
            LimitKind::OutputKib => (1, 1_048_576),
            LimitKind::MaxOutputTokens => (1, 1_000_000),
            LimitKind::RequestsPerMinute => (0, 10_000),
            LimitKind::TokensPerDay => (0, 1_000_000_000_000),
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rules of one `[plugins.NAME]` or `[plugins."*"]` table. `None` means
/// the key is absent (the table does not constrain that aspect).
#[derive(Debug, Clone, Default)]
pub(crate) struct PluginRule {
    pub(crate) capabilities: Option<BTreeSet<Capability>>,
    pub(crate) workspace_read: Option<PathPatterns>,
    pub(crate) providers: Option<BTreeSet<Provider>>,
    pub(crate) backends: Option<NamePatterns>,
    pub(crate) models: Option<NamePatterns>,
    pub(crate) regions: Option<NamePatterns>,
    pub(crate) limits: [Option<u64>; 6],
    pub(crate) sha256: Option<BTreeSet<String>>,
    /// Coarse residency: every region a request may run in must belong to
    /// one of these geographies (`us`, `eu`, `apac`, …, `global`).
    pub(crate) geographies: Option<BTreeSet<String>>,
    /// Endpoint hosts or URLs (globs) requests may go to.
    pub(crate) endpoints: Option<NamePatterns>,
    /// Bedrock requests must use a FIPS endpoint.
    pub(crate) require_fips: Option<bool>,
    /// Credential kinds (`sigv4`, `bearer`, `api-key`, `none`).
    pub(crate) auth: Option<BTreeSet<String>>,
    /// AWS profiles (globs) Bedrock backends may use.
    pub(crate) aws_profiles: Option<NamePatterns>,
    /// Bedrock requests must carry a guardrail whose id matches one of these.
    pub(crate) guardrails: Option<NamePatterns>,
    /// Anthropic API requests must ask for one of these processing
    /// geographies (`inference_geo`).
    pub(crate) inference_geo: Option<BTreeSet<String>>,
}

/// Where a layer's rule for a plugin comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleSource<'a> {
    /// `[plugins.NAME]`.
    Named(&'a str),
    /// `[plugins."*"]`.
    Default,
}

impl fmt::Display for RuleSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleSource::Named(name) => write!(f, "[plugins.{name}]"),
            RuleSource::Default => f.write_str("[plugins.\"*\"]"),
        }
    }
}

/// Where an audit log goes, as named by one layer's `[audit]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditSink {
    /// The layer that asked for this log.
    pub layer: Layer,
    /// The log file (a relative `audit.path` is resolved against the folder
    /// of the layer's policy file).
    pub path: PathBuf,
    /// Whether prompt text may be written to this log (`audit.prompts`,
    /// default `false`).
    pub prompts: bool,
}

/// Where the organisation ships its audit log (`[audit.export]`): an
/// OpenTelemetry (OTLP) collector. Read only from the organisation layer:
/// a workspace or user policy cannot name or redirect it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportTarget {
    /// The collector's OTLP/HTTP base URL (`/v1/logs` and `/v1/traces` are
    /// appended), `http://` or `https://`.
    pub endpoint: String,
    /// The OTLP protocol: `http/protobuf` (the only one built in).
    pub protocol: String,
    /// Header name → the environment variable that holds its value. Values
    /// never appear in the policy file.
    pub headers: BTreeMap<String, String>,
    /// A PEM file of CA certificates to trust for the collector's TLS (as
    /// well as the system's), resolved against the policy file's folder.
    pub ca_file: Option<PathBuf>,
}

/// One validated policy file.
#[derive(Debug, Clone)]
pub struct LayerPolicy {
    pub(crate) layer: Layer,
    pub(crate) path: PathBuf,
    pub(crate) plugins: BTreeMap<String, PluginRule>,
    pub(crate) exclude: Option<PathPatterns>,
    pub(crate) redact_secrets: Option<bool>,
    pub(crate) audit: Option<AuditSink>,
    /// `[audit.export]` (organisation layer only).
    pub(crate) audit_export: Option<ExportTarget>,
    pub(crate) workspaces: WorkspaceRules,
    /// A layer that may only narrow (see [`crate::LayerFile::narrow_only`]).
    pub(crate) narrow_only: bool,
}

/// `[workspaces]`: what repositories may bring once trusted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WorkspaceRules {
    /// `allow_trust = false`: `cordon trust` has no effect; every workspace
    /// layer stays narrowing-only.
    pub(crate) allow_trust: Option<bool>,
    /// `allow_plugins = false`: plugins shipped in a workspace never load.
    pub(crate) allow_plugins: Option<bool>,
}

impl LayerPolicy {
    /// The layer this file is.
    pub fn layer(&self) -> Layer {
        self.layer
    }

    /// Whether this layer may only narrow (an untrusted workspace, an
    /// override of the installed organisation policy).
    pub fn narrow_only(&self) -> bool {
        self.narrow_only
    }

    /// Marks this layer as narrowing-only (or not).
    pub fn set_narrow_only(&mut self, narrow_only: bool) {
        self.narrow_only = narrow_only;
    }

    /// Whether this layer grants anything: not narrowing-only.
    pub(crate) fn grants(&self) -> bool {
        !self.narrow_only
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plugin tables it has (`*` for the default), sorted.
    pub fn plugin_tables(&self) -> impl Iterator<Item = &str> {
        self.plugins.keys().map(String::as_str)
    }

    /// Its `content.exclude` patterns as written (empty when absent).
    pub fn exclude_patterns(&self) -> &[String] {
        self.exclude.as_ref().map_or(&[], |p| p.sources())
    }

    /// Its `content.redact_secrets`, when set.
    pub fn redact_secrets(&self) -> Option<bool> {
        self.redact_secrets
    }

    /// Its `[audit]` log, when set.
    pub fn audit(&self) -> Option<&AuditSink> {
        self.audit.as_ref()
    }

    /// Its `[audit.export]` destination, when set.
    pub fn audit_export(&self) -> Option<&ExportTarget> {
        self.audit_export.as_ref()
    }

    /// For each key, the rule of `[plugins.NAME]` if that table sets it, else
    /// the rule of `[plugins."*"]`, else none: a named table overrides the
    /// default key by key. `None` when the layer has neither table.
    pub(crate) fn resolve<'a>(&'a self, plugin: &'a str) -> Option<Resolved<'a>> {
        let named = self
            .plugins
            .get_key_value(plugin)
            .filter(|(k, _)| k.as_str() != "*");
        let default = self.plugins.get("*");
        if named.is_none() && default.is_none() {
            return None;
        }
        Some(Resolved {
            named: named.map(|(k, r)| (k.as_str(), r)),
            default,
        })
    }

    /// "the organisation policy (/etc/cordon/policy.toml)"
    pub(crate) fn describe(&self) -> String {
        if self.layer == Layer::Builtin {
            return "Cordon's built-in defaults (no organisation, user or trusted workspace policy)"
                .to_owned();
        }
        let untrusted = if self.layer == Layer::Workspace && self.narrow_only {
            " (untrusted: it can only narrow)"
        } else {
            ""
        };
        format!(
            "the {} policy ({}){untrusted}",
            self.layer,
            self.path.display()
        )
    }
}

/// A layer's rules for one plugin, with key-by-key fallback to the default.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Resolved<'a> {
    named: Option<(&'a str, &'a PluginRule)>,
    default: Option<&'a PluginRule>,
}

impl<'a> Resolved<'a> {
    /// The value of one key and the table it came from.
    pub(crate) fn get<T: ?Sized>(
        &self,
        key: impl Fn(&'a PluginRule) -> Option<&'a T>,
    ) -> Option<(&'a T, RuleSource<'a>)> {
        if let Some((name, rule)) = self.named
            && let Some(v) = key(rule)
        {
            return Some((v, RuleSource::Named(name)));
        }
        self.default
            .and_then(|rule| key(rule).map(|v| (v, RuleSource::Default)))
    }

    /// The table that applies as a whole: the named one if present.
    pub(crate) fn table(&self) -> RuleSource<'a> {
        match self.named {
            Some((name, _)) => RuleSource::Named(name),
            None => RuleSource::Default,
        }
    }
}
