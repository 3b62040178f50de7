//! Shared building blocks for Cordon's first-party plugins.
//!
//! This crate is plain Rust: it knows nothing about WebAssembly or
//! wit-bindgen, so the plugins' `logic` modules built on it compile and run
//! natively too (unit tests, and the host's native-versus-Wasm benchmark).
//!
//! - The crate root mirrors the types of the `cordon:plugin@0.1.0` WIT
//!   package ([`DocumentContext`], [`ChatRequest`], [`Error`], ...) and
//!   defines the [`Model`] trait through which plugin logic reaches a model.
//! - [`text`] does line and character arithmetic in Unicode scalar values,
//!   the coordinate system of the WIT package, over the context windows.
//! - [`item`] finds the item (function, class, impl, ...) enclosing the
//!   cursor with language-aware heuristics.
//! - [`fence`] extracts fenced code blocks from a model's Markdown reply.
//! - [`testing`] has a canned [`Model`] and a context builder from marked
//!   source text, for tests and native benchmarks.
//! - [`wit_glue!`] generates the conversions between these types and the
//!   types wit-bindgen generates in a plugin, and a [`Model`] backed by the
//!   imported `model` interface.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod fence;
mod glue;
pub mod item;
pub mod testing;
pub mod text;

use std::fmt;

/// A point in a document: 0-based line, and 0-based offset in Unicode scalar
/// values (Rust `char`s) within the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    /// 0-based line number.
    pub line: u32,
    /// 0-based offset in Unicode scalar values within the line.
    pub character: u32,
}

impl Position {
    /// The position at `line`, `character`.
    pub const fn new(line: u32, character: u32) -> Self {
        Self { line, character }
    }
}

/// A half-open span `[start, end)` of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Range {
    /// First position inside the span.
    pub start: Position,
    /// First position after the span.
    pub end: Position,
}

impl Range {
    /// The span from `start` to `end`.
    pub const fn new(start: Position, end: Position) -> Self {
        Self { start, end }
    }

    /// The empty span at `at`, used to insert text.
    pub const fn empty(at: Position) -> Self {
        Self { start: at, end: at }
    }

    /// True when the span covers no text.
    pub fn is_empty(&self) -> bool {
        self.start >= self.end
    }
}

/// Replace `range` of the document with `new_text`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TextEdit {
    /// The span replaced.
    pub range: Range,
    /// The text put in its place.
    pub new_text: String,
}

impl TextEdit {
    /// An edit inserting `text` at `at`.
    pub fn insert(at: Position, text: impl Into<String>) -> Self {
        Self {
            range: Range::empty(at),
            new_text: text.into(),
        }
    }

    /// An edit replacing `range` with `text`.
    pub fn replace(range: Range, text: impl Into<String>) -> Self {
        Self {
            range,
            new_text: text.into(),
        }
    }
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Severity {
    /// An error.
    #[default]
    Error,
    /// A warning.
    Warning,
    /// Information.
    Information,
    /// A hint.
    Hint,
}

impl Severity {
    /// Lower-case name, as in the WIT (`error`, `warning`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
            Severity::Hint => "hint",
        }
    }
}

/// A compiler or linter message the editor knows about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Diagnostic {
    /// Where it applies.
    pub range: Range,
    /// How serious it is.
    pub severity: Severity,
    /// What it says.
    pub message: String,
}

/// What a plugin is told about the document and the cursor.
///
/// `prefix` and `suffix` are bounded windows before and after `cursor`; the
/// `*_truncated` flags say whether they were cut short of the document's
/// start or end.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DocumentContext {
    /// LSP language identifier, e.g. `rust`, `python`, `typescript`.
    pub language_id: String,
    /// Workspace-relative path with `/` separators.
    pub path: String,
    /// The cursor.
    pub cursor: Position,
    /// Text before the cursor.
    pub prefix: String,
    /// Text after the cursor.
    pub suffix: String,
    /// True when `prefix` does not reach the start of the document.
    pub prefix_truncated: bool,
    /// True when `suffix` does not reach the end of the document.
    pub suffix_truncated: bool,
    /// The selection, if the user made one.
    pub selection: Option<Range>,
    /// The selected text (bounded like the windows), if any.
    pub selected_text: Option<String>,
    /// Diagnostics overlapping the context windows.
    pub diagnostics: Vec<Diagnostic>,
}

/// Why a call failed; every variant carries a message meant for a human.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Error {
    /// The team's policy does not grant this capability, backend or path.
    Denied(String),
    /// A budget (tokens, CPU, output size) is used up for now.
    BudgetExceeded(String),
    /// Too many requests; retrying later may succeed.
    RateLimited(String),
    /// The call or the model took longer than allowed.
    Timeout(String),
    /// No backend can serve this; the message says what to configure.
    Unavailable(String),
    /// The request itself is malformed.
    InvalidRequest(String),
}

impl Error {
    /// The human-readable message of any variant.
    pub fn message(&self) -> &str {
        match self {
            Error::Denied(m)
            | Error::BudgetExceeded(m)
            | Error::RateLimited(m)
            | Error::Timeout(m)
            | Error::Unavailable(m)
            | Error::InvalidRequest(m) => m,
        }
    }

