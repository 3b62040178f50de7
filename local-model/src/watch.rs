//! Keeping a shared model in step with the workspace as files change.
//!
//! notify's callback only forwards events to a worker thread: the worker
//! re-reads the files named, takes the model's write lock once per file (so
//! completions keep being answered during a burst of changes), and, on
//! platforms whose native watching is per directory, adds watches for new
//! directories itself (doing that from the callback would deadlock: the
//! watcher answers `watch` on the very thread that runs the callback).
//! Directories the indexer skips (`target/`, `node_modules/`, ignored ones)
//! are never watched there, which keeps a large build tree from costing
//! thousands of kernel watches.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};

use crate::walk::{Found, IgnoreRules, read_source, rel_path, walk};
use crate::{LocalModel, LocalModelError};

/// macOS and Windows watch a whole tree with one native handle; elsewhere
/// (inotify) recursive watching means one watch per directory anyway, so the
/// worker chooses the directories itself.
const PER_DIRECTORY: bool = !cfg!(any(target_os = "macos", target_os = "windows"));

/// Watches a workspace for a shared model; watching stops when this is
/// dropped.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    watcher: Option<Arc<Mutex<RecommendedWatcher>>>,
    root: PathBuf,
}

impl fmt::Debug for Watcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watcher")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the native watcher ends its thread, which drops the
        // channel's sender, which ends the worker.
        self.watcher.take();
    }
}

/// Starts applying changes under `root` to `model`: a created or modified
/// file is re-read and passed to [`LocalModel::update_file`], a removed one to
/// [`LocalModel::remove_file`]; paths the indexer would skip are ignored.
/// Changes made before this call are not picked up: index first, then watch.
pub fn watch(model: Arc<RwLock<LocalModel>>, root: &Path) -> Result<Watcher, LocalModelError> {
    let root = std::fs::canonicalize(root).map_err(|source| LocalModelError::NotADirectory {
        path: root.to_path_buf(),
        source,
    })?;
    let watch_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LocalModelError::Watch { path, source }
    };
    let (tx, rx) = channel();
    let native = notify::recommended_watcher(move |event| {
        // The worker is gone only when watching is being torn down.
        let _ = tx.send(event);
    })
    .map_err(watch_error(&root))?;
    let native = Arc::new(Mutex::new(native));
    let max_bytes = model
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .config()
        .max_file_bytes;
    let mut worker = Worker {
        model,
        rules: IgnoreRules::new(&root),
        watcher: Arc::downgrade(&native),
        known: HashSet::new(),
        stop: Arc::new(AtomicBool::new(false)),
        root: root.clone(),
        max_bytes,
    };
    {
        let mut guard = native.lock().unwrap_or_else(PoisonError::into_inner);
        let mode = if PER_DIRECTORY {
            RecursiveMode::NonRecursive
        } else {
            RecursiveMode::Recursive
        };
        guard.watch(&root, mode).map_err(watch_error(&root))?;
        worker.known.insert(root.clone());
        walk(&root, &root, |found| {
            if let Found::Dir(dir) = found
                && worker.known.insert(dir.to_path_buf())
                && PER_DIRECTORY
            {
                // A directory that vanished meanwhile just is not watched.
                let _ = guard.watch(dir, RecursiveMode::NonRecursive);
            }
        });
    }
    let stop = worker.stop.clone();
    std::thread::Builder::new()
        .name("cordon-local-model-watch".into())
        .spawn(move || worker.run(rx))
        .map_err(LocalModelError::Thread)?;
    Ok(Watcher {
        stop,
        watcher: Some(native),
        root,
    })
}

struct Worker {
    model: Arc<RwLock<LocalModel>>,
    rules: IgnoreRules,
    /// Weak so that dropping the [`Watcher`] guard really drops the watcher.
    watcher: Weak<Mutex<RecommendedWatcher>>,
    /// Directories already known (and, on per-directory platforms, watched):
    /// an event on one of them is no reason to walk it again.
    known: HashSet<PathBuf>,
    stop: Arc<AtomicBool>,
    root: PathBuf,
    max_bytes: u64,
}

impl Worker {
    fn run(mut self, rx: Receiver<notify::Result<Event>>) {
        while let Ok(first) = rx.recv() {
            // Editors save in several steps: take everything pending and
            // handle each path once.
            let mut paths = BTreeSet::new();
            let mut rescan = false;
            for event in std::iter::once(first).chain(rx.try_iter()).flatten() {
                rescan |= event.need_rescan();
                if is_change(&event.kind) {
                    paths.extend(event.paths);
                }
            }
            if rescan {
                self.rescan();
            }
            for path in paths {
                if self.stop.load(Ordering::Relaxed) {
                    return;
                }
                self.handle(&path);
            }
        }
    }

    fn model(&self) -> std::sync::RwLockWriteGuard<'_, LocalModel> {
        self.model.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn handle(&mut self, path: &Path) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if (name == ".gitignore" || name == ".ignore")
            && let Some(dir) = path.parent()
        {
            self.rules.invalidate(dir);
            return;
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => {
                if !self.known.contains(path) && !self.rules.is_ignored(path, true) {
                    self.add_dir(path);
                }
            }
            Ok(meta) if meta.is_file() => {
                if !self.rules.is_ignored(path, false) {
                    self.update(path);
                }
            }
            Ok(_) => {}
            Err(_) => {
                if let Some(rel) = rel_path(&self.root, path) {
                    let mut model = self.model();
                    model.remove_file(&rel);
                    model.remove_dir(&rel);
                }
                self.known.retain(|dir| !dir.starts_with(path));
            }
        }
    }

    fn update(&mut self, path: &Path) {
        let Some(rel) = rel_path(&self.root, path) else {
            return;
        };
        // Read outside the lock; a file too large or no longer text leaves
        // the model like a deleted one.
        match read_source(path, self.max_bytes) {
            Some(text) => self.model().update_file(&rel, &text),
            None => self.model().remove_file(&rel),
        }
    }

    /// A directory appeared (created or moved in): watch it and everything
    /// under it, and index its files, which may have been written before the
    /// watch existed. Returns the files indexed.
    fn add_dir(&mut self, dir: &Path) -> HashSet<String> {
        let mut files = Vec::new();
        let native = self.watcher.upgrade();
        walk(&self.root, dir, |found| match found {
            Found::Dir(d) => {
                if self.known.insert(d.to_path_buf())
                    && PER_DIRECTORY
                    && let Some(native) = &native
                {
                    let mut native = native.lock().unwrap_or_else(PoisonError::into_inner);
                    let _ = native.watch(d, RecursiveMode::NonRecursive);
                }
            }
            Found::File(rel, path) => files.push((rel.to_owned(), path.to_path_buf())),
        });
        drop(native);
        let mut seen = HashSet::new();
        for (rel, path) in files {
            // Ignore files above `dir` apply too, which the walk from `dir`
            // does not read.
            if self.rules.is_ignored(&path, false) {
                continue;
            }
            self.update(&path);
            seen.insert(rel);
        }
        seen
    }

    /// The watcher lost events: bring the whole model back in line with disk.
    fn rescan(&mut self) {
        let before = self
            .model
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .file_paths();
        let root = self.root.clone();
        let present = self.add_dir(&root);
        for gone in before.iter().filter(|p| !present.contains(*p)) {
            self.model().remove_file(gone);
        }
    }
}

/// Events that may change a file's content or existence.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Any
        | EventKind::Create(_)
        | EventKind::Modify(_)
        | EventKind::Remove(_)
        | EventKind::Other => true,
    }
}
