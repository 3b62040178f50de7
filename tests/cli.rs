//! `cordon run` and `cordon plugins list`, end to end: the real binary, the
//! real plugin components in the real runtime, answering from the real
//! `local` backend over the fixture workspace.

mod common;

use common::{cordon, json, output, shop};

#[test]
fn complete_proposes_the_workspace_identifiers() {
    let cache = tempfile::tempdir().unwrap();
    // `self.line_` in Cart::clear: the workspace calls its field `line_items`.
    let out = output(
        cordon(cache.path())
            .args(["run", "complete"])
            .arg(shop().join("src/cart.rs:57:19"))
            .arg("--json"),
    );
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["feature"], "completion");
    let result = &v["results"][0];
    assert_eq!(result["plugin"], "completion");
    let first = &result["items"][0];
    let insert = first["insert_text"].as_str().unwrap();
    assert!(insert.starts_with("items"), "completion was {insert:?}");
    assert!(
        !insert.contains('\n'),
        "a mid-line completion stays on the line: {insert:?}"
    );
    assert_eq!(
        first["replace"]["start"],
        serde_json::json!({"line": 57, "column": 19})
    );
}

#[test]
fn complete_prints_plain_text_for_people() {
    let cache = tempfile::tempdir().unwrap();
    let out = output(
        cordon(cache.path())
            .args(["run", "complete"])
            .arg(shop().join("src/cart.rs:57:19")),
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().next().unwrap_or("").starts_with("items"),
        "stdout: {text}"
    );
}

#[test]
fn explain_without_a_chat_backend_says_what_to_configure() {
    let cache = tempfile::tempdir().unwrap();
    let out = output(
        cordon(cache.path())
            .args(["run", "explain"])
            .arg(shop().join("src/cart.rs:26:5"))
            .arg("--json"),
    );
    assert_eq!(out.status.code(), Some(1), "no plugin could answer");
    let v = json(&out);
    let error = &v["results"][0]["error"];
    assert_eq!(v["results"][0]["plugin"], "explain");
    assert_eq!(error["kind"], "unavailable");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("configure a chat backend"), "{message}");
    assert!(
        v["results"][0].get("markdown").is_none(),
        "no invented text"
    );
}

#[test]
fn refactor_lists_actions_and_applying_one_needs_a_backend() {
    let cache = tempfile::tempdir().unwrap();
    // Select the body of `Cart::remove`.
    let spec = shop().join("src/cart.rs:32:9-32:57");
    let out = output(
        cordon(cache.path())
            .args(["run", "refactor"])
            .arg(&spec)
            .arg("--json"),
    );
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let ids: Vec<&str> = v["results"][0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"rewrite-selection"), "{ids:?}");
    assert!(ids.contains(&"extract-function"), "{ids:?}");

    let out = output(
        cordon(cache.path())
            .args(["run", "refactor"])
            .arg(&spec)
            .args(["--action", "extract-function", "--json"]),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["results"][0]["error"]["kind"], "unavailable");
}

#[test]
fn plugins_list_shows_kinds_digests_and_grants() {
    let cache = tempfile::tempdir().unwrap();
    let out = output(
        cordon(cache.path())
            .args(["plugins", "list", "--json", "--workspace"])
            .arg(shop()),
    );
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let plugins = v["plugins"].as_array().unwrap();
    let names: Vec<&str> = plugins
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["completion", "refactor", "explain"]);
    for p in plugins {
        let digest = p["sha256"].as_str().unwrap();
        assert_eq!(digest.len(), 64);
        assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            p["capabilities"],
            serde_json::json!(["model", "workspace.read", "log"])
        );
        assert_eq!(p["kinds"], serde_json::json!([p["name"].as_str().unwrap()]));
        let exports: Vec<&str> = p["exports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        assert!(
            exports.contains(&"cordon:plugin/describe@0.2.0"),
            "{exports:?}"
        );
    }

    let out = output(
        cordon(cache.path())
            .args(["plugins", "list", "--workspace"])
            .arg(shop()),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("sha256:") && text.contains("capabilities: model, workspace.read, log"),
        "{text}"
    );
}

fn usage_error(args: &[&str]) -> String {
    let cache = tempfile::tempdir().unwrap();
    let out = output(cordon(cache.path()).args(args));
    assert_eq!(out.status.code(), Some(2), "args {args:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one clear line, got: {stderr}"
    );
    stderr
}

#[test]
fn bad_arguments_get_one_clear_line() {
    let file = shop().join("src/cart.rs");
    let file = file.to_str().unwrap();
    let missing = usage_error(&["run", "complete", "no/such/file.rs:1:1"]);
    assert!(missing.contains("cannot read no/such/file.rs"), "{missing}");

    let past_end = usage_error(&["run", "complete", &format!("{file}:500:1")]);
    assert!(
        past_end.contains("position 500:1 is outside") && past_end.contains("the last line is 60"),
        "{past_end}"
    );

    let past_line = usage_error(&["run", "complete", &format!("{file}:1:999")]);
    assert!(
        past_line.contains("line 1 has 20 characters, so COL is at most 21"),
        "{past_line}"
    );

    let unknown = usage_error(&[
        "run",
        "complete",
        &format!("{file}:1:1"),
        "--plugin",
        "nope",
    ]);
    assert!(
        unknown.contains("unknown plugin `nope`") && unknown.contains("completion"),
        "{unknown}"
    );

    let wrong_kind = usage_error(&[
        "run",
        "complete",
        &format!("{file}:1:1"),
        "--plugin",
        "explain",
    ]);
    assert!(
        wrong_kind.contains("does not provide completion"),
        "{wrong_kind}"
    );

    let malformed = usage_error(&["run", "complete", "cart.rs:twelve:1"]);
    assert!(malformed.contains("FILE:LINE:COL"), "{malformed}");
}

