//! The team policy as the gate consults it: the effective policy of the
//! layers (`cordon-policy`), the budgets, and the audit logs.
//!
//! Fail closed: a policy that does not load at start denies everything; a
//! reload that fails keeps the last valid policy. With no policy file that
//! grants anything, Cordon's built-in defaults are a layer of the effective
//! policy (its own plugins get `model`, `workspace.read` and `log`; others
//! `log`), so the gate always asks one policy. A workspace's own policy only
//! narrows until the user trusts the workspace (`crate::trust`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use cordon_policy::{
    AuditLog, AuditRecord, Budgets, Capability, Decision, Effective, Layer, Route, Sources,
};

/// How long the policy files must be quiet before a change is read.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(50);

/// What the policy files said when last loaded.
enum Loaded {
    /// A valid policy (possibly only the built-in defaults).
    Valid(Effective),
    /// The policy did not load at start: everything is denied.
    Broken(String),
}

/// The policy in force, with its budgets and audit logs. The default is no
/// policy file at all: Cordon's built-in defaults.
pub struct Policy {
    root: Option<PathBuf>,
    /// Names of the built-in plugins, whom the built-in defaults serve.
    first_party: Vec<String>,
    /// Bumped at every (re)load, so answers cached under an older policy
    /// are not served under a newer one.
    generation: std::sync::atomic::AtomicU64,
    loaded: RwLock<Arc<Loaded>>,
    budgets: Budgets,
    logs: Mutex<Vec<AuditLog>>,
    /// Whether the workspace's layer counted as trusted at the last load.
    trusted: std::sync::atomic::AtomicBool,
    /// Called after every successful reload.
    reloaded: Mutex<Vec<Box<dyn Fn() + Send + Sync>>>,
    /// The background audit export of the policy's `[audit.export]` and
    /// the `OTEL_EXPORTER_OTLP_*` variables (`crate::export`), if any.
    exporter: Mutex<Option<crate::export::Running>>,
}

impl Default for Policy {
    fn default() -> Self {
        let names: Vec<&str> = crate::builtin::PLUGINS.iter().map(|p| p.name).collect();
        Policy::builtin_defaults(&names)
    }
}

impl Policy {
    /// Only the built-in defaults, serving `first_party` as Cordon's own
    /// plugins (tests and embedders that load their own first-party builds).
    pub fn builtin_defaults(first_party: &[&str]) -> Self {
        let effective = Effective::default().with_builtin_defaults(first_party);
        Policy {
            root: None,
            first_party: first_party.iter().map(|s| (*s).to_owned()).collect(),
            generation: Default::default(),
            loaded: RwLock::new(Arc::new(Loaded::Valid(effective))),
            budgets: Budgets::new(),
            logs: Mutex::new(Vec::new()),
            trusted: Default::default(),
            reloaded: Mutex::new(Vec::new()),
            exporter: Mutex::new(None),
        }
    }
}

