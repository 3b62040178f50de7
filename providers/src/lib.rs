//! HTTP clients for real language-model providers, speaking their real wire
//! protocols behind one provider-neutral API.
//!
//! - **Anthropic** Messages API: `POST {base_url}/v1/messages`, JSON or
//!   server-sent events.
//! - **Amazon Bedrock** Converse and ConverseStream, through the official AWS
//!   SDK for Rust: SigV4, the standard credential chain, the event-stream
//!   binary framing.
//! - **OpenAI-compatible** servers (OpenAI, Ollama, vLLM, llama.cpp,
//!   gateways): `POST {base_url}/v1/chat/completions`, JSON or server-sent
//!   events; fill-in-the-middle through `/v1/completions` with `suffix`, or
//!   Ollama's `/api/generate`.
//!
//! The host builds one [`Provider`] per `[backends.NAME]` table of
//! `cordon.toml` ([`BackendConfig`]) and calls it on behalf of plugins,
//! which never see a URL or a key.
//!
//! # Fill-in-the-middle on chat-only providers
//!
//! Anthropic and Bedrock have no FIM endpoint. [`Provider::fim`] sends them
//! a chat request instead: a system prompt saying it is a code completion
//! engine for a file of `language_id`, the code before and after the cursor
//! in `<prefix>` / `<suffix>` tags, and the instruction to answer with only
//! the code that goes at the cursor inside `<completion>` tags, with
//! `</completion>` as a stop sequence and temperature 0. The text inside the
//! tag is returned (a Markdown fence, if the model adds one, is removed).
//!
//! # Behaviour common to all providers
//!
//! - **Timeouts**: `timeout_ms` bounds each attempt of a request: connect,
//!   send, and the whole reply; for streams, the time to the response head
//!   and then every gap between chunks. Timeouts are not retried.
//! - **Retries**: up to `max_retries` after a 429 (waiting what
//!   `retry-after-ms` / `retry-after` asks, seconds or HTTP-date, when that
//!   is at most 30 s; a longer wait returns [`ProviderError::RateLimited`]
//!   at once), a 5xx / 529, a connection failure or a cut reply, with
//!   jittered exponential backoff (200 ms doubling, at most 8 s). Never
//!   after other 4xx, and never once a stream has delivered text.
//! - **Cancellation**: dropping the future of [`Provider::chat`] /
//!   [`Provider::fim`] / [`Provider::chat_stream`], or the [`ChunkStream`],
//!   drops the HTTP request and closes its connection.
//! - **Bounds**: replies are read up to 8 MiB, one streamed event up to
//!   1 MiB, a whole stream up to 64 MiB; more is a [`ProviderError::Malformed`].
//! - **Secrets**: keys are held in [`Secret`] (prints `***`), sent in headers
//!   marked sensitive, never logged, and scrubbed from any provider text
//!   quoted in an error. Redirects are not followed, so a key is never sent
//!   to another host.
//! - **Usage**: token counts as the provider reports them (prompt-cache
//!   tokens count as input).
//! - **Call facts**: every answer ([`Completion::meta`], and
//!   [`StreamEvent::Done`]) carries a [`CallMeta`]: the provider's request
//!   id (Bedrock `x-amzn-RequestId`, Anthropic `request-id`,
//!   OpenAI-compatible `x-request-id`), its raw stop reason, and for
//!   Anthropic `usage.inference_geo`. Errors carry the request id too
//!   ([`ProviderError::request_id`]), so a refused call can be found in
//!   CloudTrail or CloudWatch.
//!
//! # Residency and compliance settings
//!
//! Keys of `[backends.NAME]` ([`BackendConfig`]) beyond the common ones:
//!
//! - `guardrail = { id, version, trace, stream_processing }` (Bedrock
//!   only, [`GuardrailConfig`]): sent as `guardrailConfig` with every
//!   Converse call (`guardrailIdentifier`, `guardrailVersion`, `trace`) and
//!   every ConverseStream call (with `streamProcessingMode`). `trace` is
//!   `disabled` (default), `enabled` or `enabled_full`; `stream_processing`
//!   is `sync` (default) or `async`.
//! - `use_fips = true | false` (Bedrock only): the SDK's `use_fips`.
//! - `profile = "NAME"` (Bedrock only): the AWS profile.
//! - `inference_geo = "us" | "global"` (Anthropic only): sent as the
//!   Messages request's top-level `inference_geo`, streaming or not.
//!
//! **Guardrail interventions are errors.** A Converse reply, or a
//! ConverseStream `messageStop`, with the stop reason
//! `guardrail_intervened` (whether the guardrail is the backend's own or
//! one enforced on the account) is returned as
//! [`ProviderError::GuardrailIntervened`], never as an answer; in a stream
//! the text already delivered is followed by that error, not by `Done`. An
//! `AccessDeniedException` whose message is about a guardrail (the IAM
//! condition `bedrock:GuardrailIdentifier`) is
//! [`ProviderError::GuardrailRequired`], whose message says to configure
//! `guardrail`, instead of blaming the credentials.
//!
//! **Request metadata.** [`ChatRequest::metadata`] and
//! [`FimRequest::metadata`] (FIM through chat carries it too):
//!
//! - Bedrock sends it as `requestMetadata`, cleaned to what the API
//!   accepts (keys 1–256 and values 0–256 characters of
//!   `[a-zA-Z0-9\s._:/=+$@-]`, at most 16 entries; see the Bedrock API
//!   reference of `RequestMetadataFilters`, which filters on these keys).
//!   Cleaning is deterministic: entries in key order; any other character
//!   becomes `_` (ASCII whitespace becomes a space); keys and values are
//!   cut to 256 characters; an entry whose cleaned key is empty or repeats
//!   an earlier one is dropped, and so is every entry after the 16th.
//! - Anthropic sends only a `user_id` entry, as `metadata.user_id` (the
//!   only metadata the Messages API takes), when it is not empty and at
//!   most 256 characters; otherwise no `metadata`.
//! - OpenAI-compatible servers get none of it (neither `user` nor
//!   `metadata`).
//!
//! **What the client reports about itself**, for the policy and the audit:
//! [`Provider::endpoint`] and [`Provider::endpoint_host`] (for Bedrock, the
//! URL the SDK's own endpoint resolver gives from the loaded configuration:
//! the backend's `base_url`, else `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` or the
//! profile's service `endpoint_url`, else `AWS_ENDPOINT_URL` or the
//! profile's `endpoint_url`, else the regional endpoint, FIPS and
//! dual-stack included), [`Provider::uses_fips`], [`Provider::auth_kind`]
//! (`sigv4`, `bearer`, `api-key`, `none`), [`Provider::aws_profile`],
//! [`Provider::guardrail`], [`Provider::inference_geo`]. FIPS together
//! with an endpoint override is refused when the backend is built: the SDK
//! would refuse every request.

