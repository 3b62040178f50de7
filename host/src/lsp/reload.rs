//! The plugin folders while `cordon lsp` runs: loaded after `initialize`
//! has answered, each plugin put in service as soon as it is ready, then
//! followed. A new, changed or removed `.wasm` takes effect once the folder
//! has been quiet for [`SETTLE`]; a build that takes long to compile
//! (Python, JavaScript) shows work-done progress and delays no other.
//!
//! Every request takes the catalog once ([`Session::catalog`]), so a call in
//! flight finishes on the build it started on and no answer mixes builds; a
//! broken new build leaves the old one in service and the editor is told
//! why. A less trusted plugin waits for the more trusted folders to finish
//! loading, so that it never holds a name (and its grants) that a more
//! trusted plugin takes a moment later.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::MessageType;

use super::init::Session;
use super::progress;
use super::status::{State, Status};
use crate::catalog::{self, Catalog, DirKind, PluginDir, PluginFile};
use crate::runtime::{Limits, Plugin, plugin::digest};

/// How long a plugin folder must be quiet before a change is loaded: a
/// build writes its output in several steps.
pub const SETTLE: Duration = Duration::from_millis(300);

/// How often a plugin folder that does not exist yet is looked for.
const APPEAR: Duration = Duration::from_secs(1);

/// A load slower than this is shown as work-done progress (a compile; a
/// build from the cache takes milliseconds).
const SLOW_LOAD: Duration = Duration::from_millis(500);

/// Everything that reports to the editor.
#[derive(Clone)]
pub(crate) struct Editor {
    pub client: Client,
    pub status: Status,
}

impl Editor {
    async fn warn(&self, message: String) {
        tracing::warn!("{message}");
        self.client
            .show_message(MessageType::WARNING, &message)
            .await;
        self.status
            .show(&self.client, State::Failed, &message, None)
            .await;
    }
}

/// Read and load `file`, showing progress when it takes long. `Ok(None)`:
/// the build in service is this very one.
async fn load(
    session: &Session,
    editor: &Editor,
    file: &PluginFile,
    loaded: Option<&str>,
) -> Result<Option<Plugin>, String> {
    let bytes = std::fs::read(&file.path).map_err(|e| format!("{}: {e}", file.path.display()))?;
    if loaded == Some(digest(&bytes).as_str()) {
        return Ok(None);
    }
    let origin = match file.kind {
        DirKind::CommandLine => crate::runtime::Origin::CommandLine(file.path.clone()),
        DirKind::User => crate::runtime::Origin::User(file.path.clone()),
        DirKind::Workspace => crate::runtime::Origin::Workspace(file.path.clone()),
    };
    let work = session.runtime.load(origin, bytes, Limits::default());
    let mut work = std::pin::pin!(work);
    let done = tokio::select! {
        done = &mut work => Some(done),
        () = tokio::time::sleep(SLOW_LOAD) => None,
    };
    let done = match done {
        Some(done) => done,
        None if session.client.server_progress => {
            let name = file.path.file_name().unwrap_or_default().to_string_lossy();
            let title = format!("Loading plugin `{name}`…");
            progress::run(&editor.client, progress::Token::Server, &title, |_| work).await
        }
        None => work.await,
    };
    done.map(Some).map_err(|e| e.to_string())
}

/// Put `plugin` in service (the catalog is replaced, never changed in
/// place); the error says why it was refused.
fn install(session: &Session, plugin: Plugin, files: &[PluginFile]) -> Result<(), String> {
    let mut catalog = session.catalog_write();
    let mut next: Catalog = (**catalog).clone();
    let result = next.insert(&session.runtime, plugin, files);
    *catalog = Arc::new(next);
    result
}

