//! The compiled-plugin cache: a second start does not recompile, and a
//! changed (or corrupt) artifact is compiled again.

mod common;

use std::path::Path;

use common::{cordon, hostile_plugin, json, output, shop};

/// `compiled` of each plugin, by name, from `cordon plugins list --json`.
fn outcomes(cache: &Path, plugin_dir: &Path) -> Vec<(String, String, String)> {
    let out = output(
        cordon(cache)
            .args(["plugins", "list", "--json", "--workspace"])
            .arg(shop())
            .arg("--plugin-dir")
            .arg(plugin_dir),
    );
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out)["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["compiled"].as_str().unwrap().to_owned(),
                p["sha256"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Append a custom section: a valid component with different bytes.
fn rebuild_with_note(wasm: &[u8], note: &str) -> Vec<u8> {
    let name = b"cordon-test-note";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(note.as_bytes());
    assert!(payload.len() < 128, "one-byte LEB128 length");
    let mut out = wasm.to_vec();
    out.push(0); // custom section id
    out.push(payload.len() as u8);
    out.extend_from_slice(&payload);
    out
}

#[test]
fn second_start_loads_from_cache_and_changes_recompile() {
    let cache = tempfile::tempdir().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    let wasm = std::fs::read(hostile_plugin()).unwrap();
    std::fs::write(plugins.path().join("hostile.wasm"), &wasm).unwrap();

    let first = outcomes(cache.path(), plugins.path());
    assert_eq!(
        first.len(),
        4,
        "three built-in plugins and the test plugin: {first:?}"
    );
    assert!(first.iter().all(|(_, c, _)| c == "compiled"), "{first:?}");

    let second = outcomes(cache.path(), plugins.path());
    assert!(second.iter().all(|(_, c, _)| c == "cached"), "{second:?}");

    std::fs::write(
        plugins.path().join("hostile.wasm"),
        rebuild_with_note(&wasm, "v2"),
    )
    .unwrap();
    let third = outcomes(cache.path(), plugins.path());
    let hostile = third.iter().find(|(n, _, _)| n == "hostile").unwrap();
    assert_eq!(hostile.1, "compiled", "a changed plugin is recompiled");
    assert_ne!(
        hostile.2,
        first.iter().find(|(n, _, _)| n == "hostile").unwrap().2
    );
    assert!(
        third
            .iter()
            .filter(|(n, _, _)| n != "hostile")
            .all(|(_, c, _)| c == "cached"),
        "{third:?}"
    );
}

#[test]
fn a_corrupt_cache_entry_is_rebuilt() {
    let cache = tempfile::tempdir().unwrap();
    let no_plugins = tempfile::tempdir().unwrap();
    outcomes(cache.path(), no_plugins.path());
    let mut corrupted = 0;
    for engine_dir in std::fs::read_dir(cache.path()).unwrap() {
        let engine_dir = engine_dir.unwrap().path();
        if !engine_dir.is_dir() || engine_dir.ends_with("data") {
            continue;
        }
        for entry in std::fs::read_dir(&engine_dir).unwrap() {
            std::fs::write(entry.unwrap().path(), b"not a compiled component").unwrap();
            corrupted += 1;
        }
    }
    assert_eq!(corrupted, 3);
    let after = outcomes(cache.path(), no_plugins.path());
    assert!(after.iter().all(|(_, c, _)| c == "compiled"), "{after:?}");
}
