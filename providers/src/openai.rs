//! OpenAI-compatible servers: `POST {base_url}/v1/chat/completions` (JSON or
//! server-sent events), fill-in-the-middle through `POST /v1/completions`
//! with `suffix` (vLLM, llama.cpp server) or Ollama's `POST /api/generate`.
//!
//! Request metadata ([`ChatRequest::metadata`]) is not sent: neither `user`
//! (deprecated by OpenAI) nor `metadata` (which api.openai.com accepts only
//! with `store`, and compatible servers may refuse).

use std::sync::Arc;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::config::{FimMode, OPENAI_DEFAULT_BASE_URL, Settings};
use crate::error::{Kind, ProviderError};
use crate::http::{Http, SseBody};
use crate::stream::{self, Connect, Events};
use crate::types::{
    CallMeta, ChatRequest, ChunkStream, Completion, FimRequest, StopReason, StreamEvent, Usage,
};

/// A client for one OpenAI-compatible backend.
#[derive(Debug)]
pub(crate) struct OpenAi {
    http: Arc<Http>,
    base_url: String,
    model: String,
    fim: FimMode,
    /// `Authorization` (only with a key) and `content-type`.
    headers: HeaderMap,
    /// api.openai.com itself: `max_tokens` is deprecated there and refused
    /// by its reasoning models, which take `max_completion_tokens`;
    /// compatible servers (vLLM, llama.cpp, Ollama) know `max_tokens`.
    official: bool,
}

