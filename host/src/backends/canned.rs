//! A model that answers every request with the same text: what
//! `cordon plugins test --reply` puts behind a plugin, so a plugin author
//! sees what the plugin does with a known answer, without a network or a
//! key. It records what it was asked.

use std::sync::Mutex;

use super::{Backend, BoxFuture, Call, estimate_tokens};
use crate::api::PluginError;
use crate::api::model::{ChatRequest, FimRequest, Purpose, Response, StopReason, Usage};

/// One request the canned model received.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Asked {
    /// `chat` or `fim`.
    pub kind: &'static str,
    /// The chat purpose (`explain`, `refactor`, …), or `completion`.
    pub purpose: &'static str,
    /// The chat's system prompt (empty for none and for `fim`).
    pub system: String,
    /// The text sent: the chat's messages, oldest first, or the prefix,
    /// `<cursor>` and the suffix.
    pub text: String,
}

/// The canned model.
pub struct CannedBackend {
    reply: String,
    asked: Mutex<Vec<Asked>>,
}

impl CannedBackend {
    /// A model answering `reply` to everything.
    pub fn new(reply: impl Into<String>) -> Self {
        CannedBackend {
            reply: reply.into(),
            asked: Mutex::new(Vec::new()),
        }
    }

    /// What it was asked, oldest first.
    pub fn asked(&self) -> Vec<Asked> {
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn answer(&self, asked: Asked) -> Response {
        let input_tokens = estimate_tokens(&asked.system) + estimate_tokens(&asked.text);
        self.asked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(asked);
        Response {
            text: self.reply.clone(),
            usage: Usage {
                input_tokens,
                output_tokens: estimate_tokens(&self.reply),
            },
            stop_reason: StopReason::End,
            backend: "canned".to_owned(),
            model: "canned".to_owned(),
        }
    }
}

fn purpose(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Completion => "completion",
        Purpose::Explain => "explain",
        Purpose::Refactor => "refactor",
        Purpose::Chat => "chat",
    }
}

impl Backend for CannedBackend {
    fn name(&self) -> &str {
        "canned"
    }

    fn provider(&self) -> &'static str {
        "local"
    }

    fn model(&self) -> &str {
        "canned"
    }

    fn chat<'a>(
        &'a self,
        request: &'a ChatRequest,
        _call: &'a Call,
    ) -> BoxFuture<'a, Result<Response, PluginError>> {
        let text = request
            .messages
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n\n");
        let asked = Asked {
            kind: "chat",
            purpose: purpose(request.purpose),
            system: request.system.clone(),
            text,
        };
        Box::pin(async move { Ok(self.answer(asked)) })
    }

    fn fim<'a>(
        &'a self,
        request: &'a FimRequest,
        _call: &'a Call,
    ) -> BoxFuture<'a, Result<Response, PluginError>> {
        let asked = Asked {
            kind: "fim",
            purpose: "completion",
            system: String::new(),
            text: format!("{}<cursor>{}", request.prefix, request.suffix),
        };
        Box::pin(async move { Ok(self.answer(asked)) })
    }
}
