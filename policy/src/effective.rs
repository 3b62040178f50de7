//! The effective policy: every loaded layer, and the queries the host asks.

use std::fmt;

use serde::Serialize;

use crate::Layer;
use crate::pattern::normalise;
use crate::residency::Processing;
use crate::rules::{
    AuditSink, Capability, ExportTarget, LayerPolicy, LimitKind, PluginRule, Provider, RuleSource,
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

    /// Whether any policy file exists (the built-in defaults are not a file).
    pub fn is_configured(&self) -> bool {
        self.layers.iter().any(|l| l.layer != Layer::Builtin)
    }

    /// Whether Cordon's built-in defaults are in force (no layer that grants
    /// exists).
    pub fn uses_builtin_defaults(&self) -> bool {
        self.layers.iter().any(|l| l.layer == Layer::Builtin)
    }

    /// Marks the layers for which `narrow(layer, path)` is true as
    /// narrowing-only.
    pub fn mark_narrow_only(&mut self, narrow: impl Fn(Layer, &std::path::Path) -> bool) {
        for layer in &mut self.layers {
            if narrow(layer.layer, &layer.path) {
                layer.narrow_only = true;
            }
        }
    }

    /// Puts Cordon's built-in defaults ([`crate::builtin_defaults`]) in
    /// force when no layer grants anything: with no policy file, or with
    /// only an untrusted workspace's, which then narrows the defaults
    /// instead of replacing them. Once an organisation, user or trusted
    /// workspace layer exists, whatever no layer grants is denied.
    pub fn with_builtin_defaults(mut self, first_party: &[&str]) -> Self {
        if !self.layers.iter().any(|l| l.grants()) {
            self.layers.push(crate::builtin_defaults(first_party));
            self.layers.sort_by_key(|l| l.layer);
        }
        self
    }

    /// Whether `cordon trust` may take effect: denied when a layer other than
    /// the workspace's own says `[workspaces] allow_trust = false`.
    pub fn allows_workspace_trust(&self) -> Decision {
        self.workspace_rule(|w| w.allow_trust, "trusting a workspace (`cordon trust`)")
    }

    /// Whether plugins shipped in a workspace's `.cordon/plugins` may load
    /// (once the workspace is trusted): denied by `[workspaces]
    /// allow_plugins = false` in any layer.
    pub fn allows_workspace_plugins(&self) -> Decision {
        self.workspace_rule(|w| w.allow_plugins, "plugins shipped in a workspace")
    }

    fn workspace_rule(
        &self,
        key: impl Fn(&crate::rules::WorkspaceRules) -> Option<bool>,
        what: &str,
    ) -> Decision {
        for layer in &self.layers {
            if key(&layer.workspaces) == Some(false) {
                return Decision::deny(
                    format!("{} forbids {what} ([workspaces])", layer.describe()),
                    Some(layer.layer),
                );
            }
        }
        Decision::allow(format!("no policy forbids {what}"), None)
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
                // A narrowing-only layer (an untrusted workspace) may agree,
                // but it never is the layer that grants.
                if layer.grants() {
                    check.allowed_by.get_or_insert((layer, source));
                }
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
        if self.layers.is_empty() {
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
    /// backend `backend` of kind `provider` in `region`: [`Effective::allows_route`]
    /// with nothing else known about the route.
    pub fn allows_model(
        &self,
        plugin: &str,
        provider: &str,
        backend: &str,
        model: &str,
        region: Option<&str>,
    ) -> Decision {
        self.allows_route(
            plugin,
            &Route {
                provider,
                backend,
                model,
                region,
                ..Route::default()
            },
        )
    }

    /// Whether `plugin` may send a request along `route`. Call this before
    /// any byte leaves.
    ///
    /// Requires the `model` capability, then checks `providers`, `backends`,
    /// `models`, where the request is processed (`regions`, `geographies`:
    /// every region it may run in must be allowed, see [`Processing`]), and
    /// the path it takes (`endpoints`, `require_fips`, `auth`,
    /// `aws_profiles`, `guardrails`, `inference_geo`). Location rules do not
    /// apply to the `local` provider. An application inference profile is
    /// refused under any location rule unless a layer names its ARN
    /// literally in `models`.
    pub fn allows_route(&self, plugin: &str, route: &Route<'_>) -> Decision {
        let Route {
            provider,
            backend,
            model,
            region,
            ..
        } = *route;
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
            if let Some(denied) = self.location(plugin, route) {
                return denied;
            }
            if let Some(denied) = self.path(plugin, route, provider_kind) {
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

    /// `regions` and `geographies`: judged by every region the request may
    /// be processed in.
    fn location(&self, plugin: &str, route: &Route<'_>) -> Option<Decision> {
        let processing = route.processing();
        let named_literally = |arn: &str| {
            self.layers.iter().any(|layer| {
                layer
                    .resolve(plugin)
                    .and_then(|r| r.get(|r| r.models.as_ref()))
                    .is_some_and(|(p, _)| p.sources().iter().any(|s| s == arn))
            })
        };
        if let Processing::Opaque(arn) = &processing
            && named_literally(arn)
        {
            // The policy vouches for this profile by name.
            return None;
        }
        let subject = match &processing {
            Processing::Unknown => format!(
                "backend `{}` without a region (set the backend's region so policy can check it)",
                route.backend
            ),
            _ => format!("`{}` {processing}", route.model),
        };
        let regions = self.check(
            plugin,
            |r| r.regions.as_ref(),
            |p| processing.within_regions(p),
            |p| join(p.sources().iter().map(String::as_str)),
        );
        if let Some((layer, source, list)) = &regions.forbidden_by {
            let hint = match &processing {
                Processing::Global => "; a `global.` profile needs regions = [\"*\"], or use a geographic (`us.`, `eu.`) or in-region model id".to_owned(),
                Processing::Opaque(arn) => format!("; name the ARN in `models` (models = [\"{arn}\"]) if you know where it routes"),
                Processing::Geography(_) => "; the Anthropic API has no AWS regions: use `geographies` with inference_geo, or a Bedrock backend".to_owned(),
                _ => String::new(),
            };
            return Some(Decision::deny(
                format!(
                    "denied by {} {source}: {subject}; the policy allows {list}{hint}",
                    layer.describe()
                ),
                Some(layer.layer),
            ));
        }
        let geographies = self.check(
            plugin,
            |r| r.geographies.as_ref(),
            |set| processing.within_geographies(set.iter().map(String::as_str)),
            |set| join(set.iter().map(String::as_str)),
        );
        if let Some((layer, source, list)) = &geographies.forbidden_by {
            return Some(Decision::deny(
                format!(
                    "denied by {} {source}: {subject}; the policy allows the geographies {list}",
                    layer.describe()
                ),
                Some(layer.layer),
            ));
        }
        None
    }

    /// `endpoints`, `require_fips`, `auth`, `aws_profiles`, `guardrails`,
    /// `inference_geo`: the path a request takes.
    fn path(&self, plugin: &str, route: &Route<'_>, provider: Provider) -> Option<Decision> {
        let endpoint = route.endpoint.unwrap_or("");
        let host = endpoint_host(endpoint);
        let endpoints = self.check(
            plugin,
            |r| r.endpoints.as_ref(),
            |p| {
                !endpoint.is_empty()
                    && p.sources().iter().zip(0..).any(|(src, _)| {
                        if src.contains("://") {
                            crate::pattern::NamePatterns::compile(std::slice::from_ref(src))
                                .is_ok_and(|one| one.is_match(endpoint))
                        } else {
                            crate::pattern::NamePatterns::compile(std::slice::from_ref(src))
                                .is_ok_and(|one| one.is_match(&host))
                        }
                    })
            },
            |p| join(p.sources().iter().map(String::as_str)),
        );
        let endpoint_text = if endpoint.is_empty() {
            format!("backend `{}` with an unknown endpoint", route.backend)
        } else {
            format!("endpoint `{endpoint}`")
        };
        if let Some(denied) = endpoints.forbid_reason(plugin, &endpoint_text) {
            return Some(denied);
        }
        let auth = self.check(
            plugin,
            |r| r.auth.as_ref(),
            |set| route.auth.is_some_and(|a| set.contains(a)),
            |set| join(set.iter().map(String::as_str)),
        );
        let auth_text = format!(
            "credential kind `{}` (backend `{}`)",
            route.auth.unwrap_or("unknown"),
            route.backend
        );
        if let Some(denied) = auth.forbid_reason(plugin, &auth_text) {
            return Some(denied);
        }
        if provider != Provider::Bedrock {
            if provider == Provider::Anthropic {
                let geo = self.check(
                    plugin,
                    |r| r.inference_geo.as_ref(),
                    |set| route.inference_geo.is_some_and(|g| set.contains(g)),
                    |set| join(set.iter().map(String::as_str)),
                );
                let what = match route.inference_geo {
                    Some(g) => format!("inference_geo `{g}` (backend `{}`)", route.backend),
                    None => format!(
                        "backend `{}` without `inference_geo` (set inference_geo = \"us\" on the backend; Cordon refuses rather than adding it)",
                        route.backend
                    ),
                };
                if let Some(denied) = geo.forbid_reason(plugin, &what) {
                    return Some(denied);
                }
            }
            return None;
        }
        for layer in &self.layers {
            let Some(resolved) = layer.resolve(plugin) else {
                continue;
            };
            if let Some((true, source)) = resolved
                .get(|r| r.require_fips.as_ref())
                .map(|(v, s)| (*v, s))
                && !route.fips
            {
                return Some(Decision::deny(
                    format!(
                        "denied by {} {source}: require_fips is set and backend `{}` sends to {endpoint_text}, not a FIPS endpoint; set use_fips = true on the backend (or AWS_USE_FIPS_ENDPOINT=true)",
                        layer.describe(),
                        route.backend
                    ),
                    Some(layer.layer),
                ));
            }
        }
        let profiles = self.check(
            plugin,
            |r| r.aws_profiles.as_ref(),
            |p| p.is_match(route.aws_profile.unwrap_or("default")),
            |p| join(p.sources().iter().map(String::as_str)),
        );
        let profile_text = format!("AWS profile `{}`", route.aws_profile.unwrap_or("default"));
        if let Some(denied) = profiles.forbid_reason(plugin, &profile_text) {
            return Some(denied);
        }
        let guardrails = self.check(
            plugin,
            |r| r.guardrails.as_ref(),
            |p| route.guardrail.is_some_and(|g| p.is_match(g)),
            |p| join(p.sources().iter().map(String::as_str)),
        );
        let guardrail_text = match route.guardrail {
            Some(g) => format!("guardrail `{g}`"),
            None => format!(
                "backend `{}` without a guardrail (configure `guardrail = {{ id = …, version = … }}` on it)",
                route.backend
            ),
        };
        guardrails.forbid_reason(plugin, &guardrail_text)
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
        // A repository's policy can never turn redaction off, nor can a
        // narrowing-only layer.
        let values: Vec<bool> = self
            .layers
            .iter()
            .filter_map(|l| l.redact_secrets)
            .zip(self.layers.iter().filter(|l| l.redact_secrets.is_some()))
            .filter(|(on, l)| *on || (l.grants() && l.layer != Layer::Workspace))
            .map(|(on, _)| on)
            .collect();
        values.is_empty() || values.contains(&true)
    }

    /// The audit logs the layers name, highest layer first. The host writes
    /// every record to each of them.
    pub fn audit_sinks(&self) -> Vec<AuditSink> {
        // An untrusted workspace writes nothing anywhere.
        self.layers
            .iter()
            .filter(|l| l.grants())
            .filter_map(|l| l.audit.clone())
            .collect()
    }

    /// The organisation's `[audit.export]` destinations with the log each
    /// ships (its own `[audit]` log). Only organisation layers that grant
    /// count: no other layer can name or redirect a destination.
    pub fn audit_exports(&self) -> Vec<(AuditSink, ExportTarget)> {
        self.layers
            .iter()
            .filter(|l| l.grants() && l.layer == Layer::Organisation)
            .filter_map(|l| Some((l.audit.clone()?, l.audit_export.clone()?)))
            .collect()
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
        for layer in self.layers.iter().filter(|l| l.narrow_only) {
            if layer.layer == Layer::Workspace
                && layer.plugins.values().any(|r| r.capabilities.is_some())
            {
                warnings.push(format!(
                    "{} lists capabilities, but an untrusted workspace can only narrow: run `cordon trust` to let its grants take effect",
                    layer.describe()
                ));
            }
            if layer.audit.is_some() {
                warnings.push(format!(
                    "{} names an audit log, which is ignored until the workspace is trusted",
                    layer.describe()
                ));
            }
        }
        if self.is_configured()
            && !self.uses_builtin_defaults()
            && self.layers.iter().all(|l| l.plugins.is_empty())
        {
            warnings.push(
                "no policy layer has a [plugins] table, so every plugin is denied every capability; add [plugins.\"*\"] with the capabilities plugins may use"
                    .to_owned(),
            );
        }
        for layer in &self.layers {
            if layer.redact_secrets == Some(false) {
                if layer.layer == Layer::Workspace || layer.narrow_only {
                    warnings.push(format!(
                        "{} sets content.redact_secrets = false, which is ignored: only the organisation or user policy can disable redaction",
                        layer.describe()
                    ));
                } else {
                    warnings.push(format!(
                        "{} turns secret redaction off (content.redact_secrets = false)",
                        layer.describe()
                    ));
                }
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

/// Everything known about where one model request would go, for
/// [`Effective::allows_route`]. Fields the caller does not know stay `None`
/// (and fail any rule that needs them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Route<'a> {
    /// Provider kind: `anthropic`, `bedrock`, `openai`, `local`.
    pub provider: &'a str,
    /// The configured backend name.
    pub backend: &'a str,
    /// The model id as it will be sent.
    pub model: &'a str,
    /// The AWS region the call is sent to (Bedrock).
    pub region: Option<&'a str>,
    /// The endpoint URL the client resolved.
    pub endpoint: Option<&'a str>,
    /// Whether the endpoint is a FIPS endpoint.
    pub fips: bool,
    /// Credential kind: `sigv4`, `bearer`, `api-key`, `none`.
    pub auth: Option<&'a str>,
    /// The AWS profile (Bedrock; `None` is `default`).
    pub aws_profile: Option<&'a str>,
    /// The Bedrock guardrail identifier sent with the request.
    pub guardrail: Option<&'a str>,
    /// Anthropic's `inference_geo` sent with the request.
    pub inference_geo: Option<&'a str>,
}

impl Route<'_> {
    /// Where this request may be processed.
    pub fn processing(&self) -> Processing {
        Processing::of(self.provider, self.model, self.region, self.inference_geo)
    }
}

/// The host (and port) of an endpoint URL, lowercased.
fn endpoint_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    host.to_ascii_lowercase()
}
