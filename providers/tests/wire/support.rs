//! A scripted loopback HTTP/1.1 server that writes exact bytes and records
//! every request it receives, a log-capturing tracing subscriber, and
//! builders for provider configurations.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cordon_providers::{BackendConfig, ProviderKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Generous bound for things that must happen "soon" (never a performance
/// assertion: only a guard against hanging forever).
pub const SOON: Duration = Duration::from_secs(20);

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The value of header `name` (case-insensitive), if present once.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        let mut values = self.headers.iter().filter(|(n, _)| *n == name);
        let first = values.next().map(|(_, v)| v.as_str());
        assert!(values.next().is_none(), "header {name} sent twice");
        first
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// Every byte of the request head and body as text (for "the key is
    /// here / not here" checks).
    pub fn raw_text(&self) -> String {
        let mut out = format!("{} {}\n", self.method, self.path);
        for (n, v) in &self.headers {
            let _ = writeln!(out, "{n}: {v}");
        }
        out.push_str(&String::from_utf8_lossy(&self.body));
        out
    }
}

/// What the server does with one request.
pub enum Reply {
    /// Write these bytes, then close the connection.
    Raw(Vec<u8>),
    /// Write each piece after its delay; then close, or hold the connection
    /// open until the client goes away (`hold`).
    Pieces {
        pieces: Vec<(Duration, Vec<u8>)>,
        hold: bool,
    },
    /// Never answer; wait until the client goes away.
    Hang,
}

/// Something the server saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Request number n (from 0) was received whole.
    Request(usize),
    /// The client closed the connection on which request n was held.
    Disconnected(usize),
}

struct State {
    replies: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Recorded>>,
    seen: mpsc::UnboundedSender<Seen>,
}

/// A loopback server answering with scripted replies, one per request, in
/// order.
pub struct Server {
    pub addr: SocketAddr,
    state: Arc<State>,
    seen: tokio::sync::Mutex<mpsc::UnboundedReceiver<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Start a server that will give `replies` in order.
    pub async fn start(replies: Vec<Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            replies: Mutex::new(replies.into()),
            requests: Mutex::new(Vec::new()),
            seen: tx,
        });
        let accept_state = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let state = accept_state.clone();
                tokio::spawn(async move {
                    let _ = serve(socket, state).await;
                });
            }
        });
        Server {
            addr,
            state,
            seen: tokio::sync::Mutex::new(rx),
            task,
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The only request received (panics otherwise).
    pub fn only_request(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(
            requests.len(),
            1,
            "expected exactly one request, got {requests:#?}"
        );
        requests.into_iter().next().unwrap()
    }

    /// Wait (at most [`SOON`]) until the server has seen `what`.
    pub async fn wait_for(&self, what: Seen) {
        let mut rx = self.seen.lock().await;
        tokio::time::timeout(SOON, async {
            while let Some(seen) = rx.recv().await {
                if seen == what {
                    return;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("server did not see {what:?}"));
    }
}

async fn serve(mut socket: TcpStream, state: Arc<State>) -> std::io::Result<()> {
    socket.set_nodelay(true)?;
    let mut buf = Vec::new();
    let Some(request) = read_request(&mut socket, &mut buf).await? else {
        return Ok(());
    };
    let number = {
        let mut requests = state.requests.lock().unwrap();
        requests.push(request);
        requests.len() - 1
    };
    let _ = state.seen.send(Seen::Request(number));
    let reply = state.replies.lock().unwrap().pop_front();
    let reply = reply.unwrap_or_else(|| {
        Reply::Raw(response(
            500,
            &[("content-type", "text/plain")],
            b"no scripted reply left",
        ))
    });
    let hold = match reply {
        Reply::Raw(bytes) => {
            socket.write_all(&bytes).await?;
            false
        }
        Reply::Pieces { pieces, hold } => {
            for (delay, bytes) in pieces {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                socket.write_all(&bytes).await?;
                socket.flush().await?;
            }
            hold
        }
        Reply::Hang => true,
    };
    if hold {
        // Wait for the client to close its side.
        let mut scratch = [0u8; 1024];
        loop {
            match socket.read(&mut scratch).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = state.seen.send(Seen::Disconnected(number));
        return Ok(());
    }
    socket.shutdown().await?;
    // Drain until the client closes, so the close is orderly.
    let mut scratch = [0u8; 1024];
    while let Ok(n) = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut scratch)).await
    {
        if matches!(n, Ok(0) | Err(_)) {
            break;
        }
    }
    Ok(())
}

/// Read one request (head and body: content-length or chunked).
async fn read_request(
    socket: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Recorded>> {
    let head_end = loop {
        if let Some(at) = find(buf, b"\r\n\r\n") {
            break at;
        }
        if !fill(socket, buf).await? {
            return Ok(None);
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end + 4);
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let body = if let Some(len) = get("content-length") {
        let len: usize = len.parse().unwrap();
        while buf.len() < len {
            if !fill(socket, buf).await? {
                return Ok(None);
            }
        }
        buf.drain(..len).collect()
    } else if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(at) = find(buf, b"\r\n") {
                    break at;
                }
                if !fill(socket, buf).await? {
                    return Ok(None);
                }
            };
            let size_text = String::from_utf8_lossy(&buf[..line_end]).into_owned();
            let size =
                usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap();
            buf.drain(..line_end + 2);
            while buf.len() < size + 2 {
                if !fill(socket, buf).await? {
                    return Ok(None);
                }
            }
            body.extend(buf.drain(..size));
            buf.drain(..2);
            if size == 0 {
                break;
            }
        }
        body
    } else {
        Vec::new()
    };
    Ok(Some(Recorded {
        method,
        path,
        headers,
        body,
    }))
}

async fn fill(socket: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    let n = socket.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        529 => "Site Overloaded",
        _ => "Status",
    }
}

