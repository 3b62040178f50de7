//! The three policy layers and where their files live.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One of the places a policy can come from, highest authority first.
///
/// The order of the variants is the order of authority: `Organisation` >
/// `Workspace` > `User` > `Builtin`. A lower layer can only narrow what a
/// higher layer allows (see [`Effective`](crate::Effective)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// The team's policy: `/etc/cordon/policy.toml`, else `$CORDON_ORG_POLICY`
    /// (which, when the system file exists, is only a further narrowing layer).
    Organisation,
    /// The repository's policy: `<workspace root>/.cordon/policy.toml`. It
    /// grants nothing until the user trusts the workspace.
    Workspace,
    /// The developer's own policy: `$XDG_CONFIG_HOME/cordon/policy.toml`.
    User,
    /// Cordon's built-in defaults ([`builtin_defaults`]), in force only while
    /// no organisation, user or trusted workspace policy grants anything.
    Builtin,
}

impl Layer {
    /// The layers read from files, highest authority first.
    pub const ALL: [Layer; 3] = [Layer::Organisation, Layer::Workspace, Layer::User];

    /// The lowercase name used in messages and JSON: `organisation`,
    /// `workspace`, `user`, `builtin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Organisation => "organisation",
            Layer::Workspace => "workspace",
            Layer::User => "user",
            Layer::Builtin => "builtin",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One policy file to load, and how much it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    /// Which layer it is.
    pub layer: Layer,
    /// Where it is (it need not exist: a missing file is an absent layer).
    pub path: PathBuf,
    /// A layer that may only narrow: it never grants a capability, never
    /// turns redaction off and names no audit log. An untrusted workspace's
    /// policy, and `$CORDON_ORG_POLICY` when the system file exists.
    pub narrow_only: bool,
}

/// Where an installation keeps its own files: `/etc/cordon`.
pub const SYSTEM_DIR: &str = "/etc/cordon";

/// The marker file that makes an organisation policy mandatory: with
/// `/etc/cordon/policy-required` present, a missing organisation policy
/// fails closed instead of meaning "no organisation layer".
pub const REQUIRED_MARKER: &str = "policy-required";

/// Every policy file to load and what stands behind it, from one place so
/// that the CLI, the host and `doctor` agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    /// The files, highest authority first.
    pub files: Vec<LayerFile>,
    /// Why an organisation policy must exist, when the installation says so.
    pub org_required: Option<String>,
}

impl Sources {
    /// The files of the process environment for the workspace at
    /// `workspace_root` (trusted or not), with the installation in
    /// [`SYSTEM_DIR`].
    pub fn of_process(workspace_root: Option<&Path>, workspace_trusted: bool) -> Self {
        Sources::with(
            |name| std::env::var_os(name),
            Path::new(SYSTEM_DIR),
            workspace_root,
            workspace_trusted,
        )
    }

    /// [`Sources::of_process`] with the environment and the system folder
    /// given, so that callers and tests need not change global state.
    ///
    /// - organisation: `<system_dir>/policy.toml` when it exists; then
    ///   `$CORDON_ORG_POLICY` is only a further, narrowing layer (an
    ///   environment variable never displaces the installed policy). Without
    ///   the system file, `$CORDON_ORG_POLICY` is the organisation layer;
    /// - workspace: `<workspace_root>/.cordon/policy.toml`, narrowing only
    ///   unless `workspace_trusted`;
    /// - user: `$XDG_CONFIG_HOME/cordon/policy.toml`, else
    ///   `$HOME/.config/cordon/policy.toml`.
    ///
    /// The organisation policy is required when `<system_dir>/policy-required`
    /// exists or `$CORDON_REQUIRE_ORG_POLICY` is set to anything but `0` (an
    /// environment variable may make the policy stricter, never looser).
    pub fn with(
        env: impl Fn(&str) -> Option<OsString>,
        system_dir: &Path,
        workspace_root: Option<&Path>,
        workspace_trusted: bool,
    ) -> Self {
        let non_empty = |name: &str| env(name).filter(|v| !v.is_empty());
        let mut files = Vec::with_capacity(4);
        let system = system_dir.join("policy.toml");
        let override_path = non_empty("CORDON_ORG_POLICY").map(PathBuf::from);
        if system.exists() {
            files.push(LayerFile {
                layer: Layer::Organisation,
                path: system.clone(),
                narrow_only: false,
            });
            if let Some(extra) = override_path.filter(|p| *p != system) {
                files.push(LayerFile {
                    layer: Layer::Organisation,
                    path: extra,
                    narrow_only: true,
                });
            }
        } else {
            files.push(LayerFile {
                layer: Layer::Organisation,
                path: override_path.unwrap_or_else(|| system.clone()),
                narrow_only: false,
            });
        }
        if let Some(root) = workspace_root {
            files.push(LayerFile {
                layer: Layer::Workspace,
                path: root.join(".cordon").join("policy.toml"),
                narrow_only: !workspace_trusted,
            });
        }
        let config_home = non_empty("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| non_empty("HOME").map(|home| PathBuf::from(home).join(".config")));
        if let Some(dir) = config_home {
            files.push(LayerFile {
                layer: Layer::User,
                path: dir.join("cordon").join("policy.toml"),
                narrow_only: false,
            });
        }
        let marker = system_dir.join(REQUIRED_MARKER);
        let org_required = if marker.exists() {
            Some(format!("{} exists", marker.display()))
        } else if non_empty("CORDON_REQUIRE_ORG_POLICY").is_some_and(|v| v != "0") {
            Some("$CORDON_REQUIRE_ORG_POLICY is set".to_owned())
        } else {
            None
        };
        Sources {
            files,
            org_required,
        }
    }

    /// The files as `(layer, path)` pairs.
    pub fn paths(&self) -> Vec<(Layer, PathBuf)> {
        self.files
            .iter()
            .map(|f| (f.layer, f.path.clone()))
            .collect()
    }
}

/// The policy files to load, highest authority first, from the process
/// environment: [`Sources::of_process`] as `(layer, path)` pairs. The files
/// need not exist: [`load`](crate::load) treats a missing file as an absent
/// layer.
pub fn layer_paths(workspace_root: Option<&Path>) -> Vec<(Layer, PathBuf)> {
    layer_paths_with(|name| std::env::var_os(name), workspace_root)
}

/// [`layer_paths`] with the environment given as a lookup function, so that
/// callers and tests need not change the process environment.
pub fn layer_paths_with(
    env: impl Fn(&str) -> Option<OsString>,
    workspace_root: Option<&Path>,
) -> Vec<(Layer, PathBuf)> {
    Sources::with(env, Path::new(SYSTEM_DIR), workspace_root, false).paths()
}
