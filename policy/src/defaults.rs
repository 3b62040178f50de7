//! Cordon's built-in defaults as a policy layer of their own, so that the
//! gate asks one policy whatever files exist (there is no separate set of
//! default grants it could consult instead).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::Layer;
use crate::rules::{Capability, LayerPolicy, PluginRule, WorkspaceRules};

/// The built-in defaults: Cordon's own plugins (`first_party`, the names of
/// the built-in components) get `model`, `workspace.read` and `log`; every
/// other plugin gets `log` only.
///
/// [`Effective::with_builtin_defaults`](crate::Effective::with_builtin_defaults)
/// puts this layer in force while no organisation, user or trusted
/// workspace layer exists; an untrusted workspace's policy then narrows it.
pub fn builtin_defaults(first_party: &[&str]) -> LayerPolicy {
    let rule = |caps: &[Capability]| PluginRule {
        capabilities: Some(caps.iter().copied().collect::<BTreeSet<_>>()),
        ..PluginRule::default()
    };
    let mut plugins = BTreeMap::new();
    plugins.insert("*".to_owned(), rule(&[Capability::Log]));
    for name in first_party {
        plugins.insert((*name).to_owned(), rule(&Capability::ALL));
    }
    LayerPolicy {
        layer: Layer::Builtin,
        path: PathBuf::from("(built-in defaults)"),
        plugins,
        exclude: None,
        redact_secrets: None,
        audit: None,
        audit_export: None,
        workspaces: WorkspaceRules::default(),
        narrow_only: false,
    }
}
