//! The team policy as the gate consults it: the effective policy of the
//! three layers (`cordon-policy`), the budgets, and the audit logs.
//!
//! Fail closed: a policy that does not load at start denies everything a
//! built-in default would have granted; a reload that fails keeps the last
//! valid policy. With no policy file at all, Cordon's defaults apply (its own
//! plugins get `model`, `workspace.read` and `log`; others `log`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use cordon_policy::{AuditLog, AuditRecord, Budgets, Capability, Decision, Effective, Layer};

/// How long the policy files must be quiet before a change is read.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(50);

/// What the policy files said when last loaded.
enum Loaded {
    /// No policy file exists: Cordon's defaults apply.
    Unconfigured,
    /// A valid policy.
    Valid(Effective),
    /// The policy did not load at start: everything is denied.
    Broken(String),
}

/// The policy in force, with its budgets and audit logs. The default is no
/// policy at all: Cordon's built-in defaults.
pub struct Policy {
    root: Option<PathBuf>,
    /// Bumped at every (re)load, so answers cached under an older policy
    /// are not served under a newer one.
    generation: std::sync::atomic::AtomicU64,
    loaded: RwLock<Arc<Loaded>>,
    budgets: Budgets,
    logs: Mutex<Vec<AuditLog>>,
    /// Called after every successful reload.
    reloaded: Mutex<Vec<Box<dyn Fn() + Send + Sync>>>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            root: None,
            generation: Default::default(),
            loaded: RwLock::new(Arc::new(Loaded::Unconfigured)),
            budgets: Budgets::new(),
            logs: Mutex::new(Vec::new()),
            reloaded: Mutex::new(Vec::new()),
        }
    }
}

fn decision(allowed: bool, reason: String) -> Decision {
    Decision {
        allowed,
        reason,
        layer: None,
    }
}

fn read(root: Option<&Path>) -> Result<Loaded, String> {
    let paths = cordon_policy::layer_paths(root);
    let effective = cordon_policy::load(&paths).map_err(|e| e.to_string())?;
    Ok(if effective.is_configured() {
        Loaded::Valid(effective)
    } else {
        Loaded::Unconfigured
    })
}

impl Policy {
    /// Load the policy layers for the workspace at `root`. A policy that
    /// does not load is reported by [`Policy::error`] and denies everything.
    pub fn load(root: Option<&Path>) -> Self {
        let loaded = match read(root) {
            Ok(loaded) => loaded,
            Err(err) => {
                tracing::error!("policy: {err}; denying every capability until it is fixed");
                Loaded::Broken(err)
            }
        };
        let policy = Policy {
            root: root.map(Path::to_owned),
            ..Policy::default()
        };
        policy.install(loaded);
        policy
    }

    fn install(&self, loaded: Loaded) {
        let mut logs = Vec::new();
        if let Loaded::Valid(effective) = &loaded {
            for sink in effective.audit_sinks() {
                match AuditLog::open_sink(&sink) {
                    Ok(log) => logs.push(log),
                    Err(err) => tracing::error!("audit log: {err}"),
                }
            }
        }
        *self.logs.lock().unwrap_or_else(|e| e.into_inner()) = logs;
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Changes at every reload of the policy.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Read the layers again. A valid change applies to the next call; an
    /// invalid one is returned and the last valid policy stays.
    pub fn reload(&self) -> Result<(), String> {
        let loaded = read(self.root.as_deref())?;
        self.install(loaded);
        for reloaded in self
            .reloaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            reloaded();
        }
        Ok(())
    }

