//! Amazon Bedrock through the official AWS SDK for Rust: the Converse and
//! ConverseStream APIs, SigV4-signed by the SDK with credentials from the
//! standard AWS chain (env, shared profile, SSO, process, web identity,
//! container, instance metadata).
//!
//! The SDK's own retries and stalled-stream protection are turned off:
//! this crate applies the same timeout, retry and cancellation rules to
//! every provider.
//!
//! What the client reports about itself (endpoint, FIPS, auth kind) is
//! computed the way the SDK computes it, from the same loaded
//! [`SdkConfig`], so it is what requests really do.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{ConfigLoader, Region, SdkConfig};
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::RequestId;
use aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver;
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ContentBlockDelta, ConversationRole, ConverseStreamOutput,
    GuardrailConfiguration, GuardrailStreamConfiguration, GuardrailStreamProcessingMode,
    GuardrailTrace as BrGuardrailTrace, InferenceConfiguration, Message as BrMessage,
    StopReason as BrStopReason, SystemContentBlock, TokenUsage,
};
use aws_types::service_config::ServiceConfigKey;

use crate::config::{GuardrailConfig, Settings};
use crate::error::{ConfigError, Kind, ProviderError};
use crate::http::error_chain;
use crate::retry::{parse_retry_after, with_retries};
use crate::stream::{self, Connect, Events};
use crate::types::{
    CallMeta, ChatRequest, ChunkStream, Completion, Role, StopReason, StreamEvent, Usage,
};

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
    /// The URL requests go to, as the SDK's endpoint resolver gives it.
    endpoint: String,
    /// Whether the SDK was told to use FIPS endpoints.
    use_fips: bool,
    /// `sigv4` or `bearer`: how the SDK will authenticate requests.
    auth_kind: &'static str,
    guardrail: Option<GuardrailConfig>,
    timeout: Duration,
    max_retries: u32,
}

impl Bedrock {
    /// Build the SDK client from `loader` (normally
    /// `aws_config::defaults(BehaviorVersion::latest())`), with the region,
    /// profile, endpoint and FIPS setting of `settings` applied over it.
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
        if let Some(use_fips) = settings.use_fips {
            loader = loader.use_fips(use_fips);
        }
        let sdk_config = loader.load().await;
        Self::from_sdk_config(settings, &sdk_config).await
    }

    /// Build the client from a loaded SDK configuration.
    pub async fn from_sdk_config(
        settings: &Settings,
        sdk_config: &SdkConfig,
    ) -> Result<Self, ConfigError> {
        let Some(region) = sdk_config.region().map(|r| r.to_string()) else {
            return Err(ConfigError::new(
                &settings.name,
                "no AWS region — set region = \"us-east-1\" (or another Bedrock region) in the backend, or AWS_REGION, or region in the AWS profile",
            ));
        };
        let config = aws_sdk_bedrockruntime::config::Builder::from(sdk_config)
            .retry_config(RetryConfig::disabled())
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(settings.timeout)
                    .build(),
            )
            .build();
        let endpoint = resolve_endpoint(sdk_config, &region)
            .await
            .map_err(|e| ConfigError::new(&settings.name, e))?;
        let auth_kind = auth_kind(&config, sdk_config);
        Ok(Bedrock {
            inner: Arc::new(Inner {
                client: Client::from_conf(config),
                backend: settings.name.clone(),
                model: settings.model.clone(),
                region,
                endpoint,
                use_fips: sdk_config.use_fips().unwrap_or(false),
                auth_kind,
                guardrail: settings.guardrail.clone(),
                timeout: settings.timeout,
                max_retries: settings.max_retries,
            }),
        })
    }

    /// Whether the SDK uses FIPS endpoints (`use_fips`,
    /// `AWS_USE_FIPS_ENDPOINT`, `use_fips_endpoint` in the profile).
    pub fn use_fips(&self) -> bool {
        self.inner.use_fips
    }

    /// `sigv4` or `bearer` (a Bedrock API key).
    pub fn auth_kind(&self) -> &'static str {
        self.inner.auth_kind
    }

    /// The guardrail sent with every call.
    pub fn guardrail(&self) -> Option<&GuardrailConfig> {
        self.inner.guardrail.as_ref()
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
                .set_guardrail_config(parts.guardrail.clone())
                .set_request_metadata(parts.metadata.clone())
                .send();
            async move {
                tokio::time::timeout(inner.timeout, send)
                    .await
                    .map_err(|_| inner.timeout_error())?
                    .map_err(|e| {
                        let id = e.request_id().map(str::to_owned);
                        inner.map_error(e, http_status, id)
                    })
            }
        })
        .await?;
        let request_id = output.request_id().map(str::to_owned);
        if *output.stop_reason() == BrStopReason::GuardrailIntervened {
            return Err(inner.guardrail_intervened(request_id));
        }
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
            meta: CallMeta {
                request_id,
                stop_reason: Some(output.stop_reason().as_str().to_owned()),
                inference_geo: None,
            },
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
                    .set_guardrail_config(parts.stream_guardrail.clone())
                    .set_request_metadata(parts.metadata.clone())
                    .send();
                let output = tokio::time::timeout(inner.timeout, send)
                    .await
                    .map_err(|_| inner.timeout_error())?
                    .map_err(|e| {
                        let id = e.request_id().map(str::to_owned);
                        inner.map_error(e, http_status, id)
                    })?;
                let request_id = output.request_id().map(str::to_owned);
                let decoder = Decoder {
                    receiver: output.stream,
                    inner,
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
            metadata: BTreeMap::new(),
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
    /// Converse `guardrailConfig`.
    guardrail: Option<GuardrailConfiguration>,
    /// ConverseStream `guardrailConfig` (with `streamProcessingMode`).
    stream_guardrail: Option<GuardrailStreamConfiguration>,
    /// `requestMetadata`, cleaned.
    metadata: Option<HashMap<String, String>>,
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
        let guardrail = inner.guardrail.as_ref().map(|g| {
            GuardrailConfiguration::builder()
                .guardrail_identifier(&g.id)
                .guardrail_version(&g.version)
                .trace(BrGuardrailTrace::from(g.trace.as_str()))
                .build()
        });
        let stream_guardrail = inner.guardrail.as_ref().map(|g| {
            GuardrailStreamConfiguration::builder()
                .guardrail_identifier(&g.id)
                .guardrail_version(&g.version)
                .trace(BrGuardrailTrace::from(g.trace.as_str()))
                .stream_processing_mode(GuardrailStreamProcessingMode::from(
                    g.stream_processing.as_str(),
                ))
                .build()
        });
        let (metadata, dropped) = request_metadata(&req.metadata);
        if dropped > 0 {
            tracing::debug!(backend = %inner.backend, dropped, "request metadata entries not sent to Bedrock (empty or duplicate key after cleaning, or more than 16)");
        }
        Ok(Parts {
            system,
            messages,
            inference,
            guardrail,
            stream_guardrail,
            metadata: (!metadata.is_empty()).then_some(metadata),
        })
    }
}

