//! The HTTP plumbing shared by the Anthropic and OpenAI-compatible clients:
//! one attempt of a request under the timeout, capped body reads, status
//! and transport errors turned into [`ProviderError`]s, and an event-stream
//! body with an idle timeout.

use std::error::Error as _;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Method, Response};

use crate::error::{Kind, ProviderError};
use crate::retry::{retry_after_from_headers, with_retries};
use crate::secret::Secret;
use crate::sse::{SseEvent, SseParser};

/// Largest reply body read into memory (non-streaming replies).
pub(crate) const MAX_BODY: usize = 8 << 20;
/// Largest error body read, to quote the provider's message.
const MAX_ERROR_BODY: usize = 64 << 10;
/// Largest single server-sent event.
pub(crate) const MAX_EVENT: usize = 1 << 20;
/// Largest streamed reply in total.
pub(crate) const MAX_STREAM: usize = 64 << 20;
/// Longest excerpt of a provider's own error text quoted in a message.
const MAX_QUOTE: usize = 300;

/// What the HTTP clients of one backend share.
#[derive(Debug)]
pub(crate) struct Http {
    pub client: reqwest::Client,
    pub backend: String,
    /// How the provider is named in messages: "Anthropic", "the
    /// OpenAI-compatible server".
    pub vendor: &'static str,
    /// The key (for scrubbing provider text) and the variable it came from.
    pub key: Option<Secret>,
    pub key_env: String,
    pub timeout: Duration,
    pub max_retries: u32,
    /// The response header holding the provider's request id
    /// (`request-id`, `x-request-id`).
    pub request_id_header: &'static str,
}