    /// The variant's WIT name: `denied`, `budget-exceeded`, `rate-limited`,
    /// `timeout`, `unavailable` or `invalid-request`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Denied(_) => "denied",
            Error::BudgetExceeded(_) => "budget-exceeded",
            Error::RateLimited(_) => "rate-limited",
            Error::Timeout(_) => "timeout",
            Error::Unavailable(_) => "unavailable",
            Error::InvalidRequest(_) => "invalid-request",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind(), self.message())
    }
}

impl std::error::Error for Error {}

/// What a model request is for; routing, budgets and the audit log use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Purpose {
    /// Code completion (the only purpose the offline `local` backend serves).
    #[default]
    Completion,
    /// Explaining code.
    Explain,
    /// Refactoring code.
    Refactor,
    /// Free-form chat.
    Chat,
}

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Role {
    /// The user (the plugin, on the user's behalf).
    #[default]
    User,
    /// The model.
    Assistant,
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Message {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl Message {
    /// A user turn saying `content`.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
}

/// A chat-style request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChatRequest {
    /// What the request is for.
    pub purpose: Purpose,
    /// System prompt; empty for none.
    pub system: String,
    /// The conversation, oldest first; must not be empty.
    pub messages: Vec<Message>,
    /// Upper bound on generated tokens; the host may lower it.
    pub max_tokens: u32,
    /// Sampling temperature, 0.0 to 1.0; `None` for the backend default.
    pub temperature: Option<f32>,
    /// Generation stops before any of these strings.
    pub stop: Vec<String>,
}

/// A fill-in-the-middle request: generate what goes between `prefix` and
/// `suffix`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FimRequest {
    /// Text before the insertion point.
    pub prefix: String,
    /// Text after the insertion point.
    pub suffix: String,
    /// LSP language identifier of the document.
    pub language_id: String,
    /// Workspace-relative path of the document.
    pub path: String,
    /// Upper bound on generated tokens; the host may lower it.
    pub max_tokens: u32,
    /// Generation stops before any of these strings.
    pub stop: Vec<String>,
}

/// Tokens counted by the backend (estimated for `local`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Usage {
    /// Tokens read.
    pub input_tokens: u32,
    /// Tokens generated.
    pub output_tokens: u32,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StopReason {
    /// The model finished on its own.
    #[default]
    End,
    /// `max_tokens` was reached; the text may end mid-thought.
    MaxTokens,
    /// A stop sequence was produced.
    StopSequence,
}

/// A complete answer from a model.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Response {
    /// The generated text.
    pub text: String,
    /// Tokens used.
    pub usage: Usage,
    /// Why generation ended.
    pub stop_reason: StopReason,
    /// Name of the configured backend that answered, e.g. `local`.
    pub backend: String,
    /// Model identifier as the backend reports it.
    pub model: String,
}

/// One completion proposal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CompletionItem {
    /// What the editor lists.
    pub label: String,
    /// Text that replaces `replace`.
    pub insert_text: String,
    /// The span replaced; usually the empty range at the cursor.
    pub replace: Range,
    /// Optional short detail shown beside the label.
    pub detail: Option<String>,
}

/// A refactoring the user may pick.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Action {
    /// Stable identifier passed back to `apply`, e.g. `add-doc-comment`.
    pub id: String,
    /// Title shown in the editor's menu.
    pub title: String,
    /// LSP code action kind, e.g. `refactor.rewrite`.
    pub kind: String,
    /// True when `apply` needs an instruction from the user.
    pub needs_instruction: bool,
}

/// What a plugin says about itself (the WIT `describe.info` record).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Info {
    /// Short unique name: lowercase letters, digits and `-`.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// One line for `cordon plugins list`.
    pub description: String,
}

/// A language model as plugin logic sees it: the imported `model` interface
/// inside a component, a fake in tests, anything else in a native benchmark.
pub trait Model {
    /// Send a chat request and wait for the whole answer.
    fn chat(&mut self, req: &ChatRequest) -> Result<Response, Error>;
    /// Send a fill-in-the-middle request and wait for the whole answer.
    fn fim(&mut self, req: &FimRequest) -> Result<Response, Error>;
    /// Send a chat request and read the answer as it is generated. The
    /// result is the same as [`Model::chat`]'s, but the host sees the text
    /// arrive and can show it to the user meanwhile (an explanation
    /// streaming into the editor). By default, [`Model::chat`].
    fn chat_stream(&mut self, req: &ChatRequest) -> Result<Response, Error> {
        self.chat(req)
    }
}

impl<M: Model + ?Sized> Model for &mut M {
    fn chat(&mut self, req: &ChatRequest) -> Result<Response, Error> {
        (**self).chat(req)
    }

    fn fim(&mut self, req: &FimRequest) -> Result<Response, Error> {
        (**self).fim(req)
    }

    fn chat_stream(&mut self, req: &ChatRequest) -> Result<Response, Error> {
        (**self).chat_stream(req)
    }
}

impl<M: Model + ?Sized> Model for Box<M> {
    fn chat(&mut self, req: &ChatRequest) -> Result<Response, Error> {
        (**self).chat(req)
    }

    fn fim(&mut self, req: &FimRequest) -> Result<Response, Error> {
        (**self).fim(req)
    }

    fn chat_stream(&mut self, req: &ChatRequest) -> Result<Response, Error> {
        (**self).chat_stream(req)
    }
}
