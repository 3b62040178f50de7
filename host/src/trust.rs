//! Workspace trust: what a repository brings in its `.cordon/` (plugins,
//! grants, backends, routes, audit settings) takes effect only once the user
//! has trusted that workspace with `cordon trust`, as `direnv allow` does.
//!
//! Trust is recorded in the user's data folder
//! (`$XDG_DATA_HOME/cordon/trusted.json`), never in the workspace, by the
//! workspace's canonical path and the sha256 of the `.cordon/` files Cordon
//! reads (`policy.toml`, `cordon.toml`, everything under `plugins/`). Any
//! change to them — a new plugin build, an edited policy — revokes trust
//! until the user trusts again. An untrusted workspace can still narrow.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Files under `.cordon/` read as configuration; `state/` (the workspace's
/// own audit log) is written by Cordon and not part of what is trusted.
const CONFIG_FILES: [&str; 2] = ["policy.toml", "cordon.toml"];
/// Most bytes hashed per file: a bigger one cannot be trusted (and is not
/// loaded as a plugin either).
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;
/// Most files hashed under `plugins/`.
const MAX_FILES: usize = 10_000;

/// What a workspace ships, for messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shipped {
    /// `.wasm` files in `.cordon/plugins/`.
    pub plugins: usize,
    /// `.cordon/policy.toml` exists.
    pub policy: bool,
    /// `.cordon/cordon.toml` exists.
    pub config: bool,
}

impl Shipped {
    /// Whether the workspace ships anything that needs trust.
    pub fn any(&self) -> bool {
        self.plugins > 0 || self.policy || self.config
    }

    /// "1 plugin, a policy and a configuration"
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match self.plugins {
            0 => {}
            1 => parts.push("1 plugin".to_owned()),
            n => parts.push(format!("{n} plugins")),
        }
        if self.policy {
            parts.push("a policy".to_owned());
        }
        if self.config {
            parts.push("a configuration (cordon.toml)".to_owned());
        }
        match parts.len() {
            0 => "nothing".to_owned(),
            1 => parts.remove(0),
            _ => {
                let last = parts.pop().unwrap_or_default();
                format!("{} and {last}", parts.join(", "))
            }
        }
    }
}

/// Whether a workspace is trusted, and what it ships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The workspace root, canonical.
    pub root: PathBuf,
    /// Trusted with its current `.cordon/` content.
    pub trusted: bool,
    /// Trusted once, but `.cordon/` changed since.
    pub changed: bool,
    /// What it ships.
    pub shipped: Shipped,
}

impl Status {
    /// The sentence an editor or the CLI shows when the workspace ships
    /// something that is not in force, or `None`.
    pub fn notice(&self) -> Option<String> {
        if self.trusted || !self.shipped.any() {
            return None;
        }
        let what = self.shipped.describe();
        let dir = self.root.display();
        Some(if self.changed {
            format!(
                "this workspace's .cordon/ changed since you trusted it; its {what} are ignored until you run `cordon trust {dir}` again"
            )
        } else {
            format!(
                "this workspace ships {what}; they are ignored until you run `cordon trust {dir}` (it may still narrow what Cordon does)"
            )
        })
    }
}

/// Where trust records live.
pub fn store_path() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("cordon").join("trusted.json"))
}

