//! Remote model providers (Anthropic, Amazon Bedrock, OpenAI-compatible)
//! from `cordon-providers`, behind the [`Backend`] trait.
//!
//! Only translation lives here: WIT requests to provider requests, provider
//! errors to the WIT error variants. Keys stay inside `cordon-providers`.

use futures::StreamExt;

use super::{Backend, BoxFuture, Chunk, ChunkStream};
use crate::api::PluginError;
use crate::api::model::{self, ChatRequest, FimRequest, Response, Role};
use cordon_providers as providers;

/// A configured remote backend.
pub struct RemoteBackend {
    provider: providers::Provider,
}

impl RemoteBackend {
    /// Wrap a provider client.
    pub fn new(provider: providers::Provider) -> Self {
        RemoteBackend { provider }
    }

    /// The provider client (for `cordon doctor`).
    pub fn provider(&self) -> &providers::Provider {
        &self.provider
    }
}

fn chat_request(request: &ChatRequest) -> providers::ChatRequest {
    providers::ChatRequest {
        system: request.system.clone(),
        messages: request
            .messages
            .iter()
            .map(|m| providers::Message {
                role: match m.role {
                    Role::User => providers::Role::User,
                    Role::Assistant => providers::Role::Assistant,
                },
                content: m.content.clone(),
            })
            .collect(),
        max_tokens: request.max_tokens,
        temperature: request.temperature,
        stop: request.stop.clone(),
    }
}

fn usage(u: providers::Usage) -> model::Usage {
    model::Usage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
    }
}

fn stop_reason(r: providers::StopReason) -> model::StopReason {
    match r {
        providers::StopReason::End => model::StopReason::End,
        providers::StopReason::MaxTokens => model::StopReason::MaxTokens,
        providers::StopReason::StopSequence => model::StopReason::StopSequence,
    }
}

/// The WIT variant a plugin can act on, with the provider's message (which
/// names the backend and says what to fix).
pub fn plugin_error(err: providers::ProviderError) -> PluginError {
    use providers::ProviderError as E;
    let message = err.to_string();
    match err {
        E::RateLimited { .. } => PluginError::RateLimited(message),
        E::Timeout { .. } => PluginError::Timeout(message),
        E::InvalidRequest { .. } => PluginError::InvalidRequest(message),
        // Authentication, outages, malformed replies: the plugin cannot fix
        // them; the user can, and the message says how.
        _ => PluginError::Unavailable(message),
    }
}

impl RemoteBackend {
    fn response(&self, completion: providers::Completion) -> Response {
        Response {
            text: completion.text,
            usage: usage(completion.usage),
            stop_reason: stop_reason(completion.stop_reason),
            backend: self.provider.name().to_owned(),
            model: self.provider.model().to_owned(),
        }
    }
}

impl Backend for RemoteBackend {
    fn name(&self) -> &str {
        self.provider.name()
    }

    fn provider(&self) -> &'static str {
        self.provider.kind().as_str()
    }

    fn model(&self) -> &str {
        self.provider.model()
    }

    fn region(&self) -> Option<&str> {
        self.provider.region()
    }

    fn chat<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<Response, PluginError>> {
        Box::pin(async move {
            let completion = self
                .provider
                .chat(&chat_request(request))
                .await
                .map_err(plugin_error)?;
            Ok(self.response(completion))
        })
    }

    fn fim<'a>(&'a self, request: &'a FimRequest) -> BoxFuture<'a, Result<Response, PluginError>> {
        Box::pin(async move {
            let fim = providers::FimRequest {
                prefix: request.prefix.clone(),
                suffix: request.suffix.clone(),
                language_id: request.language_id.clone(),
                max_tokens: request.max_tokens,
                stop: request.stop.clone(),
            };
            let completion = self.provider.fim(&fim).await.map_err(plugin_error)?;
            Ok(self.response(completion))
        })
    }

    fn chat_stream<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChunkStream, PluginError>> {
        Box::pin(async move {
            let events = self
                .provider
                .chat_stream(&chat_request(request))
                .await
                .map_err(plugin_error)?;
            let chunks = events.map(|event| match event {
                Ok(providers::StreamEvent::Text(text)) => Ok(Chunk::Text(text)),
                Ok(providers::StreamEvent::Done { usage: u, .. }) => Ok(Chunk::Usage(usage(u))),
                Err(e) => Err(plugin_error(e)),
            });
            Ok(Box::pin(chunks) as ChunkStream)
        })
    }
}

/// A backend whose configuration could not be used: every request gets the
/// reason, so the user learns what to fix from the feature they tried.
pub struct BrokenBackend {
    /// The configured name.
    pub name: String,
    /// Why it cannot serve, e.g. "backend `claude`: ANTHROPIC_API_KEY is not set".
    pub reason: String,
}

impl Backend for BrokenBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn provider(&self) -> &'static str {
        "unavailable"
    }

    fn model(&self) -> &str {
        ""
    }

    fn chat<'a>(&'a self, _: &'a ChatRequest) -> BoxFuture<'a, Result<Response, PluginError>> {
        Box::pin(async move { Err(PluginError::Unavailable(self.reason.clone())) })
    }

    fn fim<'a>(&'a self, _: &'a FimRequest) -> BoxFuture<'a, Result<Response, PluginError>> {
        Box::pin(async move { Err(PluginError::Unavailable(self.reason.clone())) })
    }
}