    /// Call `f` after every successful reload.
    pub fn on_reload(&self, f: impl Fn() + Send + Sync + 'static) {
        self.reloaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(f));
    }

    /// Follow changes of the policy files: a valid change applies to the
    /// next call; an invalid one is passed to `on_error` and the last valid
    /// policy stays. Watching stops when the returned watcher is dropped.
    pub fn watch(
        self: &Arc<Self>,
        on_error: impl Fn(String) + Send + 'static,
    ) -> notify::Result<notify::RecommendedWatcher> {
        use notify::Watcher;
        let files: Vec<PathBuf> = cordon_policy::layer_paths(self.root.as_deref())
            .into_iter()
            .map(|(_, path)| path)
            .collect();
        let policy = Arc::downgrade(self);
        let watched = files.clone();
        let (changed, changes) = std::sync::mpsc::channel();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if event.paths.iter().any(|p| watched.iter().any(|w| p == w)) {
                    let _ = changed.send(());
                }
            })?;
        // Reload off the watcher's thread, once the writes have settled: an
        // editor saving in place truncates, then writes, and the file read
        // in between would be an empty layer — briefly no restriction at all.
        let reloader = move || {
            while changes.recv().is_ok() {
                while changes.recv_timeout(SETTLE).is_ok() {}
                let Some(policy) = policy.upgrade() else {
                    return;
                };
                match policy.reload() {
                    Ok(()) => tracing::info!("policy reloaded"),
                    Err(err) => {
                        tracing::error!("policy: {err}; the previous policy stays in force");
                        on_error(format!(
                            "Cordon: policy: {err}; the previous policy stays in force"
                        ));
                    }
                }
            }
        };
        std::thread::Builder::new()
            .name("cordon-policy-watch".into())
            .spawn(reloader)
            .map_err(|e| notify::Error::generic(&format!("starting the policy watcher: {e}")))?;
        // Watch the folders, not the files: editors replace files on save,
        // and a layer that does not exist yet may be created.
        let mut dirs: Vec<&Path> = files
            .iter()
            .filter_map(|f| f.parent())
            .filter(|d| d.is_dir())
            .collect();
        dirs.sort();
        dirs.dedup();
        for dir in dirs {
            watcher.watch(dir, notify::RecursiveMode::NonRecursive)?;
        }
        Ok(watcher)
    }

    /// Why the policy is not in force, if it failed to load at start.
    pub fn error(&self) -> Option<String> {
        match &*self.current() {
            Loaded::Broken(err) => Some(err.clone()),
            _ => None,
        }
    }

    /// The effective policy, when one is configured.
    pub fn effective(&self) -> Option<Effective> {
        match &*self.current() {
            Loaded::Valid(e) => Some(e.clone()),
            _ => None,
        }
    }

    fn current(&self) -> Arc<Loaded> {
        Arc::clone(&self.loaded.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// May `plugin` use `capability`? `by_default` is Cordon's own default
    /// for this plugin, used when no policy is configured.
    pub fn capability(&self, plugin: &str, by_default: bool, capability: Capability) -> Decision {
        match &*self.current() {
            Loaded::Valid(e) => e.allows_capability(plugin, capability),
            Loaded::Broken(err) => decision(
                false,
                format!("the policy does not load ({err}); fix it to grant anything"),
            ),
            Loaded::Unconfigured => decision(
                by_default,
                format!(
                    "no policy file: plugin `{plugin}` {} `{}` by default",
                    if by_default { "gets" } else { "does not get" },
                    capability.as_str()
                ),
            ),
        }
    }

    /// May `plugin` send a request to this backend, provider, model and
    /// region? Decided before any byte leaves.
    pub fn model(
        &self,
        plugin: &str,
        provider: &str,
        backend: &str,
        model: &str,
        region: Option<&str>,
    ) -> Decision {
        match &*self.current() {
            Loaded::Valid(e) => e.allows_model(plugin, provider, backend, model, region),
            Loaded::Broken(err) => decision(false, format!("the policy does not load ({err})")),
            Loaded::Unconfigured => decision(true, "no policy file: any configured backend".into()),
        }
    }

    /// May `plugin` read the workspace file at `rel` (resolved, inside the
    /// workspace)?
    pub fn read(&self, plugin: &str, rel: &str) -> Decision {
        match &*self.current() {
            Loaded::Valid(e) => e.allows_read(plugin, rel),
            Loaded::Broken(err) => decision(false, format!("the policy does not load ({err})")),
            Loaded::Unconfigured => decision(true, "no policy file".into()),
        }
    }

    /// Is the document at `rel` excluded from every plugin?
    pub fn excluded(&self, rel: &str) -> Option<Decision> {
        match &*self.current() {
            Loaded::Valid(e) => e.is_excluded(rel),
            _ => None,
        }
    }

    /// May this build of `plugin` run?
    pub fn digest(&self, plugin: &str, digest: &str) -> Decision {
        match &*self.current() {
            Loaded::Valid(e) => e.allows_digest(plugin, digest),
            _ => decision(true, "no digest pins".into()),
        }
    }

    /// The policy's limits for `plugin` (none when unconfigured).
    pub fn limits(&self, plugin: &str) -> cordon_policy::Limits {
        match &*self.current() {
            Loaded::Valid(e) => e.limits(plugin),
            _ => cordon_policy::Limits::default(),
        }
    }

    /// Whether secrets are redacted from what leaves for a remote backend
    /// (on unless a policy turns it off).
    pub fn redacts(&self) -> bool {
        match &*self.current() {
            Loaded::Valid(e) => e.redact_secrets(),
            _ => true,
        }
    }

    /// Take a model request from `plugin`'s budget.
    pub fn acquire(&self, plugin: &str) -> Result<(), cordon_policy::BudgetError> {
        let limits = self.limits(plugin);
        self.budgets.try_acquire(plugin, &limits, SystemTime::now())
    }

    /// Count tokens against `plugin`'s daily budget.
    pub fn spend(&self, plugin: &str, tokens: u64) {
        self.budgets
            .record_tokens(plugin, tokens, SystemTime::now());
    }

    /// Whether any audit log is configured.
    pub fn audited(&self) -> bool {
        !self
            .logs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Append `record` to every audit log. Fails if one cannot be written
    /// (the caller then refuses the call it was about to make).
    pub fn audit(&self, record: &AuditRecord) -> Result<(), String> {
        let mut logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        for log in logs.iter_mut() {
            log.append(record)
                .map_err(|e| format!("audit log {}: {e}", log.path().display()))?;
        }
        Ok(())
    }
}

/// The name of a layer, for messages.
pub fn layer_name(layer: Layer) -> &'static str {
    match layer {
        Layer::Organisation => "organisation",
        Layer::Workspace => "workspace",
        Layer::User => "user",
    }
}
