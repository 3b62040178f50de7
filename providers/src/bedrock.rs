//! Amazon Bedrock through the official AWS SDK for Rust: the Converse and
//! ConverseStream APIs, SigV4-signed by the SDK with credentials from the
//! standard AWS chain (env, shared profile, SSO, process, web identity,
//! container, instance metadata).
//!
//! The SDK's own retries and stalled-stream protection are turned off:
//! this crate applies the same timeout, retry and cancellation rules to
//! every provider.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{ConfigLoader, Region};
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver;
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ContentBlockDelta, ConversationRole, ConverseStreamOutput,
    InferenceConfiguration, Message as BrMessage, StopReason as BrStopReason, SystemContentBlock,
    TokenUsage,
};

use crate::config::Settings;
use crate::error::{ConfigError, Kind, ProviderError};
use crate::http::error_chain;
use crate::retry::{parse_retry_after, with_retries};
use crate::stream::{self, Connect, Events};
use crate::types::{ChatRequest, ChunkStream, Completion, Role, StopReason, StreamEvent, Usage};

/// A client for one Bedrock backend.
#[derive(Debug, Clone)]
pub(crate) struct Bedrock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    backend: String,
    model: String,
    region: String,
    endpoint: String,
    timeout: Duration,
    max_retries: u32,
}

impl Bedrock {
    /// Build the SDK client from `loader` (normally
    /// `aws_config::defaults(BehaviorVersion::latest())`), with the region,
    /// profile and endpoint of `settings` applied over it.
    pub async fn new(settings: &Settings, mut loader: ConfigLoader) -> Result<Self, ConfigError> {
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile.clone());
        }
        if let Some(url) = &settings.base_url {
            loader = loader.endpoint_url(url.clone());
        }
        let sdk_config = loader.load().await;
        let Some(region) = sdk_config.region().map(|r| r.to_string()) else {
            return Err(ConfigError::new(
                &settings.name,
                "no AWS region — set region = \"us-east-1\" (or another Bedrock region) in the backend, or AWS_REGION, or region in the AWS profile",
            ));
        };
        let config = aws_sdk_bedrockruntime::config::Builder::from(&sdk_config)
            .retry_config(RetryConfig::disabled())
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(settings.timeout)
                    .build(),
            )
            .build();
        let endpoint = settings
            .base_url
            .clone()
            .unwrap_or_else(|| format!("https://bedrock-runtime.{region}.amazonaws.com"));
        Ok(Bedrock {
            inner: Arc::new(Inner {
                client: Client::from_conf(config),
                backend: settings.name.clone(),
                model: settings.model.clone(),
                region,
                endpoint,
                timeout: settings.timeout,
                max_retries: settings.max_retries,
            }),
        })
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// The endpoint requests go to.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// One Converse call.
    pub async fn chat(
        &self,
        req: &ChatRequest,
        max_tokens: u32,
    ) -> Result<Completion, ProviderError> {
        let inner = &*self.inner;
        let parts = Parts::new(inner, req, max_tokens)?;
        let output = with_retries(&inner.backend, inner.max_retries, |attempt| {
            tracing::debug!(backend = %inner.backend, endpoint = %inner.endpoint, attempt, "bedrock converse");
            let send = inner
                .client
                .converse()
                .model_id(&inner.model)
                .set_system(parts.system.clone())
                .set_messages(Some(parts.messages.clone()))
                .inference_config(parts.inference.clone())
                .send();
            async move {
                tokio::time::timeout(inner.timeout, send)
                    .await
                    .map_err(|_| inner.timeout_error())?
                    .map_err(|e| inner.map_error(e, http_status))
            }
        })
        .await?;
        let text = output
            .output()
            .and_then(|o| o.as_message().ok())
            .map(|m| {
                m.content()
                    .iter()
                    .filter_map(|b| b.as_text().ok())
                    .map(String::as_str)
                    .collect::<String>()
            })
            .unwrap_or_default();
        Ok(Completion {
            text,
            usage: output.usage().map(usage).unwrap_or_default(),
            stop_reason: stop_reason(output.stop_reason()),
        })
    }

    /// One ConverseStream call.
    pub async fn chat_stream(
        &self,
        req: &ChatRequest,
        max_tokens: u32,
    ) -> Result<ChunkStream, ProviderError> {
        let parts = Arc::new(Parts::new(&self.inner, req, max_tokens)?);
        let inner = self.inner.clone();
        let connect: Connect = Arc::new(move || {
            let (inner, parts) = (inner.clone(), parts.clone());
            Box::pin(async move {
                tracing::debug!(backend = %inner.backend, endpoint = %inner.endpoint, "bedrock converse-stream");
                let send = inner
                    .client
                    .converse_stream()
                    .model_id(&inner.model)
                    .set_system(parts.system.clone())
                    .set_messages(Some(parts.messages.clone()))
                    .inference_config(parts.inference.clone())
                    .send();
                let output = tokio::time::timeout(inner.timeout, send)
                    .await
                    .map_err(|_| inner.timeout_error())?
                    .map_err(|e| inner.map_error(e, http_status))?;
                let decoder = Decoder {
                    receiver: output.stream,
                    inner,
                    usage: Usage::default(),
                    stop_reason: None,
                    done: false,
                };
                Ok(decoder.into_events())
            })
        });
        stream::open(self.inner.backend.clone(), self.inner.max_retries, connect).await
    }

    /// A one-token Converse call: proves the endpoint is reachable, the
    /// credentials are accepted and the model is enabled. Costs one token.
    pub async fn check(&self) -> Result<String, ProviderError> {
        let req = ChatRequest {
            system: String::new(),
            messages: vec![crate::types::Message::user("ping")],
            max_tokens: 1,
            temperature: None,
            stop: Vec::new(),
        };
        let answer = self.chat(&req, 1).await?;
        Ok(format!(
            "Bedrock in {} at {}: credentials accepted, model `{}` answered ({} input + {} output tokens)",
            self.inner.region,
            self.inner.endpoint,
            self.inner.model,
            answer.usage.input_tokens,
            answer.usage.output_tokens
        ))
    }
}