#[test]
fn the_readme_demo_completes_from_the_demo_workspace() {
    let cache = tempfile::tempdir().unwrap();
    let demo = common::repo().join("examples/demo/src/lib.rs:64:9");
    let out = output(cordon(cache.path()).args(["run", "complete"]).arg(demo));
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The four sibling methods open their body with this loop.
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("for item in &self.items"),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A plugin whose `describe` sleeps 30 s holds `cordon run` back by
/// `describe`'s own bound at most (2 s), not by its sleep (nor by the 60 s
/// bound of a feature call): it is reported by name, and the built-in
/// plugin answers.
#[test]
fn a_plugin_sleeping_in_describe_does_not_hold_back_cordon_run() {
    let cache = tempfile::tempdir().unwrap();
    let plugins = cache.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let slow = common::hostile_plugin().with_file_name("cordon_test_slow_describe.wasm");
    std::fs::copy(slow, plugins.join("slow-describe.wasm")).unwrap();
    let started = std::time::Instant::now();
    let out = output(
        cordon(cache.path())
            .args(["run", "complete", "--plugin-dir"])
            .arg(&plugins)
            .arg(shop().join("src/cart.rs:57:19"))
            .arg("--json"),
    );
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    let v = json(&out);
    assert_eq!(v["results"][0]["plugin"], "completion");
    assert!(
        stderr.contains("slow-describe") && stderr.contains("did not finish within 2s"),
        "{stderr}"
    );
    // Generous (the machine may be loaded), and still well short of the sleep.
    assert!(took < std::time::Duration::from_secs(20), "took {took:?}");
}

/// `cordon doctor --json` in the fixture workspace, under an organisation
/// policy of `policy` (none if empty): its exit code and checks.
fn doctor_under(policy: &str) -> (Option<i32>, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    if !policy.is_empty() {
        std::fs::write(dir.path().join("org-policy.toml"), policy).unwrap();
    }
    let out = output(
        cordon(dir.path())
            .args(["doctor", "--json", "--workspace"])
            .arg(shop()),
    );
    let v = json(&out);
    (out.status.code(), v["checks"].as_array().unwrap().clone())
}

fn finding<'a>(checks: &'a [serde_json::Value], area: &str, name: &str) -> &'a serde_json::Value {
    checks
        .iter()
        .find(|c| c["area"] == area && c["name"] == name)
        .unwrap_or_else(|| panic!("no {area} check `{name}` in {checks:#?}"))
}

#[test]
fn doctor_on_the_defaults_says_which_features_work_offline() {
    let (code, checks) = doctor_under("");
    assert_eq!(code, Some(0), "{checks:#?}");
    assert_eq!(finding(&checks, "feature", "completion")["level"], "ok");
    for needs_chat in ["explain", "refactor"] {
        let check = finding(&checks, "feature", needs_chat);
        assert_eq!(check["level"], "warn", "{check}");
        let message = check["message"].as_str().unwrap();
        assert!(message.contains("configure a chat backend"), "{message}");
    }
    assert!(checks.iter().any(|c| c["area"] == "editor"), "{checks:#?}");
}

#[test]
fn doctor_fails_on_a_policy_that_does_not_parse() {
    let (code, checks) =
        doctor_under("[plugins.\"*\"]\ncapabilities = [\"model\", \"telepathy\"]\n");
    assert_eq!(code, Some(1), "{checks:#?}");
    let broken = checks
        .iter()
        .find(|c| c["area"] == "policy" && c["ok"] == false)
        .unwrap_or_else(|| panic!("no failed policy check: {checks:#?}"));
    let message = broken["message"].as_str().unwrap();
    assert!(
        message.contains("telepathy") && message.contains("denied until it is fixed"),
        "{message}"
    );
    // Denying everything, it leaves no feature working.
    assert_eq!(finding(&checks, "feature", "completion")["ok"], false);
}

#[test]
fn doctor_fails_when_the_policy_leaves_a_builtin_feature_without_model() {
    // Granting only a new plugin: deny by default takes `model` from
    // Cordon's own plugins, which `policy check` alone accepts.
    let (code, checks) = doctor_under("[plugins.todo]\ncapabilities = [\"model\"]\n");
    assert_eq!(code, Some(1), "{checks:#?}");
    for builtin in ["completion", "explain", "refactor"] {
        let check = finding(&checks, "feature", builtin);
        assert_eq!(check["level"], "fail", "{check}");
        let message = check["message"].as_str().unwrap();
        assert!(
            message.contains("without `model`")
                && message.contains(&format!("[plugins.{builtin}]")),
            "{message}"
        );
    }
}

