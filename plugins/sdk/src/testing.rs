//! Helpers for tests and native benchmarks of plugin logic: a [`Model`]
//! that answers instantly with canned text and records what it was asked,
//! a [`DocumentContext`] builder from source text with `$0` markers, and
//! random code-like documents with a range checker for property tests.

use crate::text::{char_count, last_line};
use crate::{
    Candidate, ChatRequest, DocumentContext, Error, FimRequest, Model, Position, Range,
    RankedResponse, Response, StopReason, Usage,
};

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
    /// How many of `chat_requests` asked for a streamed answer.
    pub streamed: usize,
    /// The completion list `fim_ranked` answers with (cut to its limit).
    pub candidates: Vec<Candidate>,
    /// The `limit` of every `fim_ranked` request, oldest first.
    pub ranked_limits: Vec<u32>,
}

impl CannedModel {
    /// A model answering `text`, stopping on its own.
    pub fn answering(text: impl Into<String>) -> Self {
        Self {
            reply: Ok(text.into()),
            stop_reason: StopReason::End,
            chat_requests: Vec::new(),
            fim_requests: Vec::new(),
            streamed: 0,
            candidates: Vec::new(),
            ranked_limits: Vec::new(),
        }
    }

    /// The same model, answering `fim_ranked` with these words (text,
    /// detail), best first.
    pub fn with_candidates(mut self, words: &[(&str, &str)]) -> Self {
        self.candidates = words
            .iter()
            .map(|(text, detail)| Candidate {
                text: (*text).to_owned(),
                detail: (*detail).to_owned(),
            })
            .collect();
        self
    }