/// The request pieces shared by Converse and ConverseStream.
struct Parts {
    system: Option<Vec<SystemContentBlock>>,
    messages: Vec<BrMessage>,
    inference: InferenceConfiguration,
}

impl Parts {
    fn new(inner: &Inner, req: &ChatRequest, max_tokens: u32) -> Result<Parts, ProviderError> {
        let system =
            (!req.system.is_empty()).then(|| vec![SystemContentBlock::Text(req.system.clone())]);
        let messages = req
            .messages
            .iter()
            .map(|m| {
                BrMessage::builder()
                    .role(match m.role {
                        Role::User => ConversationRole::User,
                        Role::Assistant => ConversationRole::Assistant,
                    })
                    .content(ContentBlock::Text(m.content.clone()))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                ProviderError::new(
                    Kind::InvalidRequest,
                    &inner.backend,
                    format_args!("cannot build the Bedrock request ({e})"),
                )
            })?;
        let inference = InferenceConfiguration::builder()
            .max_tokens(i32::try_from(max_tokens).unwrap_or(i32::MAX))
            .set_temperature(req.temperature)
            .set_stop_sequences((!req.stop.is_empty()).then(|| req.stop.clone()))
            .build();
        Ok(Parts {
            system,
            messages,
            inference,
        })
    }
}

impl Inner {
    fn error(&self, kind: Kind, what: impl std::fmt::Display) -> ProviderError {
        ProviderError::new(kind, &self.backend, what)
    }

    fn timeout_error(&self) -> ProviderError {
        self.error(
            Kind::Timeout,
            format_args!(
                "no answer from Bedrock at {} within {} ms — raise timeout_ms, or check the network",
                self.endpoint,
                self.timeout.as_millis()
            ),
        )
    }

