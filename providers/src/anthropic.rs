//! The Anthropic Messages API: `POST {base_url}/v1/messages`, as JSON or as
//! server-sent events.

use std::sync::Arc;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::config::Settings;
use crate::error::{Kind, ProviderError};
use crate::http::{Http, SseBody};
use crate::secret::Secret;
use crate::stream::{self, Connect, Events};
use crate::types::{
    CallMeta, ChatRequest, ChunkStream, Completion, StopReason, StreamEvent, Usage,
};

/// The API version this client speaks.
pub(crate) const API_VERSION: &str = "2023-06-01";

/// A client for one Anthropic backend.
#[derive(Debug)]
pub(crate) struct Anthropic {
    http: Arc<Http>,
    base_url: String,
    model: String,
    headers: HeaderMap,
    /// `inference_geo` sent with every request.
    inference_geo: Option<String>,
}

impl Anthropic {
    /// A client for validated `settings` (which hold the key).
    pub fn new(settings: &Settings) -> Self {
        let key = settings.key.clone().unwrap_or_else(|| Secret::new(""));
        let mut headers = HeaderMap::new();
        if let Ok(mut value) = HeaderValue::from_str(key.expose()) {
            value.set_sensitive(true);
            headers.insert("x-api-key", value);
        }
        headers.insert("anthropic-version", HeaderValue::from_static(API_VERSION));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let http = Http {
            client: crate::http::client(settings.timeout),
            backend: settings.name.clone(),
            vendor: "Anthropic",
            key: settings.key.clone(),
            key_env: settings.key_env.clone().unwrap_or_default(),
            timeout: settings.timeout,
            max_retries: settings.max_retries,
            request_id_header: "request-id",
        };
        Anthropic {
            http: Arc::new(http),
            base_url: settings.base_url.clone().unwrap_or_default(),
            model: settings.model.clone(),
            headers,
            inference_geo: settings.inference_geo.clone(),
        }
    }

    /// The `inference_geo` sent with every request.
    pub fn inference_geo(&self) -> Option<&str> {
        self.inference_geo.as_deref()
    }

    fn messages_url(&self) -> String {
        format!("{}/v1/messages", self.base_url)
    }

    fn body(&self, req: &ChatRequest, max_tokens: u32, stream: bool) -> Bytes {
        let body = MessagesBody {
            model: &self.model,
            max_tokens,
            system: &req.system,
            messages: req
                .messages
                .iter()
                .map(|m| WireMessage {
                    role: m.role.as_str(),
                    content: &m.content,
                })
                .collect(),
            stop_sequences: &req.stop,
            temperature: req.temperature,
            stream,
            inference_geo: self.inference_geo.as_deref(),
            metadata: user_id(req).map(|user_id| WireMetadata { user_id }),
        };
        Bytes::from(serde_json::to_vec(&body).expect("request serializes"))
    }

    /// One non-streaming Messages call.
    pub async fn chat(
        &self,
        req: &ChatRequest,
        max_tokens: u32,
    ) -> Result<Completion, ProviderError> {
        let url = self.messages_url();
        let mut headers = self.headers.clone();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let body = self.body(req, max_tokens, false);
        let (reply, request_id) = self
            .http
            .call_with_id(Method::POST, &url, &headers, Some(body))
            .await?;
        let reply: MessagesReply = serde_json::from_slice(&reply).map_err(|e| {
            self.http
                .malformed(&url, e)
                .with_request_id(request_id.clone())
        })?;
        if let Some(error) = reply.error {
            return Err(api_error(&self.http, &error, false).with_request_id(request_id));
        }
        let text = reply
            .content
            .iter()
            .filter(|b| b.kind == "text")
            .filter_map(|b| b.text.as_deref())
            .collect::<String>();
        let usage = reply.usage.unwrap_or_default();
        Ok(Completion {
            text,
            usage: Usage::from(&usage),
            stop_reason: stop_reason(reply.stop_reason.as_deref()),
            meta: CallMeta {
                request_id,
                stop_reason: reply.stop_reason,
                inference_geo: usage.inference_geo,
            },
        })
    }

