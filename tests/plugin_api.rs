//! The plugin API across versions, and capability requests: a component
//! built against `cordon:plugin@0.1.0` (kept in tests/fixtures/plugins,
//! never rebuilt) still loads and runs through the same gate, and a 0.2.0
//! plugin's requests are shown against its grants, warned about, and
//! granted by the snippet `cordon policy grant` prints.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{cordon, json, output};
use serde_json::json;

/// A component built against 0.1.0.
fn old(name: &str) -> PathBuf {
    common::repo().join("tests/fixtures/plugins").join(name)
}

/// A plugin folder holding the current hostile plugin and the 0.1.0
/// refactor plugin.
fn plugin_dir(root: &Path) -> PathBuf {
    let dir = root.join("plugins");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(common::hostile_plugin(), dir.join("hostile.wasm")).unwrap();
    std::fs::copy(old("legacy-refactor-0.1.0.wasm"), dir.join("legacy.wasm")).unwrap();
    dir
}

/// `cordon ARGS --plugin-dir DIR --workspace WS`.
fn with_plugins(cache: &Path, args: &[&str], dir: &Path, ws: &Path) -> Output {
    output(
        cordon(cache)
            .args(args)
            .arg("--plugin-dir")
            .arg(dir)
            .arg("--workspace")
            .arg(ws),
    )
}

fn by_name<'a>(list: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no plugin `{name}` in {list:#}"))
}

#[test]
fn a_plugin_built_against_0_1_0_runs_every_import_through_the_same_gate() {
    let cache = tempfile::tempdir().unwrap();
    let doc = cache.path().join("main.rs");
    let run = |mode: &str, extra: &[&str]| {
        std::fs::write(
            &doc,
            format!("fn main() {{\n    // cordon-test:{mode}\n}}\n"),
        )
        .unwrap();
        let out = output(
            cordon(cache.path())
                .args(["plugins", "test"])
                .arg(old("hostile-0.1.0.wasm"))
                .arg(format!("{}:2:5", doc.display()))
                .args(["--feature", "complete", "--json"])
                .args(extra),
        );
        json(&out)
    };

    // Fill-in-the-middle: the model's answer comes back through 0.1.0's types.
    let v = run("model", &["--reply", "canned words"]);
    assert_eq!(v["results"][0]["items"][0]["label"], "model-ok", "{v}");
    assert_eq!(v["results"][0]["items"][0]["detail"], "canned words", "{v}");
    assert_eq!(v["asked"][0]["kind"], "fim", "{v}");
    assert_eq!(v["asked"][0]["purpose"], "completion", "{v}");

    // A streamed chat answer, read piece by piece through the resource.
    let v = run("stream", &["--reply", "one two three"]);
    let item = &v["results"][0]["items"][0];
    assert!(item["label"].as_str().unwrap().ends_with("pieces"), "{v}");
    assert_eq!(item["insert_text"], "one two three", "{v}");

    // The policy in force decides for it as for any plugin: a third-party
    // plugin has `log` only, and its model request is denied.
    let v = run("model", &["--reply", "x", "--policy"]);
    assert_eq!(v["granted"], json!(["log"]), "{v}");
    assert_eq!(v["asked"], json!([]), "{v}");
    assert_eq!(v["results"][0]["items"][0]["detail"], "denied", "{v}");
}

#[test]
fn a_third_partys_0_1_0_refactor_plugin_offers_and_applies_its_action() {
    let cache = tempfile::tempdir().unwrap();
    let doc = cache.path().join("lib.rs");
    std::fs::write(&doc, "fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n").unwrap();
    let out = output(
        cordon(cache.path())
            .args(["plugins", "test"])
            .arg(old("legacy-refactor-0.1.0.wasm"))
            .arg(format!("{}:1:1-3:2", doc.display()))
            .args([
                "--action",
                "rewrite-selection",
                "--instruction",
                "name it sum",
            ])
            .args([
                "--reply",
                "```rust\nfn sum(a: i32, b: i32) -> i32 { a + b }\n```",
            ])
            .arg("--json"),
    );
    let v = json(&out);
    assert!(out.status.success(), "{v}");
    assert_eq!(v["plugin"], "legacy", "{v}");
    assert_eq!(v["api_version"], "0.1.0", "{v}");
    let edit = &v["results"][0]["edits"][0];
    assert_eq!(
        edit["new_text"].as_str().unwrap().trim_end(),
        "fn sum(a: i32, b: i32) -> i32 { a + b }",
        "{v}"
    );
    assert_eq!(v["asked"][0]["kind"], "chat", "{v}");
    assert!(
        v["asked"][0]["text"]
            .as_str()
            .unwrap()
            .contains("name it sum"),
        "{v}"
    );
}

