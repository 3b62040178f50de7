//! The three policy layers and where their files live.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One of the three places a policy can come from, highest authority first.
///
/// The order of the variants is the order of authority: `Organisation` >
/// `Workspace` > `User`. A lower layer can only narrow what a higher layer
/// allows (see [`Effective`](crate::Effective)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// The team's policy: `$CORDON_ORG_POLICY`, else `/etc/cordon/policy.toml`.
    Organisation,
    /// The repository's policy: `<workspace root>/.cordon/policy.toml`.
    Workspace,
    /// The developer's own policy: `$XDG_CONFIG_HOME/cordon/policy.toml`.
    User,
}

impl Layer {
    /// All layers, highest authority first.
    pub const ALL: [Layer; 3] = [Layer::Organisation, Layer::Workspace, Layer::User];

    /// The lowercase name used in messages and JSON: `organisation`,
    /// `workspace`, `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Organisation => "organisation",
            Layer::Workspace => "workspace",
            Layer::User => "user",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The policy files to load, highest authority first, from the process
/// environment.
///
/// - organisation: `$CORDON_ORG_POLICY` if set and non-empty, else
///   `/etc/cordon/policy.toml`;
/// - workspace: `<workspace_root>/.cordon/policy.toml`, only when a root is
///   given;
/// - user: `$XDG_CONFIG_HOME/cordon/policy.toml`, else
///   `$HOME/.config/cordon/policy.toml` (the XDG default); omitted when
///   neither variable is set.
///
/// The files need not exist: [`load`](crate::load) treats a missing file as
/// an absent layer.
pub fn layer_paths(workspace_root: Option<&Path>) -> Vec<(Layer, PathBuf)> {
    layer_paths_with(|name| std::env::var_os(name), workspace_root)
}

/// [`layer_paths`] with the environment given as a lookup function, so that
/// callers and tests need not change the process environment.
pub fn layer_paths_with(
    env: impl Fn(&str) -> Option<OsString>,
    workspace_root: Option<&Path>,
) -> Vec<(Layer, PathBuf)> {
    let non_empty = |name: &str| env(name).filter(|v| !v.is_empty());
    let mut paths = Vec::with_capacity(3);
    let org = non_empty("CORDON_ORG_POLICY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/etc/cordon/policy.toml"));
    paths.push((Layer::Organisation, org));
    if let Some(root) = workspace_root {
        paths.push((Layer::Workspace, root.join(".cordon").join("policy.toml")));
    }
    let config_home = non_empty("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".config")));
    if let Some(dir) = config_home {
        paths.push((Layer::User, dir.join("cordon").join("policy.toml")));
    }
    paths
}