#![warn(missing_docs)]

mod anthropic;
mod bedrock;
mod config;
mod error;
mod fim;
mod http;
mod openai;
mod retry;
mod secret;
mod sse;
mod stream;
mod types;

use std::fmt;
use std::sync::Arc;

pub use config::{
    ANTHROPIC_DEFAULT_BASE_URL, ANTHROPIC_DEFAULT_KEY_ENV, BackendConfig, DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT_MS, FimMode, GuardrailConfig, GuardrailStreamProcessing, GuardrailTrace,
    OPENAI_DEFAULT_BASE_URL, OPENAI_DEFAULT_KEY_ENV, ProviderKind,
};
pub use error::{ConfigError, ProviderError};
pub use secret::Secret;
// The server-sent events parser, for the fuzz targets (fuzz/).
#[doc(hidden)]
pub use sse::{SseError, SseEvent, SseParser};
pub use types::{
    CallMeta, ChatRequest, ChunkStream, Completion, FimRequest, Message, Role, StopReason,
    StreamEvent, Usage,
};

use config::Settings;
use error::Kind;

/// The AWS SDK pieces a caller needs to give a Bedrock backend its own
/// credentials or profile ([`Provider::new_with_aws_loader`]), re-exported so
/// the host needs no AWS dependency of its own.
pub mod aws {
    pub use aws_config::{BehaviorVersion, ConfigLoader, defaults};
    pub use aws_credential_types::Credentials;
    pub use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
}

