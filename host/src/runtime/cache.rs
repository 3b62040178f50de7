//! The on-disk cache of compiled plugins.
//!
//! Compiling a component takes long enough to matter at start-up, so each
//! plugin is compiled once and the artifact kept on disk, keyed by the
//! plugin's sha256 and by the engine's compatibility hash (wasmtime version
//! and settings). A changed plugin or engine gets a new key and is compiled
//! again; a corrupt artifact is discarded and rebuilt.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// How a component was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CacheOutcome {
    /// Compiled now and stored for next time.
    Compiled,
    /// Loaded from the cache without compiling.
    Cached,
    /// Compiled now; there is no cache folder to store it in.
    Uncached,
}

/// Where compiled artifacts live: `$CORDON_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/cordon/compiled`.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CORDON_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    dirs::cache_dir().map(|d| d.join("cordon").join("compiled"))
}

fn engine_key(engine: &Engine) -> String {
    // `DefaultHasher::new()` is unkeyed, so the key is stable across runs.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The component for `bytes` (whose sha256 is `digest`), from the cache when
/// possible.
pub fn load(
    engine: &Engine,
    dir: Option<&Path>,
    bytes: &[u8],
    digest: &str,
) -> wasmtime::Result<(Component, CacheOutcome)> {
    let Some(dir) = dir else {
        return Ok((Component::new(engine, bytes)?, CacheOutcome::Uncached));
    };
    let path = dir.join(engine_key(engine)).join(format!("{digest}.cwasm"));
    if path.is_file() {
        // SAFETY: the file was written by `Component::serialize` below into
        // Cordon's own cache folder, for this engine's configuration (the
        // key). Wasmtime still checks the header and refuses a mismatch.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok((component, CacheOutcome::Cached)),
            Err(err) => {
                tracing::warn!(path = %path.display(), "discarding unusable compiled plugin: {err:#}");
            }
        }
    }
    let component = Component::new(engine, bytes)?;
    match store(&path, &component) {
        Ok(()) => Ok((component, CacheOutcome::Compiled)),
        Err(err) => {
            tracing::warn!(path = %path.display(), "cannot cache compiled plugin: {err:#}");
            Ok((component, CacheOutcome::Uncached))
        }
    }
}

fn store(path: &Path, component: &Component) -> wasmtime::Result<()> {
    let parent = path.parent().expect("cache paths have a parent");
    std::fs::create_dir_all(parent)?;
    let serialized = component.serialize()?;
    // Write then rename, so a concurrent reader never sees half a file.
    let tmp = parent.join(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    std::fs::write(&tmp, serialized)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