/// Load the plugins of `dirs` next to the built-in ones, each put in service
/// when it is ready, and tell the editor which could not be loaded.
pub(crate) async fn load_all(session: &Arc<Session>, dirs: &[PluginDir], editor: &Editor) {
    let mut plan = Catalog::default();
    let files = catalog::plugin_files(&session.runtime, dirs, &mut plan);
    for error in plan.errors {
        editor
            .warn(format!("Cordon: plugin not loaded: {error}"))
            .await;
    }
    // One task per folder kind, in order of trust: a kind's plugins are put
    // in service once every more trusted kind is done.
    let kinds = [DirKind::CommandLine, DirKind::User, DirKind::Workspace];
    let mut before: Option<tokio::sync::watch::Receiver<bool>> = None;
    let mut tasks = Vec::new();
    for kind in kinds {
        let (done, done_rx) = tokio::sync::watch::channel(false);
        let mut waits_for = before.replace(done_rx);
        let session = Arc::clone(session);
        let editor = editor.clone();
        let files = files.clone();
        tasks.push(tokio::spawn(async move {
            // Each file loads on its own, and is put in service as soon as
            // it is ready (once the more trusted kinds are done).
            let mut pending: futures::stream::FuturesUnordered<_> = files
                .iter()
                .filter(|f| f.kind == kind)
                .cloned()
                .map(|file| {
                    let session = Arc::clone(&session);
                    let editor = editor.clone();
                    tokio::spawn(async move { load(&session, &editor, &file, None).await })
                })
                .collect();
            while let Some(loaded) = futures::StreamExt::next(&mut pending).await {
                let loaded =
                    loaded.unwrap_or_else(|e| Err(format!("loading a plugin failed: {e}")));
                if let Some(waits_for) = &mut waits_for {
                    let _ = waits_for.wait_for(|done| *done).await;
                }
                let result = loaded.and_then(|plugin| match plugin {
                    Some(plugin) => install(&session, plugin, &files),
                    None => Ok(()),
                });
                if let Err(error) = result {
                    editor
                        .warn(format!("Cordon: plugin not loaded: {error}"))
                        .await;
                }
            }
            let _ = done.send(true);
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    tracing::info!(plugins = session.catalog().plugins.len(), "plugins loaded");
}

/// Apply what changed in the plugin folders: `changed` files are loaded
/// again (if their content changed) or taken out of service (if gone, or no
/// longer allowed to load).
async fn apply(
    session: &Arc<Session>,
    dirs: &[PluginDir],
    editor: &Editor,
    changed: &BTreeSet<PathBuf>,
) {
    let mut plan = Catalog::default();
    let files = catalog::plugin_files(&session.runtime, dirs, &mut plan);
    let current = session.catalog();
    for plugin in &current.plugins {
        let Some(path) = plugin.origin.path() else {
            continue;
        };
        if !files.iter().any(|f| f.path == path) {
            session.catalog_remove(path);
            let message = format!(
                "Cordon: plugin `{}` is no longer loaded: {} is gone or may no longer load",
                plugin.name(),
                path.display()
            );
            tracing::info!("{message}");
            editor.client.log_message(MessageType::INFO, message).await;
        }
    }
    for file in files.iter().filter(|f| changed.contains(&f.path)) {
        let before = current.from_file(&file.path);
        match load(session, editor, file, before.map(|p| p.digest())).await {
            Ok(None) => {}
            Ok(Some(plugin)) => {
                let said = format!(
                    "Cordon: plugin `{}` {} loaded from {} (sha256 {})",
                    plugin.name(),
                    plugin.info.version,
                    file.path.display(),
                    &plugin.digest()[..12]
                );
                match install(session, plugin, &files) {
                    Ok(()) => {
                        tracing::info!("{said}");
                        editor.client.log_message(MessageType::INFO, said).await;
                    }
                    Err(error) => {
                        editor
                            .warn(format!("Cordon: plugin not loaded: {error}"))
                            .await
                    }
                }
            }
            Err(error) => {
                let message = match before {
                    Some(old) => format!(
                        "Cordon: {} was not reloaded: {error}; the build loaded before (`{}` {}) keeps running",
                        file.path.display(),
                        old.name(),
                        old.info.version
                    ),
                    None => format!("Cordon: plugin not loaded: {error}"),
                };
                editor.warn(message).await;
            }
        }
    }
}

/// Follow `dirs` (those that exist) for the rest of the session. The
/// watcher stops when the returned value is dropped.
pub(crate) fn follow(
    session: Arc<Session>,
    dirs: Vec<PluginDir>,
    editor: Editor,
) -> notify::Result<notify::RecommendedWatcher> {
    use notify::Watcher;
    let (changed, mut changes) = mpsc::unbounded_channel::<PathBuf>();
    let appeared = changed.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else { return };
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        for path in event.paths {
            if path.extension().is_some_and(|e| e == "wasm") {
                let _ = changed.send(path);
            }
        }
    })?;
    for dir in &dirs {
        if dir.path.is_dir() {
            watcher.watch(&dir.path, notify::RecursiveMode::NonRecursive)?;
        }
    }
    // A folder that does not exist yet (no user plugin installed so far)
    // is looked for every APPEAR, and followed once it is there.
    let mut missing: Vec<PathBuf> = dirs
        .iter()
        .filter(|d| !d.path.is_dir())
        .map(|d| d.path.clone())
        .collect();
    let weak = Arc::downgrade(&session);
    tokio::spawn(async move {
        while !missing.is_empty() {
            tokio::time::sleep(APPEAR).await;
            let Some(session) = weak.upgrade() else {
                return;
            };
            let mut still = Vec::new();
            for dir in missing {
                let followed = dir.is_dir()
                    && session
                        .plugin_watcher
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .as_mut()
                        .is_some_and(|w| {
                            w.watch(&dir, notify::RecursiveMode::NonRecursive).is_ok()
                        });
                if !followed {
                    still.push(dir);
                    continue;
                }
                for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                    if entry.path().extension().is_some_and(|e| e == "wasm") {
                        let _ = appeared.send(entry.path());
                    }
                }
            }
            missing = still;
        }
    });
    tokio::spawn(async move {
        while let Some(first) = changes.recv().await {
            let mut batch = BTreeSet::from([first]);
            // Until the folder has been quiet for SETTLE.
            while let Ok(Some(path)) = tokio::time::timeout(SETTLE, changes.recv()).await {
                batch.insert(path);
            }
            apply(&session, &dirs, &editor, &batch).await;
        }
    });
    Ok(watcher)
}