/// A client for one configured backend. Built once with [`Provider::new`],
/// then cheap to clone and share between tasks (`Arc` inside; `Send + Sync`).
#[derive(Clone)]
pub struct Provider {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    kind: ProviderKind,
    model: String,
    max_tokens: Option<u32>,
    /// Bedrock: the backend's `profile`, else `AWS_PROFILE`.
    aws_profile: Option<String>,
    /// Whether a key is sent (Anthropic, OpenAI-compatible).
    has_key: bool,
    client: Client,
}

enum Client {
    Anthropic(anthropic::Anthropic),
    Bedrock(bedrock::Bedrock),
    OpenAi(openai::OpenAi),
}

impl Provider {
    /// Build the client for backend `name`. Reads the API key from the
    /// environment now (a missing Anthropic key is an error naming the
    /// variable); for Bedrock, loads the AWS configuration (region, profile,
    /// credential chain; credentials themselves are resolved lazily, on the
    /// first request). `provider = "local"` is refused: the host serves it.
    pub async fn new(name: &str, config: &BackendConfig) -> Result<Provider, ConfigError> {
        Self::build(name, config, &|var| std::env::var(var).ok(), None).await
    }

    /// Like [`Provider::new`], but a Bedrock backend starts from `loader`
    /// instead of `aws_config::defaults(BehaviorVersion::latest())`: to pin
    /// credentials (tests, or a host that resolves them itself) or other SDK
    /// settings. The backend's `region`, `profile` and `base_url` are still
    /// applied over it. Other providers ignore `loader`.
    pub async fn new_with_aws_loader(
        name: &str,
        config: &BackendConfig,
        loader: aws_config::ConfigLoader,
    ) -> Result<Provider, ConfigError> {
        Self::build(name, config, &|var| std::env::var(var).ok(), Some(loader)).await
    }