impl OpenAi {
    /// A client for validated `settings`.
    pub fn new(settings: &Settings) -> Self {
        let mut headers = HeaderMap::new();
        if let Some(key) = &settings.key
            && let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", key.expose()))
        {
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let base_url = settings.base_url.clone().unwrap_or_default();
        let official = base_url == OPENAI_DEFAULT_BASE_URL;
        let vendor = if official {
            "OpenAI"
        } else {
            "the OpenAI-compatible server"
        };
        let http = Http {
            client: crate::http::client(settings.timeout),
            backend: settings.name.clone(),
            vendor,
            key: settings.key.clone(),
            key_env: settings.key_env.clone().unwrap_or_default(),
            timeout: settings.timeout,
            max_retries: settings.max_retries,
            request_id_header: "x-request-id",
        };
        OpenAi {
            http: Arc::new(http),
            base_url,
            model: settings.model.clone(),
            fim: settings.fim,
            headers,
            official,
        }
    }

    fn chat_body(&self, req: &ChatRequest, max_tokens: u32, stream: bool) -> Bytes {
        let mut messages = Vec::with_capacity(req.messages.len() + 1);
        if !req.system.is_empty() {
            messages.push(WireMessage {
                role: "system",
                content: &req.system,
            });
        }
        messages.extend(req.messages.iter().map(|m| WireMessage {
            role: m.role.as_str(),
            content: &m.content,
        }));
        let body = ChatBody {
            model: &self.model,
            messages,
            max_tokens: (!self.official).then_some(max_tokens),
            max_completion_tokens: self.official.then_some(max_tokens),
            stop: &req.stop,
            temperature: req.temperature,
            stream,
            stream_options: stream.then_some(StreamOptions {
                include_usage: true,
            }),
        };
        Bytes::from(serde_json::to_vec(&body).expect("request serializes"))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    fn json_headers(&self) -> HeaderMap {
        let mut headers = self.headers.clone();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        headers
    }

    /// One non-streaming chat completion.
    pub async fn chat(
        &self,
        req: &ChatRequest,
        max_tokens: u32,
    ) -> Result<Completion, ProviderError> {
        let url = self.url("/v1/chat/completions");
        let body = self.chat_body(req, max_tokens, false);
        let (reply, request_id) = self
            .http
            .call_with_id(Method::POST, &url, &self.json_headers(), Some(body))
            .await?;
        let (choice, usage) = self.first_choice(&url, &reply, &request_id)?;
        Ok(Completion {
            text: choice.message.and_then(|m| m.content).unwrap_or_default(),
            usage,
            stop_reason: stop_reason(choice.finish_reason.as_deref()),
            meta: CallMeta {
                request_id,
                stop_reason: choice.finish_reason,
                inference_geo: None,
            },
        })
    }

    /// A streaming chat completion (`stream: true`, usage requested with
    /// `stream_options.include_usage`).
    pub async fn chat_stream(
        &self,
        req: &ChatRequest,
        max_tokens: u32,
    ) -> Result<ChunkStream, ProviderError> {
        let url: Arc<str> = self.url("/v1/chat/completions").into();
        let mut headers = self.headers.clone();
        headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        let headers = Arc::new(headers);
        let body = self.chat_body(req, max_tokens, true);
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
                    finish: None,
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

    /// Fill in the middle, as `fim` in the configuration says.
    pub async fn fim(
        &self,
        req: &FimRequest,
        max_tokens: u32,
    ) -> Result<Completion, ProviderError> {
        match self.fim {
            FimMode::Completions => self.fim_completions(req, max_tokens).await,
            FimMode::Ollama => self.fim_ollama(req, max_tokens).await,
            FimMode::None => Err(self.http.error(
                Kind::Unsupported,
                "fill-in-the-middle is turned off (fim = \"none\") — route completions to another backend, or set fim = \"completions\" or \"ollama\"",
            )),
        }
    }

    async fn fim_completions(
        &self,
        req: &FimRequest,
        max_tokens: u32,
    ) -> Result<Completion, ProviderError> {
        let url = self.url("/v1/completions");
        let body = CompletionsBody {
            model: &self.model,
            prompt: &req.prefix,
            suffix: &req.suffix,
            max_tokens,
            stop: &req.stop,
            stream: false,
        };
        let body = Bytes::from(serde_json::to_vec(&body).expect("request serializes"));
        let (reply, request_id) = self
            .http
            .call_with_id(Method::POST, &url, &self.json_headers(), Some(body))
            .await?;
        let (choice, usage) = self.first_choice(&url, &reply, &request_id)?;
        Ok(Completion {
            text: choice.text.unwrap_or_default(),
            usage,
            stop_reason: stop_reason(choice.finish_reason.as_deref()),
            meta: CallMeta {
                request_id,
                stop_reason: choice.finish_reason,
                inference_geo: None,
            },
        })
    }

    async fn fim_ollama(
        &self,
        req: &FimRequest,
        max_tokens: u32,
    ) -> Result<Completion, ProviderError> {
        let url = self.url("/api/generate");
        // `raw` stays off: Ollama renders `suffix` through the model's
        // template, which raw mode would bypass.
        let body = GenerateBody {
            model: &self.model,
            prompt: &req.prefix,
            suffix: &req.suffix,
            stream: false,
            options: GenerateOptions {
                num_predict: max_tokens,
                stop: &req.stop,
            },
        };
        let body = Bytes::from(serde_json::to_vec(&body).expect("request serializes"));
        let (reply, request_id) = self
            .http
            .call_with_id(Method::POST, &url, &self.json_headers(), Some(body))
            .await?;
        let reply: GenerateReply = serde_json::from_slice(&reply).map_err(|e| {
            self.http
                .malformed(&url, e)
                .with_request_id(request_id.clone())
        })?;
        if let Some(error) = reply.error {
            return Err(self
                .http
                .error(
                    Kind::InvalidRequest,
                    format_args!(
                        "Ollama reported an error ({}) — check model",
                        self.http.quote(&error)
                    ),
                )
                .with_request_id(request_id));
        }
        let response = reply.response.ok_or_else(|| {
            self.http
                .malformed(&url, "no `response` in the reply")
                .with_request_id(request_id.clone())
        })?;
        Ok(Completion {
            text: response,
            usage: Usage {
                input_tokens: saturate(reply.prompt_eval_count.unwrap_or(0)),
                output_tokens: saturate(reply.eval_count.unwrap_or(0)),
            },
            stop_reason: stop_reason(reply.done_reason.as_deref()),
            meta: CallMeta {
                request_id,
                stop_reason: reply.done_reason,
                inference_geo: None,
            },
        })
    }

    /// `GET /v1/models`: proves the server is reachable and the key (if
    /// any) accepted, without using tokens; says whether the model is listed.
    pub async fn check(&self) -> Result<String, ProviderError> {
        let url = self.url("/v1/models");
        let reply = self
            .http
            .call(Method::GET, &url, &self.json_headers(), None)
            .await?;
        let list: ModelList =
            serde_json::from_slice(&reply).map_err(|e| self.http.malformed(&url, e))?;
        let listed = list.data.iter().any(|m| m.id == self.model);
        let key = if self.headers.contains_key(AUTHORIZATION) {
            "key accepted"
        } else {
            "no key sent"
        };
        let model = if listed {
            format!("model `{}` listed", self.model)
        } else {
            format!(
                "model `{}` is not among its {} listed models (it may still be served; check model)",
                self.model,
                list.data.len()
            )
        };
        Ok(format!(
            "{} at {}: reachable, {key}, {model}",
            capitalize(self.http.vendor),
            self.base_url
        ))
    }

    /// The API root.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The first choice of a chat or completions reply, and its usage.
    fn first_choice(
        &self,
        url: &str,
        reply: &[u8],
        request_id: &Option<String>,
    ) -> Result<(Choice, Usage), ProviderError> {
        let with_id = |e: ProviderError| e.with_request_id(request_id.clone());
        let reply: ChoicesReply =
            serde_json::from_slice(reply).map_err(|e| with_id(self.http.malformed(url, e)))?;
        self.check_error(&reply.error, false).map_err(with_id)?;
        let usage = reply.usage.unwrap_or_default().into();
        let choice = reply
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| with_id(self.http.malformed(url, "no choices in the reply")))?;
        Ok((choice, usage))
    }

    fn check_error(
        &self,
        error: &Option<serde_json::Value>,
        in_stream: bool,
    ) -> Result<(), ProviderError> {
        let Some(error) = error else { return Ok(()) };
        let body = serde_json::json!({ "error": error });
        let detail = self
            .http
            .quote(&crate::http::error_detail(body.to_string().as_bytes()));
        let place = if in_stream { " in the stream" } else { "" };
        Err(self.http.error(
            Kind::Unavailable,
            format_args!(
                "{} reported an error{place} ({detail}) — try again",
                self.http.vendor
            ),
        ))
    }
}

/// Decodes one chat-completions event stream.
struct Decoder {
    body: SseBody,
    http: Arc<Http>,
    url: Arc<str>,
    usage: Usage,
    finish: Option<StopReason>,
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

    fn finished(&self) -> StreamEvent {
        StreamEvent::Done {
            usage: self.usage,
            stop_reason: self.finish.unwrap_or_default(),
            meta: self.meta.clone(),
        }
    }

    async fn next_inner(&mut self) -> Result<StreamEvent, ProviderError> {
        loop {
            let Some(event) = self.body.next(&self.http, &self.url).await? else {
                // Some servers close without `[DONE]`; an answer that said
                // why it finished is complete all the same.
                if self.finish.is_some() && !self.body.ended_mid_event() {
                    return Ok(self.finished());
                }
                return Err(self.http.error(
                    Kind::Unavailable,
                    format_args!(
                        "the stream from {} at {} ended before [DONE] — try again",
                        self.http.vendor, self.url
                    ),
                ));
            };
            let data = event.data.trim();
            if data == "[DONE]" {
                self.body.release();
                return Ok(self.finished());
            }
            let chunk: ChunkReply =
                serde_json::from_str(data).map_err(|e| self.http.malformed(&self.url, e))?;
            if let Some(error) = chunk.error {
                let body = serde_json::json!({ "error": error });
                let detail = self
                    .http
                    .quote(&crate::http::error_detail(body.to_string().as_bytes()));
                return Err(self.http.error(
                    Kind::Unavailable,
                    format_args!(
                        "{} reported an error in the stream ({detail}) — try again",
                        self.http.vendor
                    ),
                ));
            }
            if let Some(usage) = chunk.usage {
                self.usage = usage.into();
            }
            let mut text = String::new();
            for choice in chunk.choices {
                if choice.index.unwrap_or(0) != 0 {
                    continue;
                }
                if let Some(reason) = choice.finish_reason {
                    self.finish = Some(stop_reason(Some(&reason)));
                    self.meta.stop_reason = Some(reason);
                }
                if let Some(content) = choice.delta.and_then(|d| d.content) {
                    text.push_str(&content);
                }
            }
            if !text.is_empty() {
                return Ok(StreamEvent::Text(text));
            }
        }
    }
}

/// `finish_reason` / `done_reason` in this crate's terms.
fn stop_reason(reason: Option<&str>) -> StopReason {
    match reason {
        Some("length") => StopReason::MaxTokens,
        // stop (end or stop sequence: OpenAI does not tell them apart),
        // content_filter, tool_calls, and future reasons.
        _ => StopReason::End,
    }
}

fn saturate(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[derive(Serialize)]
struct ChatBody<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: &'a str,
}

#[derive(Serialize)]
struct CompletionsBody<'a> {
    model: &'a str,
    prompt: &'a str,
    suffix: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    stream: bool,
}

#[derive(Serialize)]
struct GenerateBody<'a> {
    model: &'a str,
    prompt: &'a str,
    suffix: &'a str,
    stream: bool,
    options: GenerateOptions<'a>,
}