    /// A model failing every call with `error`.
    pub fn failing(error: Error) -> Self {
        Self {
            reply: Err(error),
            ..Self::answering("")
        }
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
            usage: Usage {
                input_tokens: 0,
                output_tokens: char_count(&text) / 4,
            },
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

    fn fim_ranked(&mut self, req: &FimRequest, limit: u32) -> Result<RankedResponse, Error> {
        self.fim_requests.push(req.clone());
        self.ranked_limits.push(limit);
        let mut candidates = self.candidates.clone();
        candidates.truncate(limit as usize);
        Ok(RankedResponse {
            response: self.respond()?,
            candidates,
        })
    }

    fn chat_stream(&mut self, req: &ChatRequest) -> Result<Response, Error> {
        self.streamed += 1;
        self.chat(req)
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
            (
                prefix,
                (*after).to_owned(),
                Some((Range::new(start, end), (*selected).to_owned())),
            )
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

/// A deterministic generator of code-like text (xorshift64*).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// Code-like text of up to `tokens` tokens: keywords, brackets, quotes,
    /// comments, indentation, `\n` and `\r\n` line breaks, multi-byte
    /// characters.
    pub fn code(&mut self, tokens: usize) -> String {
        const TOKENS: &[&str] = &[
            "fn ",
            "def ",
            "class ",
            "impl ",
            "struct ",
            "function ",
            "func ",
            "pub ",
            "async ",
            "return ",
            "if ",
            "for ",
            "const ",
            "let ",
            "x",
            "foo",
            "Bar",
            "total",
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            "{",
            "}",
            ";",
            ":",
            ",",
            " = ",
            "=>",
            "->",
            "\"",
            "'",
            "`",
            "#",
            "#[inline]",
            "@dec",
            "//",
            "/*",
            "*/",
            "///",
            "\"\"\"",
            "'''",
            "\n",
            "\n",
            "\n",
            "\n",
            "\r\n",
            "    ",
            "    ",
            "\t",
            " ",
            " ",
            "é",
            "😀",
            "ß",
            "\\",
            "r#\"",
            "\"#",
            "```",
            "```rust\n",
            "cordon",
            "0",
        ];
        let n = self.below(tokens + 1);
        (0..n).map(|_| TOKENS[self.below(TOKENS.len())]).collect()
    }
}

/// A random document and a context for a random cursor in it, as a host
/// would build it: windows cut after a random number of characters,
/// sometimes a selection (its text cut like a window).
#[derive(Debug, Clone)]
pub struct RandomDocument {
    /// The whole document.
    pub text: String,
    /// The context handed to the plugin.
    pub ctx: DocumentContext,
}

/// Byte offsets of `text` where a host may put a cursor: char boundaries,
/// but not between the `\r` and `\n` of a CRLF.
fn cursor_offsets(text: &str) -> Vec<usize> {
    let b = text.as_bytes();
    (0..=text.len())
        .filter(|&i| {
            text.is_char_boundary(i) && !(i > 0 && b[i - 1] == b'\r' && b.get(i) == Some(&b'\n'))
        })
        .collect()
}

/// The position of byte `offset` of `text`.
pub fn position_of(text: &str, offset: usize) -> Position {
    end_position(&text[..offset])
}

/// `text[offset..]` cut after `chars` characters.
fn take_chars(text: &str, offset: usize, chars: usize) -> &str {
    let rest = &text[offset..];
    &rest[..rest
        .char_indices()
        .nth(chars)
        .map_or(rest.len(), |(i, _)| i)]
}

/// A random document for `language_id` from `seed`.
pub fn random_document(seed: u64, language_id: &str) -> RandomDocument {
    let mut rng = Rng::new(seed);
    let text = rng.code(300);
    let offsets = cursor_offsets(&text);
    let cursor = offsets[rng.below(offsets.len())];
    let windows = [0usize, 1, 7, 40, 200, usize::MAX];
    let (before, after) = (
        windows[rng.below(windows.len())],
        windows[rng.below(windows.len())],
    );
    let head = &text[..cursor];
    let skip = head.chars().count().saturating_sub(before);
    let prefix_start = head.char_indices().nth(skip).map_or(cursor, |(i, _)| i);
    let prefix = &text[prefix_start..cursor];
    let suffix = take_chars(&text, cursor, after);
    let (selection, selected_text) = if rng.below(3) == 0 {
        let other = offsets[rng.below(offsets.len())];
        let (a, b) = (cursor.min(other), cursor.max(other));
        let limit = windows[rng.below(windows.len())].max(1);
        let range = Range::new(position_of(&text, a), position_of(&text, b));
        (
            Some(range),
            Some(take_chars(&text[..b], a, limit).to_owned()),
        )
    } else {
        (None, None)
    };
    let ctx = DocumentContext {
        language_id: language_id.to_owned(),
        path: "src/random.txt".to_owned(),
        cursor: position_of(&text, cursor),
        prefix: prefix.to_owned(),
        suffix: suffix.to_owned(),
        prefix_truncated: prefix_start > 0,
        suffix_truncated: cursor + suffix.len() < text.len(),
        selection,
        selected_text,
        diagnostics: Vec::new(),
    };
    RandomDocument { text, ctx }
}

/// Checks `range` against `text` as Cordon's host does: lines end at `\n`
/// or `\r\n`, a line's length excludes its line break, a position may be at
/// most at the end of its line, and `start` may not come after `end`.
pub fn check_range(text: &str, range: Range) -> Result<(), String> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    for pos in [range.start, range.end] {
        let line = lines
            .get(pos.line as usize)
            .ok_or_else(|| format!("{pos:?}: past the last line"))?;
        if pos.character as usize > line.chars().count() {
            return Err(format!("{pos:?}: past the end of line {line:?}"));
        }
    }
    if range.start > range.end {
        return Err(format!("{range:?} ends before it starts"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marked_cursor_and_selection() {
        let c = marked_context("ab\ncé$0d", "rust", "a.rs");
        assert_eq!(
            (c.prefix.as_str(), c.suffix.as_str(), c.cursor),
            ("ab\ncé", "d", Position::new(1, 2))
        );
        let c = marked_context("x = $0a +\n b$0;", "python", "a.py");
        assert_eq!(
            c.selection,
            Some(Range::new(Position::new(0, 4), Position::new(1, 2)))
        );
        assert_eq!(c.selected_text.as_deref(), Some("a +\n b"));
        assert_eq!(c.cursor, Position::new(1, 2));
    }

    #[test]
    fn random_documents_are_consistent() {
        for seed in 0..500 {
            let doc = random_document(seed, "rust");
            let c = &doc.ctx;
            assert!(doc.text.contains(&format!("{}{}", c.prefix, c.suffix)));
            check_range(&doc.text, Range::empty(c.cursor)).unwrap();
            if let Some(range) = c.selection {
                check_range(&doc.text, range).unwrap();
            }
        }
        assert!(check_range("ab\r\ncd", Range::empty(Position::new(0, 3))).is_err());
        assert!(check_range("ab\r\ncd", Range::empty(Position::new(1, 2))).is_ok());
        assert!(check_range("ab", Range::new(Position::new(0, 2), Position::new(0, 1))).is_err());
    }

    #[test]
    fn canned_model_records() {
        let mut m = CannedModel::answering("hi");
        let r = m.fim(&FimRequest::default()).unwrap();
        assert_eq!(r.text, "hi");
        assert_eq!(m.calls(), 1);
        let mut m = CannedModel::failing(Error::Timeout("slow".into()));
        assert_eq!(
            m.chat(&ChatRequest::default()),
            Err(Error::Timeout("slow".into()))
        );
        assert_eq!(m.chat_requests.len(), 1);
    }
}
