//! Helpers for tests and native benchmarks of plugin logic: a [`Model`]
//! that answers instantly with canned text and records what it was asked,
//! and a [`DocumentContext`] builder from source text with `$0` markers.

use crate::text::{char_count, last_line};
use crate::{ChatRequest, DocumentContext, Error, FimRequest, Model, Position, Range, Response, StopReason, Usage};

/// A [`Model`] that answers every request with the same canned reply and
/// records the requests it received.
#[derive(Debug, Clone)]
pub struct CannedModel {
    /// The reply: text, or the error every call returns.
    pub reply: Result<String, Error>,
    /// The stop reason reported with a text reply.
    pub stop_reason: StopReason,
    /// Every chat request received, oldest first.
    pub chat_requests: Vec<ChatRequest>,
    /// Every fill-in-the-middle request received, oldest first.
    pub fim_requests: Vec<FimRequest>,
}

impl CannedModel {
    /// A model answering `text`, stopping on its own.
    pub fn answering(text: impl Into<String>) -> Self {
        Self { reply: Ok(text.into()), stop_reason: StopReason::End, chat_requests: Vec::new(), fim_requests: Vec::new() }
    }

    /// A model failing every call with `error`.
    pub fn failing(error: Error) -> Self {
        Self { reply: Err(error), ..Self::answering("") }
    }

    /// The same model, reporting `stop_reason` with its replies.
    pub fn with_stop_reason(mut self, stop_reason: StopReason) -> Self {
        self.stop_reason = stop_reason;
        self
    }

    /// Total number of requests received.
    pub fn calls(&self) -> usize {
        self.chat_requests.len() + self.fim_requests.len()
    }

    fn respond(&self) -> Result<Response, Error> {
        let text = self.reply.clone()?;
        Ok(Response {
            usage: Usage { input_tokens: 0, output_tokens: char_count(&text) / 4 },
            text,
            stop_reason: self.stop_reason,
            backend: "canned".to_owned(),
            model: "canned-1".to_owned(),
        })
    }
}

impl Model for CannedModel {
    fn chat(&mut self, req: &ChatRequest) -> Result<Response, Error> {
        self.chat_requests.push(req.clone());
        self.respond()
    }

    fn fim(&mut self, req: &FimRequest) -> Result<Response, Error> {
        self.fim_requests.push(req.clone());
        self.respond()
    }
}

/// The position at the end of `text` written from the document start.
fn end_position(text: &str) -> Position {
    let line = u32::try_from(text.matches('\n').count()).unwrap_or(u32::MAX);
    Position::new(line, char_count(last_line(text)))
}

/// A context for the whole of `marked`, with `$0` marking the cursor. Two
/// `$0` markers mark a selection (with its text); the cursor is then at the
/// second one, as after a mouse drag. Windows are not truncated.
///
/// # Panics
///
/// When `marked` holds no `$0` or more than two.
pub fn marked_context(marked: &str, language_id: &str, path: &str) -> DocumentContext {
    let parts: Vec<&str> = marked.split("$0").collect();
    let (prefix, suffix, selection) = match parts.as_slice() {
        [before, after] => ((*before).to_owned(), (*after).to_owned(), None),
        [before, selected, after] => {
            let start = end_position(before);
            let prefix = format!("{before}{selected}");
            let end = end_position(&prefix);
            (prefix, (*after).to_owned(), Some((Range::new(start, end), (*selected).to_owned())))
        }
        _ => panic!("marked_context needs one or two `$0` markers"),
    };
    DocumentContext {
        language_id: language_id.to_owned(),
        path: path.to_owned(),
        cursor: end_position(&prefix),
        prefix,
        suffix,
        prefix_truncated: false,
        suffix_truncated: false,
        selection: selection.as_ref().map(|(r, _)| *r),
        selected_text: selection.map(|(_, t)| t),
        diagnostics: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_cursor_and_selection() {
        let c = marked_context("ab\ncé$0d", "rust", "a.rs");
        assert_eq!((c.prefix.as_str(), c.suffix.as_str(), c.cursor), ("ab\ncé", "d", Position::new(1, 2)));
        let c = marked_context("x = $0a +\n b$0;", "python", "a.py");
        assert_eq!(c.selection, Some(Range::new(Position::new(0, 4), Position::new(1, 2))));
        assert_eq!(c.selected_text.as_deref(), Some("a +\n b"));
        assert_eq!(c.cursor, Position::new(1, 2));
    }

    #[test]
    fn canned_model_records() {
        let mut m = CannedModel::answering("hi");
        let r = m.fim(&FimRequest::default()).unwrap();
        assert_eq!(r.text, "hi");
        assert_eq!(m.calls(), 1);
        let mut m = CannedModel::failing(Error::Timeout("slow".into()));
        assert_eq!(m.chat(&ChatRequest::default()), Err(Error::Timeout("slow".into())));
        assert_eq!(m.chat_requests.len(), 1);
    }
}