/// Most `requestMetadata` entries Bedrock accepts.
const MAX_METADATA_ENTRIES: usize = 16;
/// Longest `requestMetadata` key or value Bedrock accepts.
const MAX_METADATA_LEN: usize = 256;

/// `metadata` as Bedrock's `requestMetadata` accepts it, and how many
/// entries were dropped. Keys and values may hold only ASCII letters and
/// digits, whitespace and `. _ : / = + $ @ -`, at most 256 characters (keys
/// at least 1); at most 16 entries. Cleaning is deterministic: in key
/// order, every other character becomes `_` (ASCII whitespace other than a
/// space becomes a space), keys and values are cut to 256 characters, an
/// entry whose key is empty or equal to an earlier cleaned key is dropped,
/// and entries after the 16th are dropped.
pub(crate) fn request_metadata(
    metadata: &BTreeMap<String, String>,
) -> (HashMap<String, String>, usize) {
    fn clean(text: &str) -> String {
        text.chars()
            .map(|c| match c {
                'a'..='z'
                | 'A'..='Z'
                | '0'..='9'
                | ' '
                | '.'
                | '_'
                | ':'
                | '/'
                | '='
                | '+'
                | '$'
                | '@'
                | '-' => c,
                c if c.is_ascii_whitespace() => ' ',
                _ => '_',
            })
            .take(MAX_METADATA_LEN)
            .collect()
    }
    let mut out = HashMap::new();
    let mut dropped = 0;
    for (key, value) in metadata {
        let key = clean(key);
        if key.is_empty() || out.contains_key(&key) || out.len() == MAX_METADATA_ENTRIES {
            dropped += 1;
            continue;
        }
        out.insert(key, clean(value));
    }
    (out, dropped)
}

