//! Reading and validating one policy file.
//!
//! The file is parsed into TOML's spanned document tree and walked key by
//! key, so that every error carries the line and column of the offending key
//! or value and names it in full (`plugins.completion.memory_mib`).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::{PolicyError, PolicyErrors, Problem};
use crate::pattern::{NamePatterns, PathPatterns};
use crate::rules::WorkspaceRules;
use crate::rules::{
    AuditSink, Capability, ExportTarget, LayerPolicy, LimitKind, PluginRule, Provider,
};
use crate::{Effective, Layer, Sources};

const TOP_KEYS: &str = "plugins, content, audit, workspaces";
const PLUGIN_KEYS: &str = "capabilities, workspace_read, providers, backends, models, regions, \
    geographies, endpoints, require_fips, auth, aws_profiles, guardrails, inference_geo, \
    requests_per_minute, tokens_per_day, max_output_tokens, memory_mib, cpu_ms, output_kib, sha256";
const WORKSPACES_KEYS: &str = "allow_trust, allow_plugins";
const AUTH_KINDS: [&str; 4] = ["sigv4", "bearer", "api-key", "none"];
const INFERENCE_GEOS: [&str; 2] = ["us", "global"];
const CONTENT_KEYS: &str = "exclude, redact_secrets";
const AUDIT_KEYS: &str = "path, prompts, export";
const EXPORT_KEYS: &str = "endpoint, protocol, headers, ca_file";
const EXPORT_PROTOCOLS: [&str; 1] = ["http/protobuf"];

/// Reads every existing file of `sources`, marks the narrowing-only ones,
/// and combines them into the effective policy with Cordon's built-in
/// defaults (for the built-in plugins `first_party`) in force when no layer
/// grants anything. A required organisation policy that is missing is an
/// error (fail closed).
pub fn load_sources(sources: &Sources, first_party: &[&str]) -> Result<Effective, PolicyErrors> {
    let paths = sources.paths();
    let mut errors = Vec::new();
    let mut effective = match load(&paths) {
        Ok(effective) => effective,
        Err(e) => {
            errors.extend(e.0);
            Effective::default()
        }
    };
    if let Some(why) = &sources.org_required
        && !effective
            .layers()
            .iter()
            .any(|l| l.layer == Layer::Organisation)
        && !errors.iter().any(|e| e.layer() == Layer::Organisation)
    {
        let path = sources
            .files
            .iter()
            .find(|f| f.layer == Layer::Organisation)
            .map(|f| f.path.clone())
            .unwrap_or_default();
        errors.push(PolicyError::Missing {
            path,
            why: why.clone(),
        });
    }
    if !errors.is_empty() {
        return Err(PolicyErrors(errors));
    }
    effective.mark_narrow_only(|layer, path| {
        sources
            .files
            .iter()
            .any(|f| f.layer == layer && f.path == path && f.narrow_only)
    });
    Ok(effective.with_builtin_defaults(first_party))
}

/// Reads every existing file of `paths` and combines them into the effective
/// policy (every layer granting; no built-in defaults: see [`load_sources`]).
///
/// A file that does not exist is an absent layer. A file that exists but
/// cannot be read, is not valid TOML or breaks a rule is an error; every file
/// is checked and all errors are returned together. The caller must then
/// fail closed (keep the last valid policy, or refuse what is not granted).
pub fn load(paths: &[(Layer, PathBuf)]) -> Result<Effective, PolicyErrors> {
    let mut layers = Vec::new();
    let mut errors = Vec::new();
    for (layer, path) in paths {
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => match parse_layer(*layer, path, &text) {
                    Ok(policy) => layers.push(policy),
                    Err(e) => errors.extend(e),
                },
                Err(e) => errors.push(PolicyError::Read {
                    layer: *layer,
                    path: path.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("the file is not UTF-8 ({e}); save it as UTF-8"),
                    ),
                }),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => errors.push(PolicyError::Read {
                layer: *layer,
                path: path.clone(),
                source: e,
            }),
        }
    }
    if errors.is_empty() {
        Ok(Effective::from_layers(layers))
    } else {
        Err(PolicyErrors(errors))
    }
}

