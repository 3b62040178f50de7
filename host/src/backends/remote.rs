//! Remote model providers (Anthropic, Amazon Bedrock, OpenAI-compatible)
//! from `cordon-providers`, behind the [`Backend`] trait.
//!
//! Only translation lives here: WIT requests to provider requests, provider
//! errors to the WIT error variants. Keys stay inside `cordon-providers`.

use futures::StreamExt;

use super::{Backend, BoxFuture, Call, Chunk, ChunkStream, RouteFacts};
use crate::api::PluginError;
use crate::api::model::{self, ChatRequest, FimRequest, Response, Role};
use cordon_providers as providers;

/// A configured remote backend.
pub struct RemoteBackend {
    provider: providers::Provider,
    route: RouteFacts,
}

impl RemoteBackend {
    /// Wrap a provider client.
    pub fn new(provider: providers::Provider) -> Self {
        let route = route_facts(&provider);
        RemoteBackend { provider, route }
    }
}

/// Where the client really sends requests, as the SDK resolved it.
pub fn route_facts(provider: &providers::Provider) -> RouteFacts {
    RouteFacts {
        endpoint: Some(provider.endpoint()),
        endpoint_host: Some(provider.endpoint_host()),
        fips: provider.uses_fips(),
        auth: Some(provider.auth_kind()),
        aws_profile: provider.aws_profile(),
        guardrail: provider
            .guardrail()
            .map(|g| (g.id.clone(), format!("{}:{}", g.id, g.version))),
        inference_geo: provider.inference_geo().map(str::to_owned),
    }
}

fn chat_request(request: &ChatRequest, call: &Call) -> providers::ChatRequest {
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
        metadata: call.metadata.clone(),
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
        E::GuardrailIntervened { .. } | E::GuardrailRequired { .. } => PluginError::Denied(message),
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

    fn route(&self) -> RouteFacts {
        self.route.clone()
    }

    fn chat<'a>(
        &'a self,
        request: &'a ChatRequest,
        call: &'a Call,
    ) -> BoxFuture<'a, Result<Response, PluginError>> {
        Box::pin(async move {
            let completion = self
                .provider
                .chat(&chat_request(request, call))
                .await
                .map_err(|e| failed(call, e))?;
            call.report(completion.meta.clone());
            Ok(self.response(completion))
        })
    }

    fn fim<'a>(
        &'a self,
        request: &'a FimRequest,
        call: &'a Call,
    ) -> BoxFuture<'a, Result<Response, PluginError>> {
        Box::pin(async move {
            let fim = providers::FimRequest {
                prefix: request.prefix.clone(),
                suffix: request.suffix.clone(),
                language_id: request.language_id.clone(),
                max_tokens: request.max_tokens,
                stop: request.stop.clone(),
                metadata: call.metadata.clone(),
            };
            let completion = self.provider.fim(&fim).await.map_err(|e| failed(call, e))?;
            call.report(completion.meta.clone());
            Ok(self.response(completion))
        })
    }

    fn chat_stream<'a>(
        &'a self,
        request: &'a ChatRequest,
        call: &'a Call,
    ) -> BoxFuture<'a, Result<ChunkStream, PluginError>> {
        Box::pin(async move {
            let events = self
                .provider
                .chat_stream(&chat_request(request, call))
                .await
                .map_err(|e| failed(call, e))?;
            let chunks = events.flat_map(|event| {
                let items = match event {
                    Ok(providers::StreamEvent::Text(text)) => vec![Ok(Chunk::Text(text))],
                    Ok(providers::StreamEvent::Done { usage: u, meta, .. }) => {
                        vec![Ok(Chunk::Meta(meta)), Ok(Chunk::Usage(usage(u)))]
                    }
                    Err(e) => vec![Ok(Chunk::Meta(failure_meta(&e))), Err(plugin_error(e))],
                };
                futures::stream::iter(items)
            });
            Ok(Box::pin(chunks) as ChunkStream)
        })
    }
}

/// The plugin's error for a failed call, keeping the provider's request id
/// (and a guardrail's verdict) for the audit record.
fn failed(call: &Call, err: providers::ProviderError) -> PluginError {
    call.report(failure_meta(&err));
    plugin_error(err)
}

/// What a failed call tells the audit: the provider's request id, and a
/// guardrail's verdict as the stop reason.
fn failure_meta(err: &providers::ProviderError) -> providers::CallMeta {
    let guardrail = matches!(err, providers::ProviderError::GuardrailIntervened { .. });
    providers::CallMeta {
        request_id: err.request_id().map(str::to_owned),
        stop_reason: guardrail.then(|| "guardrail_intervened".to_owned()),
        ..Default::default()
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

    fn unusable(&self) -> Option<&str> {
        Some(&self.reason)
    }

    fn model(&self) -> &str {
        ""
    }

    fn chat<'a>(
        &'a self,
        _: &'a ChatRequest,
        _: &'a Call,
    ) -> BoxFuture<'a, Result<Response, PluginError>> {
        Box::pin(async move { Err(PluginError::Unavailable(self.reason.clone())) })
    }

    fn fim<'a>(
        &'a self,
        _: &'a FimRequest,
        _: &'a Call,
    ) -> BoxFuture<'a, Result<Response, PluginError>> {
        Box::pin(async move { Err(PluginError::Unavailable(self.reason.clone())) })
    }
}
