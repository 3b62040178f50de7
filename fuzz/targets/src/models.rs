//! `model_replies`: what model servers send back, through the real
//! `cordon_providers::Provider` of each wire protocol, against a loopback
//! HTTP server that answers with the fuzz bytes: OpenAI-compatible chat
//! (JSON and server-sent events), `/v1/completions` and Ollama's
//! `/api/generate` fill-in-the-middle, Anthropic Messages (JSON and SSE),
//! Bedrock Converse (JSON) and ConverseStream (the AWS event stream, read
//! by the SDK and then by Cordon's stream handling).
//!
//! Input: a selector byte (protocol, status), a chunking seed, then the
//! body. Checks: every call ends within a time bound; a stream yields at
//! most one `Done`, as its last item, and nothing after an error; error
//! messages stay short (a hostile server cannot flood the editor or the
//! log through them).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use cordon_providers::aws::{self, BehaviorVersion, Credentials};
use cordon_providers::{
    BackendConfig, ChatRequest, FimMode, FimRequest, Message, Provider, ProviderKind, StreamEvent,
};
use futures::StreamExt;

/// Longest error message accepted from one failed call.
const MAX_ERROR: usize = 2048;

struct Loopback {
    runtime: tokio::runtime::Runtime,
    /// The raw HTTP response the server sends next.
    reply: &'static Mutex<Vec<u8>>,
    providers: Vec<Provider>,
}

static LOOPBACK: OnceLock<Loopback> = OnceLock::new();
/// One input at a time: the server's reply is shared.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn loopback() -> &'static Loopback {
    LOOPBACK.get_or_init(|| {
        let reply: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                if read_request(&mut stream).is_some() {
                    let bytes = reply.lock().unwrap_or_else(|e| e.into_inner()).clone();
                    let _ = stream.write_all(&bytes);
                }
            }
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a Tokio runtime");
        let providers = runtime.block_on(providers(&url));
        Loopback {
            runtime,
            reply,
            providers,
        }
    })
}

/// Read one request (head and `Content-Length` body).
fn read_request(stream: &mut std::net::TcpStream) -> Option<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut byte).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut byte).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&byte[..n]);
    }
    Some(())
}

fn backend(provider: ProviderKind, url: &str) -> BackendConfig {
    BackendConfig {
        provider,
        model: "m".into(),
        base_url: Some(url.to_owned()),
        api_key_env: None,
        region: None,
        profile: None,
        timeout_ms: Some(5_000),
        max_retries: Some(0),
        fim: None,
        max_tokens: None,
        guardrail: None,
        use_fips: None,
        inference_geo: None,
    }
}

async fn providers(url: &str) -> Vec<Provider> {
    let key = |_: &str| Some("sk-fuzz".to_owned());
    let openai = |fim| {
        let mut config = backend(ProviderKind::OpenAi, url);
        config.fim = Some(fim);
        config
    };
    let mut bedrock = backend(ProviderKind::Bedrock, url);
    bedrock.region = Some("us-east-1".into());
    bedrock.model = "anthropic.claude-3-5-sonnet-20240620-v1:0".into();
    let loader = aws::defaults(BehaviorVersion::latest()).credentials_provider(Credentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        None,
        None,
        "fuzz",
    ));
    vec![
        Provider::new_with_env("openai", &openai(FimMode::Completions), &key)
            .await
            .expect("an OpenAI-compatible backend"),
        Provider::new_with_env("ollama", &openai(FimMode::Ollama), &key)
            .await
            .expect("an Ollama backend"),
        Provider::new_with_env("anthropic", &backend(ProviderKind::Anthropic, url), &key)
            .await
            .expect("an Anthropic backend"),
        Provider::new_with_aws_loader("bedrock", &bedrock, loader)
            .await
            .expect("a Bedrock backend"),
    ]
}

/// What is called, and the content type the server answers with.
#[derive(Debug, Clone, Copy)]
enum Call {
    Chat(usize),
    Stream(usize),
    Fim(usize),
}

const CALLS: [(Call, &str); 8] = [
    (Call::Chat(0), "application/json"),
    (Call::Stream(0), "text/event-stream"),
    (Call::Fim(0), "application/json"),
    (Call::Fim(1), "application/json"),
    (Call::Chat(2), "application/json"),
    (Call::Stream(2), "text/event-stream"),
    (Call::Chat(3), "application/json"),
    (Call::Stream(3), "application/vnd.amazon.eventstream"),
];

/// The fuzz target.
pub fn model_replies(data: &[u8]) {
    let [selector, seed, body @ ..] = data else {
        return;
    };
    let (call, content_type) = CALLS[usize::from(selector % 8)];
    let status = match selector >> 3 {
        0 => 400,
        1 => 429,
        2 => 500,
        3 => 404,
        _ => 200,
    };
    let response = http_response(status, content_type, body, *seed);
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let loopback = loopback();
    *loopback.reply.lock().unwrap_or_else(|e| e.into_inner()) = response;
    loopback.runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(20), run(&loopback.providers, call))
            .await
            .expect("a model call hung on a complete reply")
    });
}

fn chat() -> ChatRequest {
    ChatRequest {
        system: "terse".into(),
        messages: vec![Message::user("hi")],
        max_tokens: 16,
        temperature: None,
        stop: vec![],
        metadata: Default::default(),
    }
}

fn check_error(error: &cordon_providers::ProviderError) {
    let message = error.to_string();
    assert!(
        message.len() <= MAX_ERROR,
        "an error message of {} bytes: {}…",
        message.len(),
        message.chars().take(200).collect::<String>()
    );
}

async fn run(providers: &[Provider], call: Call) {
    match call {
        Call::Chat(i) => {
            if let Err(e) = providers[i].chat(&chat()).await {
                check_error(&e);
            }
        }
        Call::Fim(i) => {
            let req = FimRequest {
                prefix: "fn main() {".into(),
                suffix: "}".into(),
                language_id: "rust".into(),
                max_tokens: 16,
                stop: vec![],
                metadata: Default::default(),
            };
            if let Err(e) = providers[i].fim(&req).await {
                check_error(&e);
            }
        }
        Call::Stream(i) => {
            let mut stream = match providers[i].chat_stream(&chat()).await {
                Ok(stream) => stream,
                Err(e) => return check_error(&e),
            };
            let mut ended = false;
            let mut items = 0usize;
            while let Some(item) = stream.next().await {
                assert!(!ended, "an item after Done or an error");
                items += 1;
                assert!(items < 1 << 20, "a stream that does not end");
                match item {
                    Ok(StreamEvent::Text(_)) => {}
                    Ok(StreamEvent::Done { .. }) => ended = true,
                    Err(e) => {
                        check_error(&e);
                        ended = true;
                    }
                }
            }
        }
    }
}

/// A complete HTTP/1.1 response; bodies of streams are sent chunked, cut
/// where `seed` says.
fn http_response(status: u16, content_type: &str, body: &[u8], seed: u8) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\nconnection: close\r\nx-request-id: fuzz\r\nx-amzn-requestid: fuzz\r\n"
    )
    .into_bytes();
    if seed & 1 == 0 {
        out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
        out.extend_from_slice(body);
        return out;
    }
    out.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
    let size = usize::from(seed >> 1) + 1;
    for chunk in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}