    /// A streaming Messages call.
    pub async fn chat_stream(
        &self,
        req: &ChatRequest,
        max_tokens: u32,
    ) -> Result<ChunkStream, ProviderError> {
        let url: Arc<str> = self.messages_url().into();
        let mut headers = self.headers.clone();
        headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        let headers = Arc::new(headers);
        let body = self.body(req, max_tokens, true);
        let http = self.http.clone();
        let connect: Connect = Arc::new(move || {
            let (http, url, headers, body) =
                (http.clone(), url.clone(), headers.clone(), body.clone());
            Box::pin(async move {
                let response = http.open(&url, &headers, body).await?;
                let request_id = http.request_id(&response);
                let decoder = Decoder {
                    body: SseBody::new(response, http.timeout),
                    http,
                    url,
                    usage: Usage::default(),
                    stop_reason: None,
                    meta: CallMeta {
                        request_id,
                        ..CallMeta::default()
                    },
                    done: false,
                };
                Ok(decoder.into_events())
            })
        });
        stream::open(self.http.backend.clone(), self.http.max_retries, connect).await
    }

    /// `GET /v1/models/{model}`: proves the endpoint is reachable, the key
    /// is accepted and the model (or alias) exists, without using tokens.
    pub async fn check(&self) -> Result<String, ProviderError> {
        let mut url = reqwest::Url::parse(&self.base_url).map_err(|e| {
            self.http.error(
                Kind::InvalidRequest,
                format_args!("base_url is not a URL ({e})"),
            )
        })?;
        url.path_segments_mut()
            .map_err(|_| {
                self.http
                    .error(Kind::InvalidRequest, "base_url cannot have a path appended")
            })?
            .pop_if_empty()
            .extend(["v1", "models", self.model.as_str()]);
        let url = url.to_string();
        let reply = self
            .http
            .call(Method::GET, &url, &self.headers, None)
            .await?;
        let model: ModelInfo =
            serde_json::from_slice(&reply).map_err(|e| self.http.malformed(&url, e))?;
        let name = model
            .display_name
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        Ok(format!(
            "Anthropic at {}: key accepted, model `{}`{name} available",
            self.base_url, model.id
        ))
    }

    /// The API root.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }
}

/// Decodes one Messages event stream.
struct Decoder {
    body: SseBody,
    http: Arc<Http>,
    url: Arc<str>,
    usage: Usage,
    stop_reason: Option<StopReason>,
    meta: CallMeta,
    done: bool,
}

impl Decoder {
    fn into_events(self) -> Events {
        stream::events(self, |mut decoder| async move {
            let item = decoder.next().await?;
            Some((item, decoder))
        })
    }

    async fn next(&mut self) -> Option<Result<StreamEvent, ProviderError>> {
        if self.done {
            return None;
        }
        let result = self
            .next_inner()
            .await
            .map_err(|e| e.with_request_id(self.meta.request_id.clone()));
        if !matches!(result, Ok(StreamEvent::Text(_))) {
            self.done = true;
        }
        Some(result)
    }