/// A complete response with `content-length`, closing the connection.
pub fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (n, v) in headers {
        let _ = write!(out, "{n}: {v}\r\n");
    }
    let _ = write!(
        out,
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// A JSON response.
pub fn json_response(status: u16, extra: &[(&str, &str)], body: &serde_json::Value) -> Vec<u8> {
    let mut headers = vec![("content-type", "application/json")];
    headers.extend_from_slice(extra);
    response(status, &headers, body.to_string().as_bytes())
}

/// The head of a chunked response.
pub fn chunked_head(status: u16, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (n, v) in headers {
        let _ = write!(out, "{n}: {v}\r\n");
    }
    out.push_str("transfer-encoding: chunked\r\nconnection: close\r\n\r\n");
    out.into_bytes()
}

/// One chunk of a chunked body.
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// The end of a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// A whole chunked response: head, one chunk per part, end.
pub fn chunked_response(status: u16, headers: &[(&str, &str)], parts: &[Vec<u8>]) -> Vec<u8> {
    let mut out = chunked_head(status, headers);
    for p in parts {
        out.extend(chunk(p));
    }
    out.extend_from_slice(LAST_CHUNK);
    out
}

/// An address where nothing listens (bound, then closed).
pub async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A backend configuration with everything optional left out.
pub fn config(provider: ProviderKind, model: &str, base_url: &str) -> BackendConfig {
    BackendConfig {
        provider,
        model: model.to_owned(),
        base_url: Some(base_url.to_owned()),
        api_key_env: None,
        region: None,
        profile: None,
        timeout_ms: Some(5_000),
        max_retries: Some(2),
        fim: None,
        max_tokens: None,
        guardrail: None,
        use_fips: None,
        inference_geo: None,
    }
}

/// A subscriber that keeps every event and span field it is given, as
/// text, to check what would reach a log.
#[derive(Clone, Default)]
pub struct LogCapture {
    text: Arc<Mutex<String>>,
    next_id: Arc<AtomicU64>,
}

impl LogCapture {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        self.text.lock().unwrap().clone()
    }
}

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl tracing::Subscriber for LogCapture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut text = self.text.lock().unwrap();
        let _ = write!(text, "span {}:", span.metadata().name());
        span.record(&mut Fields(&mut text));
        text.push('\n');
        tracing::span::Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut text = self.text.lock().unwrap();
        values.record(&mut Fields(&mut text));
        text.push('\n');
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = self.text.lock().unwrap();
        let _ = write!(
            text,
            "{} {}:",
            event.metadata().level(),
            event.metadata().target()
        );
        event.record(&mut Fields(&mut text));
        text.push('\n');
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
