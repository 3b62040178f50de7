//! Provider-neutral requests and answers.

use std::collections::BTreeMap;
use std::pin::Pin;

use futures::Stream;

use crate::error::ProviderError;

/// A chat request: a system prompt and a conversation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// System prompt; empty means none is sent.
    pub system: String,
    /// The conversation, oldest first; normally starts and ends with a user
    /// message.
    pub messages: Vec<Message>,
    /// Most tokens to generate (at least 1; lowered to the backend's
    /// `max_tokens` cap when that is smaller).
    pub max_tokens: u32,
    /// Sampling temperature; `None` leaves the provider's default.
    pub temperature: Option<f32>,
    /// Sequences that end generation (not included in the answer).
    pub stop: Vec<String>,
    /// Request metadata for the provider's own logs (default empty), e.g.
    /// `plugin`, `feature`, `session`. Bedrock sends it as Converse
    /// `requestMetadata`, which its invocation logs can be filtered on
    /// (cleaned to what the API accepts: see the crate documentation);
    /// Anthropic sends only a `user_id` entry, as `metadata.user_id`;
    /// OpenAI-compatible servers get none of it. Never put secrets or
    /// personal data here: the provider stores it.
    pub metadata: BTreeMap<String, String>,
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Who said it.
    pub role: Role,
    /// What was said (plain text).
    pub content: String,
}

impl Message {
    /// A user turn.
    pub fn user(content: impl Into<String>) -> Self {
        Message {
            role: Role::User,
            content: content.into(),
        }
    }

    /// An assistant turn.
    pub fn assistant(content: impl Into<String>) -> Self {
        Message {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// The speaker of a [`Message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The person (or the plugin on their behalf).
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The wire name shared by all three protocols: `user` or `assistant`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// A fill-in-the-middle request: complete the code between `prefix` and
/// `suffix`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FimRequest {
    /// Code before the cursor.
    pub prefix: String,
    /// Code after the cursor.
    pub suffix: String,
    /// LSP language id of the document (`rust`, `python`, …); used in the
    /// prompt of providers without a FIM endpoint.
    pub language_id: String,
    /// Most tokens to generate (at least 1; capped by the backend's
    /// `max_tokens`).
    pub max_tokens: u32,
    /// Sequences that end generation (not included in the answer).
    pub stop: Vec<String>,
    /// Request metadata, as [`ChatRequest::metadata`]; carried by the chat
    /// request of providers without a FIM endpoint (Anthropic, Bedrock).
    pub metadata: BTreeMap<String, String>,
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Completion {
    /// The generated text.
    pub text: String,
    /// Tokens used, as the provider counted them (zero when it did not say).
    pub usage: Usage,
    /// Why generation stopped.
    pub stop_reason: StopReason,
    /// What the provider reported about the call (request id, raw stop
    /// reason, where it ran), for the audit.
    pub meta: CallMeta,
}

/// Facts the provider reported about one call, as it reported them: what
/// an audit record needs to be joined to the provider's own logs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct CallMeta {
    /// The provider's id of the request: Bedrock's `x-amzn-RequestId` (the
    /// id in CloudTrail and in Bedrock invocation logs), Anthropic's
    /// `request-id` header, an OpenAI-compatible server's `x-request-id`.
    /// `None` when the reply had none.
    pub request_id: Option<String>,
    /// The provider's own stop reason, unmapped: `end_turn`, `max_tokens`,
    /// `stop_sequence`, `content_filtered`, `tool_use` (Bedrock, Anthropic),
    /// `stop`, `length` (OpenAI). `None` when the provider gave none.
    pub stop_reason: Option<String>,
    /// Where the request ran, when the provider says so: Anthropic's
    /// `usage.inference_geo` (`us`, `global`). Bedrock reports nothing of
    /// the kind: there the region and the inference profile decide.
    pub inference_geo: Option<String>,
}

/// Token counts of one request, as reported by the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Usage {
    /// Tokens in the prompt.
    pub input_tokens: u32,
    /// Tokens generated.
    pub output_tokens: u32,
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum StopReason {
    /// The model finished (also used for provider reasons with no better
    /// match, such as a content filter or a tool call).
    #[default]
    End,
    /// The `max_tokens` limit was reached: the text is cut short.
    MaxTokens,
    /// One of the `stop` sequences was generated. OpenAI-compatible servers
    /// do not tell this apart from [`StopReason::End`] and report `End`.
    StopSequence,
}

/// One item of a streamed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// More generated text, in order (never empty).
    Text(String),
    /// The answer is complete; always the last item of a successful stream.
    Done {
        /// Tokens used.
        usage: Usage,
        /// Why generation stopped.
        stop_reason: StopReason,
        /// What the provider reported about the call.
        meta: CallMeta,
    },
}

/// A streamed answer: `Text` items, then one `Done`; or an error, after
/// which the stream ends. Dropping it drops the HTTP request.
pub type ChunkStream =
    Pin<Box<dyn Stream<Item = Result<StreamEvent, ProviderError>> + Send + 'static>>;