/// The endpoint override the SDK applies, computed as the Bedrock Runtime
/// client's `From<&SdkConfig>` does: an endpoint set on the loader
/// (`base_url`) first; else the service-specific setting
/// (`AWS_ENDPOINT_URL_BEDROCK_RUNTIME`, or `endpoint_url` in the profile's
/// `services` section for `bedrock_runtime`); else the global one
/// (`AWS_ENDPOINT_URL`, `endpoint_url` in the profile). aws-config leaves
/// out all but the first when `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` is set.
fn endpoint_override(sdk: &SdkConfig) -> Option<String> {
    if sdk.get_origin("endpoint_url").is_client_config() {
        return sdk.endpoint_url().map(str::to_owned);
    }
    sdk.service_config()
        .and_then(|conf| {
            conf.load_config(service_config_key(
                "Bedrock Runtime",
                "AWS_ENDPOINT_URL",
                "endpoint_url",
            )?)
        })
        .or_else(|| sdk.endpoint_url().map(str::to_owned))
}

fn service_config_key<'a>(
    service_id: &'a str,
    env: &'a str,
    profile: &'a str,
) -> Option<ServiceConfigKey<'a>> {
    ServiceConfigKey::builder()
        .service_id(service_id)
        .env(env)
        .profile(profile)
        .build()
        .ok()
}

/// The URL the SDK's own endpoint resolver gives for this configuration:
/// the override as given, or the regional endpoint (FIPS, dual-stack, the
/// partition's domain). An error when the SDK would refuse every request
/// (FIPS with an endpoint override).
async fn resolve_endpoint(sdk: &SdkConfig, region: &str) -> Result<String, String> {
    use aws_sdk_bedrockruntime::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
    let endpoint = endpoint_override(sdk);
    let custom = endpoint.is_some();
    let params = Params::builder()
        .region(region)
        .use_fips(sdk.use_fips().unwrap_or(false))
        .use_dual_stack(sdk.use_dual_stack().unwrap_or(false))
        .set_endpoint(endpoint)
        .build()
        .map_err(|e| format!("cannot resolve the Bedrock endpoint ({e})"))?;
    let resolver = DefaultResolver::new();
    match ResolveEndpoint::resolve_endpoint(&resolver, &params).await {
        Ok(endpoint) => Ok(endpoint.url().to_owned()),
        Err(e) if custom && params.use_fips() == Some(true) => Err(format!(
            "the AWS SDK cannot use a FIPS endpoint together with an endpoint override ({e}) — remove use_fips (or AWS_USE_FIPS_ENDPOINT / use_fips_endpoint), or the override (base_url, AWS_ENDPOINT_URL_BEDROCK_RUNTIME, AWS_ENDPOINT_URL, endpoint_url in the profile); a FIPS VPC endpoint goes in base_url alone"
        )),
        Err(e) => Err(format!(
            "cannot resolve the Bedrock endpoint for region `{region}` ({}) — check region, use_fips and base_url",
            error_chain(&*e)
        )),
    }
}

/// How the SDK will authenticate, mirroring the Bedrock Runtime client: a
/// Bedrock API key (`AWS_BEARER_TOKEN_BEDROCK`, through the SDK's service
/// configuration) makes HTTP bearer auth the preferred scheme unless an
/// auth scheme preference was set on the loader; the SDK then takes the
/// first scheme, in preference order over its default (SigV4, then
/// bearer), for which it has an identity source.
fn auth_kind(config: &aws_sdk_bedrockruntime::Config, sdk: &SdkConfig) -> &'static str {
    use aws_smithy_runtime_api::client::auth::http::HTTP_BEARER_AUTH_SCHEME_ID;
    let env_token = sdk
        .service_config()
        .and_then(|conf| conf.load_config(service_config_key("bedrock", "AWS_BEARER_TOKEN", "")?))
        .is_some();
    let has_bearer = env_token || sdk.token_provider().is_some();
    let has_sigv4 = sdk.credentials_provider().is_some();
    let preferred = config.auth_scheme_preference().and_then(|p| {
        p.clone()
            .into_iter()
            .find(|id| id.inner() == "sigv4" || *id == HTTP_BEARER_AUTH_SCHEME_ID)
    });
    let bearer_first = preferred.is_some_and(|id| id == HTTP_BEARER_AUTH_SCHEME_ID);
    if has_bearer && (bearer_first || !has_sigv4) {
        "bearer"
    } else {
        "sigv4"
    }
}

impl Inner {
    fn error(&self, kind: Kind, what: impl std::fmt::Display) -> ProviderError {
        ProviderError::new(kind, &self.backend, what)
    }

