//! The built-in offline `local` backend: the statistical code model of
//! `cordon-local-model`, built from the workspace's own files.
//!
//! It serves fill-in-the-middle completion only. Chat purposes (explain,
//! refactor) need a real language model; rather than inventing text, it
//! answers `unavailable` and says what to configure.

use std::path::Path;
use std::sync::{Arc, RwLock};

use cordon_local_model::{CompletionRequest, LocalModel, ModelConfig, StopReason};

use super::{Backend, BoxFuture, Call};
use crate::api::PluginError;
use crate::api::model::{
    self, Candidate, ChatRequest, FimRequest, RankedResponse, Response, Usage,
};

/// Most tokens one answer may generate.
const MAX_TOKENS: u32 = 256;
/// Most words in one completion list.
const MAX_CANDIDATES: u32 = 50;

/// Bounds chosen for the host: about 300k n-gram contexts (~15 MB) keeps an
/// idle server with three plugins well under the memory bar of the brief,
/// and covers a workspace of ~100k lines before the table fills.
fn model_config() -> ModelConfig {
    ModelConfig {
        max_contexts: 300_000,
        ..ModelConfig::default()
    }
}

/// The offline model of one workspace.
pub struct LocalBackend {
    model: Arc<RwLock<LocalModel>>,
    _watcher: Option<cordon_local_model::Watcher>,
}

impl LocalBackend {
    /// Index the workspace at `root`. With `watch`, files that change are
    /// re-indexed as they change (for long-running servers).
    pub fn index(root: &Path, watch: bool) -> Result<Self, cordon_local_model::LocalModelError> {
        let (model, stats) = LocalModel::index_workspace(model_config(), root)?;
        tracing::info!(
            files = stats.files,
            tokens = stats.tokens,
            "indexed workspace {} for the local model",
            root.display()
        );
        let model = Arc::new(RwLock::new(model));
        let watcher = if watch {
            match cordon_local_model::watch(Arc::clone(&model), root) {
                Ok(w) => Some(w),
                Err(err) => {
                    tracing::warn!("local model will not follow file changes: {err}");
                    None
                }
            }
        } else {
            None
        };
        Ok(LocalBackend {
            model,
            _watcher: watcher,
        })
    }

    /// Never learn from files `excluded` names, so content a policy excludes
    /// never shapes a completion: what was indexed is forgotten (the count is
    /// returned) and the watcher's later updates of such files are refused.
    pub fn exclude(&self, excluded: cordon_local_model::Exclusion) -> usize {
        self.model
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .exclude(excluded)
    }

    /// Forget the files the exclusion names now (after a policy reload).
    pub fn apply_exclusion(&self) -> usize {
        self.model
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .apply_exclusion()
    }

    /// A backend over an already built model.
    pub fn from_model(model: LocalModel) -> Self {
        LocalBackend {
            model: Arc::new(RwLock::new(model)),
            _watcher: None,
        }
    }
}

impl Backend for LocalBackend {
    fn name(&self) -> &str {
        "local"
    }

    fn provider(&self) -> &'static str {
        "local"
    }

    fn model(&self) -> &str {
        "local"
    }

    fn chat<'a>(
        &'a self,
        request: &'a ChatRequest,
        _call: &'a Call,
    ) -> BoxFuture<'a, Result<Response, PluginError>> {
        let purpose = request.purpose.as_str();
        Box::pin(async move {
            Err(PluginError::Unavailable(format!(
                "the built-in `local` model only completes code and cannot serve `{purpose}`: \
                 configure a chat backend (anthropic, bedrock or openai) under [backends] in cordon.toml \
                 and route this plugin to it"
            )))
        })
    }

    fn fim<'a>(
        &'a self,
        request: &'a FimRequest,
        _call: &'a Call,
    ) -> BoxFuture<'a, Result<Response, PluginError>> {
        Box::pin(async move {
            let model = self.model.read().unwrap_or_else(|e| e.into_inner());
            Ok(answer(&model, request))
        })
    }

    fn fim_ranked<'a>(
        &'a self,
        request: &'a FimRequest,
        limit: u32,
        _call: &'a Call,
    ) -> BoxFuture<'a, Result<RankedResponse, PluginError>> {
        Box::pin(async move {
            let model = self.model.read().unwrap_or_else(|e| e.into_inner());
            let limit = limit.min(MAX_CANDIDATES) as usize;
            let (ghost, list) = model.complete_with_list(&completion_request(request), limit);
            let response = response_of(ghost);
            let candidates = list
                .into_iter()
                .map(|c| Candidate {
                    text: c.text,
                    detail: c.detail,
                })
                .collect();
            Ok(RankedResponse {
                response,
                candidates,
            })
        })
    }
}

/// The model's request for a plugin's: the document is named, so that its
/// indexed copy (which may hold the unfinished word, or what follows the
/// cursor) is ignored in favour of the live text before the cursor.
fn completion_request(request: &FimRequest) -> CompletionRequest<'_> {
    CompletionRequest {
        prefix: &request.prefix,
        suffix: &request.suffix,
        max_tokens: request.max_tokens.min(MAX_TOKENS) as usize,
        stop: &request.stop,
        document: Some(&request.path),
    }
}

/// The ghost-text answer.
fn answer(model: &LocalModel, request: &FimRequest) -> Response {
    response_of(model.complete(&completion_request(request)))
}

fn response_of(completion: cordon_local_model::Completion) -> Response {
    Response {
        text: completion.text,
        usage: Usage {
            input_tokens: u32::try_from(completion.input_tokens).unwrap_or(u32::MAX),
            output_tokens: u32::try_from(completion.tokens).unwrap_or(u32::MAX),
        },
        stop_reason: match completion.stopped_by {
            StopReason::End => model::StopReason::End,
            StopReason::MaxTokens => model::StopReason::MaxTokens,
            StopReason::StopSequence => model::StopReason::StopSequence,
        },
        backend: "local".into(),
        model: "local".into(),
    }
}
