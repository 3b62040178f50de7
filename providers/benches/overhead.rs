//! Client overhead over the raw loopback round trip, per provider.
//!
//! A keep-alive loopback server answers every request at once with fixed,
//! realistic bytes (a model that takes no time). "raw" is a plain TCP
//! client writing one HTTP/1.1 request of the same size and reading the
//! reply: the floor set by the kernel and the server. "client" is
//! `Provider::chat`, or for streams the time from `chat_stream` to the
//! first text chunk. Reported: p50 / p99 in microseconds.
//!
//! Run: `cargo bench --bench overhead` (ITERS=N to change the sample size).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cordon_providers::aws::{BehaviorVersion, Credentials, defaults};
use cordon_providers::{BackendConfig, ChatRequest, Message, Provider, ProviderKind};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn response(content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn frame(event_type: &str, payload: &str) -> Vec<u8> {
    let headers: Vec<(&str, &str)> = vec![
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ];
    let mut hb = Vec::new();
    for (n, v) in headers {
        hb.push(n.len() as u8);
        hb.extend_from_slice(n.as_bytes());
        hb.push(7);
        hb.extend_from_slice(&(v.len() as u16).to_be_bytes());
        hb.extend_from_slice(v.as_bytes());
    }
    let total = 16 + hb.len() + payload.len();
    let mut out = Vec::new();
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(hb.len() as u32).to_be_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out.extend_from_slice(&hb);
    out.extend_from_slice(payload.as_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// A keep-alive server giving `reply` to every request; counts the
/// connections it accepted.
async fn serve(reply: Vec<u8>, connections: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let reply = Arc::new(reply);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            connections.fetch_add(1, Ordering::Relaxed);
            socket.set_nodelay(true).unwrap();
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = vec![0u8; 64 * 1024];
                loop {
                    // Read one request: head, then content-length bytes.
                    let (head_end, len) = loop {
                        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..at]).to_ascii_lowercase();
                            let len = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .map(|v| v.trim().parse::<usize>().unwrap())
                                .unwrap_or(0);
                            break (at + 4, len);
                        }
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    while buf.len() < head_end + len {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..head_end + len);
                    if socket.write_all(&reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

/// Round trips of a plain keep-alive TCP client sending `request_len`
/// bytes and reading `reply_len` bytes.
async fn raw(url: &str, request_len: usize, reply_len: usize, iters: usize) -> Vec<Duration> {
    let addr = url.trim_start_matches("http://");
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket.set_nodelay(true).unwrap();
    let body = vec![b'x'; request_len];
    let mut request = format!(
        "POST /raw HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {request_len}\r\n\r\n"
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let mut buf = vec![0u8; reply_len.max(1)];
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters {
        let started = Instant::now();
        socket.write_all(&request).await.unwrap();
        socket.read_exact(&mut buf).await.unwrap();
        times.push(started.elapsed());
    }
    times
}

fn pct(times: &mut [Duration], p: f64) -> f64 {
    times.sort_unstable();
    let i = ((times.len() as f64 - 1.0) * p).round() as usize;
    times[i].as_secs_f64() * 1e6
}

struct Row {
    name: &'static str,
    connections: usize,
    raw: Vec<Duration>,
    client: Vec<Duration>,
}

fn chat_request() -> ChatRequest {
    ChatRequest {
        system: "You complete code.".into(),
        messages: vec![Message::user("fn main() {".repeat(20))],
        max_tokens: 64,
        temperature: Some(0.2),
        stop: vec!["\n\n".into()],
        metadata: Default::default(),
    }
}

async fn time_chat(p: &Provider, iters: usize) -> Vec<Duration> {
    let req = chat_request();
    for _ in 0..iters / 10 {
        p.chat(&req).await.unwrap();
    }
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters {
        let started = Instant::now();
        p.chat(&req).await.unwrap();
        times.push(started.elapsed());
    }
    times
}

async fn time_first_chunk(p: &Provider, iters: usize) -> Vec<Duration> {
    let req = chat_request();
    let mut times = Vec::with_capacity(iters);
    for i in 0..iters + iters / 10 {
        let started = Instant::now();
        let mut stream = p.chat_stream(&req).await.unwrap();
        stream.next().await.unwrap().unwrap();
        let elapsed = started.elapsed();
        // Drain so the connection is reused, as in real use.
        while stream.next().await.is_some() {}
        if i >= iters / 10 {
            times.push(elapsed);
        }
    }
    times
}

fn config(provider: ProviderKind, model: &str, url: &str) -> BackendConfig {
    BackendConfig {
        provider,
        model: model.into(),
        base_url: Some(url.into()),
        api_key_env: None,
        region: (provider == ProviderKind::Bedrock).then(|| "us-east-1".into()),
        profile: None,
        timeout_ms: None,
        max_retries: Some(0),
        fim: None,
        max_tokens: None,
        guardrail: None,
        use_fips: None,
        inference_geo: None,
    }
}

async fn provider(provider: ProviderKind, model: &str, url: &str) -> Provider {
    let config = config(provider, model, url);
    match provider {
        ProviderKind::Bedrock => {
            let loader = defaults(BehaviorVersion::latest()).credentials_provider(
                Credentials::new("AKIDEXAMPLE", "secret", None, None, "bench"),
            );
            Provider::new_with_aws_loader("bench", &config, loader)
                .await
                .unwrap()
        }
        _ => {
            let env = |_: &str| Some("sk-bench".to_owned());
            Provider::new_with_env("bench", &config, &env)
                .await
                .unwrap()
        }
    }
}

fn main() {
    let iters: usize = std::env::var("ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let anthropic_json = br#"{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"    println!(\"hi\");"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":60,"output_tokens":8}}"#;
        let anthropic_sse = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"m\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":60,\"output_tokens\":1}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"    println!\"}}\n\n",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":8}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        );
        let openai_json = br#"{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"    println!(\"hi\");"},"finish_reason":"stop"}],"usage":{"prompt_tokens":60,"completion_tokens":8,"total_tokens":68}}"#;
        let openai_sse = concat!(
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"    println!\"},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":60,\"completion_tokens\":8,\"total_tokens\":68}}\n\n",
            "data: [DONE]\n\n",
        );
        let bedrock_json = br#"{"metrics":{"latencyMs":1},"output":{"message":{"content":[{"text":"    println!(\"hi\");"}],"role":"assistant"}},"stopReason":"end_turn","usage":{"inputTokens":60,"outputTokens":8,"totalTokens":68}}"#;
        let bedrock_frames = [
            frame("messageStart", r#"{"p":"abcd","role":"assistant"}"#),
            frame("contentBlockDelta", r#"{"contentBlockIndex":0,"delta":{"text":"    println!"},"p":"abcd"}"#),
            frame("contentBlockStop", r#"{"contentBlockIndex":0,"p":"ab"}"#),
            frame("messageStop", r#"{"p":"abc","stopReason":"end_turn"}"#),
            frame("metadata", r#"{"metrics":{"latencyMs":1},"p":"a","usage":{"inputTokens":60,"outputTokens":8,"totalTokens":68}}"#),
        ]
        .concat();

        let request_len = serde_json::to_vec(&serde_json::json!({"messages": [{"role": "user", "content": "fn main() {".repeat(20)}]}))
            .unwrap()
            .len()
            + 120;
        let cases: Vec<(&'static str, ProviderKind, &'static str, Vec<u8>, bool)> = vec![
            ("anthropic chat", ProviderKind::Anthropic, "claude-bench", response("application/json", anthropic_json), false),
            ("anthropic stream, first chunk", ProviderKind::Anthropic, "claude-bench", response("text/event-stream", anthropic_sse.as_bytes()), true),
            ("openai chat", ProviderKind::OpenAi, "bench", response("application/json", openai_json), false),
            ("openai stream, first chunk", ProviderKind::OpenAi, "bench", response("text/event-stream", openai_sse.as_bytes()), true),
            ("bedrock converse", ProviderKind::Bedrock, "anthropic.claude-3-5-sonnet-20240620-v1:0", response("application/json", bedrock_json), false),
            ("bedrock converse-stream, first chunk", ProviderKind::Bedrock, "anthropic.claude-3-5-sonnet-20240620-v1:0", response("application/vnd.amazon.eventstream", &bedrock_frames), true),
        ];
        let mut rows = Vec::new();
        for (name, kind, model, reply, stream) in cases {
            let reply_len = reply.len();
            let connections = Arc::new(AtomicUsize::new(0));
            let url = serve(reply, connections.clone()).await;
            let raw_times = raw(&url, request_len, reply_len, iters).await;
            let p = provider(kind, model, &url).await;
            let client = if stream { time_first_chunk(&p, iters).await } else { time_chat(&p, iters).await };
            // One for the raw client; the rest are the provider's.
            let connections = connections.load(Ordering::Relaxed) - 1;
            rows.push(Row { name, connections, raw: raw_times, client });
        }
        println!("iterations per row: {iters}; times in µs");
        println!("| case | raw p50 | raw p99 | client p50 | client p99 | overhead p50 | client connections |");
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        for mut row in rows {
            let (r50, r99) = (pct(&mut row.raw, 0.5), pct(&mut row.raw, 0.99));
            let (c50, c99) = (pct(&mut row.client, 0.5), pct(&mut row.client, 0.99));
            println!(
                "| {} | {r50:.0} | {r99:.0} | {c50:.0} | {c99:.0} | {:.0} | {} |",
                row.name,
                c50 - r50,
                row.connections
            );
        }
    });
}