/// Parses and validates the text of one policy file. `path` is used in
/// messages and to resolve a relative `audit.path`.
pub fn parse_layer(layer: Layer, path: &Path, text: &str) -> Result<LayerPolicy, PolicyErrors> {
    let mut cx = Cx {
        text,
        layer,
        path,
        errors: Vec::new(),
    };
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            cx.error(
                span,
                Problem::Syntax {
                    message: e.message().trim().to_owned(),
                },
            );
            return Err(PolicyErrors(cx.errors));
        }
    };
    let mut policy = LayerPolicy {
        layer,
        path: path.to_owned(),
        plugins: BTreeMap::new(),
        exclude: None,
        redact_secrets: None,
        audit: None,
        audit_export: None,
        workspaces: WorkspaceRules::default(),
        narrow_only: false,
    };
    for (key, value) in doc.get_ref() {
        match key.get_ref().as_ref() {
            "plugins" => {
                if let Some(table) = cx.table("plugins", value) {
                    for (name, rule) in table {
                        let name_str = name.get_ref().as_ref();
                        if !valid_plugin_table(name_str) {
                            cx.error(
                                name.span(),
                                Problem::BadPluginName {
                                    name: name_str.to_owned(),
                                },
                            );
                            continue;
                        }
                        let prefix = format!("plugins.{}", quote_key(name_str));
                        if let Some(rule_table) = cx.table(&prefix, rule) {
                            let parsed = cx.plugin_rule(&prefix, rule_table);
                            policy.plugins.insert(name_str.to_owned(), parsed);
                        }
                    }
                }
            }
            "content" => {
                if let Some(table) = cx.table("content", value) {
                    for (k, v) in table {
                        match k.get_ref().as_ref() {
                            "exclude" => policy.exclude = cx.path_patterns("content.exclude", v),
                            "redact_secrets" => {
                                policy.redact_secrets = cx.boolean("content.redact_secrets", v)
                            }
                            other => cx.unknown(
                                k,
                                &format!("content.{}", quote_key(other)),
                                "[content]",
                                CONTENT_KEYS,
                            ),
                        }
                    }
                }
            }
            "audit" => {
                if let Some(table) = cx.table("audit", value) {
                    let (sink, export) = cx.audit(table, value.span());
                    policy.audit = sink;
                    policy.audit_export = export;
                }
            }
            "workspaces" => {
                if let Some(table) = cx.table("workspaces", value) {
                    for (k, v) in table {
                        match k.get_ref().as_ref() {
                            "allow_trust" => {
                                policy.workspaces.allow_trust =
                                    cx.boolean("workspaces.allow_trust", v)
                            }
                            "allow_plugins" => {
                                policy.workspaces.allow_plugins =
                                    cx.boolean("workspaces.allow_plugins", v)
                            }
                            other => cx.unknown(
                                k,
                                &format!("workspaces.{}", quote_key(other)),
                                "[workspaces]",
                                WORKSPACES_KEYS,
                            ),
                        }
                    }
                }
            }
            other => cx.unknown(key, &quote_key(other), "the top level", TOP_KEYS),
        }
    }
    if cx.errors.is_empty() {
        Ok(policy)
    } else {
        cx.errors.sort_by_key(|e| e.position());
        Err(PolicyErrors(cx.errors))
    }
}