    /// Map an SDK error. `raw` says what the raw reply tells: HTTP status
    /// and `retry-after` (none for errors inside an event stream).
    fn map_error<E, R>(
        &self,
        error: SdkError<E, R>,
        raw: impl Fn(&R) -> (Option<u16>, Option<Duration>),
    ) -> ProviderError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let endpoint = &self.endpoint;
        match &error {
            SdkError::ConstructionFailure(_) => self.error(
                Kind::InvalidRequest,
                format_args!(
                    "cannot build the Bedrock request ({}) — check model and base_url",
                    error_chain(&error)
                ),
            ),
            SdkError::TimeoutError(_) => self.timeout_error(),
            SdkError::DispatchFailure(failure) => {
                if has_credentials_error(&error) {
                    return self.error(
                        Kind::Auth,
                        format_args!(
                            "no usable AWS credentials ({}) — run `aws sso login`, set AWS_PROFILE (or profile in the backend), export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or export AWS_BEARER_TOKEN_BEDROCK (a Bedrock API key)",
                            error_chain(&error)
                        ),
                    );
                }
                if failure.is_timeout() {
                    return self.timeout_error();
                }
                if has_connection_refused(&error) {
                    return self.error(
                        Kind::Unavailable,
                        format_args!("connection refused at {endpoint} — is the server running?"),
                    );
                }
                self.error(
                    Kind::Unavailable,
                    format_args!(
                        "cannot reach Bedrock at {endpoint} ({}) — check region, base_url and the network",
                        error_chain(&error)
                    ),
                )
            }
            SdkError::ResponseError(_) => {
                let chain = error_chain(&error);
                if chain.contains("unexpected end of stream") {
                    self.error(
                        Kind::Unavailable,
                        format_args!("the stream from Bedrock at {endpoint} ended in the middle of an event — try again"),
                    )
                } else {
                    self.error(
                        Kind::Malformed,
                        format_args!(
                            "unreadable reply from Bedrock at {endpoint} ({chain}) — is base_url pointing at a Bedrock endpoint?"
                        ),
                    )
                }
            }
            SdkError::ServiceError(service) => {
                let (status, retry_after) = raw(service.raw());
                let err = service.err();
                let code = err
                    .code()
                    .filter(|c| !c.is_empty())
                    .or_else(|| stream_exception_code(err))
                    .unwrap_or("");
                let message = err.message().unwrap_or("");
                if status.is_some_and(|s| (200..300).contains(&s)) {
                    // The SDK reports a success reply it cannot parse as an
                    // unhandled service error.
                    return self.error(
                        Kind::Malformed,
                        format_args!(
                            "unreadable reply from Bedrock at {endpoint} ({}) — is base_url pointing at a Bedrock endpoint?",
                            clean(&error_chain(&error))
                        ),
                    );
                }
                self.service_error(status, code, message, retry_after)
            }
            _ => self.error(
                Kind::Unavailable,
                format_args!(
                    "the request to Bedrock at {endpoint} failed ({}) — try again",
                    error_chain(&error)
                ),
            ),
        }
    }

    fn service_error(
        &self,
        status: Option<u16>,
        code: &str,
        message: &str,
        retry_after: Option<Duration>,
    ) -> ProviderError {
        let region = &self.region;
        let status_text = status.map(|s| format!("{s} ")).unwrap_or_default();
        let detail = match (code.is_empty(), message.is_empty()) {
            (false, false) => clean(&format!("{code}: {message}")),
            (false, true) => clean(code),
            (true, _) => clean(message),
        };
        let lower = code.to_ascii_lowercase();
        let what = |hint: &str| format!("{status_text}from Bedrock ({detail}) — {hint}");
        match lower.as_str() {
            "throttlingexception" | "toomanyrequestsexception" => self.error(
                Kind::RateLimited(retry_after),
                format_args!(
                    "{status_text}rate limited by Bedrock ({detail}) — wait and try again, or ask AWS for a higher quota in {region}"
                ),
            ),
            "serviceunavailableexception" | "internalserverexception" | "modelnotreadyexception"
            | "modelstreamerrorexception" | "modelerrorexception" => self.error(
                Kind::Unavailable,
                what("Bedrock is failing or overloaded; try again later"),
            ),
            "modeltimeoutexception" => self.error(
                Kind::Timeout,
                what("the model took too long; try again, or send less context"),
            ),
            "accessdeniedexception" | "unrecognizedclientexception" | "invalidsignatureexception"
            | "expiredtokenexception" | "incompletesignatureexception" | "missingauthenticationtokenexception" => {
                self.auth_error(&what(&format!(
                    "check the AWS credentials (AWS_PROFILE, `aws sso login`, AWS_BEARER_TOKEN_BEDROCK) and that access to this model is granted in {region}"
                )))
            }
            "resourcenotfoundexception" => self.error(
                Kind::InvalidRequest,
                what(&format!(
                    "check model (a Bedrock model id such as anthropic.claude-3-5-sonnet-20240620-v1:0, or an inference profile such as us.anthropic.…) and that it is offered in {region}"
                )),
            ),
            "validationexception" => self.error(
                Kind::InvalidRequest,
                what("the request was rejected; check model and the request parameters"),
            ),
            _ => match status {
                Some(401 | 403) => self.auth_error(&what("check the AWS credentials (AWS_PROFILE, `aws sso login`, AWS_BEARER_TOKEN_BEDROCK)")),
                Some(429) => self.error(
                    Kind::RateLimited(retry_after),
                    format_args!("{status_text}rate limited by Bedrock ({detail}) — wait and try again"),
                ),
                Some(408 | 500..=599) | None => self.error(
                    Kind::Unavailable,
                    what("Bedrock is failing or overloaded; try again later"),
                ),
                Some(_) => self.error(
                    Kind::InvalidRequest,
                    what("the request was rejected; check model and the request parameters"),
                ),
            },
        }
    }

    fn auth_error(&self, what: &str) -> ProviderError {
        self.error(Kind::Auth, what)
    }
}

