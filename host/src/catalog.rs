//! The set of plugins a Cordon process runs: the built-in ones plus every
//! `.wasm` component found in the plugin folders. Plugins load concurrently
//! (compiling, then `describe` under its own short bound), so one slow
//! plugin never delays the others; precedence follows the folders' order,
//! not which plugin finished first.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::builtin;
use crate::runtime::{Feature, Limits, Origin, Plugin, Runtime};

/// Loaded plugins and the ones that failed to load.
#[derive(Default, Clone)]
pub struct Catalog {
    /// Plugins ready to be called, built-in ones first.
    pub plugins: Vec<Arc<Plugin>>,
    /// One line per plugin that could not be loaded.
    pub errors: Vec<String>,
    /// Plugins the workspace ships that were not loaded because it is not
    /// trusted.
    pub untrusted_plugins: usize,
}

impl Catalog {
    /// The plugin called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Plugin>> {
        self.plugins.iter().find(|p| p.name() == name)
    }

    /// The plugins that provide `feature`, most trusted first.
    pub fn providers(&self, feature: Feature) -> impl Iterator<Item = &Arc<Plugin>> {
        self.plugins.iter().filter(move |p| p.provides(feature))
    }
}

/// One plugin folder and the origin of what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginDir {
    /// The folder.
    pub path: PathBuf,
    /// What its plugins are: `Origin::CommandLine`, `Origin::User` or
    /// `Origin::Workspace` (with an empty path: the file is set per plugin).
    pub kind: DirKind,
}

/// Where a plugin folder comes from, in order of trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DirKind {
    /// `--plugin-dir`.
    CommandLine,
    /// `$XDG_DATA_HOME/cordon/plugins`.
    User,
    /// `<workspace>/.cordon/plugins`: loaded only once trusted.
    Workspace,
}

impl DirKind {
    fn origin(self, file: PathBuf) -> Origin {
        match self {
            DirKind::CommandLine => Origin::CommandLine(file),
            DirKind::User => Origin::User(file),
            DirKind::Workspace => Origin::Workspace(file),
        }
    }
}

/// Plugin folders, most trusted first: `extra` (from the command line),
/// `$XDG_DATA_HOME/cordon/plugins`, then the workspace's `.cordon/plugins`.
pub fn plugin_dirs(workspace_root: Option<&Path>, extra: &[PathBuf]) -> Vec<PluginDir> {
    let mut dirs: Vec<PluginDir> = extra
        .iter()
        .map(|path| PluginDir {
            path: path.clone(),
            kind: DirKind::CommandLine,
        })
        .collect();
    if let Some(data) = dirs::data_dir() {
        dirs.push(PluginDir {
            path: data.join("cordon").join("plugins"),
            kind: DirKind::User,
        });
    }
    if let Some(root) = workspace_root {
        dirs.push(PluginDir {
            path: root.join(".cordon").join("plugins"),
            kind: DirKind::Workspace,
        });
    }
    dirs
}

/// Load the built-in plugins and the `.wasm` files of `dirs` (missing
/// folders are skipped), most trusted first. See [`load_builtin`] and
/// [`load_dirs`].
pub async fn load(runtime: &Runtime, dirs: &[PluginDir]) -> Catalog {
    let mut catalog = load_builtin(runtime).await;
    load_dirs(runtime, dirs, &mut catalog).await;
    catalog
}

/// Load the built-in plugins, concurrently. One that fails is reported in
/// [`Catalog::errors`] and the others still load.
pub async fn load_builtin(runtime: &Runtime) -> Catalog {
    let mut catalog = Catalog::default();
    let loads = builtin::PLUGINS.iter().map(|builtin| async move {
        let loaded = runtime
            .load(Origin::Builtin, builtin.wasm.to_vec(), Limits::default())
            .await;
        (builtin.name, loaded)
    });
    for (name, loaded) in futures::future::join_all(loads).await {
        match loaded {
            Ok(plugin) => admit(runtime, &mut catalog, plugin),
            Err(err) => catalog
                .errors
                .push(format!("built-in plugin `{name}`: {err}")),
        }
    }
    catalog
}