#[test]
fn requests_are_shown_against_grants_warned_about_and_granted_by_the_printed_snippet() {
    let cache = tempfile::tempdir().unwrap();
    let dir = plugin_dir(cache.path());
    let ws = cache.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let list = || {
        let out = with_plugins(cache.path(), &["plugins", "list", "--json"], &dir, &ws);
        json(&out)
    };
    let check = || {
        let out = with_plugins(cache.path(), &["policy", "check", "--json"], &dir, &ws);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&out)
    };

    // Under Cordon's defaults a third-party plugin holds `log` only.
    let v = list();
    let hostile = by_name(&v, "hostile");
    assert_eq!(hostile["api_version"], "0.2.0");
    let asked: Vec<(&str, bool)> = hostile["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["capability"].as_str().unwrap(),
                r["granted"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        asked,
        [("model", false), ("workspace.read", false), ("log", true)]
    );
    assert!(
        hostile["requests"][0]["why"]
            .as_str()
            .unwrap()
            .contains("mode")
    );
    // Cordon's own plugins ask for what they use; the defaults give more.
    let completion = by_name(&v, "completion");
    assert!(
        completion["requests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["granted"] == true),
        "{completion:#}"
    );
    assert_eq!(completion["granted_unrequested"], json!(["workspace.read"]));
    // A 0.1.0 plugin cannot say: unknown, not "nothing".
    let legacy = by_name(&v, "legacy");
    assert_eq!(legacy["api_version"], "0.1.0");
    assert_eq!(legacy["requests"], serde_json::Value::Null);

    // `policy check` warns about each ungranted request, and about nothing else.
    let v = check();
    let warnings: Vec<&str> = v["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:#?}");
    assert!(
        warnings[0].contains("plugin `hostile` asks for `model`")
            && warnings[0].contains("cordon policy grant hostile"),
        "{warnings:#?}"
    );
    assert!(warnings[1].contains("`workspace.read`"), "{warnings:#?}");

    // The printed snippet, pasted into the user's policy, grants exactly
    // what was asked and keeps what every other plugin held.
    let out = with_plugins(cache.path(), &["policy", "grant", "hostile"], &dir, &ws);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snippet = String::from_utf8(out.stdout).unwrap();
    assert!(snippet.contains("[plugins.hostile]"), "{snippet}");
    let policy = cache.path().join("config/cordon/policy.toml");
    std::fs::create_dir_all(policy.parent().unwrap()).unwrap();
    std::fs::write(&policy, &snippet).unwrap();

    let v = check();
    assert_eq!(v["warnings"], json!([]), "{v:#}");
    let v = list();
    assert_eq!(
        by_name(&v, "hostile")["capabilities"],
        json!(["model", "workspace.read", "log"])
    );
    for name in ["completion", "refactor", "explain"] {
        assert_eq!(
            by_name(&v, name)["capabilities"],
            json!(["model", "workspace.read", "log"]),
            "{name}"
        );
    }
    assert_eq!(by_name(&v, "legacy")["capabilities"], json!(["log"]));

    // A plugin that cannot declare requests, or is not loaded, is told so.
    for (plugin, says) in [
        ("legacy", "cannot declare requests"),
        ("nope", "no loaded plugin is called `nope`"),
    ] {
        let out = with_plugins(cache.path(), &["policy", "grant", plugin], &dir, &ws);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
    }
}

#[test]
fn a_policy_that_takes_model_from_the_built_ins_is_warned_about_per_plugin() {
    let cache = tempfile::tempdir().unwrap();
    let dir = plugin_dir(cache.path());
    let policy = cache.path().join("config/cordon/policy.toml");
    std::fs::create_dir_all(policy.parent().unwrap()).unwrap();
    std::fs::write(
        &policy,
        "[plugins.hostile]\ncapabilities = [\"model\", \"workspace.read\", \"log\"]\n",
    )
    .unwrap();
    let out = with_plugins(cache.path(), &["policy", "check"], &dir, cache.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for name in ["completion", "refactor", "explain"] {
        assert!(
            text.contains(&format!(
                "warning: Cordon's own plugin `{name}` asks for `model`"
            )) && text.contains("it cannot do its work until then"),
            "{text}"
        );
    }
    assert!(!text.contains("plugin `hostile` asks"), "{text}");
}