#[derive(Serialize)]
struct GenerateOptions<'a> {
    num_predict: u32,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
}

#[derive(Deserialize)]
struct ChoicesReply {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<WireUsage>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice {
    message: Option<ChoiceMessage>,
    /// `/v1/completions`.
    text: Option<String>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
}

#[derive(Deserialize)]
struct ChunkReply {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    usage: Option<WireUsage>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    index: Option<u32>,
    delta: Option<ChunkDelta>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct ChunkDelta {
    content: Option<String>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

impl From<WireUsage> for Usage {
    fn from(u: WireUsage) -> Usage {
        Usage {
            input_tokens: saturate(u.prompt_tokens),
            output_tokens: saturate(u.completion_tokens),
        }
    }
}

#[derive(Deserialize)]
struct GenerateReply {
    response: Option<String>,
    done_reason: Option<String>,
    prompt_eval_count: Option<u64>,
    eval_count: Option<u64>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct ModelList {
    #[serde(default)]
    data: Vec<ModelEntry>,
}

#[derive(Deserialize)]
struct ModelEntry {
    id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Message;

    fn client(base_url: &str) -> OpenAi {
        OpenAi::new(&Settings::for_test(
            "gpt",
            crate::ProviderKind::OpenAi,
            "m",
            base_url,
        ))
    }

    #[test]
    fn api_openai_com_gets_max_completion_tokens_and_compatible_servers_max_tokens() {
        let req = ChatRequest {
            system: String::new(),
            messages: vec![Message::user("hi")],
            max_tokens: 10,
            temperature: None,
            stop: vec![],
            metadata: [("user_id".to_owned(), "u".to_owned())].into(),
        };
        let body = |c: &OpenAi| -> serde_json::Value {
            serde_json::from_slice(&c.chat_body(&req, 10, false)).unwrap()
        };
        let official = body(&client(OPENAI_DEFAULT_BASE_URL));
        assert_eq!(official["max_completion_tokens"], 10);
        assert!(official.get("max_tokens").is_none(), "{official}");
        let compatible = body(&client("http://127.0.0.1:8000"));
        assert_eq!(compatible["max_tokens"], 10);
        assert!(
            compatible.get("max_completion_tokens").is_none(),
            "{compatible}"
        );
    }
}
