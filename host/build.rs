//! Builds the first-party plugins (`../plugins`, a separate Cargo workspace)
//! for `wasm32-wasip2` and places the components in `OUT_DIR/plugins/`,
//! where `src/builtin.rs` embeds them in the binary.

use std::path::{Path, PathBuf};
use std::process::Command;

const PLUGINS: &[&str] = &["completion", "refactor", "explain"];
const TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let plugins_dir = manifest_dir.join("../plugins");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("plugins");
    // One target folder for every host profile, so the plugins are built
    // once and then incrementally.
    let target_dir = manifest_dir.join("../target/wasm-plugins");

    for path in [
        "Cargo.toml",
        "Cargo.lock",
        "sdk",
        "completion",
        "refactor",
        "explain",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            plugins_dir.join(path).display()
        );
    }
    // Every WIT version folder (`wit/0.1.0/`, ...): cargo scans a folder
    // recursively.
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("../wit").display()
    );

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(&plugins_dir)
        .args(["build", "--release", "--target", TARGET, "--target-dir"])
        .arg(&target_dir);
    // Settings meant for the host build must not leak into the wasm build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_TARGET_DIR",
        // `cargo clippy` on the host wraps rustc; the plugins are linted
        // in their own workspace, and built here as they ship.
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
    ] {
        command.env_remove(var);
    }
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("running cargo for the plugins: {e}"));
    if !status.success() {
        panic!(
            "building the plugins in {} for {TARGET} failed (see above). \
             If the target is missing, run `rustup target add {TARGET}`.",
            plugins_dir.display()
        );
    }

    std::fs::create_dir_all(&out_dir).unwrap();
    for name in PLUGINS {
        let built = target_dir
            .join(TARGET)
            .join("release")
            .join(format!("cordon_plugin_{name}.wasm"));
        copy(&built, &out_dir.join(format!("{name}.wasm")));
    }
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copying {} to {}: {e}", from.display(), to.display()));
}
