//! Starting Cordon for one workspace: the model backends of the
//! configuration (plus the built-in `local` model over the workspace), read
//! access to the workspace, the runtime and the plugin catalog. Shared by
//! every front end.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::backends::Backend;
use crate::backends::local::LocalBackend;
use crate::backends::remote::{BrokenBackend, RemoteBackend};
use crate::catalog::{self, Catalog};
use crate::config::Config;
use crate::gate::Services;
use crate::runtime::{Runtime, cache};
use crate::workspace::Workspace;
use cordon_providers::ProviderKind;

/// What was started, and what could not be.
pub struct Session {
    pub runtime: Runtime,
    pub catalog: Catalog,
    /// One line per configured backend that cannot serve (its requests get
    /// the same reason).
    pub backend_errors: Vec<String>,
}

/// The backends of `config` and the built-in `local` one, routed as
/// configured (default: everything to `local`).
pub async fn services(
    root: &Path,
    config: &Config,
    watch: bool,
) -> Result<(Services, Vec<String>), String> {
    let mut services = Services::default();
    let mut errors = Vec::new();
    let index_root = root.to_owned();
    // Indexing reads the workspace: keep it off the async workers.
    let local = tokio::task::spawn_blocking(move || LocalBackend::index(&index_root, watch))
        .await
        .map_err(|e| format!("indexing the workspace: {e}"))?;
    let policy = Arc::new(crate::policy::Policy::load(Some(root)));
    let local: Arc<dyn Backend> = match local {
        Ok(local) => {
            // Excluded content never shapes a completion, including files
            // the watcher sees later, under the policy in force then.
            let live = Arc::clone(&policy);
            let forgotten = local.exclude(Arc::new(move |rel| live.excluded(rel).is_some()));
            // A reload may exclude files already indexed.
            let local = Arc::new(local);
            let weak = Arc::downgrade(&local);
            policy.on_reload(move || {
                if let Some(local) = weak.upgrade() {
                    local.apply_exclusion();
                }
            });
            if forgotten > 0 {
                tracing::info!(
                    files = forgotten,
                    "excluded files left out of the local model"
                );
            }
            local
        }
        Err(err) => {
            let reason = format!("backend `local`: cannot index the workspace: {err}");
            errors.push(reason.clone());
            Arc::new(BrokenBackend {
                name: "local".into(),
                reason,
            })
        }
    };
    services.router.add(Arc::clone(&local));
    for (name, backend_config) in &config.backends {
        if backend_config.provider == ProviderKind::Local {
            services.router.add_as(name, Arc::clone(&local));
            continue;
        }
        match cordon_providers::Provider::new(name, backend_config).await {
            Ok(provider) => services.router.add(Arc::new(RemoteBackend::new(provider))),
            Err(err) => {
                let reason = err.to_string();
                errors.push(reason.clone());
                services.router.add(Arc::new(BrokenBackend {
                    name: name.clone(),
                    reason,
                }));
            }
        }
    }
    services.router.route("default", "local");
    for (plugin, backend) in &config.routes {
        services.router.route(plugin, backend);
    }
    services.workspace = Workspace::new(root).ok();
    if let Some(err) = policy.error() {
        errors.push(format!(
            "policy: {err} — every capability is denied until it is fixed"
        ));
    }
    services.policy = policy;
    Ok((services, errors))
}

/// Start the runtime for the workspace at `root` and load every plugin.
/// With `watch`, the local model follows file changes (long-running
/// servers). Plugins that fail to load are listed in [`Catalog::errors`].
pub async fn start(
    root: &Path,
    config: &Config,
    plugin_dirs: &[PathBuf],
    watch: bool,
) -> Result<Session, String> {
    let (services, backend_errors) = services(root, config, watch).await?;
    let runtime = Runtime::new(services, cache::default_dir())
        .map_err(|e| format!("cannot start the WebAssembly runtime: {e:#}"))?;
    let dirs = catalog::plugin_dirs(Some(root), plugin_dirs);
    let catalog = catalog::load(&runtime, &dirs).await;
    Ok(Session {
        runtime,
        catalog,
        backend_errors,
    })
}