    /// Like [`Provider::new`], reading API keys through `env` instead of the
    /// process environment (so that tests and embedders need not change
    /// global state).
    pub async fn new_with_env(
        name: &str,
        config: &BackendConfig,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<Provider, ConfigError> {
        Self::build(name, config, env, None).await
    }

    async fn build(
        name: &str,
        config: &BackendConfig,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
        loader: Option<aws_config::ConfigLoader>,
    ) -> Result<Provider, ConfigError> {
        let settings = Settings::from_config(name, config, env)?;
        let client = match settings.kind {
            ProviderKind::Anthropic => Client::Anthropic(anthropic::Anthropic::new(&settings)),
            ProviderKind::OpenAi => Client::OpenAi(openai::OpenAi::new(&settings)),
            ProviderKind::Bedrock => {
                let loader = loader
                    .unwrap_or_else(|| aws_config::defaults(aws_config::BehaviorVersion::latest()));
                Client::Bedrock(bedrock::Bedrock::new(&settings, loader).await?)
            }
            ProviderKind::Local => unreachable!("refused by Settings::from_config"),
        };
        tracing::debug!(backend = name, provider = %settings.kind, model = %settings.model, "model backend ready");
        Ok(Provider {
            inner: Arc::new(Inner {
                name: settings.name,
                kind: settings.kind,
                model: settings.model,
                max_tokens: settings.max_tokens,
                aws_profile: match settings.kind {
                    ProviderKind::Bedrock => settings.profile.or(settings.env_profile),
                    _ => None,
                },
                has_key: settings.key.is_some(),
                client,
            }),
        })
    }

    /// The backend name (the `NAME` of `[backends.NAME]`).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The provider kind.
    pub fn kind(&self) -> ProviderKind {
        self.inner.kind
    }

    /// The model id requests go to.
    pub fn model(&self) -> &str {
        &self.inner.model
    }

    /// The AWS region (Bedrock only).
    pub fn region(&self) -> Option<&str> {
        match &self.inner.client {
            Client::Bedrock(b) => Some(b.region()),
            _ => None,
        }
    }

    /// Where requests go: the API root (`base_url`), or for Bedrock the URL
    /// the AWS SDK's own endpoint resolver gives: the backend's `base_url`
    /// if set; else `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` or the profile's
    /// `bedrock_runtime` service `endpoint_url`; else `AWS_ENDPOINT_URL` or
    /// the profile's `endpoint_url`; else the regional endpoint
    /// `https://bedrock-runtime.REGION.amazonaws.com`
    /// (`https://bedrock-runtime-fips.REGION.amazonaws.com` with FIPS, the
    /// partition's own domain outside the commercial one).
    pub fn endpoint(&self) -> String {
        match &self.inner.client {
            Client::Anthropic(a) => a.base_url().to_owned(),
            Client::Bedrock(b) => b.endpoint().to_owned(),
            Client::OpenAi(o) => o.base_url().to_owned(),
        }
    }

    /// The host (and port, when the URL names one) of [`Provider::endpoint`]:
    /// `bedrock-runtime.us-east-1.amazonaws.com`, `127.0.0.1:11434`.
    pub fn endpoint_host(&self) -> String {
        let endpoint = self.endpoint();
        match reqwest::Url::parse(&endpoint) {
            Ok(url) => match (url.host_str(), url.port()) {
                (Some(host), Some(port)) => format!("{host}:{port}"),
                (Some(host), None) => host.to_owned(),
                (None, _) => endpoint,
            },
            Err(_) => endpoint,
        }
    }

    /// Whether requests go to a FIPS endpoint: for Bedrock, when the SDK
    /// was told to use FIPS (`use_fips`, `AWS_USE_FIPS_ENDPOINT`,
    /// `use_fips_endpoint` in the profile) or the endpoint host contains
    /// `-fips` (a FIPS endpoint given as `base_url`). Always `false` for
    /// the other providers.
    pub fn uses_fips(&self) -> bool {
        match &self.inner.client {
            Client::Bedrock(b) => b.use_fips() || self.endpoint_host().contains("-fips"),
            _ => false,
        }
    }

    /// How requests are authenticated: Bedrock `"sigv4"` (AWS credentials)
    /// or `"bearer"` (a Bedrock API key: `AWS_BEARER_TOKEN_BEDROCK`, or a
    /// token provider preferred on the loader — decided as the SDK decides
    /// it); `"api-key"` for Anthropic, and for an OpenAI-compatible backend
    /// with a key; `"none"` for one without.
    pub fn auth_kind(&self) -> &'static str {
        match &self.inner.client {
            Client::Bedrock(b) => b.auth_kind(),
            _ if self.inner.has_key => "api-key",
            _ => "none",
        }
    }

    /// The AWS profile a Bedrock backend loads: its `profile` setting, else
    /// `AWS_PROFILE` (as the environment given to the constructor has it);
    /// `None` means the SDK's default profile, `default` (and always `None`
    /// for other providers).
    pub fn aws_profile(&self) -> Option<String> {
        self.inner.aws_profile.clone()
    }

    /// The Bedrock guardrail sent with every call (the backend's
    /// `guardrail`), if any.
    pub fn guardrail(&self) -> Option<&GuardrailConfig> {
        match &self.inner.client {
            Client::Bedrock(b) => b.guardrail(),
            _ => None,
        }
    }

