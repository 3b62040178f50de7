//! Helpers shared by the end-to-end tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The fixture workspace.
pub fn shop() -> PathBuf {
    repo().join("tests/fixtures/shop")
}

/// A `cordon` command with a private compiled-plugin cache and no user
/// plugin folder.
pub fn cordon(cache: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cordon"));
    cmd.env("CORDON_CACHE_DIR", cache)
        .env("XDG_DATA_HOME", cache.join("data"))
        .env("XDG_CONFIG_HOME", cache.join("config"))
        .env("CORDON_ORG_POLICY", cache.join("org-policy.toml"))
        .env_remove("CORDON_CONFIG")
        .env_remove("CORDON_LOG");
    cmd
}

/// Run `cmd`, returning its output.
pub fn output(cmd: &mut Command) -> Output {
    cmd.output().expect("running cordon")
}

/// stdout as JSON.
pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The test-only hostile plugin (tests/plugins/hostile), built from source
/// once per test process.
pub fn hostile_plugin() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let target = repo().join("target/wasm-test-plugins");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(repo().join("tests/plugins"))
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--target-dir",
            ])
            .arg(&target)
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .status()
            .expect("running cargo to build the hostile test plugin");
        assert!(status.success(), "building tests/plugins failed");
        target.join("wasm32-wasip2/release/cordon_test_hostile.wasm")
    })
}

/// One HTTP request a loopback model server received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback server speaking the OpenAI-compatible wire format (chat and
/// `/v1/completions` fill-in-the-middle) that records every request. It is a
/// stand-in for the remote service, not for any of Cordon's code.
pub struct OpenAiServer {
    pub url: String,
    pub received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

impl OpenAiServer {
    /// Answer chat with `chat_text` and FIM with `fim_text`, after `delay`.
    pub fn start(chat_text: &str, fim_text: &str, delay: std::time::Duration) -> Self {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = std::sync::Arc::clone(&received);
        let (chat_text, fim_text) = (chat_text.to_owned(), fim_text.to_owned());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let log = std::sync::Arc::clone(&log);
                let (chat_text, fim_text) = (chat_text.clone(), fim_text.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut parts = line.split_whitespace();
                    let method = parts.next().unwrap_or_default().to_owned();
                    let path = parts.next().unwrap_or_default().to_owned();
                    let mut headers = Vec::new();
                    loop {
                        line.clear();
                        reader.read_line(&mut line).unwrap();
                        let l = line.trim_end();
                        if l.is_empty() {
                            break;
                        }
                        if let Some((n, v)) = l.split_once(':') {
                            headers.push((n.trim().to_owned(), v.trim().to_owned()));
                        }
                    }
                    let length = headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    log.lock().unwrap().push(Received {
                        method,
                        path: path.clone(),
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    std::thread::sleep(delay);
                    let streaming = path.ends_with("/chat/completions")
                        && serde_json::from_slice::<serde_json::Value>(&body)
                            .is_ok_and(|b| b["stream"] == true);
                    if streaming {
                        // The answer in three pieces, as server-sent events.
                        let chars: Vec<char> = chat_text.chars().collect();
                        let third = chars.len().div_ceil(3).max(1);
                        let mut events = String::new();
                        for piece in chars.chunks(third) {
                            let piece: String = piece.iter().collect();
                            let chunk = serde_json::json!({"id": "s", "object": "chat.completion.chunk", "model": "test-model",
                                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]});
                            events.push_str(&format!("data: {chunk}\n\n"));
                        }
                        let last = serde_json::json!({"id": "s", "object": "chat.completion.chunk", "model": "test-model",
                            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}});
                        events.push_str(&format!("data: {last}\n\ndata: [DONE]\n\n"));
                        let _ = write!(
                            stream,
                            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{events}",
                            events.len()
                        );
                        return;
                    }
                    let answer = if path.ends_with("/chat/completions") {
                        serde_json::json!({
                            "id": "c1", "object": "chat.completion", "model": "test-model",
                            "choices": [{"index": 0, "message": {"role": "assistant", "content": chat_text}, "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
                        })
                    } else {
                        serde_json::json!({
                            "id": "f1", "object": "text_completion", "model": "test-model",
                            "choices": [{"index": 0, "text": fim_text, "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
                        })
                    }
                    .to_string();
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                        answer.len()
                    );
                });
            }
        });
        OpenAiServer { url, received }
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}