/// `*`, or a plugin name as the host accepts it: 1-64 lowercase ASCII
/// letters, digits and `-`, not starting with `-`.
fn valid_plugin_table(name: &str) -> bool {
    name == "*"
        || ((1..=64).contains(&name.len())
            && !name.starts_with('-')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
}

/// A key as it would be written in a dotted TOML key.
fn quote_key(key: &str) -> String {
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

struct Cx<'a> {
    text: &'a str,
    layer: Layer,
    path: &'a Path,
    errors: Vec<PolicyError>,
}

type Value<'i> = Spanned<DeValue<'i>>;

impl Cx<'_> {
    fn error(&mut self, span: Range<usize>, problem: Problem) {
        let (line, column) = line_col(self.text, span.start);
        self.errors.push(PolicyError::Invalid {
            layer: self.layer,
            path: self.path.to_owned(),
            line,
            column,
            problem,
        });
    }

    fn wrong_type(&mut self, key: &str, value: &Value<'_>, expected: &'static str) {
        self.error(
            value.span(),
            Problem::WrongType {
                key: key.to_owned(),
                expected,
                found: type_name(value.get_ref()),
            },
        );
    }

    fn unknown(
        &mut self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        full: &str,
        table: &str,
        expected: &str,
    ) {
        self.error(
            key.span(),
            Problem::UnknownKey {
                key: full.to_owned(),
                table: table.to_owned(),
                expected: expected.to_owned(),
            },
        );
    }

    fn table<'v, 'i>(&mut self, key: &str, value: &'v Value<'i>) -> Option<&'v DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                self.wrong_type(key, value, "a table");
                None
            }
        }
    }

    fn boolean(&mut self, key: &str, value: &Value<'_>) -> Option<bool> {
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(key, value, "true or false");
                None
            }
        }
    }

    fn string<'v>(&mut self, key: &str, value: &'v Value<'_>) -> Option<&'v str> {
        match value.get_ref() {
            DeValue::String(s) => Some(s.as_ref()),
            _ => {
                self.wrong_type(key, value, "a string");
                None
            }
        }
    }

    /// An array of strings, each with its span. `None` (after reporting) if
    /// the value or any element has the wrong type.
    fn strings(&mut self, key: &str, value: &Value<'_>) -> Option<Vec<(String, Range<usize>)>> {
        let DeValue::Array(items) = value.get_ref() else {
            self.wrong_type(key, value, "an array of strings");
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => out.push((s.to_string(), item.span())),
                _ => {
                    self.wrong_type(key, item, "an array of strings");
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    fn integer(&mut self, key: &str, value: &Value<'_>, kind: LimitKind) -> Option<u64> {
        let (min, max) = kind.range();
        let DeValue::Integer(int) = value.get_ref() else {
            self.wrong_type(key, value, "a whole number");
            return None;
        };
        let parsed = i128::from_str_radix(int.as_str(), int.radix()).ok();
        match parsed {
            Some(n) if n >= min as i128 && n <= max as i128 => Some(n as u64),
            _ => {
                self.error(
                    value.span(),
                    Problem::OutOfRange {
                        key: key.to_owned(),
                        value: int.to_string(),
                        min,
                        max,
                    },
                );
                None
            }
        }
    }

    fn path_patterns(&mut self, key: &str, value: &Value<'_>) -> Option<PathPatterns> {
        let items = self.strings(key, value)?;
        let sources: Vec<String> = items.iter().map(|(s, _)| s.clone()).collect();
        match PathPatterns::compile(&sources) {
            Ok(p) => Some(p),
            Err((i, reason)) => {
                self.error(
                    items[i].1.clone(),
                    Problem::BadGlob {
                        key: key.to_owned(),
                        pattern: items[i].0.clone(),
                        reason,
                    },
                );
                None
            }
        }
    }

    fn name_patterns(&mut self, key: &str, value: &Value<'_>) -> Option<NamePatterns> {
        let items = self.strings(key, value)?;
        let sources: Vec<String> = items.iter().map(|(s, _)| s.clone()).collect();
        match NamePatterns::compile(&sources) {
            Ok(p) => Some(p),
            Err((i, reason)) => {
                self.error(
                    items[i].1.clone(),
                    Problem::BadGlob {
                        key: key.to_owned(),
                        pattern: items[i].0.clone(),
                        reason,
                    },
                );
                None
            }
        }
    }

    /// An array of words from a fixed set.
    fn words(
        &mut self,
        key: &str,
        value: &Value<'_>,
        allowed: &[&str],
    ) -> Option<BTreeSet<String>> {
        let items = self.strings(key, value)?;
        let mut set = BTreeSet::new();
        let mut ok = true;
        for (item, span) in items {
            if allowed.contains(&item.as_str()) {
                set.insert(item);
            } else {
                ok = false;
                self.error(
                    span,
                    Problem::UnknownWord {
                        key: key.to_owned(),
                        value: item,
                        expected: allowed.join(", "),
                    },
                );
            }
        }
        ok.then_some(set)
    }

    fn plugin_rule(&mut self, prefix: &str, table: &DeTable<'_>) -> PluginRule {
        let mut rule = PluginRule::default();
        for (k, v) in table {
            let name = k.get_ref().as_ref();
            let key = format!("{prefix}.{}", quote_key(name));
            match name {
                "capabilities" => {
                    if let Some(items) = self.strings(&key, v) {
                        let mut set = BTreeSet::new();
                        let mut ok = true;
                        for (item, span) in items {
                            match item.parse::<Capability>() {
                                Ok(c) => {
                                    set.insert(c);
                                }
                                Err(()) => {
                                    ok = false;
                                    self.error(
                                        span,
                                        Problem::UnknownCapability {
                                            key: key.clone(),
                                            value: item,
                                        },
                                    );
                                }
                            }
                        }
                        if ok {
                            rule.capabilities = Some(set);
                        }
                    }
                }
                "providers" => {
                    if let Some(items) = self.strings(&key, v) {
                        let mut set = BTreeSet::new();
                        let mut ok = true;
                        for (item, span) in items {
                            match item.parse::<Provider>() {
                                Ok(p) => {
                                    set.insert(p);
                                }
                                Err(()) => {
                                    ok = false;
                                    self.error(
                                        span,
                                        Problem::UnknownProvider {
                                            key: key.clone(),
                                            value: item,
                                        },
                                    );
                                }
                            }
                        }
                        if ok {
                            rule.providers = Some(set);
                        }
                    }
                }
                "workspace_read" => rule.workspace_read = self.path_patterns(&key, v),
                "geographies" => {
                    rule.geographies = self.words(&key, v, crate::residency::GEOGRAPHY_NAMES)
                }
                "endpoints" => rule.endpoints = self.name_patterns(&key, v),
                "require_fips" => rule.require_fips = self.boolean(&key, v),
                "auth" => rule.auth = self.words(&key, v, &AUTH_KINDS),
                "aws_profiles" => rule.aws_profiles = self.name_patterns(&key, v),
                "guardrails" => rule.guardrails = self.name_patterns(&key, v),
                "inference_geo" => rule.inference_geo = self.words(&key, v, &INFERENCE_GEOS),
                "backends" => rule.backends = self.name_patterns(&key, v),
                "models" => rule.models = self.name_patterns(&key, v),
                "regions" => rule.regions = self.name_patterns(&key, v),
                "sha256" => {
                    if let Some(items) = self.strings(&key, v) {
                        let mut set = BTreeSet::new();
                        let mut ok = true;
                        for (item, span) in items {
                            if is_digest(&item) {
                                set.insert(item);
                            } else {
                                ok = false;
                                self.error(
                                    span,
                                    Problem::BadDigest {
                                        key: key.clone(),
                                        value: item,
                                    },
                                );
                            }
                        }
                        if ok {
                            rule.sha256 = Some(set);
                        }
                    }
                }
                other => match LimitKind::ALL.into_iter().find(|l| l.as_str() == other) {
                    Some(kind) => rule.limits[kind.index()] = self.integer(&key, v, kind),
                    None => {
                        let table = format!("[{prefix}]");
                        self.unknown(k, &key, &table, PLUGIN_KEYS)
                    }
                },
            }
        }
        rule
    }

    fn audit(
        &mut self,
        table: &DeTable<'_>,
        span: Range<usize>,
    ) -> (Option<AuditSink>, Option<ExportTarget>) {
        let mut path = None;
        let mut prompts = false;
        let mut export = None;
        let mut ok = true;
        for (k, v) in table {
            match k.get_ref().as_ref() {
                "path" => match self.string("audit.path", v) {
                    Some(p) if p.trim().is_empty() => {
                        ok = false;
                        self.error(
                            v.span(),
                            Problem::Empty {
                                key: "audit.path".into(),
                                hint: "name the log file, e.g. \"audit.jsonl\" (relative to this policy file's folder)",
                            },
                        );
                    }
                    Some(p) => path = Some(PathBuf::from(p)),
                    None => ok = false,
                },
                "prompts" => match self.boolean("audit.prompts", v) {
                    Some(b) => prompts = b,
                    None => ok = false,
                },
                "export" => {
                    if self.layer != Layer::Organisation {
                        ok = false;
                        self.error(
                            k.span(),
                            Problem::Confined {
                                key: "audit.export".into(),
                                hint: "only the organisation policy names where the audit log is shipped; to ship it to a collector of your own as well, set OTEL_EXPORTER_OTLP_ENDPOINT",
                            },
                        );
                    } else if let Some(t) = self.table("audit.export", v) {
                        export = self.export(t, v.span());
                        ok &= export.is_some();
                    } else {
                        ok = false;
                    }
                }
                other => {
                    ok = false;
                    self.unknown(
                        k,
                        &format!("audit.{}", quote_key(other)),
                        "[audit]",
                        AUDIT_KEYS,
                    )
                }
            }
        }
        let Some(path) = path else {
            if ok {
                self.error(
                    span,
                    Problem::MissingKey {
                        key: "audit.path",
                        table: "[audit]",
                        hint: "add `path = \"audit.jsonl\"` (relative to this policy file's folder) or remove [audit]",
                    },
                );
            }
            return (None, None);
        };
        if !ok {
            return (None, None);
        }
        let folder = self.path.parent().unwrap_or(Path::new("."));
        let path = if self.layer == Layer::Workspace {
            // A repository's log stays in the repository's own state folder:
            // never a file elsewhere, never one Cordon reads as config.
            let plain = path
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if !plain || path.as_os_str().is_empty() {
                self.error(
                    span,
                    Problem::Confined {
                        key: "audit.path".into(),
                        hint: "a workspace policy's audit log is written under .cordon/state/; give a relative file name such as \"audit.jsonl\"",
                    },
                );
                return (None, None);
            }
            folder.join("state").join(path)
        } else if path.is_absolute() {
            path
        } else {
            folder.join(path)
        };
        let sink = AuditSink {
            layer: self.layer,
            path,
            prompts,
        };
        (Some(sink), export)
    }

    /// `[audit.export]`: endpoint (http or https URL), protocol, headers
    /// (header name → environment variable name), ca_file.
    fn export(&mut self, table: &DeTable<'_>, span: Range<usize>) -> Option<ExportTarget> {
        let mut ok = true;
        let mut endpoint = None;
        let mut protocol = "http/protobuf".to_owned();
        let mut headers = BTreeMap::new();
        let mut ca_file = None;
        for (k, v) in table {
            match k.get_ref().as_ref() {
                "endpoint" => match self.string("audit.export.endpoint", v) {
                    Some(url) if valid_endpoint(url) => endpoint = Some(url.trim().to_owned()),
                    Some(_) => {
                        ok = false;
                        self.error(
                            v.span(),
                            Problem::Confined {
                                key: "audit.export.endpoint".into(),
                                hint: "give the collector's OTLP/HTTP address as an http:// or https:// URL with a host, e.g. \"https://otel-collector.example.com:4318\" (Cordon appends /v1/logs and /v1/traces)",
                            },
                        );
                    }
                    None => ok = false,
                },
                "protocol" => match self.string("audit.export.protocol", v) {
                    Some(p) if EXPORT_PROTOCOLS.contains(&p) => protocol = p.to_owned(),
                    Some(p) => {
                        ok = false;
                        self.error(
                            v.span(),
                            Problem::UnknownWord {
                                key: "audit.export.protocol".into(),
                                value: p.to_owned(),
                                expected: "http/protobuf (gRPC is not built into Cordon; collectors accept OTLP/HTTP on port 4318)".into(),
                            },
                        );
                    }
                    None => ok = false,
                },
                "headers" => {
                    let Some(t) = self.table("audit.export.headers", v) else {
                        ok = false;
                        continue;
                    };
                    for (name, var) in t {
                        let name_str = name.get_ref().as_ref();
                        let key = format!("audit.export.headers.{}", quote_key(name_str));
                        if !valid_header_name(name_str) {
                            ok = false;
                            self.error(
                                name.span(),
                                Problem::Confined {
                                    key,
                                    hint: "a header name is letters, digits and `-` (e.g. Authorization, X-Splunk-Token)",
                                },
                            );
                            continue;
                        }
                        match self.string(&key, var) {
                            Some(env) if valid_env_name(env) => {
                                headers.insert(name_str.to_owned(), env.to_owned());
                            }
                            Some(_) => {
                                ok = false;
                                self.error(
                                    var.span(),
                                    Problem::Confined {
                                        key,
                                        hint: "name the environment variable that holds the header's value (letters, digits and `_`, e.g. \"CORDON_OTLP_TOKEN\"); header values never go in the policy file",
                                    },
                                );
                            }
                            None => ok = false,
                        }
                    }
                }
                "ca_file" => match self.string("audit.export.ca_file", v) {
                    Some(p) if p.trim().is_empty() => {
                        ok = false;
                        self.error(
                            v.span(),
                            Problem::Empty {
                                key: "audit.export.ca_file".into(),
                                hint: "name a PEM file of CA certificates, or remove the key to trust the system's",
                            },
                        );
                    }
                    Some(p) => {
                        let p = PathBuf::from(p);
                        let folder = self.path.parent().unwrap_or(Path::new("."));
                        ca_file = Some(if p.is_absolute() { p } else { folder.join(p) });
                    }
                    None => ok = false,
                },
                other => {
                    ok = false;
                    self.unknown(
                        k,
                        &format!("audit.export.{}", quote_key(other)),
                        "[audit.export]",
                        EXPORT_KEYS,
                    )
                }
            }
        }
        let Some(endpoint) = endpoint else {
            if ok {
                self.error(
                    span,
                    Problem::MissingKey {
                        key: "audit.export.endpoint",
                        table: "[audit.export]",
                        hint: "add `endpoint = \"https://otel-collector.example.com:4318\"` or remove [audit.export]",
                    },
                );
            }
            return None;
        };
        ok.then_some(ExportTarget {
            endpoint,
            protocol,
            headers,
            ca_file,
        })
    }
}

/// An `http://` or `https://` URL with a host and no whitespace.
pub fn valid_endpoint(url: &str) -> bool {
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty()
                && !host.starts_with(':')
                && !rest.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    }
}

/// An HTTP header name (RFC 9110 token, restricted to letters, digits, `-`, `_`).
fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An environment variable name: letters, digits and `_`, not starting
/// with a digit.
fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.as_bytes()[0].is_ascii_digit()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether `s` is a sha256 digest as `cordon plugins list` prints it.
pub(crate) fn is_digest(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// 1-based line and column (in characters) of byte offset `at`.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..at].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let t = "a\nbé c\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 2), (2, 1));
        assert_eq!(line_col(t, 5), (2, 3));
        assert_eq!(line_col(t, 100), (3, 1));
    }
}
