//! Hostile plugins cost only their own call, end to end: the real binary,
//! the test-only hostile plugin (tests/plugins/hostile), an organisation
//! policy with an audit log, and a loopback model server.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::{OpenAiServer, cordon, json, output};

/// A folder with the organisation policy `policy`, the hostile plugin and
/// a one-file workspace whose file asks for `mode`.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(policy: &str, mode: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("org-policy.toml"), policy).unwrap();
        let plugins = dir.path().join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        std::fs::copy(common::hostile_plugin(), plugins.join("hostile.wasm")).unwrap();
        let ws = dir.path().join("ws");
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::write(
            ws.join("a.rs"),
            format!("// cordon-test:{mode}\nfn a() {{}}\n"),
        )
        .unwrap();
        Setup { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `cordon run complete --plugin hostile` at the file's second line,
    /// with `extra` arguments.
    fn complete(&self, extra: &[&str]) -> Output {
        let ws = self.path().join("ws");
        output(
            cordon(self.path())
                .env("CORDON_LOG", "info")
                .args(["run", "complete", "--plugin", "hostile", "--workspace"])
                .arg(&ws)
                .arg("--plugin-dir")
                .arg(self.path().join("plugins"))
                .args(extra)
                .arg(ws.join("a.rs:2:3")),
        )
    }

    fn audit(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.path().join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// A `cordon.toml` routing every plugin to `server`.
    fn routed_to(&self, server: &OpenAiServer) -> PathBuf {
        let path = self.path().join("cordon.toml");
        std::fs::write(
            &path,
            format!(
                "[backends.gpt]\nprovider = \"openai\"\nmodel = \"gpt-4o\"\nbase_url = \"{}\"\n[routes]\ndefault = \"gpt\"\n",
                server.url
            ),
        )
        .unwrap();
        path
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_flood_of_denials_writes_a_bounded_audit_log() {
    let setup = Setup::new(
        "[plugins.\"*\"]\ncapabilities = [\"model\"]\n\n[audit]\npath = \"audit.jsonl\"\n",
        "deny-flood",
    );
    let out = setup.complete(&["--json"]);
    let records = setup.audit();
    let denials = records
        .iter()
        .filter(|r| r["capability"] == "workspace.read")
        .count();
    assert!(
        (1..=32).contains(&denials),
        "{denials} denial records for one call; stderr: {}",
        stderr(&out)
    );
    // What the cap kept out is recorded once, with its count.
    let caps: Vec<_> = records
        .iter()
        .filter(|r| r["capability"] == "call")
        .collect();
    assert_eq!(caps.len(), 1, "{caps:?}");
    let reason = caps[0]["reason"].as_str().unwrap();
    assert!(reason.contains("further denials"), "{reason}");
    let size = std::fs::metadata(setup.path().join("audit.jsonl"))
        .unwrap()
        .len();
    assert!(size < 64 * 1024, "the audit log grew to {size} bytes");
    let verify = output(
        cordon(setup.path())
            .args(["audit", "verify"])
            .arg(setup.path().join("audit.jsonl")),
    );
    assert!(verify.status.success(), "{}", stderr(&verify));
}

#[test]
fn host_work_is_charged_to_the_plugin() {
    // Each `fim` to the local model is cheap for the plugin and costs the
    // host; ten million of them end the call on its host-work budget (1 s),
    // even with CPU time to spare.
    let setup = Setup::new(
        "[plugins.\"*\"]\ncapabilities = [\"model\"]\ncpu_ms = 30000\n",
        "fim-loop",
    );
    let out = setup.complete(&["--json"]);
    let error = &json(&out)["results"][0]["error"];
    assert_eq!(error["kind"], "cpu-time", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("kept the host busy"), "{message}");
}

#[test]
fn a_dropped_stream_is_charged_and_recorded() {
    let server = OpenAiServer::start("Hello, streaming world", "", Duration::ZERO);
    // Each stream costs its input (about 3 tokens) and its whole
    // `max_tokens` (16): three fit in 50 tokens a day, not twenty.
    let setup = Setup::new(
        "[plugins.\"*\"]\ncapabilities = [\"model\"]\ntokens_per_day = 50\n\n[audit]\npath = \"audit.jsonl\"\n",
        "stream-drop",
    );
    let cfg = setup.routed_to(&server);
    let out = setup.complete(&["--config", cfg.to_str().unwrap(), "--json"]);
    let item = &json(&out)["results"][0]["items"][0];
    assert_eq!(
        item["label"],
        "3 opened",
        "{item}; stderr: {}",
        stderr(&out)
    );
    assert_eq!(item["detail"], "budget-exceeded", "{item}");
    let requests: Vec<_> = setup
        .audit()
        .into_iter()
        .filter(|r| r["capability"] == "model" && r["reason"].as_str().unwrap().contains("dropped"))
        .collect();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert!(requests[0]["output_tokens"].as_u64().unwrap() >= 16);
    assert_eq!(requests[0]["operation"], "chat", "{:?}", requests[0]);
    // The budget's refusals are denials in the log (the usage page counts them).
    let hits = setup
        .audit()
        .into_iter()
        .filter(|r| {
            r["decision"] == "denied" && r["reason"].as_str().unwrap().contains("tokens_per_day")
        })
        .count();
    assert!(hits >= 1, "no budget hit recorded");
}

#[test]
fn a_plugins_error_text_is_bounded_and_has_no_escapes() {
    let setup = Setup::new("[plugins.\"*\"]\ncapabilities = [\"log\"]\n", "evil-error");
    let out = setup.complete(&["--json"]);
    let error = &json(&out)["results"][0]["error"];
    assert_eq!(error["kind"], "invalid-request", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(message.len() <= 1100, "{} bytes", message.len());
    assert!(!message.chars().any(char::is_control), "{message:?}");
    // Without --json the terminal gets the same bounded line.
    let out = setup.complete(&[]);
    let shown = stderr(&out);
    assert!(!shown.contains('\x1b'), "{shown:?}");
    assert!(shown.len() < 8 * 1024, "{} bytes on stderr", shown.len());
}

#[test]
fn a_plugins_text_never_drives_the_terminal() {
    let setup = Setup::new("[plugins.\"*\"]\ncapabilities = [\"log\"]\n", "escapes");
    let out = setup.complete(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    for (name, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{name}: {text:?}"
        );
    }
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("esc]52;c;ZXZpbA=="), "{printed:?}");
    let logged = stderr(&out);
    assert!(
        logged
            .lines()
            .any(|l| l.contains("]52;c;ZXZpbA==") && l.contains("cordon::plugin")),
        "{logged}"
    );
}

#[test]
fn a_fill_in_the_middle_request_is_recorded_as_text_completion() {
    let setup = Setup::new(
        "[plugins.\"*\"]\ncapabilities = [\"model\"]\n\n[audit]\npath = \"audit.jsonl\"\n",
        "model",
    );
    let out = setup.complete(&["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let operations: Vec<_> = setup
        .audit()
        .into_iter()
        // The route and request records (the capability check has no call).
        .filter(|r| r["capability"] == "model" && r["call"].is_string())
        .map(|r| r["operation"].clone())
        .collect();
    assert!(
        !operations.is_empty() && operations.iter().all(|o| o == "text_completion"),
        "{operations:?}"
    );
}