/// A reqwest client with this crate's settings: no redirects (a redirect
/// could carry `x-api-key` to another host; API endpoints do not redirect),
/// a connect timeout, no Nagle delay.
pub(crate) fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout)
        .tcp_nodelay(true)
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("cordon/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

impl Http {
    /// An error of `kind` for this backend.
    pub fn error(&self, kind: Kind, what: impl std::fmt::Display) -> ProviderError {
        ProviderError::new(kind, &self.backend, what)
    }

    /// Send a request and read the whole reply (at most [`MAX_BODY`]),
    /// retrying as configured; each attempt is bounded by the timeout.
    pub async fn call(
        &self,
        method: Method,
        url: &str,
        headers: &HeaderMap,
        body: Option<Bytes>,
    ) -> Result<Bytes, ProviderError> {
        Ok(self.call_with_id(method, url, headers, body).await?.0)
    }

    /// Like [`Http::call`], also returning the reply's request id.
    pub async fn call_with_id(
        &self,
        method: Method,
        url: &str,
        headers: &HeaderMap,
        body: Option<Bytes>,
    ) -> Result<(Bytes, Option<String>), ProviderError> {
        with_retries(&self.backend, self.max_retries, |attempt| {
            let method = method.clone();
            let body = body.clone();
            async move {
                tracing::debug!(backend = %self.backend, %url, attempt, "model request");
                let once = async {
                    let mut response = self.send(method, url, headers, body).await?;
                    let id = self.request_id(&response);
                    let body = read_capped(&mut response, MAX_BODY)
                        .await
                        .map_err(|e| self.body_error(e, url).with_request_id(id.clone()))?;
                    Ok::<_, ProviderError>((body, id))
                };
                tokio::time::timeout(self.timeout, once)
                    .await
                    .map_err(|_| self.timeout_error(url))?
            }
        })
        .await
    }

    /// One attempt of a streaming request: bounded by the timeout up to
    /// the response head; a non-2xx reply is read and turned into an error.
    pub async fn open(
        &self,
        url: &str,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<Response, ProviderError> {
        tracing::debug!(backend = %self.backend, %url, "model stream request");
        let response = tokio::time::timeout(
            self.timeout,
            self.send(Method::POST, url, headers, Some(body)),
        )
        .await
        .map_err(|_| self.timeout_error(url))??;
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if is_json {
            return Err(self
                .error(
                    Kind::Malformed,
                    format_args!(
                        "{} at {url} answered with JSON instead of an event stream — it may not support streaming; check base_url",
                        self.vendor
                    ),
                )
                .with_request_id(self.request_id(&response)));
        }
        Ok(response)
    }

    /// The provider's request id in the headers of `response`.
    pub fn request_id(&self, response: &Response) -> Option<String> {
        response
            .headers()
            .get(self.request_id_header)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| v.chars().take(200).collect())
    }

    /// Send once; a non-2xx reply becomes an error (its body read, within
    /// the caller's timeout).
    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &HeaderMap,
        body: Option<Bytes>,
    ) -> Result<Response, ProviderError> {
        let mut request = self.client.request(method, url).headers(headers.clone());
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_error(&e, url))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        Err(self.status_error(response, url).await)
    }

    /// The error for a non-2xx reply.
    async fn status_error(&self, response: Response, url: &str) -> ProviderError {
        let id = self.request_id(&response);
        self.status_error_inner(response, url)
            .await
            .with_request_id(id)
    }

    async fn status_error_inner(&self, mut response: Response, url: &str) -> ProviderError {
        let status = response.status();
        let retry_after = retry_after_from_headers(response.headers());
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = read_capped(&mut response, MAX_ERROR_BODY)
            .await
            .unwrap_or_default();
        let detail = self.quote(&error_detail(&body));
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" ({detail})")
        };
        let code = status.as_u16();
        let vendor = self.vendor;
        match code {
            401 | 403 => {
                let hint = match &self.key {
                    Some(_) => format!("check {}", self.key_env),
                    // Only an OpenAI-compatible server other than api.openai.com
                    // gets no key: the default variable is not sent there.
                    None => "it needs an API key: set api_key_env to the environment variable that holds it".to_owned(),
                };
                self.error(Kind::Auth, format_args!("{code} from {vendor}{detail} — {hint}"))
            }
            429 => {
                let wait = match retry_after {
                    Some(d) => format!(", asked to wait {}s", d.as_secs_f64().ceil() as u64),
                    None => String::new(),
                };
                self.error(
                    Kind::RateLimited(retry_after),
                    format_args!(
                        "429 rate limited by {vendor}{wait}{detail} — wait and try again, or lower the request rate"
                    ),
                )
            }
            408 | 500..=599 => self.error(
                Kind::Unavailable,
                format_args!(
                    "{code} from {vendor} at {url}{detail} — the service is failing or overloaded; try again later"
                ),
            ),
            404 => self.error(
                Kind::InvalidRequest,
                format_args!("404 from {vendor} at {url}{detail} — check base_url and model"),
            ),
            413 => self.error(
                Kind::InvalidRequest,
                format_args!("413 from {vendor}{detail} — the request is too large; send less context"),
            ),
            300..=399 => self.error(
                Kind::InvalidRequest,
                format_args!(
                    "{vendor} at {url} redirected ({code}) to {} — set base_url to the final address",
                    location.as_deref().unwrap_or("another address")
                ),
            ),
            _ => self.error(
                Kind::InvalidRequest,
                format_args!(
                    "{code} from {vendor}{detail} — the request was rejected; check model and the request parameters"
                ),
            ),
        }
    }

    /// The error for a request that got no reply.
    pub fn transport_error(&self, error: &reqwest::Error, url: &str) -> ProviderError {
        if error.is_timeout() {
            return self.timeout_error(url);
        }
        let chain = error_chain(error);
        if error.is_connect() {
            if has_io_kind(error, std::io::ErrorKind::ConnectionRefused) {
                return self.error(
                    Kind::Unavailable,
                    format_args!("connection refused at {url} — is the server running?"),
                );
            }
            return self.error(
                Kind::Unavailable,
                format_args!("cannot connect to {url} ({chain}) — check base_url and the network"),
            );
        }
        if error.is_builder() {
            return self.error(
                Kind::InvalidRequest,
                format_args!("cannot build a request to {url} ({chain}) — check base_url"),
            );
        }
        self.error(
            Kind::Unavailable,
            format_args!("the connection to {url} failed ({chain}) — try again"),
        )
    }

    /// The error for a reply whose body could not be read whole.
    fn body_error(&self, error: ReadError, url: &str) -> ProviderError {
        match error {
            ReadError::TooLarge(cap) => self.error(
                Kind::Malformed,
                format_args!(
                    "the reply from {url} is larger than {} MiB — is base_url pointing at the right server?",
                    cap >> 20
                ),
            ),
            ReadError::Transport(e) => self.error(
                Kind::Unavailable,
                format_args!(
                    "the reply from {url} was cut off ({}) — try again",
                    error_chain(&e)
                ),
            ),
        }
    }

    /// The error for a request that took longer than the timeout.
    pub fn timeout_error(&self, url: &str) -> ProviderError {
        self.error(
            Kind::Timeout,
            format_args!(
                "no answer from {} at {url} within {} ms — raise timeout_ms, or check that the server is up",
                self.vendor,
                self.timeout.as_millis()
            ),
        )
    }

    /// Provider-written text, made safe to quote: the key scrubbed,
    /// control characters dropped, cut to a few hundred characters.
    pub fn quote(&self, text: &str) -> String {
        let text = match &self.key {
            Some(key) => key.scrub(text),
            None => text.to_owned(),
        };
        let clean: String = text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let clean = clean.trim();
        if clean.chars().count() > MAX_QUOTE {
            let cut: String = clean.chars().take(MAX_QUOTE).collect();
            format!("{cut}…")
        } else {
            clean.to_owned()
        }
    }

    /// The error for a reply that does not parse.
    pub fn malformed(&self, url: &str, what: impl std::fmt::Display) -> ProviderError {
        self.error(
            Kind::Malformed,
            format_args!(
                "unreadable reply from {} at {url}: {} — is base_url pointing at the right kind of server?",
                self.vendor,
                self.quote(&what.to_string())
            ),
        )
    }
}

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    TooLarge(usize),
    Transport(reqwest::Error),
}

