//! Remote backends behind the model capability, end to end: `cordon run`
//! with a `cordon.toml` routing features to a loopback OpenAI-compatible
//! server that records what it receives.

mod common;

use std::time::Duration;

use common::{OpenAiServer, cordon, json, output, shop};

fn config(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    let path = dir.join("cordon.toml");
    std::fs::write(&path, body).unwrap();
    path
}

fn routed_to(server: &OpenAiServer, extra: &str) -> String {
    format!(
        "[backends.gpt]\nprovider = \"openai\"\nmodel = \"test-model\"\nbase_url = \"{}\"\ntimeout_ms = 5000\n{extra}\n[routes]\ndefault = \"gpt\"\n",
        server.url
    )
}

#[test]
fn explain_answers_from_the_configured_backend() {
    let server = OpenAiServer::start("`clear` empties the cart.", "", Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &routed_to(&server, ""));
    let out = output(
        cordon(dir.path())
            .args(["run", "explain"])
            .arg(shop().join("src/cart.rs:56:5"))
            .arg("--config")
            .arg(&cfg)
            .arg("--json"),
    );
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    assert_eq!(v["results"][0]["markdown"], "`clear` empties the cart.");

    let requests = server.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("POST", "/v1/chat/completions")
    );
    assert!(
        request.header("authorization").is_none(),
        "no key is configured, none is sent"
    );
    let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["stream"], true, "explanations are streamed");
    let sent = body["messages"].to_string();
    assert!(
        sent.contains("pub fn clear(&mut self)"),
        "the enclosing item is sent: {sent}"
    );
    assert!(sent.contains("src/cart.rs"), "{sent}");
}

#[test]
fn completion_uses_fill_in_the_middle() {
    let server = OpenAiServer::start("", "items.clear();", Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &routed_to(&server, "fim = \"completions\""));
    let out = output(
        cordon(dir.path())
            .args(["run", "complete"])
            .arg(shop().join("src/cart.rs:57:19"))
            .arg("--config")
            .arg(&cfg)
            .arg("--json"),
    );
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        json(&out)["results"][0]["items"][0]["insert_text"],
        "items.clear();"
    );
    let request = &server.requests()[0];
    assert_eq!(request.path, "/v1/completions");
    let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
    assert!(
        body["prompt"].as_str().unwrap().ends_with("self.line_"),
        "{body}"
    );
    assert!(
        body["suffix"].as_str().unwrap().starts_with("\n    }"),
        "{body}"
    );
}

#[test]
fn a_missing_key_is_named_and_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "[backends.claude]\nprovider = \"anthropic\"\nmodel = \"claude-sonnet-4-5\"\nbase_url = \"http://127.0.0.1:9\"\napi_key_env = \"CORDON_TEST_MISSING_KEY\"\n[routes]\ndefault = \"claude\"\n",
    );
    let out = output(
        cordon(dir.path())
            .env_remove("CORDON_TEST_MISSING_KEY")
            .args(["run", "explain"])
            .arg(shop().join("src/cart.rs:56:5"))
            .arg("--config")
            .arg(&cfg)
            .arg("--json"),
    );
    assert_eq!(out.status.code(), Some(1));
    let error = &json(&out)["results"][0]["error"];
    assert_eq!(error["kind"], "unavailable");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("backend `claude`")
            && message.contains("CORDON_TEST_MISSING_KEY is not set"),
        "{message}"
    );
}

#[test]
fn keys_reach_the_server_and_nothing_else() {
    let server = OpenAiServer::start("Explained.", "", Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &routed_to(&server, "api_key_env = \"CORDON_TEST_KEY\""),
    );
    let secret = "sk-test-4f1d8a2c9e7b6a5d3c1e";
    let out = output(
        cordon(dir.path())
            .env("CORDON_TEST_KEY", secret)
            .env("CORDON_LOG", "trace")
            .args(["run", "explain"])
            .arg(shop().join("src/cart.rs:56:5"))
            .arg("--config")
            .arg(&cfg)
            .arg("--json"),
    );
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some(format!("Bearer {secret}").as_str())
    );
    for (stream, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !String::from_utf8_lossy(bytes).contains(secret),
            "the key leaked to {stream}"
        );
    }
}

#[test]
fn a_bad_config_file_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        "[backends.gpt]\nprovider = \"openai\"\nmodle = \"x\"\n",
    );
    let out = output(
        cordon(dir.path())
            .args(["run", "complete"])
            .arg(shop().join("src/cart.rs:57:19"))
            .arg("--config")
            .arg(&cfg),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cordon.toml") && stderr.contains("modle"),
        "{stderr}"
    );
}

#[test]
fn doctor_reports_each_backend() {
    let server = OpenAiServer::start("", "", Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "{}\n[backends.claude]\nprovider = \"anthropic\"\nmodel = \"m\"\napi_key_env = \"CORDON_TEST_MISSING_KEY\"\n",
        routed_to(&server, "")
    );
    let cfg = config(dir.path(), &body);
    let out = output(
        cordon(dir.path())
            .env_remove("CORDON_TEST_MISSING_KEY")
            .args(["doctor", "--json", "--workspace"])
            .arg(shop())
            .arg("--config")
            .arg(&cfg),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "a broken backend fails the check"
    );
    let v = json(&out);
    let find = |name: &str| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["area"] == "backend" && c["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(find("gpt")["ok"], true, "{v}");
    let claude = find("claude");
    assert_eq!(claude["ok"], false);
    assert!(
        claude["message"]
            .as_str()
            .unwrap()
            .contains("CORDON_TEST_MISSING_KEY is not set")
    );
    assert!(
        server.requests().iter().any(|r| r.path == "/v1/models"),
        "reachability was checked"
    );
}