/// Add the `.wasm` files of `dirs` (missing folders are skipped) to
/// `catalog`, most trusted first. They load concurrently; a plugin that
/// fails (a `describe` that does not answer within
/// [`DESCRIBE_WALL`](crate::runtime::plugin::DESCRIBE_WALL) included) is
/// reported in [`Catalog::errors`] and the others still load. A plugin never
/// takes the name of one already loaded from a more trusted place (its
/// grants and policy table stay with that one). The workspace's plugins
/// load only when the workspace is trusted and no policy forbids workspace
/// plugins; until then they are counted in [`Catalog::untrusted_plugins`].
pub async fn load_dirs(runtime: &Runtime, dirs: &[PluginDir], catalog: &mut Catalog) {
    let policy = Arc::clone(runtime.services().policy());
    // In order of precedence: the folders' order, then file names.
    let mut files = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir.path) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wasm") && p.is_file())
            .collect();
        found.sort();
        if dir.kind == DirKind::Workspace && !found.is_empty() {
            if !policy.workspace_trusted() {
                // The editor and the CLI say why, once (see `trust::Status`).
                catalog.untrusted_plugins = found.len();
                continue;
            }
            let allowed = policy.workspace_plugins();
            if !allowed.allowed {
                catalog.errors.push(format!(
                    "{}: {} workspace plugin(s) not loaded: {}",
                    dir.path.display(),
                    found.len(),
                    allowed.reason
                ));
                continue;
            }
        }
        files.extend(found.into_iter().map(|path| (dir.kind, path)));
    }
    let loads = files.into_iter().map(|(kind, path)| async move {
        let origin = kind.origin(path.clone());
        match std::fs::read(&path) {
            Ok(bytes) => runtime
                .load(origin, bytes, Limits::default())
                .await
                .map_err(|err| err.to_string()),
            Err(err) => Err(format!("{}: {err}", path.display())),
        }
    });
    for loaded in futures::future::join_all(loads).await {
        match loaded {
            Ok(plugin) => {
                if let Some(taken) = catalog.get(plugin.name()) {
                    catalog.errors.push(format!(
                        "{}: refused: a plugin named `{}` is already loaded from {} and a {} plugin never takes the name (or the grants) of a more trusted one; rename it",
                        plugin.origin,
                        plugin.name(),
                        taken.origin,
                        plugin.origin.kind(),
                    ));
                    continue;
                }
                admit(runtime, catalog, plugin)
            }
            Err(err) => catalog.errors.push(err),
        }
    }
}

/// Apply the policy to a loaded plugin: refuse a build that is not pinned,
/// and set the limits the policy gives it.
fn admit(runtime: &Runtime, catalog: &mut Catalog, mut plugin: Plugin) {
    let policy = runtime.services().policy();
    let pinned = policy.digest(plugin.name(), plugin.digest());
    if !pinned.allowed {
        catalog.errors.push(format!(
            "{}: plugin `{}` (sha256 {}) refused: {}",
            plugin.origin,
            plugin.name(),
            plugin.digest(),
            pinned.reason
        ));
        return;
    }
    let limits = policy.limits(plugin.name());
    let mib = |n: u64| usize::try_from(n.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
    if let Some(m) = limits.memory_mib {
        plugin.limits.memory_bytes = mib(m).min(crate::runtime::engine::MAX_MEMORY_BYTES);
    }
    if let Some(ms) = limits.cpu_ms {
        plugin.limits.cpu = std::time::Duration::from_millis(ms);
    }
    if let Some(kib) = limits.output_kib {
        plugin.limits.output.max_bytes =
            usize::try_from(kib.saturating_mul(1024)).unwrap_or(usize::MAX);
    }
    catalog.plugins.push(Arc::new(plugin));
}