/// Read a whole body, refusing more than `cap` bytes.
pub(crate) async fn read_capped(response: &mut Response, cap: usize) -> Result<Bytes, ReadError> {
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(ReadError::TooLarge(cap));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(ReadError::Transport)? {
        if body.len() + chunk.len() > cap {
            return Err(ReadError::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

/// The provider's own explanation in an error body: `error.message` (with
/// `error.type`), `error` as a string, `message`, or `detail`; else the
/// start of the body as text.
pub(crate) fn error_detail(body: &[u8]) -> String {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        return if text.starts_with('<') {
            // An HTML error page says nothing useful in one line.
            String::new()
        } else {
            text.chars().take(MAX_QUOTE).collect()
        };
    };
    let str_at =
        |v: &serde_json::Value, key: &str| v.get(key).and_then(|s| s.as_str()).map(str::to_owned);
    if let Some(error) = value.get("error") {
        if let Some(text) = error.as_str() {
            return text.to_owned();
        }
        let message = str_at(error, "message").unwrap_or_default();
        let kind = str_at(error, "type")
            .or_else(|| str_at(error, "code"))
            .unwrap_or_default();
        return match (kind.is_empty(), message.is_empty()) {
            (false, false) => format!("{kind}: {message}"),
            (true, false) => message,
            (false, true) => kind,
            (true, true) => String::new(),
        };
    }
    str_at(&value, "message")
        .or_else(|| str_at(&value, "detail"))
        .unwrap_or_default()
}

/// An error and its sources, joined by ": ".
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Whether an I/O error of `kind` is among the sources of `error`.
fn has_io_kind(error: &reqwest::Error, kind: std::io::ErrorKind) -> bool {
    let mut source = error.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == kind
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// An event-stream response body read event by event; every read waits at
/// most the idle timeout.
pub(crate) struct SseBody {
    response: Response,
    parser: SseParser,
    idle: Duration,
    received: usize,
    eof: bool,
}

impl SseBody {
    /// Read `response` as an event stream.
    pub fn new(response: Response, idle: Duration) -> Self {
        SseBody {
            response,
            parser: SseParser::new(MAX_EVENT),
            idle,
            received: 0,
            eof: false,
        }
    }

    /// The next event; `Ok(None)` when the body ended. `vendor` and `url`
    /// name the server in errors.
    pub async fn next(
        &mut self,
        http: &Http,
        url: &str,
    ) -> Result<Option<SseEvent>, ProviderError> {
        loop {
            match self.parser.next_event() {
                Ok(Some(event)) => return Ok(Some(event)),
                Ok(None) => {}
                Err(e) => return Err(http.malformed(url, e)),
            }
            if self.eof {
                return Ok(None);
            }
            let chunk = tokio::time::timeout(self.idle, self.response.chunk())
                .await
                .map_err(|_| {
                    http.error(
                        Kind::Timeout,
                        format_args!(
                            "the stream from {} at {url} stalled for more than {} ms — raise timeout_ms, or try again",
                            http.vendor,
                            self.idle.as_millis()
                        ),
                    )
                })?
                .map_err(|e| {
                    http.error(
                        Kind::Unavailable,
                        format_args!(
                            "the stream from {} at {url} was cut off ({}) — try again",
                            http.vendor,
                            error_chain(&e)
                        ),
                    )
                })?;
            match chunk {
                Some(bytes) => {
                    self.received += bytes.len();
                    if self.received > MAX_STREAM {
                        return Err(http.error(
                            Kind::Malformed,
                            format_args!(
                                "the stream from {url} is larger than {} MiB — lower max_tokens",
                                MAX_STREAM >> 20
                            ),
                        ));
                    }
                    self.parser.push(&bytes);
                }
                None => self.eof = true,
            }
        }
    }

    /// After the last event: poll the body once more without waiting, so
    /// that a body which has ended is seen to end and its connection goes
    /// back to the pool (instead of being closed when the body is dropped).
    pub fn release(&mut self) {
        use futures::FutureExt;
        if !self.eof && matches!(self.response.chunk().now_or_never(), Some(Ok(None))) {
            self.eof = true;
        }
    }

    /// Whether the body ended inside an event.
    pub fn ended_mid_event(&self) -> bool {
        self.eof && self.parser.in_event()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_providers_message() {
        assert_eq!(
            error_detail(br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#),
            "authentication_error: invalid x-api-key"
        );
        assert_eq!(
            error_detail(br#"{"error":{"message":"Incorrect API key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#),
            "invalid_request_error: Incorrect API key"
        );
        assert_eq!(
            error_detail(br#"{"error":"model 'x' not found"}"#),
            "model 'x' not found"
        );
        assert_eq!(
            error_detail(br#"{"object":"error","message":"bad"}"#),
            "bad"
        );
        assert_eq!(error_detail(br#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(error_detail(b"upstream timed out"), "upstream timed out");
        assert_eq!(error_detail(b"<html><body>502</body></html>"), "");
    }

    #[test]
    fn quotes_are_scrubbed_and_short() {
        let http = Http {
            client: reqwest::Client::new(),
            backend: "gpt".into(),
            vendor: "the OpenAI-compatible server",
            key: Some(Secret::new("sk-live-123456")),
            key_env: "OPENAI_API_KEY".into(),
            timeout: Duration::from_secs(1),
            max_retries: 0,
            request_id_header: "x-request-id",
        };
        assert_eq!(http.quote("bad key sk-live-123456\n"), "bad key ***");
        let long = "x".repeat(1000);
        assert_eq!(http.quote(&long).chars().count(), MAX_QUOTE + 1);
    }
}