    async fn next_inner(&mut self) -> Result<StreamEvent, ProviderError> {
        loop {
            let Some(event) = self.body.next(&self.http, &self.url).await? else {
                let how = if self.body.ended_mid_event() {
                    "in the middle of an event"
                } else {
                    "before message_stop"
                };
                return Err(self.http.error(
                    Kind::Unavailable,
                    format_args!(
                        "the stream from Anthropic at {} ended {how} — try again",
                        self.url
                    ),
                ));
            };
            let payload: StreamPayload = serde_json::from_str(&event.data).map_err(|e| {
                self.http
                    .malformed(&self.url, format_args!("event `{}`: {e}", event.event))
            })?;
            match payload {
                StreamPayload::MessageStart { message } => {
                    if let Some(usage) = message.usage {
                        self.usage.input_tokens = usage.input_total();
                        self.usage.output_tokens = saturate(usage.output_tokens);
                        if usage.inference_geo.is_some() {
                            self.meta.inference_geo = usage.inference_geo;
                        }
                    }
                }
                StreamPayload::ContentBlockDelta { delta } => {
                    if delta.kind == "text_delta"
                        && let Some(text) = delta.text
                        && !text.is_empty()
                    {
                        return Ok(StreamEvent::Text(text));
                    }
                }
                StreamPayload::MessageDelta { delta, usage } => {
                    if let Some(reason) = delta.and_then(|d| d.stop_reason) {
                        self.stop_reason = Some(stop_reason(Some(&reason)));
                        self.meta.stop_reason = Some(reason);
                    }
                    if let Some(usage) = usage {
                        self.usage.output_tokens = saturate(usage.output_tokens);
                        if usage.input_total() > 0 {
                            self.usage.input_tokens = usage.input_total();
                        }
                        if usage.inference_geo.is_some() {
                            self.meta.inference_geo = usage.inference_geo;
                        }
                    }
                }
                StreamPayload::MessageStop => {
                    self.body.release();
                    return Ok(StreamEvent::Done {
                        usage: self.usage,
                        stop_reason: self.stop_reason.unwrap_or_default(),
                        meta: self.meta.clone(),
                    });
                }
                StreamPayload::Error { error } => return Err(api_error(&self.http, &error, true)),
                // ping, content_block_start/stop, and event types added
                // after this client was written.
                StreamPayload::Other => {}
            }
        }
    }
}

/// The error for an Anthropic `{"type":"error","error":{...}}` body or
/// `error` event.
fn api_error(http: &Http, error: &ApiError, in_stream: bool) -> ProviderError {
    let detail = http.quote(&format!("{}: {}", error.kind, error.message));
    let place = if in_stream { " in the stream" } else { "" };
    let (kind, hint) = match error.kind.as_str() {
        "authentication_error" | "permission_error" => {
            (Kind::Auth, format!("check {}", http.key_env))
        }
        "rate_limit_error" => (
            Kind::RateLimited(None),
            "wait and try again, or lower the request rate".into(),
        ),
        "overloaded_error" | "api_error" | "timeout_error" => (
            Kind::Unavailable,
            "the service is failing or overloaded; try again later".into(),
        ),
        "not_found_error" => (Kind::InvalidRequest, "check base_url and model".into()),
        "invalid_request_error" | "request_too_large" => (
            Kind::InvalidRequest,
            "check model and the request parameters".into(),
        ),
        _ if in_stream => (Kind::Unavailable, "try again".into()),
        _ => (
            Kind::InvalidRequest,
            "check model and the request parameters".into(),
        ),
    };
    http.error(
        kind,
        format_args!("Anthropic reported an error{place} ({detail}) — {hint}"),
    )
}

/// Anthropic's `stop_reason` in this crate's terms.
fn stop_reason(reason: Option<&str>) -> StopReason {
    match reason {
        Some("max_tokens") => StopReason::MaxTokens,
        Some("stop_sequence") => StopReason::StopSequence,
        // end_turn, tool_use, pause_turn, refusal, and future reasons.
        _ => StopReason::End,
    }
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Longest `metadata.user_id` the Messages API accepts.
const MAX_USER_ID: usize = 256;

/// The request's `user_id` metadata entry, the only metadata the Messages
/// API takes (an opaque id of the end user, for abuse detection); other
/// entries are not sent. An empty id, or one longer than 256 characters,
/// is not sent either.
fn user_id(req: &ChatRequest) -> Option<&str> {
    req.metadata
        .get("user_id")
        .map(|id| id.trim())
        .filter(|id| !id.is_empty() && id.chars().count() <= MAX_USER_ID)
}

#[derive(Serialize)]
struct MessagesBody<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "str::is_empty")]
    system: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    inference_geo: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<WireMetadata<'a>>,
}