    /// The Anthropic `inference_geo` sent with every request (`"us"`,
    /// `"global"`), if configured.
    pub fn inference_geo(&self) -> Option<&str> {
        match &self.inner.client {
            Client::Anthropic(a) => a.inference_geo(),
            _ => None,
        }
    }

    /// The `max_tokens` to send: the request's, lowered to the backend cap.
    fn max_tokens(&self, requested: u32) -> Result<u32, ProviderError> {
        if requested == 0 {
            return Err(ProviderError::new(
                Kind::InvalidRequest,
                &self.inner.name,
                "max_tokens is 0, so no output is allowed — ask for at least 1 token",
            ));
        }
        Ok(self
            .inner
            .max_tokens
            .map_or(requested, |cap| requested.min(cap)))
    }

    /// Send a chat request and wait for the whole answer.
    pub async fn chat(&self, req: &ChatRequest) -> Result<Completion, ProviderError> {
        let max_tokens = self.max_tokens(req.max_tokens)?;
        match &self.inner.client {
            Client::Anthropic(a) => a.chat(req, max_tokens).await,
            Client::Bedrock(b) => b.chat(req, max_tokens).await,
            Client::OpenAi(o) => o.chat(req, max_tokens).await,
        }
    }

    /// Send a chat request and stream the answer as it is generated. The
    /// future resolves once the provider has accepted the request (response
    /// head received); the stream yields [`StreamEvent::Text`] items, then
    /// one [`StreamEvent::Done`] with usage and stop reason, or an error.
    pub async fn chat_stream(&self, req: &ChatRequest) -> Result<ChunkStream, ProviderError> {
        let max_tokens = self.max_tokens(req.max_tokens)?;
        match &self.inner.client {
            Client::Anthropic(a) => a.chat_stream(req, max_tokens).await,
            Client::Bedrock(b) => b.chat_stream(req, max_tokens).await,
            Client::OpenAi(o) => o.chat_stream(req, max_tokens).await,
        }
    }

    /// Fill in the middle: the code between `prefix` and `suffix`. OpenAI-
    /// compatible backends use their FIM endpoint (`fim` setting);
    /// Anthropic and Bedrock get the chat prompt described in the crate
    /// documentation.
    pub async fn fim(&self, req: &FimRequest) -> Result<Completion, ProviderError> {
        let max_tokens = self.max_tokens(req.max_tokens)?;
        match &self.inner.client {
            Client::OpenAi(o) => o.fim(req, max_tokens).await,
            Client::Anthropic(a) => {
                let chat = fim::chat_request(req);
                let answer = a
                    .chat(&chat, chat.max_tokens.min(max_tokens.saturating_add(8)))
                    .await?;
                Ok(fim::completion(req, answer))
            }
            Client::Bedrock(b) => {
                let chat = fim::chat_request(req);
                let answer = b
                    .chat(&chat, chat.max_tokens.min(max_tokens.saturating_add(8)))
                    .await?;
                Ok(fim::completion(req, answer))
            }
        }
    }

    /// The cheapest real call proving the endpoint is reachable and the
    /// credentials accepted, for `cordon doctor`; returns a one-line
    /// summary. Anthropic: `GET /v1/models/{model}` (also proves the model
    /// exists); OpenAI-compatible: `GET /v1/models`; Bedrock: a one-token
    /// Converse call (costs one output token).
    pub async fn check(&self) -> Result<String, ProviderError> {
        match &self.inner.client {
            Client::Anthropic(a) => a.check().await,
            Client::Bedrock(b) => b.check().await,
            Client::OpenAi(o) => o.check().await,
        }
    }
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.inner.name)
            .field("kind", &self.inner.kind)
            .field("model", &self.inner.model)
            .field("endpoint", &self.endpoint())
            .field("region", &self.region())
            .field("auth", &self.auth_kind())
            .field("max_tokens", &self.inner.max_tokens)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn provider_is_shareable() {
        assert_send_sync::<Provider>();
        fn stream_is_send(_: &ChunkStream) {}
        let _ = stream_is_send;
    }
}
