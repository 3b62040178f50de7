//! Model backends and the routing of requests to them.
//!
//! A backend speaks to one model (the built-in offline [`local`] model, and
//! later remote providers). Backends return the WIT error variants directly,
//! with messages that say what to configure. Only the gate calls a backend.

pub mod canned;
pub mod local;
pub mod remote;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;

use crate::api::PluginError;
use crate::api::model::{ChatRequest, FimRequest, RankedResponse, Response, Usage};

pub use cordon_providers::CallMeta;

/// One model call as the gate hands it to a backend: the metadata sent
/// with it (Bedrock `requestMetadata`, joining Bedrock's invocation logs to
/// Cordon's audit), and what the provider reported back.
#[derive(Debug, Default)]
pub struct Call {
    /// `cordon_call` (the audit records' call id) and `cordon_plugin`.
    pub metadata: BTreeMap<String, String>,
    /// Filled in by the backend: request id, raw stop reason, geography.
    pub reported: std::sync::Mutex<CallMeta>,
}

impl Call {
    /// Records what the provider reported.
    pub fn report(&self, meta: CallMeta) {
        *self.reported.lock().unwrap_or_else(|e| e.into_inner()) = meta;
    }

    /// What the provider reported, so far.
    pub fn reported(&self) -> CallMeta {
        self.reported
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Where a backend's requests go, as its client resolved it: what the
/// policy's path rules check and the audit records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteFacts {
    /// The endpoint URL requests are sent to.
    pub endpoint: Option<String>,
    /// Its host (and port).
    pub endpoint_host: Option<String>,
    /// A FIPS endpoint.
    pub fips: bool,
    /// `sigv4`, `bearer`, `api-key`, `none`.
    pub auth: Option<&'static str>,
    /// The AWS profile (Bedrock).
    pub aws_profile: Option<String>,
    /// The Bedrock guardrail sent with every request (`id`), and its
    /// version for the audit (`id:version`).
    pub guardrail: Option<(String, String)>,
    /// Anthropic `inference_geo` sent with every request.
    pub inference_geo: Option<String>,
}

impl RouteFacts {
    /// The route the policy judges: these facts for a request to `model`
    /// through backend `backend` of kind `provider` in `region`.
    pub fn route<'a>(
        &'a self,
        provider: &'a str,
        backend: &'a str,
        model: &'a str,
        region: Option<&'a str>,
    ) -> cordon_policy::Route<'a> {
        cordon_policy::Route {
            provider,
            backend,
            model,
            region,
            endpoint: self.endpoint.as_deref(),
            fips: self.fips,
            auth: self.auth,
            aws_profile: self.aws_profile.as_deref(),
            guardrail: self.guardrail.as_ref().map(|(id, _)| id.as_str()),
            inference_geo: self.inference_geo.as_deref(),
        }
    }
}

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One piece of a streamed answer.
#[derive(Debug, Clone)]
pub enum Chunk {
    /// More generated text.
    Text(String),
    /// Token counts so far (the last one is final).
    Usage(Usage),
    /// What the provider reported about the call, at its end.
    Meta(CallMeta),
}

/// A streamed answer. Dropping it abandons the request.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<Chunk, PluginError>> + Send>>;

/// A model a request can be sent to.
pub trait Backend: Send + Sync {
    /// The configured name, e.g. `local` or `claude`.
    fn name(&self) -> &str;
    /// The provider kind: `local`, `anthropic`, `bedrock`, `openai`.
    fn provider(&self) -> &'static str;
    /// The model identifier requests go to.
    fn model(&self) -> &str;
    /// The cloud region requests go to, where the provider has regions.
    fn region(&self) -> Option<&str> {
        None
    }
    /// Why this backend cannot serve at all (its configuration is broken),
    /// so that the plugin gets that reason before any policy question.
    fn unusable(&self) -> Option<&str> {
        None
    }
    /// Where requests go (endpoint, credential kind, guardrail …); nothing
    /// for backends that never leave the machine.
    fn route(&self) -> RouteFacts {
        RouteFacts::default()
    }
    /// Answer a chat request.
    fn chat<'a>(
        &'a self,
        request: &'a ChatRequest,
        call: &'a Call,
    ) -> BoxFuture<'a, Result<Response, PluginError>>;
    /// Answer a fill-in-the-middle request.
    fn fim<'a>(
        &'a self,
        request: &'a FimRequest,
        call: &'a Call,
    ) -> BoxFuture<'a, Result<Response, PluginError>>;
    /// Answer a fill-in-the-middle request with a completion list for the
    /// word at the cursor (at most `limit` words, best first). By default
    /// the answer of [`Backend::fim`] and no list: only a backend that can
    /// rank words (the `local` model) has one.
    fn fim_ranked<'a>(
        &'a self,
        request: &'a FimRequest,
        limit: u32,
        call: &'a Call,
    ) -> BoxFuture<'a, Result<RankedResponse, PluginError>> {
        let _ = limit;
        Box::pin(async move {
            Ok(RankedResponse {
                response: self.fim(request, call).await?,
                candidates: Vec::new(),
            })
        })
    }
    /// Answer a chat request as a stream. By default the whole answer is
    /// one chunk; providers that stream override this.
    fn chat_stream<'a>(
        &'a self,
        request: &'a ChatRequest,
        call: &'a Call,
    ) -> BoxFuture<'a, Result<ChunkStream, PluginError>> {
        Box::pin(async move {
            let response = self.chat(request, call).await?;
            let chunks = vec![
                Ok(Chunk::Text(response.text)),
                Ok(Chunk::Usage(response.usage)),
            ];
            Ok(Box::pin(futures::stream::iter(chunks)) as ChunkStream)
        })
    }
}

/// The configured backends and which plugin uses which.
#[derive(Clone, Default)]
pub struct Router {
    backends: BTreeMap<String, Arc<dyn Backend>>,
    /// Plugin name, or `default`, to backend name.
    routes: BTreeMap<String, String>,
}

impl Router {
    /// Add a backend under its name.
    pub fn add(&mut self, backend: Arc<dyn Backend>) {
        self.backends.insert(backend.name().to_owned(), backend);
    }

    /// Add a backend under another name (a configured alias of `local`).
    pub fn add_as(&mut self, name: &str, backend: Arc<dyn Backend>) {
        self.backends.insert(name.to_owned(), backend);
    }

    /// Send requests from `plugin` (or, for `default`, from every plugin
    /// without its own route) to `backend`.
    pub fn route(&mut self, plugin: &str, backend: &str) {
        self.routes.insert(plugin.to_owned(), backend.to_owned());
    }

    /// The built-in offline model, which is always there.
    pub fn local(&self) -> Option<Arc<dyn Backend>> {
        self.backends.get("local").cloned()
    }

    /// The backend serving `plugin`.
    pub fn backend_for(&self, plugin: &str) -> Result<Arc<dyn Backend>, PluginError> {
        let name = self
            .routes
            .get(plugin)
            .or_else(|| self.routes.get("default"))
            .ok_or_else(|| {
                PluginError::Unavailable(format!(
                    "no model backend is routed to plugin `{plugin}`: add `[routes] default = \"<backend>\"` to cordon.toml"
                ))
            })?;
        self.backends.get(name).cloned().ok_or_else(|| {
            PluginError::Unavailable(format!(
                "route for plugin `{plugin}` names backend `{name}`, which is not configured: add `[backends.{name}]` to cordon.toml"
            ))
        })
    }
}

/// A rough token count for text a backend cannot tokenize: about four bytes
/// per token, as for English and code with common tokenizers.
pub fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.len().div_ceil(4)).unwrap_or(u32::MAX)
}
