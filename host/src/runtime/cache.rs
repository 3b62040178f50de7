//! Compiling plugins, bounded, and the on-disk cache of what was compiled.
//!
//! A component is untrusted input to Cranelift: one built to be expensive
//! can take minutes to compile. So a component is refused above
//! [`MAX_COMPONENT_BYTES`], and compiled in a child process (`cordon
//! compile-plugin`) that is killed once it runs past a limit that grows
//! with the component's size ([`Compiler::limit_for`]); in-process
//! compilation (tests, embedders) is bounded in how long it is waited for.
//!
//! Each compiled artifact is kept on disk, keyed by the plugin's sha256 and
//! the engine's compatibility hash (wasmtime version and settings), and
//! **authenticated**: wasmtime's deserialisation trusts its input (it is
//! machine code), so every entry carries an HMAC-SHA256 over the engine
//! key, the component's sha256 and the artifact, under a key kept outside
//! the cache folder (`$XDG_DATA_HOME/cordon/cache.key`, mode 0600). An
//! entry that does not verify — altered, truncated, or another plugin's
//! artifact put in its place — is discarded and compiled again, never run.

use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ring::hmac;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The largest component Cordon compiles.
pub const MAX_COMPONENT_BYTES: usize = 64 * 1024 * 1024;

/// Bytes of the MAC at the start of a cache entry.
const MAC_BYTES: usize = 32;

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

/// What to do about a compile error, where the error names the cause.
fn invalid_hint(error: &str) -> &'static str {
    if error.contains("component model async") {
        "; the component uses the component model's async ABI, which Cordon does not run: build it synchronous (componentize-qjs: `--sync`)"
    } else {
        ""
    }
}

/// Why a component was not compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error(
        "the component is {size} bytes; Cordon compiles components of at most {max} bytes \
         (build it in release mode, strip debug information)"
    )]
    TooLarge { size: usize, max: usize },
    #[error(
        "compiling it took longer than {limit:?} and was stopped; a component this size should \
         compile well within that (is it built to be expensive to compile?)"
    )]
    TooSlow { limit: Duration },
    #[error("not a valid WebAssembly component: {0}{hint}", hint = invalid_hint(.0))]
    Invalid(String),
    #[error("the compiler process failed: {0}")]
    Helper(String),
}

/// Where and how long components are compiled.
#[derive(Debug, Clone)]
pub struct Compiler {
    /// The `cordon` executable to compile in (`cordon compile-plugin`);
    /// none: compile in this process.
    helper: Option<PathBuf>,
    /// Time allowed for a component of 0 bytes; see [`Compiler::limit_for`].
    base: Duration,
    /// Time allowed per MiB of component on top of `base`.
    per_mib: Duration,
}

/// The executable whose `compile-plugin` subcommand compiles for this
/// process, when it has one (set once by the `cordon` binary).
static HELPER: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Compile in child processes of `exe` (the running `cordon` binary) from
/// now on, in every runtime of this process.
pub fn compile_in_children_of(exe: PathBuf) {
    let _ = HELPER.set(exe);
}

impl Default for Compiler {
    fn default() -> Self {
        Compiler {
            helper: HELPER.get().cloned(),
            base: Duration::from_secs(10),
            per_mib: Duration::from_secs(3),
        }
    }
}

impl Compiler {
    /// Compile in child processes of `exe` (a `cordon` binary).
    pub fn in_subprocess(exe: PathBuf) -> Self {
        Compiler {
            helper: Some(exe),
            ..Compiler::default()
        }
    }

    /// The same compiler with a time limit of `base` plus `per_mib` for
    /// each MiB of component.
    pub fn with_limits(self, base: Duration, per_mib: Duration) -> Self {
        Compiler {
            base,
            per_mib,
            ..self
        }
    }

    /// How long compiling `size` bytes may take: an honest component
    /// compiles in well under a second per MiB (an 18 MiB Python component
    /// in about 30 s on a slow machine); one built to be expensive does not.
    pub fn limit_for(&self, size: usize) -> Duration {
        self.base + self.per_mib.mul_f64(size as f64 / (1024.0 * 1024.0))
    }