    fn guardrail_intervened(&self, request_id: Option<String>) -> ProviderError {
        let guardrail = self
            .guardrail
            .as_ref()
            .map(|g| (g.id.as_str(), g.version.as_str()));
        ProviderError::guardrail_intervened(&self.backend, guardrail, request_id)
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
    /// and `retry-after` (none for errors inside an event stream);
    /// `request_id` is the reply's `x-amzn-RequestId`.
    fn map_error<E, R>(
        &self,
        error: SdkError<E, R>,
        raw: impl Fn(&R) -> (Option<u16>, Option<Duration>),
        request_id: Option<String>,
    ) -> ProviderError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let request_id = request_id.or_else(|| match &error {
            SdkError::ServiceError(service) => service.err().meta().request_id().map(str::to_owned),
            _ => None,
        });
        self.map_error_inner(error, raw).with_request_id(request_id)
    }

    fn map_error_inner<E, R>(
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
            "accessdeniedexception" if mentions_guardrail(message) => {
                let hint = match &self.guardrail {
                    None => "denied by an enforced guardrail policy: configure `guardrail` on this backend with the identifier your administrator requires".to_owned(),
                    Some(g) => format!(
                        "denied by an enforced guardrail policy: the guardrail sent (`{}` version {}) is not the one required — set `guardrail` on this backend to the identifier and version your administrator requires",
                        g.id, g.version
                    ),
                };
                self.error(Kind::GuardrailRequired, what(&hint))
            }
            "validationexception" | "resourcenotfoundexception"
                if self.guardrail.is_some() && message.to_ascii_lowercase().contains("guardrail") =>
            {
                self.error(
                    Kind::InvalidRequest,
                    what(&format!(
                        "the guardrail was refused; check `guardrail` (id and version) on this backend, and that the guardrail exists in {region}"
                    )),
                )
            }
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

/// Whether an access-denied message is about a guardrail: the IAM condition
/// key `bedrock:GuardrailIdentifier`, or any mention of a guardrail.
fn mentions_guardrail(message: &str) -> bool {
    message.to_ascii_lowercase().contains("guardrail")
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
                    SdkError::DispatchFailure(_) => inner
                        .error(
                            Kind::Unavailable,
                            format_args!(
                                "the stream from Bedrock at {} was cut off ({}) — try again",
                                inner.endpoint,
                                error_chain(&e)
                            ),
                        )
                        .with_request_id(self.meta.request_id.clone()),
                    e => inner.map_error(e, no_status, self.meta.request_id.clone()),
                })?;
            match event {
                None => {
                    return match self.stop_reason {
                        // Metadata (usage) normally follows messageStop;
                        // without it the answer is still complete.
                        Some(stop_reason) => Ok(StreamEvent::Done {
                            usage: self.usage,
                            stop_reason,
                            meta: self.meta.clone(),
                        }),
                        None => Err(inner
                            .error(
                                Kind::Unavailable,
                                format_args!(
                                    "the stream from Bedrock at {} ended before messageStop — try again",
                                    inner.endpoint
                                ),
                            )
                            .with_request_id(self.meta.request_id.clone())),
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
                    if *stop.stop_reason() == BrStopReason::GuardrailIntervened {
                        // Whatever text came before was not an answer.
                        return Err(inner.guardrail_intervened(self.meta.request_id.clone()));
                    }
                    self.stop_reason = Some(stop_reason(stop.stop_reason()));
                    self.meta.stop_reason = Some(stop.stop_reason().as_str().to_owned());
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
                            meta: self.meta.clone(),
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
    use aws_config::BehaviorVersion;
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_types::service_config::LoadServiceConfig;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Environment variables as aws-config's service configuration reads
    /// them: `{env}_{SERVICE_ID}` (upper snake case), else `{env}`.
    #[derive(Debug)]
    struct FakeEnv(Vec<(&'static str, String)>);

    impl LoadServiceConfig for FakeEnv {
        fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
            let service = key
                .service_id()
                .to_ascii_uppercase()
                .replace([' ', '-'], "_");
            let specific = format!("{}_{service}", key.env());
            self.0
                .iter()
                .find(|(name, _)| *name == specific)
                .map(|(_, v)| v.clone())
        }
    }

    fn sdk_config(env: Vec<(&'static str, String)>, fips: Option<bool>) -> SdkConfig {
        let mut b = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            )))
            .service_config(FakeEnv(env));
        b.set_use_fips(fips);
        b.build()
    }

    fn settings() -> Settings {
        let mut s = Settings::for_test("br", crate::ProviderKind::Bedrock, "m", "http://x");
        s.base_url = None;
        s
    }

    /// Accept one HTTP request, answer with a Converse reply, return the
    /// request head.
    async fn answer_once(listener: tokio::net::TcpListener) -> String {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = socket.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let head = text[..end].to_ascii_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                if buf.len() >= end + 4 + len {
                    let body = br#"{"output":{"message":{"role":"assistant","content":[{"text":"ok"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":1}}"#;
                    let reply = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-amzn-requestid: rid-1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    socket.write_all(reply.as_bytes()).await.unwrap();
                    socket.write_all(body).await.unwrap();
                    return text[..end].to_owned();
                }
            }
        }
    }