/// The exception name of an error inside a ConverseStream event stream:
/// the SDK leaves the error code of these modelled exceptions empty.
fn stream_exception_code(error: &(dyn std::any::Any + 'static)) -> Option<&'static str> {
    let error = error.downcast_ref::<ConverseStreamOutputError>()?;
    Some(match error {
        ConverseStreamOutputError::ThrottlingException(_) => "ThrottlingException",
        ConverseStreamOutputError::ServiceUnavailableException(_) => "ServiceUnavailableException",
        ConverseStreamOutputError::InternalServerException(_) => "InternalServerException",
        ConverseStreamOutputError::ModelStreamErrorException(_) => "ModelStreamErrorException",
        ConverseStreamOutputError::ValidationException(_) => "ValidationException",
        _ => return None,
    })
}

/// Status and `retry-after` of an HTTP reply.
fn http_status(raw: &aws_smithy_runtime_api::http::Response) -> (Option<u16>, Option<Duration>) {
    let retry_after = raw
        .headers()
        .get("retry-after")
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    (Some(raw.status().as_u16()), retry_after)
}

/// Errors inside an event stream have no HTTP status.
fn no_status<R>(_: &R) -> (Option<u16>, Option<Duration>) {
    (None, None)
}

/// Whether the error came from resolving AWS credentials.
fn has_credentials_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(s) = source {
        if s.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return true;
        }
        source = s.source();
    }
    false
}

