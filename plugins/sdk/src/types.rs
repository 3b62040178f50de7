//! Constructors, accessors and trait implementations the SDK adds to the
//! generated WIT types (wit-bindgen derives `Clone`, `PartialEq` and, where
//! the fields allow, `Copy`).

// The types are generated, so `#[derive(Default)]` cannot be added to them:
// the `Default` impls below are written out.
#![allow(clippy::derivable_impls)]

use std::cmp::Ordering;

use crate::{
    ChatRequest, Diagnostic, DocumentContext, Error, FimRequest, Message, Position, Purpose, Range,
    Response, Role, Severity, StopReason, TextEdit, Usage,
};

impl Position {
    /// The position at `line`, `character`.
    pub const fn new(line: u32, character: u32) -> Self {
        Self { line, character }
    }
}

impl Eq for Position {}

impl PartialOrd for Position {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Document order: by line, then by character.
impl Ord for Position {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.line, self.character).cmp(&(other.line, other.character))
    }
}

impl Default for Position {
    fn default() -> Self {
        Self::new(0, 0)
    }
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

impl Eq for Range {}

impl Default for Range {
    fn default() -> Self {
        Self::empty(Position::default())
    }
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

impl Eq for TextEdit {}

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

impl Default for Severity {
    fn default() -> Self {
        Severity::Error
    }
}

impl Default for Diagnostic {
    fn default() -> Self {
        Self {
            range: Range::default(),
            severity: Severity::default(),
            message: String::new(),
        }
    }
}

impl Default for DocumentContext {
    fn default() -> Self {
        Self {
            language_id: String::new(),
            path: String::new(),
            cursor: Position::default(),
            prefix: String::new(),
            suffix: String::new(),
            prefix_truncated: false,
            suffix_truncated: false,
            selection: None,
            selected_text: None,
            diagnostics: Vec::new(),
        }
    }
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

    /// `kind: message`, as plugins log a failure.
    pub fn summary(&self) -> String {
        format!("{}: {}", self.kind(), self.message())
    }
}

impl Eq for Error {}

impl Default for Purpose {
    fn default() -> Self {
        Purpose::Completion
    }
}

impl Default for Role {
    fn default() -> Self {
        Role::User
    }
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

impl Default for ChatRequest {
    fn default() -> Self {
        Self {
            purpose: Purpose::default(),
            system: String::new(),
            messages: Vec::new(),
            max_tokens: 0,
            temperature: None,
            stop: Vec::new(),
        }
    }
}

impl Default for FimRequest {
    fn default() -> Self {
        Self {
            prefix: String::new(),
            suffix: String::new(),
            language_id: String::new(),
            path: String::new(),
            max_tokens: 0,
            stop: Vec::new(),
        }
    }
}

impl Default for Usage {
    fn default() -> Self {
        Self {
            input_tokens: 0,
            output_tokens: 0,
        }
    }
}

impl Default for StopReason {
    fn default() -> Self {
        StopReason::End
    }
}

impl Default for Response {
    fn default() -> Self {
        Self {
            text: String::new(),
            usage: Usage::default(),
            stop_reason: StopReason::default(),
            backend: String::new(),
            model: String::new(),
        }
    }
}