fn read_store(path: &Path) -> BTreeMap<String, String> {
    std::fs::read(path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// The sha256 of what the workspace at `root` ships in `.cordon/`, and what
/// that is. Symbolic links are hashed as links (their target path), never
/// followed.
pub fn fingerprint(root: &Path) -> std::io::Result<(String, Shipped)> {
    let dir = root.join(".cordon");
    let mut hasher = Sha256::new();
    let mut shipped = Shipped::default();
    for name in CONFIG_FILES {
        let path = dir.join(name);
        if hash_entry(&mut hasher, name, &path)? {
            match name {
                "policy.toml" => shipped.policy = true,
                _ => shipped.config = true,
            }
        }
    }
    let plugins = dir.join("plugins");
    let mut files = Vec::new();
    if std::fs::symlink_metadata(&plugins).is_ok_and(|m| m.is_dir()) {
        collect(&plugins, &mut files)?;
    }
    files.sort();
    for path in files.iter().take(MAX_FILES) {
        let rel = path.strip_prefix(&dir).unwrap_or(path);
        let rel = rel.to_string_lossy();
        hash_entry(&mut hasher, &rel, path)?;
        if rel.ends_with(".wasm") {
            shipped.plugins += 1;
        }
    }
    Ok((hex::encode(hasher.finalize()), shipped))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if out.len() < MAX_FILES {
                collect(&entry.path(), out)?;
            }
        } else {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// Hashes one entry's name, kind and content; `false` when it is absent.
fn hash_entry(hasher: &mut Sha256, name: &str, path: &Path) -> std::io::Result<bool> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    hasher.update((name.len() as u64).to_le_bytes());
    hasher.update(name.as_bytes());
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(path)?;
        hasher.update(b"L");
        hasher.update(target.to_string_lossy().as_bytes());
    } else if meta.is_file() {
        if meta.len() > MAX_FILE_BYTES {
            return Err(std::io::Error::other(format!(
                "{} is larger than {} MiB",
                path.display(),
                MAX_FILE_BYTES / 1024 / 1024
            )));
        }
        hasher.update(b"F");
        hasher.update(meta.len().to_le_bytes());
        let mut file = std::fs::File::open(path)?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
    } else {
        hasher.update(b"O");
    }
    Ok(true)
}

fn key(root: &Path) -> PathBuf {
    root.canonicalize().unwrap_or_else(|_| root.to_owned())
}

/// The trust status of the workspace at `root`. Anything that cannot be
/// read counts as untrusted (fail closed).
pub fn status(root: &Path) -> Status {
    let root = key(root);
    let (hash, shipped) = match fingerprint(&root) {
        Ok(found) => found,
        Err(err) => {
            tracing::warn!(
                "workspace trust: cannot read {}/.cordon: {err}",
                root.display()
            );
            (String::new(), Shipped::default())
        }
    };
    let recorded = store_path().map(|p| read_store(&p)).unwrap_or_default();
    let entry = recorded.get(&*root.to_string_lossy());
    let trusted = !hash.is_empty() && entry.is_some_and(|h| *h == hash);
    Status {
        changed: entry.is_some() && !trusted,
        trusted,
        shipped,
        root,
    }
}

/// Records the workspace at `root` as trusted with its current `.cordon/`.
pub fn trust(root: &Path) -> Result<Status, String> {
    let root = key(root);
    if !root.is_dir() {
        return Err(format!("{}: not a folder", root.display()));
    }
    let (hash, shipped) =
        fingerprint(&root).map_err(|e| format!("{}/.cordon: {e}", root.display()))?;
    edit_store(|store| {
        store.insert(root.to_string_lossy().into_owned(), hash);
    })?;
    Ok(Status {
        root,
        trusted: true,
        changed: false,
        shipped,
    })
}

/// Forgets the trust given to the workspace at `root`.
pub fn revoke(root: &Path) -> Result<bool, String> {
    let root = key(root);
    let mut removed = false;
    edit_store(|store| {
        removed = store.remove(&*root.to_string_lossy()).is_some();
    })?;
    Ok(removed)
}

/// Every trusted workspace.
pub fn list() -> Vec<PathBuf> {
    store_path()
        .map(|p| read_store(&p))
        .unwrap_or_default()
        .into_keys()
        .map(PathBuf::from)
        .collect()
}

fn edit_store(edit: impl FnOnce(&mut BTreeMap<String, String>)) -> Result<(), String> {
    let path =
        store_path().ok_or("no data folder to record trust in: set XDG_DATA_HOME or HOME")?;
    let mut store = read_store(&path);
    edit(&mut store);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    let text = serde_json::to_vec_pretty(&store).map_err(|e| e.to_string())?;
    // Write beside, then rename: a crash never leaves half a record.
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_change_to_what_is_shipped_changes_the_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let (empty, shipped) = fingerprint(root).unwrap();
        assert!(!shipped.any());
        std::fs::create_dir_all(root.join(".cordon/plugins")).unwrap();
        std::fs::write(root.join(".cordon/plugins/a.wasm"), b"one").unwrap();
        let (one, shipped) = fingerprint(root).unwrap();
        assert_ne!(one, empty);
        assert_eq!(shipped.describe(), "1 plugin");
        std::fs::write(root.join(".cordon/plugins/a.wasm"), b"two").unwrap();
        let (two, _) = fingerprint(root).unwrap();
        assert_ne!(one, two);
        std::fs::write(root.join(".cordon/policy.toml"), "").unwrap();
        let (three, shipped) = fingerprint(root).unwrap();
        assert_ne!(two, three);
        assert_eq!(shipped.describe(), "1 plugin and a policy");
        // The state folder is Cordon's own output, not configuration.
        std::fs::create_dir_all(root.join(".cordon/state")).unwrap();
        std::fs::write(root.join(".cordon/state/audit.jsonl"), "{}").unwrap();
        assert_eq!(fingerprint(root).unwrap().0, three);
    }
}