    async fn compile(&self, engine: &Engine, bytes: &[u8]) -> Result<Vec<u8>, CompileError> {
        let limit = self.limit_for(bytes.len());
        match &self.helper {
            Some(exe) => tokio::time::timeout(limit, compile_in_child(exe, bytes))
                .await
                .map_err(|_| CompileError::TooSlow { limit })?,
            None => {
                let engine = engine.clone();
                let bytes = bytes.to_vec();
                // Cranelift cannot be stopped from outside; in-process, the
                // wait is bounded and the result of a late compile dropped.
                let work = tokio::task::spawn_blocking(move || engine.precompile_component(&bytes));
                match tokio::time::timeout(limit, work).await {
                    Err(_) => Err(CompileError::TooSlow { limit }),
                    Ok(Err(join)) => Err(CompileError::Helper(join.to_string())),
                    Ok(Ok(compiled)) => {
                        compiled.map_err(|e| CompileError::Invalid(format!("{e:#}")))
                    }
                }
            }
        }
    }
}

/// `cordon compile-plugin`: read a component on stdin, write its compiled
/// artifact for this build's engine on stdout.
pub fn compile_stdin_to_stdout() -> Result<(), String> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
        .map_err(|e| format!("reading the component: {e}"))?;
    let engine = super::engine::new_engine().map_err(|e| format!("{e:#}"))?;
    let compiled = engine
        .precompile_component(&bytes)
        .map_err(|e| format!("{e:#}"))?;
    std::io::stdout()
        .lock()
        .write_all(&compiled)
        .map_err(|e| format!("writing the artifact: {e}"))
}

async fn compile_in_child(exe: &Path, bytes: &[u8]) -> Result<Vec<u8>, CompileError> {
    let helper = |e: std::io::Error| CompileError::Helper(format!("{}: {e}", exe.display()));
    let mut child = tokio::process::Command::new(exe)
        .arg("compile-plugin")
        .env_remove("CORDON_LOG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        // A compile that runs past its limit is killed with its future.
        .kill_on_drop(true)
        .spawn()
        .map_err(helper)?;
    let mut stdin = child.stdin.take().expect("piped");
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let input = bytes.to_vec();
    let write = async move {
        let written = stdin.write_all(&input).await;
        drop(stdin);
        written
    };
    let mut compiled = Vec::new();
    let mut message = Vec::new();
    let (written, read, _) = tokio::join!(
        write,
        stdout.read_to_end(&mut compiled),
        stderr.read_to_end(&mut message)
    );
    let status = child.wait().await.map_err(helper)?;
    if !status.success() {
        let message = String::from_utf8_lossy(&message);
        return Err(CompileError::Invalid(crate::text::one_line(
            message.trim(),
            crate::text::MAX_MESSAGE_BYTES,
        )));
    }
    written.map_err(helper)?;
    read.map_err(helper)?;
    Ok(compiled)
}

/// Where compiled artifacts live: `$CORDON_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/cordon/compiled`.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CORDON_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    dirs::cache_dir().map(|d| d.join("cordon").join("compiled"))
}

/// Where the cache's MAC key lives: beside the trust store, never in the
/// cache folder (whoever can write the cache must not be able to sign it).
fn key_path() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("cordon").join("cache.key"))
}

/// The cache's MAC key, created on first use. None: no cache (an
/// unauthenticated cache is never read).
fn cache_key() -> Option<hmac::Key> {
    let path = key_path()?;
    match read_key(&path) {
        Ok(key) => Some(key),
        Err(err) => {
            tracing::warn!(path = %path.display(), "compiled plugins are not cached: the cache key is unusable: {err}");
            None
        }
    }
}

fn read_key(path: &Path) -> std::io::Result<hmac::Key> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let created = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path);
    match created {
        Ok(mut file) => {
            let mut secret = [0u8; 32];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret)
                .map_err(|_| std::io::Error::other("no system randomness"))?;
            file.write_all(&secret)?;
            file.sync_all()?;
            Ok(hmac::Key::new(hmac::HMAC_SHA256, &secret))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let secret = std::fs::read(path)?;
            if secret.len() != 32 {
                return Err(std::io::Error::other(format!(
                    "it is {} bytes, not 32; delete it and Cordon makes a new one",
                    secret.len()
                )));
            }
            Ok(hmac::Key::new(hmac::HMAC_SHA256, &secret))
        }
        Err(e) => Err(e),
    }
}

