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

/// A Bedrock backend at a loopback server, with static AWS credentials,
/// under an organisation policy allowing only `us-east-1`.
fn bedrock_under_us_east_1(model: &str) -> (OpenAiServer, Vec<String>, std::process::Output) {
    let server = OpenAiServer::start("", "", Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("org-policy.toml"),
        "[plugins.\"*\"]\ncapabilities = [\"model\", \"workspace.read\", \"log\"]\nregions = [\"us-east-1\"]\n[audit]\npath = \"audit.jsonl\"\n",
    )
    .unwrap();
    let cfg = config(
        dir.path(),
        &format!(
            "[backends.claude]\nprovider = \"bedrock\"\nmodel = \"{model}\"\nregion = \"us-east-1\"\nbase_url = \"{}\"\ntimeout_ms = 3000\nmax_retries = 0\n[routes]\ndefault = \"claude\"\n",
            server.url
        ),
    );
    let out = output(
        cordon(dir.path())
            .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env_remove("AWS_BEARER_TOKEN_BEDROCK")
            .env_remove("AWS_PROFILE")
            .args(["run", "explain"])
            .arg(shop().join("src/cart.rs:56:5"))
            .arg("--config")
            .arg(&cfg)
            .arg("--json"),
    );
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap_or_default();
    (server, audit.lines().map(str::to_owned).collect(), out)
}

#[test]
fn a_request_that_may_be_processed_outside_the_allowed_regions_never_leaves() {
    for (model, processing) in [
        (
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "any commercial AWS region",
        ),
        (
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "may run in us-east-1, us-east-2, us-west-2",
        ),
        (
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3",
            "application inference profile",
        ),
    ] {
        let (server, audit, out) = bedrock_under_us_east_1(model);
        assert!(server.requests().is_empty(), "{model}: bytes left");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stdout.contains(processing) || stderr.contains(processing),
            "{model}: {stdout}{stderr}"
        );
        let denial = audit
            .iter()
            .find(|l| {
                l.contains("\"decision\":\"denied\"") && l.contains("\"capability\":\"model\"")
            })
            .unwrap_or_else(|| panic!("{model}: no denial audited: {audit:?}"));
        assert!(denial.contains("\"processing\":"), "{denial}");
    }
    // The same set-up with an in-region model id does send the request, and
    // its audit records join Bedrock's logs: endpoint, auth, call id.
    let (server, audit, _) = bedrock_under_us_east_1("anthropic.claude-3-5-sonnet-20240620-v1:0");
    let requests = server.requests();
    assert!(!requests.is_empty(), "an allowed request is sent");
    let body: serde_json::Value = serde_json::from_str(&requests[0].body).unwrap();
    let call = body["requestMetadata"]["cordon_call"]
        .as_str()
        .unwrap_or_default();
    assert!(!call.is_empty(), "{body}");
    assert_eq!(body["requestMetadata"]["cordon_plugin"], "explain");
    let admitted = audit
        .iter()
        .find(|l| l.contains("\"decision\":\"allowed\"") && l.contains("\"call\":"))
        .unwrap_or_else(|| panic!("{audit:?}"));
    assert!(
        admitted.contains(&format!("\"call\":\"{call}\"")),
        "{admitted}"
    );
    assert!(admitted.contains("\"auth\":\"sigv4\""), "{admitted}");
    assert!(admitted.contains("\"endpoint\":\"127.0.0.1:"), "{admitted}");
    assert!(
        admitted.contains("\"processing\":\"us-east-1\""),
        "{admitted}"
    );
}

/// A backend that refuses connections, routed to every plugin.
fn unreachable_config(dir: &std::path::Path) -> std::path::PathBuf {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // closed again when the listener drops
    config(
        dir,
        &format!(
            "[backends.gpt]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://127.0.0.1:{port}\"\nmax_retries = 0\n[routes]\ndefault = \"gpt\"\n"
        ),
    )
}

/// `cordon run complete --json` at the end of `self.line_` in the shop,
/// with the configuration file `cfg`.
fn complete_in_the_shop(dir: &std::path::Path, cfg: &std::path::Path) -> std::process::Output {
    output(
        cordon(dir)
            .args(["run", "complete", "--json"])
            .arg(shop().join("src/cart.rs:57:19"))
            .arg("--config")
            .arg(cfg),
    )
}

#[test]
fn completion_falls_back_to_the_local_model_when_the_backend_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = unreachable_config(dir.path());
    let out = complete_in_the_shop(dir.path(), &cfg);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    let items = v["results"][0]["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|i| i["label"].as_str().unwrap().starts_with("line_items")),
        "{v}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("cannot be used").count(), 1, "{stderr}");
    assert!(stderr.contains("offline `local` model"), "{stderr}");
}

#[test]
fn completion_does_not_fall_back_where_the_policy_forbids_the_local_model() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = unreachable_config(dir.path());
    // Only the `gpt` backend is allowed: the local model is not a way round.
    std::fs::write(
        dir.path().join("org-policy.toml"),
        "[plugins.\"*\"]\ncapabilities = [\"model\", \"workspace.read\", \"log\"]\nbackends = [\"gpt\"]\n",
    )
    .unwrap();
    let out = complete_in_the_shop(dir.path(), &cfg);
    let v = json(&out);
    assert!(v["results"][0]["error"].is_object(), "{v}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("offline `local` model"), "{stderr}");
}