/// A component whose only import is the instance `name` (an empty instance
/// type): the smallest build that imports something.
fn component_importing(name: &str) -> Vec<u8> {
    let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
    bytes.extend([0x07, 0x03, 0x01, 0x42, 0x00]);
    let mut import = vec![0x01, 0x00, name.len() as u8];
    import.extend(name.as_bytes());
    import.extend([0x05, 0x00]);
    bytes.push(0x0a);
    bytes.push(import.len() as u8);
    bytes.extend(import);
    bytes
}

#[test]
fn plugins_check_names_each_import_cordon_does_not_provide_and_why() {
    let cache = tempfile::tempdir().unwrap();
    let http = cache.path().join("fetcher.wasm");
    std::fs::write(
        &http,
        component_importing("wasi:http/outgoing-handler@0.2.3"),
    )
    .unwrap();
    let out = output(cordon(cache.path()).args(["plugins", "check"]).arg(&http));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("REFUSED wasi:http/outgoing-handler@0.2.3")
            && text.contains("Cordon gives plugins no HTTP")
            && text.contains("--disable http"),
        "{text}"
    );
    assert!(
        text.contains("does not export `cordon:plugin/describe@0.2.0`"),
        "{text}"
    );

    // Loading it is refused the same way, before any compile.
    let dir = cache.path().join("plugins");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(&http, dir.join("fetcher.wasm")).unwrap();
    let out = output(
        cordon(cache.path())
            .args(["plugins", "list", "--workspace"])
            .arg(shop())
            .arg("--plugin-dir")
            .arg(&dir),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("fetcher.wasm: not loaded: it imports `wasi:http/outgoing-handler@0.2.3`: Cordon gives plugins no HTTP"),
        "{stderr}"
    );

    // A core module is told to build a component.
    let core = cache.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let out = output(cordon(cache.path()).args(["plugins", "check"]).arg(&core));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("core WebAssembly module, not a component") && text.contains("wasm32-wasip2"),
        "{text}"
    );

    // A good build loads, and says what the policy in force grants it.
    let out = output(
        cordon(cache.path())
            .args(["plugins", "check", "--json"])
            .arg(common::hostile_plugin()),
    );
    let v = json(&out);
    assert!(out.status.success(), "{v}");
    assert_eq!(v["problems"], serde_json::json!([]));
    assert_eq!(v["loaded"]["name"], "hostile");
    assert_eq!(v["loaded"]["granted"], serde_json::json!(["log"]));
    assert_eq!(
        v["kinds"],
        serde_json::json!(["completion", "refactor", "explain"])
    );
}

#[test]
fn plugins_test_runs_one_build_against_a_canned_model() {
    let cache = tempfile::tempdir().unwrap();
    let doc = cache.path().join("main.rs");
    std::fs::write(
        &doc,
        "fn main() {\n    // cordon-test:model\n    let x = 1;\n}\n",
    )
    .unwrap();
    let out = output(
        cordon(cache.path())
            .args(["plugins", "test"])
            .arg(common::hostile_plugin())
            .arg(format!("{}:3:5", doc.display()))
            .args(["--feature", "complete", "--reply", "canned words", "--json"]),
    );
    let v = json(&out);
    assert!(out.status.success(), "{v}");
    assert_eq!(
        v["granted"],
        serde_json::json!(["model", "workspace.read", "log"])
    );
    assert_eq!(v["asked"][0]["kind"], "fim");
    assert!(
        v["asked"][0]["text"]
            .as_str()
            .unwrap()
            .ends_with("// cordon-test:model\n    <cursor>let x = 1;\n}\n"),
        "{v}"
    );
    assert_eq!(v["results"][0]["items"][0]["detail"], "canned words", "{v}");

    // A panic is told by its message, on stderr with what the plugin printed.
    std::fs::write(&doc, "// cordon-test:panic\n").unwrap();
    let out = output(
        cordon(cache.path())
            .args(["plugins", "test"])
            .arg(common::hostile_plugin())
            .arg(format!("{}:1:1", doc.display()))
            .args(["--feature", "complete"]),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("plugin `hostile` crashed: panicked at")
            && stderr.contains("the hostile plugin panics on purpose"),
        "{stderr}"
    );

    // Under the policy in force, a third-party plugin has `log` only, and
    // its model request is denied.
    std::fs::write(&doc, "// cordon-test:model\n").unwrap();
    let out = output(
        cordon(cache.path())
            .args(["plugins", "test"])
            .arg(common::hostile_plugin())
            .arg(format!("{}:1:1", doc.display()))
            .args([
                "--feature",
                "complete",
                "--reply",
                "x",
                "--policy",
                "--json",
            ]),
    );
    let v = json(&out);
    assert_eq!(v["granted"], serde_json::json!(["log"]), "{v}");
    assert_eq!(v["asked"], serde_json::json!([]), "{v}");
    assert_eq!(v["results"][0]["items"][0]["detail"], "denied", "{v}");
}
