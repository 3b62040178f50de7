//! Team policy, end to end: the real binary, an organisation policy file,
//! a loopback model server that records every byte it receives.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{OpenAiServer, cordon, json, output, shop};

/// An organisation policy in `dir`, and the cache/config folder for cordon.
fn org_policy(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("org-policy.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn routed_to(dir: &Path, server: &OpenAiServer) -> PathBuf {
    let path = dir.join("cordon.toml");
    std::fs::write(
        &path,
        format!(
            "[backends.gpt]\nprovider = \"openai\"\nmodel = \"gpt-4o\"\nbase_url = \"{}\"\nfim = \"completions\"\n[routes]\ndefault = \"gpt\"\n",
            server.url
        ),
    )
    .unwrap();
    path
}

#[test]
fn an_ungranted_capability_is_denied_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    org_policy(
        dir.path(),
        "[plugins.\"*\"]\ncapabilities = [\"log\"]\n\n[audit]\npath = \"audit.jsonl\"\n",
    );
    let out = output(
        cordon(dir.path())
            .args(["run", "complete"])
            .arg(shop().join("src/cart.rs:57:19"))
            .arg("--json"),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let error = &json(&out)["results"][0]["error"];
    assert_eq!(error["kind"], "denied", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("model"),
        "{error}"
    );

    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let denial = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["capability"] == "model")
        .expect("the denial is in the audit log");
    assert_eq!(denial["plugin"], "completion");
    assert_eq!(denial["decision"], "denied", "{denial}");
    assert_eq!(denial["digest"].as_str().unwrap().len(), 64);

    let verify = output(
        cordon(dir.path())
            .args(["audit", "verify"])
            .arg(dir.path().join("audit.jsonl")),
    );
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[test]
fn a_tampered_audit_line_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    org_policy(
        dir.path(),
        "[plugins.\"*\"]\ncapabilities = [\"log\"]\n\n[audit]\npath = \"audit.jsonl\"\n",
    );
    for _ in 0..2 {
        output(
            cordon(dir.path())
                .args(["run", "complete"])
                .arg(shop().join("src/cart.rs:57:19")),
        );
    }
    let path = dir.path().join("audit.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.lines().count() >= 2, "{text}");
    std::fs::write(&path, text.replacen("\"denied\"", "\"allowed\"", 1)).unwrap();
    let verify = output(cordon(dir.path()).args(["audit", "verify"]).arg(&path));
    assert_eq!(verify.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&verify.stderr).contains("line 1"),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

#[test]
fn a_disallowed_provider_is_refused_before_any_byte_leaves() {
    let server = OpenAiServer::start("never", "never", Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    org_policy(
        dir.path(),
        "[plugins.\"*\"]\ncapabilities = [\"model\", \"workspace.read\", \"log\"]\nproviders = [\"bedrock\", \"local\"]\nregions = [\"us-east-1\"]\n",
    );
    let cfg = routed_to(dir.path(), &server);
    let out = output(
        cordon(dir.path())
            .args(["run", "explain"])
            .arg(shop().join("src/cart.rs:56:5"))
            .arg("--config")
            .arg(&cfg)
            .arg("--json"),
    );
    assert_eq!(out.status.code(), Some(1));
    let error = &json(&out)["results"][0]["error"];
    assert_eq!(error["kind"], "denied", "{error}");
    assert!(
        server.requests().is_empty(),
        "bytes left for a refused provider"
    );
}

#[test]
fn excluded_content_and_secrets_never_reach_the_model() {
    let server = OpenAiServer::start("Explained.", "x", Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(ws.join("src")).unwrap();
    std::fs::create_dir_all(ws.join("secrets")).unwrap();
    std::fs::write(ws.join("Cargo.toml"), "[package]\nname = \"ws\"\n").unwrap();
    let aws_key = "AKIA2QWERTY7UIOPLKJH";
    let token = "ghp_4f8Kq2ZxR7mB1nV9cT3yW6uJ0pLsD5hGeA2b";
    std::fs::write(
        ws.join("src/lib.rs"),
        format!(
            "/// Connects to storage.\npub fn connect() -> Client {{\n    let key = \"{aws_key}\";\n    let github = \"{token}\";\n    Client::new(key, github)\n}}\n"
        ),
    )
    .unwrap();
    std::fs::write(
        ws.join(".env"),
        "DATABASE_PASSWORD=hunter2-but-longer-9x7\n",
    )
    .unwrap();
    std::fs::write(ws.join("secrets/prod.txt"), "the launch codes\n").unwrap();
    org_policy(
        dir.path(),
        "[plugins.\"*\"]\ncapabilities = [\"model\", \"workspace.read\", \"log\"]\n\n[content]\nexclude = [\"**/.env\", \"secrets/**\"]\nredact_secrets = true\n",
    );
    let cfg = routed_to(dir.path(), &server);

    let out = output(
        cordon(dir.path())
            .args(["run", "explain"])
            .arg(ws.join("src/lib.rs:2:5"))
            .arg("--config")
            .arg(&cfg),
    );
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [ws.join(".env:1:1"), ws.join("secrets/prod.txt:1:1")] {
        let out = output(
            cordon(dir.path())
                .args(["run", "complete"])
                .arg(&file)
                .arg("--config")
                .arg(&cfg),
        );
        assert_eq!(out.status.code(), Some(2), "{}", file.display());
        assert!(String::from_utf8_lossy(&out.stderr).contains("excluded by policy"));
    }

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "only the explain request left");
    let sent = &requests[0].body;
    assert!(
        sent.contains("pub fn connect()"),
        "the code itself is sent: {sent}"
    );
    for secret in [aws_key, token, "hunter2", "launch codes"] {
        assert!(
            !sent.contains(secret),
            "`{secret}` reached the model: {sent}"
        );
    }
    assert!(sent.contains("[REDACTED:"), "{sent}");
}

#[test]
fn pinned_digests_refuse_other_builds() {
    let dir = tempfile::tempdir().unwrap();
    org_policy(
        dir.path(),
        &format!(
            "[plugins.completion]\ncapabilities = [\"model\"]\nsha256 = [\"{}\"]\n",
            "0".repeat(64)
        ),
    );
    let out = output(
        cordon(dir.path())
            .args(["plugins", "list", "--json", "--workspace"])
            .arg(shop()),
    );
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    let names: Vec<&str> = v["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"completion"), "{names:?}");
    assert!(v["errors"].to_string().contains("refused"), "{v}");
}

#[test]
fn policy_check_names_the_file_and_line_and_explain_names_the_layer() {
    let dir = tempfile::tempdir().unwrap();
    org_policy(
        dir.path(),
        "[plugins.\"*\"]\ncapabilities = [\"model\", \"telepathy\"]\n",
    );
    let out = output(
        cordon(dir.path())
            .args(["policy", "check", "--workspace"])
            .arg(shop()),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("org-policy.toml")
            && stderr.contains(":2:")
            && stderr.contains("telepathy"),
        "{stderr}"
    );

    org_policy(
        dir.path(),
        "[plugins.\"*\"]\ncapabilities = [\"model\", \"log\"]\n",
    );
    let out = output(
        cordon(dir.path())
            .args(["policy", "explain", "completion", "--workspace"])
            .arg(shop()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("organisation") && text.contains("workspace.read"),
        "{text}"
    );
}

/// `cordon run complete` with the hostile plugin flooding the log, under an
/// organisation policy `policy`; stderr with `CORDON_LOG=info`.
fn flood_under(policy: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    org_policy(dir.path(), policy);
    let plugins = dir.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(common::hostile_plugin(), plugins.join("hostile.wasm")).unwrap();
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("a.rs"), "// cordon-test:log-flood\nfn a() {}\n").unwrap();
    let out = output(
        cordon(dir.path())
            .env("CORDON_LOG", "info")
            .args(["run", "complete", "--plugin", "hostile", "--workspace"])
            .arg(&ws)
            .arg("--plugin-dir")
            .arg(&plugins)
            .arg(ws.join("a.rs:2:3")),
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_log_capability_is_the_policys_to_grant() {
    let plugin_lines = |stderr: &str| {
        stderr
            .lines()
            .filter(|l| l.contains("cordon::plugin"))
            .count()
    };
    let granted = flood_under("[plugins.\"*\"]\ncapabilities = [\"log\"]\n");
    assert!(
        plugin_lines(&granted) > 0,
        "{}",
        &granted[..granted.len().min(2000)]
    );
    // Withheld: neither its log calls nor what it printed reach the log.
    let denied = flood_under("[plugins.\"*\"]\ncapabilities = [\"model\"]\n");
    assert_eq!(
        plugin_lines(&denied),
        0,
        "{}",
        &denied[..denied.len().min(2000)]
    );
    // A policy that does not load silences it too.
    let broken = flood_under("[plugins.\"*\"]\ncapabilities = [\"telepathy\"]\n");
    assert_eq!(
        plugin_lines(&broken),
        0,
        "{}",
        &broken[..broken.len().min(2000)]
    );
}