#[derive(Serialize)]
struct WireMetadata<'a> {
    user_id: &'a str,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Deserialize)]
struct MessagesReply {
    #[serde(default)]
    content: Vec<ContentBlock>,
    stop_reason: Option<String>,
    usage: Option<WireUsage>,
    error: Option<ApiError>,
}

#[derive(Deserialize)]
struct ContentBlock {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
struct WireUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
    /// Where the request ran (`us`, `global`), on models that report it.
    #[serde(default)]
    inference_geo: Option<String>,
}

impl WireUsage {
    /// All prompt tokens: `input_tokens` counts only those after the last
    /// cache breakpoint.
    fn input_total(&self) -> u32 {
        saturate(
            self.input_tokens
                + self.cache_creation_input_tokens.unwrap_or(0)
                + self.cache_read_input_tokens.unwrap_or(0),
        )
    }
}

impl From<&WireUsage> for Usage {
    fn from(u: &WireUsage) -> Usage {
        Usage {
            input_tokens: u.input_total(),
            output_tokens: saturate(u.output_tokens),
        }
    }
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct ModelInfo {
    id: String,
    display_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum StreamPayload {
    MessageStart {
        message: StartMessage,
    },
    ContentBlockDelta {
        delta: Delta,
    },
    MessageDelta {
        delta: Option<MessageDeltaBody>,
        usage: Option<WireUsage>,
    },
    MessageStop,
    Error {
        error: ApiError,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct StartMessage {
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

#[derive(Deserialize)]
struct MessageDeltaBody {
    stop_reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Message;

    #[test]
    fn body_has_the_messages_shape() {
        let settings = Settings {
            key_env: Some("ANTHROPIC_API_KEY".into()),
            key: Some(Secret::new("k")),
            ..Settings::for_test(
                "claude",
                crate::ProviderKind::Anthropic,
                "claude-test",
                "http://x",
            )
        };
        let a = Anthropic::new(&settings);
        let req = ChatRequest {
            system: String::new(),
            messages: vec![Message::user("hi")],
            max_tokens: 10,
            temperature: None,
            stop: vec![],
            metadata: [("plugin".to_owned(), "p".to_owned())].into(),
        };
        let v: serde_json::Value = serde_json::from_slice(&a.body(&req, 10, false)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"model":"claude-test","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"stream":false})
        );
        let mut req = req;
        req.metadata.insert("user_id".into(), "u-42".into());
        let v: serde_json::Value = serde_json::from_slice(&a.body(&req, 10, false)).unwrap();
        assert_eq!(v["metadata"], serde_json::json!({"user_id": "u-42"}));
        req.metadata.insert("user_id".into(), "x".repeat(257));
        let v: serde_json::Value = serde_json::from_slice(&a.body(&req, 10, false)).unwrap();
        assert!(v.get("metadata").is_none(), "{v}");
        assert!(a.headers.get("x-api-key").unwrap().is_sensitive());
    }

    #[test]
    fn stream_payloads_parse_and_unknown_types_are_ignored() {
        let p: StreamPayload = serde_json::from_str(r#"{"type":"ping"}"#).unwrap();
        assert!(matches!(p, StreamPayload::Other));
        let p: StreamPayload = serde_json::from_str(
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        )
        .unwrap();
        assert!(matches!(p, StreamPayload::Other));
        let p: StreamPayload =
            serde_json::from_str(r#"{"type":"brand_new_event","x":[1]}"#).unwrap();
        assert!(matches!(p, StreamPayload::Other));
        let p: StreamPayload = serde_json::from_str(
            r#"{"type":"message_delta","delta":{"stop_reason":"max_tokens","stop_sequence":null},"usage":{"output_tokens":15}}"#,
        )
        .unwrap();
        assert!(matches!(p, StreamPayload::MessageDelta { .. }));
    }
}
