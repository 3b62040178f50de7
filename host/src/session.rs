//! Starting Cordon for one workspace: the model backends of the
//! configuration (plus the built-in `local` model over the workspace), read
//! access to the workspace, the runtime and the plugin catalog. Shared by
//! every front end.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::backends::local::LocalBackend;
use crate::backends::remote::{BrokenBackend, RemoteBackend};
use crate::backends::{Backend, Router};
use crate::catalog::{self, Catalog};
use crate::config::Config;
use crate::gate::Services;
use crate::runtime::{Runtime, cache};
use crate::workspace::Workspace;
use cordon_providers::ProviderKind;

pub use crate::backends::canned::{Asked, CannedBackend};

/// Services with no model and no workspace, under `policy`: what
/// `cordon plugins check` loads a build with.
pub fn bare_services(policy: Arc<crate::policy::Policy>) -> Services {
    Services::new(Router::default(), None, policy)
}

/// Services whose only model answers `reply` to everything, over the
/// workspace at `root`, under `policy` (`cordon plugins test --reply`);
/// the model, to read what it was asked.
pub fn canned_services(
    root: &Path,
    reply: &str,
    policy: Arc<crate::policy::Policy>,
) -> (Services, Arc<CannedBackend>) {
    let canned = Arc::new(CannedBackend::new(reply));
    let mut router = Router::default();
    router.add(Arc::clone(&canned) as Arc<dyn Backend>);
    router.route("default", "canned");
    (
        Services::new(router, Workspace::new(root).ok(), policy),
        canned,
    )
}

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
    let policy = Arc::new(crate::policy::Policy::load(Some(root)));
    services_under(root, config, watch, policy).await
}

/// Like [`services`], under `policy` instead of the policy files of `root`.
pub async fn services_under(
    root: &Path,
    config: &Config,
    watch: bool,
    policy: Arc<crate::policy::Policy>,
) -> Result<(Services, Vec<String>), String> {
    let mut router = Router::default();
    let mut errors = Vec::new();
    let index_root = root.to_owned();
    // Indexing reads the workspace: keep it off the async workers.
    let local = tokio::task::spawn_blocking(move || LocalBackend::index(&index_root, watch))
        .await
        .map_err(|e| format!("indexing the workspace: {e}"))?;
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
    router.add(Arc::clone(&local));
    for (name, backend_config) in &config.backends {
        if backend_config.provider == ProviderKind::Local {
            router.add_as(name, Arc::clone(&local));
            continue;
        }
        match cordon_providers::Provider::new(name, backend_config).await {
            Ok(provider) => router.add(Arc::new(RemoteBackend::new(provider))),
            Err(err) => {
                let reason = err.to_string();
                errors.push(reason.clone());
                router.add(Arc::new(BrokenBackend {
                    name: name.clone(),
                    reason,
                }));
            }
        }
    }
    router.route("default", "local");
    for (plugin, backend) in &config.routes {
        router.route(plugin, backend);
    }
    if let Some(err) = policy.error() {
        errors.push(format!(
            "policy: {err} — every capability is denied until it is fixed"
        ));
    }
    let services = Services::new(router, Workspace::new(root).ok(), policy);
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
    let (mut session, dirs) = start_builtin(root, config, plugin_dirs, watch).await?;
    catalog::load_dirs(&session.runtime, &dirs, &mut session.catalog).await;
    Ok(session)
}

/// Like [`start`], with only the built-in plugins loaded; also returns the
/// plugin folders, for [`catalog::load_dirs`] to load later (the LSP server
/// does it after answering `initialize`, so that no third-party plugin
/// delays it).
pub async fn start_builtin(
    root: &Path,
    config: &Config,
    plugin_dirs: &[PathBuf],
    watch: bool,
) -> Result<(Session, Vec<catalog::PluginDir>), String> {
    let (services, backend_errors) = services(root, config, watch).await?;
    let runtime = Runtime::new(services, cache::default_dir())
        .map_err(|e| format!("cannot start the WebAssembly runtime: {e:#}"))?;
    let dirs = catalog::plugin_dirs(Some(root), plugin_dirs);
    let catalog = catalog::load_builtin(&runtime).await;
    Ok((
        Session {
            runtime,
            catalog,
            backend_errors,
        },
        dirs,
    ))
}

/// One finding of [`probe_backend`], for `cordon doctor`.
pub struct Finding {
    /// `backend`, `endpoint` or `policy`.
    pub area: &'static str,
    /// What it is about.
    pub name: String,
    /// Whether it is fine.
    pub ok: bool,
    /// One line for the user.
    pub message: String,
}

/// Checks the configured backend `name` as the gate would use it: its
/// client can be built (keys present), the endpoint it really resolved
/// (FIPS, `AWS_ENDPOINT_URL_*`, a profile's `endpoint_url`), where requests
/// may be processed, whether the policy lets the built-in plugins use it,
/// and whether it answers within `timeout` (the provider's cheapest real
/// call). The front ends never build a backend themselves.
pub async fn probe_backend(
    root: &Path,
    name: &str,
    config: &cordon_providers::BackendConfig,
    timeout: std::time::Duration,
) -> Vec<Finding> {
    let finding = |area, ok, message: String| Finding {
        area,
        name: name.to_owned(),
        ok,
        message,
    };
    if config.provider == ProviderKind::Local {
        return vec![finding(
            "backend",
            true,
            "the built-in offline model".into(),
        )];
    }
    let provider = match cordon_providers::Provider::new(name, config).await {
        Ok(provider) => provider,
        Err(err) => return vec![finding("backend", false, err.to_string())],
    };
    let mut findings = Vec::new();
    let facts = crate::backends::remote::route_facts(&provider);
    let route = facts.route(
        provider.kind().as_str(),
        name,
        provider.model(),
        provider.region(),
    );
    findings.push(finding(
        "endpoint",
        true,
        format!(
            "{} (auth {}{}{}); `{}` {}",
            provider.endpoint(),
            facts.auth.unwrap_or("unknown"),
            if facts.fips { ", FIPS" } else { "" },
            facts
                .guardrail
                .as_ref()
                .map(|(_, g)| format!(", guardrail {g}"))
                .unwrap_or_default(),
            provider.model(),
            route.processing()
        ),
    ));
    let policy = crate::policy::Policy::load(Some(root));
    for builtin in crate::builtin::PLUGINS {
        let decision = policy.route(builtin.name, &route);
        if !decision.allowed {
            findings.push(Finding {
                area: "policy",
                name: format!("{} → {name}", builtin.name),
                ok: false,
                message: decision.reason,
            });
        }
    }
    let (ok, message) = match tokio::time::timeout(timeout, provider.check()).await {
        Ok(Ok(summary)) => (true, summary),
        Ok(Err(err)) => (false, err.to_string()),
        Err(_) => (
            false,
            format!(
                "backend `{name}`: no answer from {} within {timeout:?} — is it reachable?",
                provider.endpoint()
            ),
        ),
    };
    findings.push(finding("backend", ok, message));
    findings
}