impl Policy {
    /// A policy of `effective` alone, read from no file and never reloaded
    /// (`cordon plugins test` runs the plugin under test this way).
    pub fn of(effective: Effective) -> Self {
        Policy {
            loaded: RwLock::new(Arc::new(Loaded::Valid(effective))),
            ..Policy::builtin_defaults(&[])
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

/// Whether the workspace at `root` is trusted and no policy forbids trusting
/// it: what decides whether its `cordon.toml` and plugins apply.
pub fn trusted_workspace(root: &Path) -> bool {
    let names: Vec<String> = crate::builtin::PLUGINS
        .iter()
        .map(|p| p.name.to_owned())
        .collect();
    read(Some(root), &names).is_ok_and(|(_, trusted)| trusted)
}

/// Reads the layers for the workspace at `root`, trusting its layer only if
/// the user trusted the workspace and no policy forbids trusting.
fn read(root: Option<&Path>, first_party: &[String]) -> Result<(Effective, bool), String> {
    let names: Vec<&str> = first_party.iter().map(String::as_str).collect();
    let trusted = root.is_some_and(|r| crate::trust::status(r).trusted);
    let load = |trusted: bool| {
        cordon_policy::load_sources(&Sources::of_process(root, trusted), &names)
            .map_err(|e| e.to_string())
    };
    let effective = load(trusted)?;
    if trusted && !effective.allows_workspace_trust().allowed {
        return Ok((load(false)?, false));
    }
    Ok((effective, trusted))
}

impl Policy {
    /// Load the policy layers for the workspace at `root`. A policy that
    /// does not load is reported by [`Policy::error`] and denies everything.
    pub fn load(root: Option<&Path>) -> Self {
        let policy = Policy {
            root: root.map(Path::to_owned),
            ..Policy::default()
        };
        let loaded = match read(root, &policy.first_party) {
            Ok((effective, trusted)) => {
                policy
                    .trusted
                    .store(trusted, std::sync::atomic::Ordering::SeqCst);
                Loaded::Valid(effective)
            }
            Err(err) => {
                tracing::error!("policy: {err}; denying every capability until it is fixed");
                Loaded::Broken(err)
            }
        };
        policy.install(loaded);
        policy
    }

    fn install(&self, loaded: Loaded) {
        let mut logs = Vec::new();
        if let Loaded::Valid(effective) = &loaded {
            for sink in effective.audit_sinks() {
                if sink.layer == Layer::Workspace
                    && let Err(err) = self.confined(&sink.path)
                {
                    tracing::error!("audit log: {err}");
                    continue;
                }
                match AuditLog::open_sink(&sink) {
                    Ok(log) => logs.push(log),
                    Err(err) => tracing::error!("audit log: {err}"),
                }
            }
        }
        *self.logs.lock().unwrap_or_else(|e| e.into_inner()) = logs;
        if let Loaded::Valid(effective) = &loaded {
            self.follow_exports(effective);
        }
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Ships the audit logs as the policy and the environment say; a reload
    /// that changes the destinations restarts the exporter. It reads the
    /// logs on its own thread, never on a plugin's path.
    fn follow_exports(&self, effective: &Effective) {
        let (jobs, problems) = crate::export::jobs(effective, |name| std::env::var(name).ok());
        for problem in problems {
            tracing::error!("audit export: {problem}");
        }
        let mut exporter = self.exporter.lock().unwrap_or_else(|e| e.into_inner());
        if exporter.as_ref().map(|r| r.jobs()) != Some(&jobs[..])
            && !(exporter.is_none() && jobs.is_empty())
        {
            *exporter = crate::export::spawn(jobs);
        }
    }

    /// A workspace's audit log must stay in `<root>/.cordon/state/`, also
    /// once symbolic links in the repository are resolved.
    fn confined(&self, path: &Path) -> Result<(), String> {
        let Some(root) = &self.root else {
            return Err(format!("{}: no workspace to keep it in", path.display()));
        };
        let state = root.join(".cordon").join("state");
        let parent = path.parent().unwrap_or(&state);
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        let (Ok(state), Ok(parent)) = (state.canonicalize(), parent.canonicalize()) else {
            return Err(format!("{}: cannot resolve its folder", path.display()));
        };
        let root = root.canonicalize().unwrap_or_else(|_| root.clone());
        if parent.starts_with(&state) && state.starts_with(&root) {
            Ok(())
        } else {
            Err(format!(
                "{}: a workspace's audit log must stay in its .cordon/state/ folder; a link there points elsewhere, so it is not written",
                path.display()
            ))
        }
    }

    /// Whether the workspace's own layer was trusted at the last load.
    pub fn workspace_trusted(&self) -> bool {
        self.trusted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Changes at every reload of the policy.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Read the layers again. A valid change applies to the next call; an
    /// invalid one is returned and the last valid policy stays.
    pub fn reload(&self) -> Result<(), String> {
        let (effective, trusted) = read(self.root.as_deref(), &self.first_party)?;
        self.trusted
            .store(trusted, std::sync::atomic::Ordering::SeqCst);
        self.install(Loaded::Valid(effective));
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
        let mut files: Vec<PathBuf> = Sources::of_process(self.root.as_deref(), false)
            .files
            .into_iter()
            .map(|f| f.path)
            .collect();
        // What the workspace ships decides its trust: a change there (a new
        // plugin build) revokes it at once.
        if let Some(root) = &self.root {
            files.push(root.join(".cordon").join("cordon.toml"));
        }
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

    /// The effective policy, unless it failed to load.
    pub fn effective(&self) -> Option<Effective> {
        match &*self.current() {
            Loaded::Valid(e) => Some(e.clone()),
            Loaded::Broken(_) => None,
        }
    }

    fn current(&self) -> Arc<Loaded> {
        Arc::clone(&self.loaded.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Asks the effective policy, or denies with the reason it did not load.
    fn ask(&self, f: impl FnOnce(&Effective) -> Decision) -> Decision {
        match &*self.current() {
            Loaded::Valid(e) => f(e),
            Loaded::Broken(err) => decision(
                false,
                format!("the policy does not load ({err}); fix it to grant anything"),
            ),
        }
    }

    /// May `plugin` use `capability`?
    pub fn capability(&self, plugin: &str, capability: Capability) -> Decision {
        self.ask(|e| e.allows_capability(plugin, capability))
    }

    /// May `plugin` send a request along `route`? Decided before any byte
    /// leaves.
    pub fn route(&self, plugin: &str, route: &Route<'_>) -> Decision {
        self.ask(|e| e.allows_route(plugin, route))
    }

    /// May `plugin` read the workspace file at `rel` (resolved, inside the
    /// workspace)?
    pub fn read(&self, plugin: &str, rel: &str) -> Decision {
        self.ask(|e| e.allows_read(plugin, rel))
    }

    /// Is the document at `rel` excluded from every plugin? A broken policy
    /// excludes everything.
    pub fn excluded(&self, rel: &str) -> Option<Decision> {
        match &*self.current() {
            Loaded::Valid(e) => e.is_excluded(rel),
            Loaded::Broken(err) => {
                Some(decision(false, format!("the policy does not load ({err})")))
            }
        }
    }

    /// May this build of `plugin` run?
    pub fn digest(&self, plugin: &str, digest: &str) -> Decision {
        self.ask(|e| e.allows_digest(plugin, digest))
    }

    /// May plugins shipped in the workspace load (once it is trusted)?
    pub fn workspace_plugins(&self) -> Decision {
        self.ask(Effective::allows_workspace_plugins)
    }

    /// The policy's limits for `plugin` (none when it did not load: every
    /// capability is denied then anyway).
    pub fn limits(&self, plugin: &str) -> cordon_policy::Limits {
        match &*self.current() {
            Loaded::Valid(e) => e.limits(plugin),
            Loaded::Broken(_) => cordon_policy::Limits::default(),
        }
    }

    /// Whether secrets are redacted from what leaves for a remote backend
    /// (on unless a policy turns it off).
    pub fn redacts(&self) -> bool {
        match &*self.current() {
            Loaded::Valid(e) => e.redact_secrets(),
            Loaded::Broken(_) => true,
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
    layer.as_str()
}
