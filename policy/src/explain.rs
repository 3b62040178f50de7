//! `cordon policy explain PLUGIN`: every grant of one plugin and the layers
//! that allowed and narrowed it.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::effective::join;
use crate::rules::{
    AuditSink, Capability, LayerPolicy, LimitKind, PluginRule, Provider, RuleSource,
};
use crate::{Effective, Layer};

/// What one plugin may do under the effective policy, grant by grant.
/// `Display` renders a table for people; `Serialize` gives JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The plugin explained.
    pub plugin: String,
    /// Whether any policy file exists (if not, the host's defaults apply).
    pub configured: bool,
    /// Each loaded layer and the table that applies to the plugin there.
    pub layers: Vec<LayerUse>,
    /// Each grant: capabilities, providers, workspace_read, backends,
    /// models, regions, limits, sha256 pins.
    pub grants: Vec<Grant>,
    /// `content.exclude` patterns of every layer (a union).
    pub content_exclude: Vec<ExcludePattern>,
    /// Whether secrets are redacted before requests leave.
    pub redact_secrets: bool,
    /// The audit logs records go to.
    pub audit: Vec<AuditSink>,
}

/// One loaded layer and which of its tables applies to the plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerUse {
    /// The layer.
    pub layer: Layer,
    /// Its file.
    pub path: PathBuf,
    /// `[plugins.NAME]`, `[plugins."*"]`, `[plugins.NAME] + [plugins."*"]`
    /// (named table with fallback to the default), or `None` when the layer
    /// does not constrain this plugin.
    pub rule: Option<String>,
}

/// One layer's say on one grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The layer.
    pub layer: Layer,
    /// The table the value came from, e.g. `[plugins."*"]`.
    pub table: String,
    /// The value as written there, e.g. `model, log` or `64`.
    pub value: String,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} = {}", self.layer, self.table, self.value)
    }
}

/// One grant of the plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// What is granted, e.g. `capability model`, `provider bedrock`,
    /// `models`, `limit memory_mib`, `sha256`.
    pub grant: String,
    /// The effective value, e.g. `allowed`, `denied`, `64`, `not limited`,
    /// `any (not narrowed)`, or the lists a value must match.
    pub effective: String,
    /// For yes/no grants (capabilities, providers), whether it is allowed.
    pub allowed: Option<bool>,
    /// The layer whose rule decided the effective value; `None` when none
    /// did (deny by default, or not set anywhere).
    pub decided_by: Option<Layer>,
    /// The highest layer that allows it (or first sets the value).
    pub allowed_by: Option<Source>,
    /// The layers that narrowed it (withheld it, or set a stricter list or
    /// a lower limit).
    pub narrowed_by: Vec<Source>,
}

/// A `content.exclude` pattern and its layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExcludePattern {
    /// The layer.
    pub layer: Layer,
    /// The pattern as written.
    pub pattern: String,
}

