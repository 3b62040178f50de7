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

/// Every cache entry (engine folder / `<sha256>.cwasm`) under `cache`.
fn entries(cache: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for engine_dir in std::fs::read_dir(cache).unwrap() {
        let engine_dir = engine_dir.unwrap().path();
        if !engine_dir.is_dir() || engine_dir.ends_with("data") || engine_dir.ends_with("config") {
            continue;
        }
        for entry in std::fs::read_dir(&engine_dir).unwrap() {
            found.push(entry.unwrap().path());
        }
    }
    found
}

#[test]
fn an_altered_entry_is_compiled_again_never_run() {
    let cache = tempfile::tempdir().unwrap();
    let no_plugins = tempfile::tempdir().unwrap();
    outcomes(cache.path(), no_plugins.path());
    // Flip bytes deep inside each artifact (its machine code), leaving the
    // header that wasmtime checks intact.
    for path in entries(cache.path()) {
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.len() / 2;
        for b in &mut bytes[at..at + 64] {
            *b ^= 0x5a;
        }
        std::fs::write(&path, bytes).unwrap();
    }
    let after = outcomes(cache.path(), no_plugins.path());
    assert!(after.iter().all(|(_, c, _)| c == "compiled"), "{after:?}");
    let again = outcomes(cache.path(), no_plugins.path());
    assert!(again.iter().all(|(_, c, _)| c == "cached"), "{again:?}");
}

#[test]
fn another_plugins_artifact_put_in_place_is_not_run() {
    let cache = tempfile::tempdir().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(hostile_plugin(), plugins.path().join("hostile.wasm")).unwrap();
    let first = outcomes(cache.path(), plugins.path());
    let sha = |name: &str| first.iter().find(|(n, _, _)| n == name).unwrap().2.clone();
    let entry = |digest: &str| {
        entries(cache.path())
            .into_iter()
            .find(|p| p.file_name().unwrap().to_string_lossy() == format!("{digest}.cwasm"))
            .unwrap()
    };
    // Whoever can write the cache puts the hostile plugin's machine code
    // where the built-in completion plugin's is looked up.
    std::fs::copy(entry(&sha("hostile")), entry(&sha("completion"))).unwrap();
    let after = outcomes(cache.path(), plugins.path());
    let completion = after.iter().find(|(n, _, _)| n == "completion").unwrap();
    assert_eq!(completion.1, "compiled", "{after:?}");
    assert_eq!(completion.2, sha("completion"));
    assert_eq!(
        after.iter().filter(|(n, _, _)| n == "hostile").count(),
        1,
        "{after:?}"
    );
}

#[test]
fn a_lost_cache_key_means_compiling_again() {
    let cache = tempfile::tempdir().unwrap();
    let no_plugins = tempfile::tempdir().unwrap();
    outcomes(cache.path(), no_plugins.path());
    let key = cache.path().join("data/cordon/cache.key");
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "the key is private: {mode:o}");
    std::fs::remove_file(&key).unwrap();
    let after = outcomes(cache.path(), no_plugins.path());
    assert!(after.iter().all(|(_, c, _)| c == "compiled"), "{after:?}");
}

#[test]
fn an_oversized_component_is_refused_with_its_size() {
    let cache = tempfile::tempdir().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    let mut huge = std::fs::read(hostile_plugin()).unwrap();
    huge.resize(65 * 1024 * 1024, 0);
    std::fs::write(plugins.path().join("huge.wasm"), huge).unwrap();
    let out = output(
        cordon(cache.path())
            .args(["plugins", "list", "--workspace"])
            .arg(shop())
            .arg("--plugin-dir")
            .arg(plugins.path()),
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("huge.wasm"), "{text}");
    assert!(text.contains("compiles components of at most"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compile_past_its_limit_is_stopped() {
    use cordon::runtime::cache::Compiler;
    use cordon::runtime::{Limits, Origin, Runtime};
    let wasm = std::fs::read(hostile_plugin()).unwrap();
    let mut runtime = Runtime::new(cordon::gate::Services::default(), None).unwrap();
    // Far too little time for any component: the child is killed.
    runtime.compile_with(
        Compiler::in_subprocess(env!("CARGO_BIN_EXE_cordon").into()).with_limits(
            std::time::Duration::from_millis(1),
            std::time::Duration::ZERO,
        ),
    );
    let started = std::time::Instant::now();
    let Err(err) = runtime
        .load(
            Origin::CommandLine("slow.wasm".into()),
            wasm.clone(),
            Limits::default(),
        )
        .await
    else {
        panic!("a compile with 1 ms to spare succeeded");
    };
    assert!(err.to_string().contains("took longer than"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // With the usual limits, the same component compiles in the child.
    runtime.compile_with(Compiler::in_subprocess(env!("CARGO_BIN_EXE_cordon").into()));
    let plugin = match runtime
        .load(
            Origin::CommandLine("slow.wasm".into()),
            wasm,
            Limits::default(),
        )
        .await
    {
        Ok(plugin) => plugin,
        Err(err) => panic!("{err}"),
    };
    assert_eq!(plugin.name(), "hostile");
}