fn engine_key(engine: &Engine) -> String {
    // `DefaultHasher::new()` is unkeyed, so the key is stable across runs.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The MAC of an entry: what it is for (engine, component) and what it is.
fn mac(key: &hmac::Key, engine_key: &str, digest: &str, artifact: &[u8]) -> hmac::Tag {
    hmac::sign(key, &signed_input(engine_key, digest, artifact))
}

/// The component for `bytes` (whose sha256 is `digest`), from the cache when
/// an entry there verifies, else compiled by `compiler` (and stored).
pub async fn load(
    engine: &Engine,
    dir: Option<&Path>,
    bytes: &[u8],
    digest: &str,
    compiler: &Compiler,
) -> Result<(Component, CacheOutcome), CompileError> {
    if bytes.len() > MAX_COMPONENT_BYTES {
        return Err(CompileError::TooLarge {
            size: bytes.len(),
            max: MAX_COMPONENT_BYTES,
        });
    }
    let engine_key = engine_key(engine);
    let cache = dir.and_then(|dir| {
        let key = cache_key()?;
        Some((key, dir.join(&engine_key).join(format!("{digest}.cwasm"))))
    });
    if let Some((key, path)) = &cache
        && let Some(artifact) = read_verified(key, path, &engine_key, digest)
        && let Ok(component) = deserialize(engine, &artifact)
    {
        return Ok((component, CacheOutcome::Cached));
    }
    let artifact = compiler.compile(engine, bytes).await?;
    let component = deserialize(engine, &artifact)?;
    let Some((key, path)) = &cache else {
        return Ok((component, CacheOutcome::Uncached));
    };
    let tag = mac(key, &engine_key, digest, &artifact);
    match store(path, tag.as_ref(), &artifact) {
        Ok(()) => Ok((component, CacheOutcome::Compiled)),
        Err(err) => {
            tracing::warn!(path = %path.display(), "cannot cache compiled plugin: {err:#}");
            Ok((component, CacheOutcome::Uncached))
        }
    }
}

/// The artifact stored at `path`, if its MAC verifies; an entry that does
/// not is removed.
fn read_verified(key: &hmac::Key, path: &Path, engine_key: &str, digest: &str) -> Option<Vec<u8>> {
    let mut entry = std::fs::read(path).ok()?;
    let verified = entry.len() > MAC_BYTES && {
        let (tag, artifact) = entry.split_at(MAC_BYTES);
        // `verify` compares in constant time.
        hmac::verify(key, &signed_input(engine_key, digest, artifact), tag).is_ok()
    };
    if !verified {
        tracing::warn!(path = %path.display(), "a compiled plugin in the cache failed verification (altered or not Cordon's); it is discarded and the plugin compiled again");
        let _ = std::fs::remove_file(path);
        return None;
    }
    Some(entry.split_off(MAC_BYTES))
}

/// The bytes an entry's MAC signs: the engine key and the component's
/// sha256, each length-prefixed, then the artifact.
fn signed_input(engine_key: &str, digest: &str, artifact: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(artifact.len() + engine_key.len() + digest.len() + 16);
    for part in [engine_key.as_bytes(), digest.as_bytes()] {
        input.extend_from_slice(&(part.len() as u64).to_le_bytes());
        input.extend_from_slice(part);
    }
    input.extend_from_slice(artifact);
    input
}

fn deserialize(engine: &Engine, artifact: &[u8]) -> Result<Component, CompileError> {
    // SAFETY: `artifact` is machine code that this process's engine
    // configuration produced: compiled just now (in this process or in a
    // `cordon compile-plugin` child of this very executable), or read back
    // from the cache after its MAC, under a key only Cordon holds, proved
    // that it was stored so. Wasmtime still checks the header and refuses
    // an artifact for another engine.
    unsafe { Component::deserialize(engine, artifact) }
        .map_err(|e| CompileError::Helper(format!("loading the compiled artifact: {e:#}")))
}

fn store(path: &Path, tag: &[u8], artifact: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().expect("cache paths have a parent");
    std::fs::create_dir_all(parent)?;
    // Write then rename, so a concurrent reader never sees half a file.
    let tmp = parent.join(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(tag)?;
    file.write_all(artifact)?;
    drop(file);
    std::fs::rename(&tmp, path)
}