/// Every layer's value for one key of one plugin, highest first.
fn sources<'a, T: ?Sized + 'a>(
    effective: &'a Effective,
    plugin: &'a str,
    key: impl Fn(&'a PluginRule) -> Option<&'a T>,
) -> Vec<(&'a LayerPolicy, RuleSource<'a>, &'a T)> {
    effective
        .layers()
        .iter()
        .filter_map(|layer| {
            let (value, source) = layer.resolve(plugin)?.get(&key)?;
            Some((layer, source, value))
        })
        .collect()
}

fn source(layer: &LayerPolicy, table: RuleSource<'_>, value: String) -> Source {
    Source {
        layer: layer.layer(),
        table: table.to_string(),
        value,
    }
}

/// A yes/no grant over a finite set: allowed iff some layer lists it and
/// every layer that sets the list does.
fn membership<'a, T: ?Sized + 'a>(
    grant: String,
    list: &[(&'a LayerPolicy, RuleSource<'a>, &'a T)],
    contains: impl Fn(&T) -> bool,
    render: impl Fn(&T) -> String,
    deny_by_default: bool,
) -> Grant {
    let mut allowed_by = None;
    let mut narrowed_by = Vec::new();
    for (layer, table, value) in list {
        let s = source(layer, *table, render(value));
        if contains(value) {
            if allowed_by.is_none() {
                allowed_by = Some(s);
            }
        } else {
            narrowed_by.push(s);
        }
    }
    let (allowed, effective, decided_by) = if let Some(first) = narrowed_by.first() {
        (false, "denied".to_owned(), Some(first.layer))
    } else if let Some(by) = &allowed_by {
        (true, "allowed".to_owned(), Some(by.layer))
    } else if deny_by_default {
        (false, "denied (no layer grants it)".to_owned(), None)
    } else {
        (true, "allowed (not narrowed)".to_owned(), None)
    };
    Grant {
        grant,
        effective,
        allowed: Some(allowed),
        decided_by,
        allowed_by,
        narrowed_by,
    }
}

/// A glob list: a value must match every layer's list.
fn glob_lists(grant: &str, list: Vec<(&LayerPolicy, RuleSource<'_>, &[String])>) -> Grant {
    let mut sources: Vec<Source> = list
        .iter()
        .map(|(layer, table, patterns)| {
            source(layer, *table, join(patterns.iter().map(String::as_str)))
        })
        .collect();
    let effective = match sources.len() {
        0 => "any (not narrowed)".to_owned(),
        1 => format!("matching: {}", sources[0].value),
        _ => format!(
            "matching all of: {}",
            sources
                .iter()
                .map(|s| format!("[{}] ({})", s.value, s.layer))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    };
    let decided_by = sources.last().map(|s| s.layer);
    let allowed_by = (!sources.is_empty()).then(|| sources.remove(0));
    Grant {
        grant: grant.to_owned(),
        effective,
        allowed: None,
        decided_by,
        allowed_by,
        narrowed_by: sources,
    }
}

impl Effective {
    /// Every grant of `plugin` with the layer that allowed it and the layers
    /// that narrowed it, for `cordon policy explain PLUGIN`.
    pub fn explain(&self, plugin: &str) -> Explanation {
        let layers = self
            .layers()
            .iter()
            .map(|layer| LayerUse {
                layer: layer.layer(),
                path: layer.path().to_owned(),
                rule: layer.resolve(plugin).map(|r| match r.table() {
                    RuleSource::Named(name) if layer.plugins.contains_key("*") => {
                        format!("[plugins.{name}] + [plugins.\"*\"]")
                    }
                    other => other.to_string(),
                }),
            })
            .collect();

        let mut grants = Vec::new();
        let caps = sources(self, plugin, |r| r.capabilities.as_ref());
        for capability in Capability::ALL {
            let mut grant = membership(
                format!("capability {capability}"),
                &caps,
                |set| set.contains(&capability),
                |set| join(set.iter().map(|c| c.as_str())),
                true,
            );
            // What the gate does is the answer: the same query decides
            // both (a narrowing-only layer lists but never grants).
            let decision = self.allows_capability(plugin, capability);
            if grant.allowed != Some(decision.allowed) {
                grant.allowed = Some(decision.allowed);
                grant.effective = if decision.allowed {
                    "allowed"
                } else {
                    "denied"
                }
                .to_owned();
                grant.decided_by = decision.layer;
            }
            grants.push(grant);
        }
        let read = sources(self, plugin, |r| r.workspace_read.as_ref());
        grants.push(glob_lists(
            "workspace_read",
            read.iter().map(|(l, t, p)| (*l, *t, p.sources())).collect(),
        ));
        let providers = sources(self, plugin, |r| r.providers.as_ref());
        for provider in Provider::ALL {
            grants.push(membership(
                format!("provider {provider}"),
                &providers,
                |set| set.contains(&provider),
                |set| join(set.iter().map(|p| p.as_str())),
                false,
            ));
        }
        for (name, list) in [
            ("backends", sources(self, plugin, |r| r.backends.as_ref())),
            ("models", sources(self, plugin, |r| r.models.as_ref())),
            ("regions", sources(self, plugin, |r| r.regions.as_ref())),
        ] {
            grants.push(glob_lists(
                name,
                list.iter().map(|(l, t, p)| (*l, *t, p.sources())).collect(),
            ));
        }
        for kind in LimitKind::ALL {
            let list = self.limit_sources(plugin, kind);
            let mut allowed_by = None;
            let mut narrowed_by = Vec::new();
            let mut current: Option<(u64, Layer)> = None;
            for (layer, table, value) in &list {
                let s = source(layer, *table, value.to_string());
                match current {
                    None => {
                        current = Some((*value, layer.layer()));
                        allowed_by = Some(s);
                    }
                    Some((min, _)) if *value < min => {
                        current = Some((*value, layer.layer()));
                        narrowed_by.push(s);
                    }
                    Some(_) => {}
                }
            }
            grants.push(Grant {
                grant: format!("limit {kind}"),
                effective: current.map_or_else(
                    || "not limited by policy".to_owned(),
                    |(v, _)| v.to_string(),
                ),
                allowed: None,
                decided_by: current.map(|(_, l)| l),
                allowed_by,
                narrowed_by,
            });
        }
        let pins = sources(self, plugin, |r| r.sha256.as_ref());
        let render =
            |set: &std::collections::BTreeSet<String>| join(set.iter().map(String::as_str));
        let mut pin_sources: Vec<Source> = pins
            .iter()
            .map(|(l, t, set)| source(l, *t, render(set)))
            .collect();
        let effective = match pins.split_first() {
            None => "any build (not pinned)".to_owned(),
            Some(((_, _, first), rest)) => {
                let common: Vec<&str> = first
                    .iter()
                    .filter(|d| rest.iter().all(|(_, _, set)| set.contains(*d)))
                    .map(String::as_str)
                    .collect();
                if common.is_empty() {
                    "no build (the pin lists have no digest in common)".to_owned()
                } else {
                    format!("only: {}", common.join(", "))
                }
            }
        };
        let decided_by = pin_sources.last().map(|s| s.layer);
        let allowed_by = (!pin_sources.is_empty()).then(|| pin_sources.remove(0));
        grants.push(Grant {
            grant: "sha256".to_owned(),
            effective,
            allowed: None,
            decided_by,
            allowed_by,
            narrowed_by: pin_sources,
        });

        Explanation {
            plugin: plugin.to_owned(),
            configured: self.is_configured(),
            layers,
            grants,
            content_exclude: self
                .exclude_patterns()
                .into_iter()
                .map(|(layer, pattern)| ExcludePattern { layer, pattern })
                .collect(),
            redact_secrets: self.redact_secrets(),
            audit: self.audit_sinks(),
        }
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Policy for plugin `{}`", self.plugin)?;
        if !self.configured {
            writeln!(
                f,
                "No policy file exists: the host's defaults apply (Cordon's own plugins: model, workspace.read, log; other plugins: log)."
            )?;
            return Ok(());
        }
        writeln!(f)?;
        writeln!(f, "Layers (highest first):")?;
        let path_width = self
            .layers
            .iter()
            .map(|l| l.path.display().to_string().chars().count())
            .max()
            .unwrap_or(0);
        for l in &self.layers {
            let path = l.path.display().to_string();
            let rule = l.rule.as_deref().map_or_else(
                || "no rule for this plugin".to_owned(),
                |r| format!("rule {r}"),
            );
            writeln!(
                f,
                "  {:<12}  {:<path_width$}  {rule}",
                l.layer.as_str(),
                path
            )?;
        }
        writeln!(f)?;
        let dash = || "-".to_owned();
        let rows: Vec<[String; 5]> = self
            .grants
            .iter()
            .map(|g| {
                [
                    g.grant.clone(),
                    abbreviate_digests(&g.effective),
                    g.decided_by.map_or_else(dash, |l| l.to_string()),
                    g.allowed_by
                        .as_ref()
                        .map_or_else(dash, |s| abbreviate_digests(&s.to_string())),
                    if g.narrowed_by.is_empty() {
                        dash()
                    } else {
                        let all: Vec<String> =
                            g.narrowed_by.iter().map(ToString::to_string).collect();
                        abbreviate_digests(&all.join("; "))
                    },
                ]
            })
            .collect();
        let header = [
            "GRANT",
            "EFFECTIVE",
            "DECIDED BY",
            "ALLOWED BY",
            "NARROWED BY",
        ]
        .map(str::to_owned);
        let mut widths = [0usize; 5];
        for row in std::iter::once(&header).chain(rows.iter()) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(rows.iter()) {
            let mut line = String::new();
            for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', w - cell.chars().count() + 2));
                }
            }
            writeln!(f, "{}", line.trim_end())?;
        }
        writeln!(f)?;
        if self.content_exclude.is_empty() {
            writeln!(f, "Content exclusion: none")?;
        } else {
            let list: Vec<String> = self
                .content_exclude
                .iter()
                .map(|e| format!("{} ({})", e.pattern, e.layer))
                .collect();
            writeln!(f, "Content exclusion: {}", list.join(", "))?;
        }
        writeln!(
            f,
            "Secret redaction: {}",
            if self.redact_secrets { "on" } else { "off" }
        )?;
        if self.audit.is_empty() {
            writeln!(f, "Audit logs: none configured")?;
        } else {
            for sink in &self.audit {
                writeln!(
                    f,
                    "Audit log: {} ({}{})",
                    sink.path.display(),
                    sink.layer,
                    if sink.prompts {
                        ", with prompt text"
                    } else {
                        ""
                    }
                )?;
            }
        }
        Ok(())
    }
}

/// Shortens every 64-hex-digit digest to its first 12 digits and `…` (the
/// JSON form keeps them whole).
fn abbreviate_digests(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let token_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            .count();
        if token_len == 64 {
            out.push_str(&rest[..12]);
            out.push('…');
            rest = &rest[64..];
        } else {
            let skip = token_len.max(rest.chars().next().map_or(1, char::len_utf8));
            out.push_str(&rest[..skip]);
            rest = &rest[skip..];
        }
    }
    out
}
