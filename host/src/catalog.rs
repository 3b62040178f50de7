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
        match loaded.map(|plugin| admit(runtime, plugin)) {
            Ok(Ok(plugin)) => catalog.plugins.push(Arc::new(plugin)),
            Ok(Err(refused)) => catalog.errors.push(refused),
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
    let files = plugin_files(runtime, dirs, catalog);
    let loads = files
        .iter()
        .map(|file| load_file(runtime, file.kind, &file.path));
    for loaded in futures::future::join_all(loads).await {
        match loaded {
            Ok(plugin) => {
                if let Err(refused) = catalog.insert(runtime, plugin, &files) {
                    catalog.errors.push(refused);
                }
            }
            Err(err) => catalog.errors.push(err),
        }
    }
}

/// A plugin file that may load, and the kind of folder it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginFile {
    /// Where the folder comes from.
    pub kind: DirKind,
    /// The `.wasm` file.
    pub path: PathBuf,
}

/// The `.wasm` files of `dirs` that may load, in order of precedence (the
/// folders' order, then file names). The workspace's are left out until it
/// is trusted (counted in [`Catalog::untrusted_plugins`]) and where a
/// policy forbids them (said in [`Catalog::errors`]).
pub fn plugin_files(
    runtime: &Runtime,
    dirs: &[PluginDir],
    catalog: &mut Catalog,
) -> Vec<PluginFile> {
    let policy = Arc::clone(runtime.services().policy());
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
        files.extend(found.into_iter().map(|path| PluginFile {
            kind: dir.kind,
            path,
        }));
    }
    files
}

/// Read, compile (or take from the cache), link and describe one plugin
/// file. The error is one line naming the file.
pub async fn load_file(runtime: &Runtime, kind: DirKind, path: &Path) -> Result<Plugin, String> {
    let origin = kind.origin(path.to_owned());
    match std::fs::read(path) {
        Ok(bytes) => runtime
            .load(origin, bytes, Limits::default())
            .await
            .map_err(|err| err.to_string()),
        Err(err) => Err(format!("{}: {err}", path.display())),
    }
}

/// How trusted a plugin's origin is among `files` (lower is more): the
/// built-in ones first, then the files' order of precedence.
fn rank(origin: &Origin, files: &[PluginFile]) -> usize {
    match origin.path() {
        None => 0,
        Some(path) => files
            .iter()
            .position(|f| f.path == path)
            .map_or(usize::MAX, |i| i + 1),
    }
}

impl Catalog {
    /// Put `plugin`, loaded from one of `files`, in service: in place of
    /// the build loaded before from the same file, or of a less trusted
    /// plugin of the same name (which is then refused). A plugin never takes
    /// the name of a more trusted one, and a build the policy does not pin
    /// is refused; the error says why.
    pub fn insert(
        &mut self,
        runtime: &Runtime,
        plugin: Plugin,
        files: &[PluginFile],
    ) -> Result<(), String> {
        let plugin = admit(runtime, plugin)?;
        if let Some(at) = self
            .plugins
            .iter()
            .position(|p| p.origin.path().is_some() && p.origin.path() == plugin.origin.path())
        {
            self.plugins.remove(at);
        }
        if let Some(at) = self.plugins.iter().position(|p| p.name() == plugin.name()) {
            let (taken, new): (&Plugin, &Plugin) = (&self.plugins[at], &plugin);
            let (keeper, refused) = if rank(&new.origin, files) < rank(&taken.origin, files) {
                (new, taken)
            } else {
                (taken, new)
            };
            let message = format!(
                "{}: refused: a plugin named `{}` is already loaded from {} and a {} plugin never takes the name (or the grants) of a more trusted one; rename it",
                refused.origin,
                refused.name(),
                keeper.origin,
                refused.origin.kind(),
            );
            if std::ptr::eq(keeper, new) {
                self.plugins[at] = Arc::new(plugin);
                self.errors.push(message);
                return Ok(());
            }
            return Err(message);
        }
        self.plugins.push(Arc::new(plugin));
        // Most trusted first, whatever order they finished loading in.
        self.plugins.sort_by_key(|p| rank(&p.origin, files));
        Ok(())
    }

    /// Take the plugin loaded from `path` out of service.
    pub fn remove(&mut self, path: &Path) -> Option<Arc<Plugin>> {
        let at = self
            .plugins
            .iter()
            .position(|p| p.origin.path() == Some(path))?;
        Some(self.plugins.remove(at))
    }

    /// The plugin loaded from `path`.
    pub fn from_file(&self, path: &Path) -> Option<&Arc<Plugin>> {
        self.plugins.iter().find(|p| p.origin.path() == Some(path))
    }
}

/// Apply the policy to a loaded plugin: refuse a build that is not pinned,
/// and set the limits the policy gives it.
fn admit(runtime: &Runtime, mut plugin: Plugin) -> Result<Plugin, String> {
    let policy = runtime.services().policy();
    let pinned = policy.digest(plugin.name(), plugin.digest());
    if !pinned.allowed {
        return Err(format!(
            "{}: plugin `{}` (sha256 {}) refused: {}",
            plugin.origin,
            plugin.name(),
            plugin.digest(),
            pinned.reason
        ));
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
    Ok(plugin)
}
