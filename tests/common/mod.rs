//! Helpers shared by the end-to-end tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The fixture workspace.
pub fn shop() -> PathBuf {
    repo().join("tests/fixtures/shop")
}

/// A `cordon` command with a private compiled-plugin cache and no user
/// plugin folder.
pub fn cordon(cache: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cordon"));
    cmd.env("CORDON_CACHE_DIR", cache)
        .env("XDG_DATA_HOME", cache.join("data"))
        .env_remove("CORDON_LOG");
    cmd
}

/// Run `cmd`, returning its output.
pub fn output(cmd: &mut Command) -> Output {
    cmd.output().expect("running cordon")
}

/// stdout as JSON.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The test-only hostile plugin (tests/plugins/hostile), built from source
/// once per test process.
pub fn hostile_plugin() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let target = repo().join("target/wasm-test-plugins");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(repo().join("tests/plugins"))
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--target-dir",
            ])
            .arg(&target)
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .status()
            .expect("running cargo to build the hostile test plugin");
        assert!(status.success(), "building tests/plugins failed");
        target.join("wasm32-wasip2/release/cordon_test_hostile.wasm")
    })
}
