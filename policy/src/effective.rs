//! The effective policy: every loaded layer, and the queries the host asks.

use std::fmt;

use serde::Serialize;

use crate::Layer;
use crate::pattern::normalise;
use crate::rules::{
    AuditSink, Capability, LayerPolicy, LimitKind, PluginRule, Provider, RuleSource,
};

/// The answer to one policy question, with the rule and layer that decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Whether the action may go ahead.
    pub allowed: bool,
    /// A sentence for the user and the audit log that names the rule and the
    /// layer that decided, e.g. "denied by the organisation policy
    /// (/etc/cordon/policy.toml) [plugins."*"]: plugin `x` may not use
    /// capability `workspace.read` (it allows: model, log)".
    pub reason: String,
    /// The layer whose rule decided; `None` when no layer did (deny by
    /// default, or nothing configured).
    pub layer: Option<Layer>,
}

impl Decision {
    fn allow(reason: String, layer: Option<Layer>) -> Self {
        Decision {
            allowed: true,
            reason,
            layer,
        }
    }

    fn deny(reason: String, layer: Option<Layer>) -> Self {
        Decision {
            allowed: false,
            reason,
            layer,
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Per-plugin limits; `None` means the policy sets no limit (the host's own
/// defaults and hard caps apply).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Linear memory of one plugin instance, MiB.
    pub memory_mib: Option<u64>,
    /// CPU time of the plugin's own code per call, milliseconds (time spent
    /// waiting on a model is not counted).
    pub cpu_ms: Option<u64>,
    /// Size of what one call returns, KiB.
    pub output_kib: Option<u64>,
    /// Tokens a model may generate for one request.
    pub max_output_tokens: Option<u64>,
    /// Model requests in any 60-second window (enforced by
    /// [`Budgets`](crate::Budgets)).
    pub requests_per_minute: Option<u64>,
    /// Model tokens, input plus output, in any 24-hour window (enforced by
    /// [`Budgets`](crate::Budgets)).
    pub tokens_per_day: Option<u64>,
}

impl Limits {
    /// The value of one limit.
    pub fn get(&self, kind: LimitKind) -> Option<u64> {
        match kind {
            LimitKind::MemoryMib => self.memory_mib,
            LimitKind::CpuMs => self.cpu_ms,
            LimitKind::OutputKib => self.output_kib,
            LimitKind::MaxOutputTokens => self.max_output_tokens,
            LimitKind::RequestsPerMinute => self.requests_per_minute,
            LimitKind::TokensPerDay => self.tokens_per_day,
        }
    }

    fn set(&mut self, kind: LimitKind, value: Option<u64>) {
        let slot = match kind {
            LimitKind::MemoryMib => &mut self.memory_mib,
            LimitKind::CpuMs => &mut self.cpu_ms,
            LimitKind::OutputKib => &mut self.output_kib,
            LimitKind::MaxOutputTokens => &mut self.max_output_tokens,
            LimitKind::RequestsPerMinute => &mut self.requests_per_minute,
            LimitKind::TokensPerDay => &mut self.tokens_per_day,
        };
        *slot = value;
    }
}

/// The combination of every loaded policy layer.
///
/// # Semantics
///
/// - **Rules of a layer for a plugin.** For each key, `[plugins.NAME]` if it
///   sets the key, else `[plugins."*"]` if it sets it, else the layer does
///   not constrain that key for that plugin (a named table overrides the
///   default key by key, so `[plugins."*"] providers = [...]` still applies
///   to a plugin whose own table only lists capabilities).
/// - **Capabilities are grants.** A capability is allowed iff at least one
///   layer lists it for the plugin and every layer that sets `capabilities`
///   for the plugin lists it. Deny by default: nothing listed, nothing
///   granted.
/// - **Qualifiers narrow.** `workspace_read`, `providers`, `backends`,
///   `models` and `regions` narrow a granted capability: a value is allowed
///   iff every layer that sets the key allows it; a key no layer sets does
///   not narrow (`workspace.read` without `workspace_read` is the whole
///   workspace, minus `content.exclude`).
/// - **Limits**: the minimum over the layers that set them.
/// - **Pins** (`sha256`): a build may run iff its digest is in every pin list
///   that applies to the plugin; no pin list, no pinning.
/// - **Content**: `content.exclude` is the union over layers;
///   `redact_secrets` is on if any layer says `true`, off only if some layer
///   says `false` and none says `true`, and on when no layer says anything
///   (including when no policy exists).
/// - **Audit**: each layer's `[audit]` names its own log; the host writes
///   every record to all of them (prompt text only to those with
///   `prompts = true`).
///
/// So a lower layer can only narrow what a higher layer allows: whatever a
/// layer forbids stays forbidden whatever the other layers say. Where
/// layers disagree, the reason names the highest layer that forbids.
///
/// With no policy file at all ([`Effective::is_configured`] is false), the
/// caller decides the defaults: capability queries answer "denied" with a
/// reason saying so, nothing is excluded, no digest is pinned and no limit
/// is set.
#[derive(Debug, Clone, Default)]
pub struct Effective {
    layers: Vec<LayerPolicy>,
}

/// What the layers that set one key for a plugin say about one value.
struct Check<'a> {
    /// Some layer sets the key.
    set: bool,
    /// The highest layer that sets the key and allows the value.
    allowed_by: Option<(&'a LayerPolicy, RuleSource<'a>)>,
    /// The highest layer that sets the key and forbids the value, with its
    /// list as written.
    forbidden_by: Option<(&'a LayerPolicy, RuleSource<'a>, String)>,
}

impl<'a> Check<'a> {
    fn forbid_reason(&self, plugin: &str, what: &str) -> Option<Decision> {
        self.forbidden_by.as_ref().map(|(layer, source, list)| {
            Decision::deny(
                format!(
                    "denied by {} {source}: plugin `{plugin}` may not use {what} (it allows: {list})",
                    layer.describe()
                ),
                Some(layer.layer),
            )
        })
    }
}

impl Effective {
    /// Combines validated layers (in any order; they are sorted by
    /// authority).
    pub fn from_layers(mut layers: Vec<LayerPolicy>) -> Self {
        layers.sort_by_key(|l| l.layer);
        Effective { layers }
    }

    /// Whether any policy file exists. When none does, the host applies its
    /// own defaults (first-party plugins: model, workspace.read, log; others:
    /// log only). Once any layer exists — even one without `[plugins]` —
    /// whatever no layer grants is denied.
    pub fn is_configured(&self) -> bool {
        !self.layers.is_empty()
    }

    /// The loaded layers, highest authority first.
    pub fn layers(&self) -> &[LayerPolicy] {
        &self.layers
    }

    /// Evaluates one key for `plugin` in every layer.
    fn check<'a, T: ?Sized + 'a>(
        &'a self,
        plugin: &'a str,
        key: impl Fn(&'a PluginRule) -> Option<&'a T>,
        allows: impl Fn(&T) -> bool,
        list: impl Fn(&T) -> String,
    ) -> Check<'a> {
        let mut check = Check {
            set: false,
            allowed_by: None,
            forbidden_by: None,
        };
        for layer in &self.layers {
            let Some(resolved) = layer.resolve(plugin) else {
                continue;
            };
            let Some((value, source)) = resolved.get(&key) else {
                continue;
            };
            check.set = true;
            if allows(value) {
                check.allowed_by.get_or_insert((layer, source));
            } else if check.forbidden_by.is_none() {
                check.forbidden_by = Some((layer, source, list(value)));
            }
        }
        check
    }

    fn unconfigured(plugin: &str, what: &str) -> Decision {
        Decision::deny(
            format!(
                "no policy file is configured, so the host's defaults decide whether plugin `{plugin}` may use {what}"
            ),
            None,
        )
    }

    /// Whether `plugin` may use `capability` at all.
    pub fn allows_capability(&self, plugin: &str, capability: Capability) -> Decision {
        let what = format!("capability `{capability}`");
        if !self.is_configured() {
            return Self::unconfigured(plugin, &what);
        }
        let check = self.check(
            plugin,
            |r| r.capabilities.as_ref(),
            |set| set.contains(&capability),
            |set| join(set.iter().map(|c| c.as_str())),
        );
        if let Some(denied) = check.forbid_reason(plugin, &what) {
            return denied;
        }
        match check.allowed_by {
            Some((layer, source)) => Decision::allow(
                format!(
                    "allowed by {} {source}: plugin `{plugin}` may use {what}",
                    layer.describe()
                ),
                Some(layer.layer),
            ),
            None => Decision::deny(
                format!(
                    "denied: no policy layer grants plugin `{plugin}` {what} (deny by default); add \"{capability}\" to `capabilities` in [plugins.{plugin}] or [plugins.\"*\"]"
                ),
                None,
            ),
        }
    }

    /// Whether `plugin` may send a request to `model` through the configured
    /// backend `backend` of kind `provider` (`anthropic`, `bedrock`, `openai`,
    /// `local`) in `region` (`None` when the backend has no region).
    ///
    /// Requires the `model` capability, then checks `providers`, `backends`,
    /// `models` and `regions` in that order. Regions do not apply to the
    /// `local` provider; a remote backend without a region is denied as soon
    /// as any layer restricts regions. Call this before any byte leaves.
    pub fn allows_model(
        &self,
        plugin: &str,
        provider: &str,
        backend: &str,
        model: &str,
        region: Option<&str>,
    ) -> Decision {
        let capability = self.allows_capability(plugin, Capability::Model);
        if !capability.allowed {
            return capability;
        }
        let Ok(provider_kind) = provider.parse::<Provider>() else {
            return Decision::deny(
                format!(
                    "denied: backend `{backend}` has provider `{provider}`, which policy does not know; use one of: anthropic, bedrock, openai, local"
                ),
                None,
            );
        };
        let checks = [
            (
                self.check(
                    plugin,
                    |r| r.providers.as_ref(),
                    |set| set.contains(&provider_kind),
                    |set| join(set.iter().map(|p| p.as_str())),
                ),
                format!("provider `{provider}`"),
            ),
            (
                self.check(
                    plugin,
                    |r| r.backends.as_ref(),
                    |p| p.is_match(backend),
                    |p| join(p.sources().iter().map(String::as_str)),
                ),
                format!("backend `{backend}`"),
            ),
            (
                self.check(
                    plugin,
                    |r| r.models.as_ref(),
                    |p| p.is_match(model),
                    |p| join(p.sources().iter().map(String::as_str)),
                ),
                format!("model `{model}`"),
            ),
        ];
        for (check, what) in &checks {
            if let Some(denied) = check.forbid_reason(plugin, what) {
                return denied;
            }
        }
        if provider_kind != Provider::Local {
            let regions = self.check(
                plugin,
                |r| r.regions.as_ref(),
                |p| region.is_some_and(|r| p.is_match(r)),
                |p| join(p.sources().iter().map(String::as_str)),
            );
            let what = match region {
                Some(r) => format!("region `{r}`"),
                None => format!(
                    "backend `{backend}` without a region (set the backend's region so policy can check it)"
                ),
            };
            if let Some(denied) = regions.forbid_reason(plugin, &what) {
                return denied;
            }
        }
        let region_text = region
            .map(|r| format!(", region `{r}`"))
            .unwrap_or_default();
        Decision::allow(
            format!(
                "{}; model `{model}` through backend `{backend}` (provider `{provider}`{region_text}) is within every layer's lists",
                capability.reason
            ),
            capability.layer,
        )
    }

    /// Whether `plugin` may read the workspace file `rel_path`: the path must
    /// not be excluded ([`Effective::is_excluded`]), the plugin needs
    /// `workspace.read`, and the path must match every layer's
    /// `workspace_read` globs.
    ///
    /// `rel_path` must be workspace-relative and already resolved: the host
    /// resolves `..` and symlinks (and checks the result is inside the
    /// workspace) before asking. A path that is absolute or contains `..` is
    /// denied.
    pub fn allows_read(&self, plugin: &str, rel_path: &str) -> Decision {
        if let Some(excluded) = self.is_excluded(rel_path) {
            return excluded;
        }
        let capability = self.allows_capability(plugin, Capability::WorkspaceRead);
        if !capability.allowed {
            return capability;
        }
        let Some(path) = normalise(rel_path) else {
            return not_relative(rel_path);
        };
        let check = self.check(
            plugin,
            |r| r.workspace_read.as_ref(),
            |p| p.first_match(&path).is_some(),
            |p| join(p.sources().iter().map(String::as_str)),
        );
        if let Some(denied) = check.forbid_reason(plugin, &format!("`{path}` (workspace_read)")) {
            return denied;
        }
        Decision::allow(
            format!(
                "{}; `{path}` matches every layer's workspace_read",
                capability.reason
            ),
            capability.layer,
        )
    }

    /// Whether content exclusion covers `rel_path`: `Some(denied decision)`
    /// naming the layer and pattern if any layer's `content.exclude` matches
    /// the path or one of its folders, `None` if it may be used.
    ///
    /// `rel_path` is a workspace-relative path that the host has already
    /// resolved (`..` and symlinks): matching is purely textual, so the host
    /// must resolve first or a link could smuggle excluded content out. An
    /// absolute path or one with `..` is reported as excluded (fail closed).
    /// An excluded document is never given to a plugin at all: no
    /// completion, no context from it.
    pub fn is_excluded(&self, rel_path: &str) -> Option<Decision> {
        if !self.is_configured() {
            return None;
        }
        let Some(path) = normalise(rel_path) else {
            return Some(not_relative(rel_path));
        };
        self.layers.iter().find_map(|layer| {
            let pattern = layer.exclude.as_ref()?.first_match(&path)?;
            Some(Decision::deny(
                format!(
                    "excluded by {}: `{path}` matches content.exclude pattern `{pattern}`; it is never read by plugins nor sent to a model",
                    layer.describe()
                ),
                Some(layer.layer),
            ))
        })
    }

    /// Whether the build of `plugin` with sha256 `digest` (lowercase hex) may
    /// run: it must be in every `sha256` pin list that applies to the
    /// plugin. Allowed when nothing pins it.
    pub fn allows_digest(&self, plugin: &str, digest: &str) -> Decision {
        let check = self.check(
            plugin,
            |r| r.sha256.as_ref(),
            |set| set.contains(digest),
            |set| set.iter().map(|d| short(d)).collect::<Vec<_>>().join(", "),
        );
        if let Some((layer, source, _)) = &check.forbidden_by {
            return Decision::deny(
                format!(
                    "denied by {} {source}: build {} of plugin `{plugin}` is not pinned; add its digest (`cordon plugins list` shows it) to `sha256`, or install a pinned build",
                    layer.describe(),
                    short(digest)
                ),
                Some(layer.layer),
            );
        }
        match check.allowed_by {
            Some((layer, source)) => Decision::allow(
                format!(
                    "allowed by {} {source}: build {} of plugin `{plugin}` is pinned",
                    layer.describe(),
                    short(digest)
                ),
                Some(layer.layer),
            ),
            None => Decision::allow(
                format!("no policy pins plugin `{plugin}`; any build may run"),
                None,
            ),
        }
    }

    /// The limits for `plugin`: each the minimum over the layers that set it.
    pub fn limits(&self, plugin: &str) -> Limits {
        let mut limits = Limits::default();
        for kind in LimitKind::ALL {
            limits.set(
                kind,
                self.limit_sources(plugin, kind)
                    .into_iter()
                    .map(|(_, _, v)| v)
                    .min(),
            );
        }
        limits
    }

    /// Every layer's value for one limit of `plugin`, highest layer first.
    pub(crate) fn limit_sources<'a>(
        &'a self,
        plugin: &'a str,
        kind: LimitKind,
    ) -> Vec<(&'a LayerPolicy, RuleSource<'a>, u64)> {
        self.layers
            .iter()
            .filter_map(|layer| {
                let resolved = layer.resolve(plugin)?;
                let (value, source) = resolved.get(|r| r.limits[kind.index()].as_ref())?;
                Some((layer, source, *value))
            })
            .collect()
    }

    /// Whether secrets must be redacted before a request leaves for a remote
    /// backend: on unless some layer says `redact_secrets = false` and none
    /// says `true`. On when no policy exists.
    pub fn redact_secrets(&self) -> bool {
        let values: Vec<bool> = self
            .layers
            .iter()
            .filter_map(|l| l.redact_secrets)
            .collect();
        values.is_empty() || values.contains(&true)
    }

    /// The audit logs the layers name, highest layer first. The host writes
    /// every record to each of them.
    pub fn audit_sinks(&self) -> Vec<AuditSink> {
        self.layers.iter().filter_map(|l| l.audit.clone()).collect()
    }

    /// Every `content.exclude` pattern with its layer, highest layer first.
    pub fn exclude_patterns(&self) -> Vec<(Layer, String)> {
        self.layers
            .iter()
            .flat_map(|l| {
                l.exclude_patterns()
                    .iter()
                    .map(move |p| (l.layer, p.clone()))
            })
            .collect()
    }

    /// Things that are valid but probably not what the author meant, for
    /// `cordon policy check`.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.is_configured() && self.layers.iter().all(|l| l.plugins.is_empty()) {
            warnings.push(
                "no policy layer has a [plugins] table, so every plugin is denied every capability; add [plugins.\"*\"] with the capabilities plugins may use"
                    .to_owned(),
            );
        }
        for layer in &self.layers {
            if layer.redact_secrets == Some(false) {
                warnings.push(format!(
                    "{} turns secret redaction off (content.redact_secrets = false)",
                    layer.describe()
                ));
            }
            if let Some(sink) = &layer.audit
                && sink.prompts
            {
                warnings.push(format!(
                    "{} writes prompt text to its audit log {} (audit.prompts = true)",
                    layer.describe(),
                    sink.path.display()
                ));
            }
            // A grant that a higher layer withholds has no effect.
            for name in layer.plugins.keys() {
                let Some(caps) = layer.plugins[name].capabilities.as_ref() else {
                    continue;
                };
                for capability in caps {
                    for higher in self.layers.iter().filter(|h| h.layer < layer.layer) {
                        let Some(resolved) = higher.resolve(name) else {
                            continue;
                        };
                        let Some((set, source)) = resolved.get(|r| r.capabilities.as_ref()) else {
                            continue;
                        };
                        if !set.contains(capability) {
                            let table = if name == "*" {
                                "[plugins.\"*\"]".to_owned()
                            } else {
                                format!("[plugins.{name}]")
                            };
                            warnings.push(format!(
                                "{} {table} grants `{capability}`, but {} {source} does not allow it, so this grant has no effect",
                                layer.describe(),
                                higher.describe()
                            ));
                        }
                    }
                }
            }
        }
        warnings
    }
}

fn not_relative(rel_path: &str) -> Decision {
    Decision::deny(
        format!(
            "denied: `{rel_path}` is not a resolved workspace-relative path (absolute, or containing `..`); the host must resolve it inside the workspace first"
        ),
        None,
    )
}

/// The first 12 hex digits of a digest, for messages.
fn short(digest: &str) -> String {
    let end = digest
        .char_indices()
        .nth(12)
        .map_or(digest.len(), |(i, _)| i);
    if end < digest.len() {
        format!("sha256:{}…", &digest[..end])
    } else {
        format!("sha256:{digest}")
    }
}

pub(crate) fn join<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<&str> = items.collect();
    if items.is_empty() {
        "nothing".to_owned()
    } else {
        items.join(", ")
    }
}
