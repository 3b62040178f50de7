//! The set of plugins a Cordon process runs: the built-in ones plus every
//! `.wasm` component found in the plugin folders.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::builtin;
use crate::gate::Grants;
use crate::runtime::{Limits, Origin, Plugin, Runtime};

/// Loaded plugins and the ones that failed to load.
#[derive(Default)]
pub struct Catalog {
    /// Plugins ready to be called, built-in ones first.
    pub plugins: Vec<Arc<Plugin>>,
    /// One line per plugin that could not be loaded.
    pub errors: Vec<String>,
}

impl Catalog {
    /// The plugin called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Plugin>> {
        self.plugins.iter().find(|p| p.name() == name)
    }
}

/// Plugin folders, in order: `extra` (from the command line), the
/// workspace's `.cordon/plugins`, then `$XDG_DATA_HOME/cordon/plugins`.
pub fn plugin_dirs(workspace_root: Option<&Path>, extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = extra.to_vec();
    if let Some(root) = workspace_root {
        dirs.push(root.join(".cordon").join("plugins"));
    }
    if let Some(data) = dirs::data_dir() {
        dirs.push(data.join("cordon").join("plugins"));
    }
    dirs
}

/// Load the built-in plugins and the `.wasm` files of `dirs` (missing
/// folders are skipped). A plugin that fails is reported in
/// [`Catalog::errors`] and the others still load.
pub async fn load(runtime: &Runtime, dirs: &[PathBuf]) -> Catalog {
    let mut catalog = Catalog::default();
    for builtin in builtin::PLUGINS {
        match runtime
            .load(
                Origin::Builtin,
                builtin.wasm.to_vec(),
                Grants::first_party(),
                Limits::default(),
            )
            .await
        {
            Ok(plugin) => admit(runtime, &mut catalog, plugin),
            Err(err) => catalog
                .errors
                .push(format!("built-in plugin `{}`: {err}", builtin.name)),
        }
    }
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wasm") && p.is_file())
            .collect();
        files.sort();
        for path in files {
            let loaded = match std::fs::read(&path) {
                Ok(bytes) => {
                    runtime
                        .load(
                            Origin::File(path.clone()),
                            bytes,
                            Grants::third_party(),
                            Limits::default(),
                        )
                        .await
                }
                Err(err) => {
                    catalog.errors.push(format!("{}: {err}", path.display()));
                    continue;
                }
            };
            match loaded {
                Ok(plugin) if catalog.get(plugin.name()).is_some() => catalog.errors.push(format!(
                    "{}: a plugin named `{}` is already loaded; rename one of them",
                    path.display(),
                    plugin.name()
                )),
                Ok(plugin) => admit(runtime, &mut catalog, plugin),
                Err(err) => catalog.errors.push(err.to_string()),
            }
        }
    }
    catalog
}

/// Apply the policy to a loaded plugin: refuse a build that is not pinned,
/// and set the limits the policy gives it.
fn admit(runtime: &Runtime, catalog: &mut Catalog, mut plugin: Plugin) {
    let policy = &runtime.services().policy;
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
