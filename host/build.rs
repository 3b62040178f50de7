//! Builds the first-party plugins (`../plugins`, a separate Cargo workspace)
//! for `wasm32-wasip2` and places the components in `OUT_DIR/plugins/`,
//! where `src/builtin.rs` embeds them in the binary. Also lists the files
//! `cordon new` writes (`OUT_DIR/embedded.rs`): the templates, the SDK
//! crate and the WIT package.

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
    // Every WIT version folder (`wit/0.1.0/`, `wit/0.2.0/`, ...): cargo scans a folder
    // recursively.
    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("../wit").display()
    );

    embed_project_files(&manifest_dir);

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

/// Every file under `dir` (hidden ones included, links followed), as paths
/// relative to it with `/` separators, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// `OUT_DIR/embedded.rs`: `TEMPLATES` (`templates/`), `SDK` (the SDK
/// crate's manifest, README and sources), `WIT` (the package `cordon new`
/// and the SDK carry) and `SDK_VERSION`, each file by its relative path.
fn embed_project_files(manifest_dir: &Path) {
    let repo = manifest_dir.join("..");
    let templates = repo.join("templates");
    let sdk = repo.join("plugins/sdk");
    // The WIT the SDK is generated from: its `wit/` (in this repository a
    // symbolic link to the latest `wit/<version>/`).
    let wit = sdk
        .join("wit")
        .canonicalize()
        .expect("plugins/sdk/wit exists");
    println!("cargo:rerun-if-changed={}", templates.display());
    let list = |name: &str, dir: &Path, keep: &dyn Fn(&str) -> bool| {
        let mut out = format!("pub static {name}: &[(&str, &[u8])] = &[\n");
        for rel in files_under(dir).into_iter().filter(|r| keep(r)) {
            let abs = dir.join(&rel).canonicalize().unwrap();
            out.push_str(&format!(
                "    ({rel:?}, include_bytes!({:?})),\n",
                abs.display().to_string()
            ));
        }
        out.push_str("];\n");
        out
    };
    let manifest = std::fs::read_to_string(sdk.join("Cargo.toml")).unwrap();
    let version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("plugins/sdk/Cargo.toml has a version line");
    let mut code = String::from("// Generated by host/build.rs.\n");
    code.push_str(&list("TEMPLATES", &templates, &|rel| rel != "README.md"));
    code.push_str(&list("SDK", &sdk, &|rel| {
        rel == "Cargo.toml" || rel == "README.md" || rel.starts_with("src/")
    }));
    code.push_str(&list("WIT", &wit, &|rel| rel.ends_with(".wit")));
    code.push_str(&format!("pub const SDK_VERSION: &str = {version:?};\n"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("embedded.rs");
    std::fs::write(out, code).unwrap();
}