fn has_connection_refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// Service text, one line and short.
fn clean(text: &str) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let line = line.trim().trim_end_matches(':').trim();
    if line.chars().count() > 300 {
        format!("{}…", line.chars().take(300).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// Decodes one ConverseStream event stream.
struct Decoder {
    receiver: EventReceiver<ConverseStreamOutput, ConverseStreamOutputError>,
    inner: Arc<Inner>,
    usage: Usage,
    stop_reason: Option<StopReason>,
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
        let result = self.next_inner().await;
        if !matches!(result, Ok(StreamEvent::Text(_))) {
            self.done = true;
        }
        Some(result)
    }

    async fn next_inner(&mut self) -> Result<StreamEvent, ProviderError> {
        let inner = self.inner.clone();
        loop {
            let event = tokio::time::timeout(inner.timeout, self.receiver.recv())
                .await
                .map_err(|_| {
                    inner.error(
                        Kind::Timeout,
                        format_args!(
                            "the stream from Bedrock at {} stalled for more than {} ms — raise timeout_ms, or try again",
                            inner.endpoint,
                            inner.timeout.as_millis()
                        ),
                    )
                })?
                .map_err(|e| match e {
                    SdkError::DispatchFailure(_) => inner.error(
                        Kind::Unavailable,
                        format_args!(
                            "the stream from Bedrock at {} was cut off ({}) — try again",
                            inner.endpoint,
                            error_chain(&e)
                        ),
                    ),
                    e => inner.map_error(e, no_status),
                })?;
            match event {
                None => {
                    return match self.stop_reason {
                        // Metadata (usage) normally follows messageStop;
                        // without it the answer is still complete.
                        Some(stop_reason) => Ok(StreamEvent::Done {
                            usage: self.usage,
                            stop_reason,
                        }),
                        None => Err(inner.error(
                            Kind::Unavailable,
                            format_args!(
                                "the stream from Bedrock at {} ended before messageStop — try again",
                                inner.endpoint
                            ),
                        )),
                    };
                }
                Some(ConverseStreamOutput::ContentBlockDelta(delta)) => {
                    if let Some(ContentBlockDelta::Text(text)) = delta.delta()
                        && !text.is_empty()
                    {
                        return Ok(StreamEvent::Text(text.clone()));
                    }
                }
                Some(ConverseStreamOutput::MessageStop(stop)) => {
                    self.stop_reason = Some(stop_reason(stop.stop_reason()));
                }
                Some(ConverseStreamOutput::Metadata(metadata)) => {
                    if let Some(u) = metadata.usage() {
                        self.usage = usage(u);
                    }
                    if let Some(stop_reason) = self.stop_reason {
                        // Let the SDK see the end of the body, so the
                        // connection can be reused.
                        let _ = futures::FutureExt::now_or_never(self.receiver.recv());
                        return Ok(StreamEvent::Done {
                            usage: self.usage,
                            stop_reason,
                        });
                    }
                }
                // messageStart, contentBlockStart/Stop, and event types
                // added after this client was written.
                Some(_) => {}
            }
        }
    }
}

fn stop_reason(reason: &BrStopReason) -> StopReason {
    match reason {
        BrStopReason::MaxTokens => StopReason::MaxTokens,
        BrStopReason::StopSequence => StopReason::StopSequence,
        _ => StopReason::End,
    }
}

/// Bedrock token counts; cached prompt tokens count as input.
fn usage(u: &TokenUsage) -> Usage {
    let n = |v: i32| u32::try_from(v).unwrap_or(0);
    Usage {
        input_tokens: n(u.input_tokens())
            .saturating_add(n(u.cache_read_input_tokens().unwrap_or(0)))
            .saturating_add(n(u.cache_write_input_tokens().unwrap_or(0))),
        output_tokens: n(u.output_tokens()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_cached_prompt_tokens() {
        let u = TokenUsage::builder()
            .input_tokens(10)
            .output_tokens(5)
            .total_tokens(15)
            .cache_read_input_tokens(100)
            .build()
            .unwrap();
        assert_eq!(
            usage(&u),
            Usage {
                input_tokens: 110,
                output_tokens: 5
            }
        );
    }

    #[test]
    fn stop_reasons_map() {
        assert_eq!(stop_reason(&BrStopReason::EndTurn), StopReason::End);
        assert_eq!(stop_reason(&BrStopReason::MaxTokens), StopReason::MaxTokens);
        assert_eq!(
            stop_reason(&BrStopReason::StopSequence),
            StopReason::StopSequence
        );
        assert_eq!(
            stop_reason(&BrStopReason::from("brand_new")),
            StopReason::End
        );
    }
}