    fn ping() -> ChatRequest {
        ChatRequest {
            messages: vec![crate::types::Message::user("ping")],
            max_tokens: 1,
            ..ChatRequest::default()
        }
    }

    #[tokio::test]
    async fn fips_flag_gives_the_fips_endpoint() {
        let b = Bedrock::from_sdk_config(&settings(), &sdk_config(vec![], Some(true)))
            .await
            .unwrap();
        assert_eq!(
            b.endpoint(),
            "https://bedrock-runtime-fips.us-east-1.amazonaws.com"
        );
        assert!(b.use_fips());
        let b = Bedrock::from_sdk_config(&settings(), &sdk_config(vec![], None))
            .await
            .unwrap();
        assert_eq!(
            b.endpoint(),
            "https://bedrock-runtime.us-east-1.amazonaws.com"
        );
        assert!(!b.use_fips());
        assert_eq!(b.auth_kind(), "sigv4");
    }

    #[tokio::test]
    async fn the_service_endpoint_variable_is_where_the_sdk_really_goes() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let config = sdk_config(
            vec![("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url.clone())],
            None,
        );
        let b = Bedrock::from_sdk_config(&settings(), &config)
            .await
            .unwrap();
        assert_eq!(b.endpoint(), url);
        let server = tokio::spawn(answer_once(listener));
        let answer = b.chat(&ping(), 1).await.unwrap();
        assert_eq!(answer.meta.request_id.as_deref(), Some("rid-1"));
        let head = server.await.unwrap();
        assert!(head.starts_with("POST /model/m/converse "), "{head}");
    }

    #[tokio::test]
    async fn an_endpoint_set_on_the_loader_wins_over_the_variable() {
        // What `ConfigLoader::endpoint_url` (the backend's base_url) records.
        let mut config = sdk_config(
            vec![("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://other:1".into())],
            None,
        )
        .into_builder()
        .endpoint_url("https://gw.example/bedrock");
        config.insert_origin("endpoint_url", aws_types::origin::Origin::shared_config());
        let b = Bedrock::from_sdk_config(&settings(), &config.build())
            .await
            .unwrap();
        assert_eq!(b.endpoint(), "https://gw.example/bedrock");
        // Without that origin (AWS_ENDPOINT_URL from the environment), the
        // service-specific variable wins over the global one.
        let config = sdk_config(
            vec![("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://other:1".into())],
            None,
        )
        .into_builder()
        .endpoint_url("https://global.example")
        .build();
        let b = Bedrock::from_sdk_config(&settings(), &config)
            .await
            .unwrap();
        assert_eq!(b.endpoint(), "http://other:1");
    }

    #[tokio::test]
    async fn a_bedrock_api_key_variable_means_bearer_auth_on_the_wire() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let config = sdk_config(
            vec![
                ("AWS_BEARER_TOKEN_BEDROCK", "ABSK-test-key".into()),
                ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url),
            ],
            None,
        );
        let b = Bedrock::from_sdk_config(&settings(), &config)
            .await
            .unwrap();
        assert_eq!(b.auth_kind(), "bearer");
        let server = tokio::spawn(answer_once(listener));
        b.chat(&ping(), 1).await.unwrap();
        let head = server.await.unwrap().to_ascii_lowercase();
        assert!(
            head.contains("\r\nauthorization: bearer absk-test-key"),
            "{head}"
        );
    }

    #[test]
    fn request_metadata_is_cleaned_deterministically() {
        let metadata: BTreeMap<String, String> = [
            ("", "empty key"),
            ("plugin", "acme/complete"),
            ("tab\there", "line\nbreak"),
            ("ünï", "cödé"),
            ("unx", "second"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let (out, dropped) = request_metadata(&metadata);
        let expected: HashMap<String, String> = [
            ("plugin", "acme/complete"),
            ("tab here", "line break"),
            ("_n_", "c_d_"),
            ("unx", "second"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(out, expected);
        assert_eq!(dropped, 1);
        assert_eq!(request_metadata(&BTreeMap::new()), (HashMap::new(), 0));
    }

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
