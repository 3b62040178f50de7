//! What a plugin asks for (`describe`'s `requests`, API 0.2.0) against what
//! the policy grants it: shown by `cordon plugins list`, warned about by
//! `cordon policy check`, and turned into a policy snippet by
//! `cordon policy grant`.
//!
//! Asking grants nothing. A request the policy leaves ungranted is a
//! warning, never a grant; a grant nobody asked for is pointed out, since
//! least privilege is the policy author's to keep.

use cordon_policy::Capability;

use crate::runtime::Plugin;

/// One capability a plugin asks for, and whether it holds it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Asked {
    /// The name the plugin gave (`model`, `workspace.read`, `log`).
    pub capability: String,
    /// Why, in the plugin's words (one line, bounded at load).
    pub why: String,
    /// Whether Cordon has a capability of that name.
    pub known: bool,
    /// Whether the policy grants it.
    pub granted: bool,
}

/// A plugin's requests beside its grants.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Standing {
    /// Whether the plugin can declare requests at all (API 0.2.0 and
    /// later); a 0.1.0 plugin's requests are unknown, not empty.
    pub declared: bool,
    /// What it asks for, in its order.
    pub asked: Vec<Asked>,
    /// Capabilities the policy grants that it did not ask for.
    pub unrequested: Vec<&'static str>,
}

impl Standing {
    /// The requests the policy leaves ungranted (unknown names included).
    pub fn ungranted(&self) -> impl Iterator<Item = &Asked> {
        self.asked.iter().filter(|a| !a.granted)
    }

    /// The known capabilities it asks for.
    pub fn wanted(&self) -> Vec<Capability> {
        Capability::ALL
            .into_iter()
            .filter(|c| self.asked.iter().any(|a| a.capability == c.as_str()))
            .collect()
    }
}

/// `plugin`'s requests against `granted` (the policy's answer per
/// capability).
pub fn standing(plugin: &Plugin, granted: impl Fn(Capability) -> bool) -> Standing {
    let declared = plugin.api_version != crate::api::v0_1_0::VERSION;
    let asked: Vec<Asked> = plugin
        .info
        .requests
        .iter()
        .map(|r| {
            let known = r.capability.parse::<Capability>().ok();
            Asked {
                capability: r.capability.clone(),
                why: r.why.clone(),
                known: known.is_some(),
                granted: known.is_some_and(&granted),
            }
        })
        .collect();
    let unrequested = if declared {
        Capability::ALL
            .into_iter()
            .filter(|c| granted(*c) && !asked.iter().any(|a| a.capability == c.as_str()))
            .map(Capability::as_str)
            .collect()
    } else {
        Vec::new()
    };
    Standing {
        declared,
        asked,
        unrequested,
    }
}

/// The policy's grants of `plugin`'s requests, as `policy check` warns
/// about them: one line per ungranted request.
pub fn warnings(plugin: &Plugin, standing: &Standing) -> Vec<String> {
    let name = plugin.name();
    let who = match plugin.origin {
        crate::runtime::Origin::Builtin => format!("Cordon's own plugin `{name}`"),
        _ => format!("plugin `{name}`"),
    };
    standing
        .ungranted()
        .map(|asked| {
            let why = crate::text::for_terminal(&asked.why, 200);
            if asked.known {
                let effect = if asked.capability == "model" {
                    "it cannot do its work until then"
                } else {
                    "it works with less"
                };
                format!(
                    "{who} asks for `{}` ({why}), which the policy does not grant ({effect}): grant it in [plugins.{name}] capabilities; `cordon policy grant {name}` prints the lines",
                    asked.capability
                )
            } else {
                format!(
                    "{who} asks for `{}` ({why}), which is not a capability Cordon has (model, workspace.read, log): nothing can grant it",
                    crate::text::for_terminal(&asked.capability, 64)
                )
            }
        })
        .collect()
}
