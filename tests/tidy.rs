//! Invariants of ARCHITECTURE.md checked by `cargo test`, not by memory (in
//! the spirit of rust-analyzer's `tidy.rs`): the one gate, the front ends
//! never reaching a backend, the plugin crates only in dev-dependencies,
//! every module in the code map and documented.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

fn rel(path: &Path) -> String {
    path.strip_prefix(repo())
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// Code, without `//` comments (so that documentation may name things).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn plugin_imports_are_implemented_only_in_the_gate() {
    let mut offenders = Vec::new();
    for file in rust_files(&repo().join("host/src")) {
        if rel(&file).starts_with("host/src/gate/") {
            continue;
        }
        let code = code(&text(&file));
        if code.contains("Host for ") || code.contains("::Host for") {
            offenders.push(rel(&file));
        }
    }
    assert!(
        offenders.is_empty(),
        "plugin imports (`impl …::Host for`) outside host/src/gate/: {offenders:?}"
    );
}

#[test]
fn the_front_ends_never_reach_a_backend() {
    let forbidden = [
        "backends::",
        "Router",
        "cordon_providers::Provider",
        ".router",
    ];
    let mut offenders = Vec::new();
    for dir in ["host/src/lsp", "host/src/cli"] {
        for file in rust_files(&repo().join(dir)) {
            let code = code(&text(&file));
            for word in forbidden {
                if code.contains(word) {
                    offenders.push(format!("{} uses `{word}`", rel(&file)));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "the LSP server and the CLI call the runtime (and `session` for doctor), never a backend: {offenders:?}"
    );
}

#[test]
fn the_host_depends_on_the_plugin_crates_only_for_benches_and_tests() {
    let manifest = text(&repo().join("host/Cargo.toml"));
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .unwrap_or_default();
    assert!(
        !dependencies.contains("cordon-plugin"),
        "host/Cargo.toml [dependencies] lists a plugin crate; plugins reach the host only as embedded components"
    );
}

#[test]
fn every_module_is_documented_and_in_the_code_map() {
    let architecture = text(&repo().join("ARCHITECTURE.md"));
    let mut undocumented = Vec::new();
    let mut unmapped = Vec::new();
    for krate in ["host/src", "policy/src", "providers/src", "local-model/src"] {
        for file in rust_files(&repo().join(krate)) {
            let body = text(&file);
            if !body.trim_start().starts_with("//!") {
                undocumented.push(rel(&file));
            }
            if krate != "host/src" {
                continue;
            }
            let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
            let name = match stem.as_str() {
                "lib" | "main" => continue,
                "mod" => file
                    .parent()
                    .and_then(Path::file_name)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                _ => stem,
            };
            if !architecture.contains(&format!("`{name}`"))
                && !architecture.contains(&format!("::{name}`"))
            {
                unmapped.push(rel(&file));
            }
        }
    }
    assert!(
        undocumented.is_empty(),
        "modules without a `//!` doc: {undocumented:?}"
    );
    assert!(
        unmapped.is_empty(),
        "host modules missing from ARCHITECTURE.md's code map (name them in backticks): {unmapped:?}"
    );
}

#[test]
fn architecture_links_stay_inside_the_repository() {
    let architecture = text(&repo().join("ARCHITECTURE.md"));
    for link in architecture.split("](").skip(1) {
        let target = link.split(')').next().unwrap_or_default();
        if target.starts_with("http") || target.starts_with('#') {
            continue;
        }
        assert!(
            repo().join(target).exists(),
            "ARCHITECTURE.md links `{target}`, which is not in the repository"
        );
    }
}
