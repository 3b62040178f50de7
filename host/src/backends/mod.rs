//! Model backends and the routing of requests to them.
//!
//! A backend speaks to one model (the built-in offline [`local`] model, and
//! later remote providers). Backends return the WIT error variants directly,
//! with messages that say what to configure. Only the gate calls a backend.

pub mod local;
pub mod remote;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;

use crate::api::PluginError;
use crate::api::model::{ChatRequest, FimRequest, Response, Usage};

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One piece of a streamed answer.
#[derive(Debug, Clone)]
pub enum Chunk {
    /// More generated text.
    Text(String),
    /// Token counts so far (the last one is final).
    Usage(Usage),
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
    /// Answer a chat request.
    fn chat<'a>(&'a self, request: &'a ChatRequest)
    -> BoxFuture<'a, Result<Response, PluginError>>;
    /// Answer a fill-in-the-middle request.
    fn fim<'a>(&'a self, request: &'a FimRequest) -> BoxFuture<'a, Result<Response, PluginError>>;
    /// Answer a chat request as a stream. By default the whole answer is
    /// one chunk; providers that stream override this.
    fn chat_stream<'a>(
        &'a self,
        request: &'a ChatRequest,
    ) -> BoxFuture<'a, Result<ChunkStream, PluginError>> {
        Box::pin(async move {
            let response = self.chat(request).await?;
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

    /// All configured backends, by name.
    pub fn backends(&self) -> impl Iterator<Item = &Arc<dyn Backend>> {
        self.backends.values()
    }

    /// The routes: plugin name (or `default`) to backend name.
    pub fn routes(&self) -> &BTreeMap<String, String> {
        &self.routes
    }
}

/// A rough token count for text a backend cannot tokenize: about four bytes
/// per token, as for English and code with common tokenizers.
pub fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.len().div_ceil(4)).unwrap_or(u32::MAX)
}
