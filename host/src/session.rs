//! Starting Cordon for one workspace: the default services (the `local`
//! backend over the workspace, read access to it), the runtime and the
//! plugin catalog. Shared by every front end.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::backends::local::LocalBackend;
use crate::catalog::{self, Catalog};
use crate::gate::Services;
use crate::runtime::{Runtime, cache};
use crate::workspace::Workspace;

/// Start the runtime for the workspace at `root` and load every plugin.
/// With `watch`, the local model follows file changes (long-running
/// servers). Plugins that fail to load are listed in [`Catalog::errors`].
pub async fn start(
    root: &Path,
    plugin_dirs: &[PathBuf],
    watch: bool,
) -> Result<(Runtime, Catalog), String> {
    let mut services = Services::default();
    let index_root = root.to_owned();
    // Indexing reads the workspace: keep it off the async workers.
    let local = tokio::task::spawn_blocking(move || LocalBackend::index(&index_root, watch))
        .await
        .map_err(|e| format!("indexing the workspace: {e}"))?;
    match local {
        Ok(local) => {
            services.router.add(Arc::new(local));
            services.router.route("default", "local");
        }
        Err(err) => tracing::warn!("the local model is unavailable: {err}"),
    }
    services.workspace = Workspace::new(root).ok();
    let runtime = Runtime::new(services, cache::default_dir())
        .map_err(|e| format!("cannot start the WebAssembly runtime: {e:#}"))?;
    let dirs = catalog::plugin_dirs(Some(root), plugin_dirs);
    let catalog = catalog::load(&runtime, &dirs).await;
    Ok((runtime, catalog))
}
