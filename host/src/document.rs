//! A text document held as a rope, with checked conversions between
//! positions and character offsets.
//!
//! Positions here are the plugin API's: 0-based line, `character` counted in
//! Unicode scalar values. Editor encodings (UTF-16, UTF-8) are converted at
//! the LSP edge, never here.

use ropey::Rope;

use crate::api::{Position, Range};

/// A document's text. Cheap to clone (ropes share structure).
#[derive(Clone, Debug, Default)]
pub struct Document {
    text: Rope,
}

/// A position or range that does not lie inside the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PositionError {
    #[error("line {line} is past the end of the document ({lines} lines)")]
    LineOutOfRange { line: u32, lines: usize },
    #[error("character {character} is past the end of line {line} ({len} characters)")]
    CharacterOutOfRange {
        line: u32,
        character: u32,
        len: usize,
    },
    #[error("range ends before it starts")]
    Reversed,
}

impl Document {
    /// A document holding `text`.
    pub fn new(text: &str) -> Self {
        Document {
            text: Rope::from_str(text),
        }
    }

    /// The underlying rope.
    pub fn rope(&self) -> &Rope {
        &self.text
    }

    /// Replace the characters `[start, end)` with `text` (an editor's
    /// change). Offsets are clamped to the document.
    pub fn replace(&mut self, start: usize, end: usize, text: &str) {
        let len = self.text.len_chars();
        let start = start.min(len);
        let end = end.clamp(start, len);
        self.text.remove(start..end);
        self.text.insert(start, text);
    }

    /// Number of lines; a trailing newline starts one more (empty) line, as
    /// editors count them.
    pub fn line_count(&self) -> usize {
        self.text.len_lines()
    }

    /// Number of characters on `line`, not counting its line break.
    pub fn line_len(&self, line: usize) -> Option<usize> {
        if line >= self.text.len_lines() {
            return None;
        }
        let slice = self.text.line(line);
        let mut len = slice.len_chars();
        // Strip "\n", "\r\n" or "\r" (ropey ends lines at any of them).
        if len > 0 && slice.char(len - 1) == '\n' {
            len -= 1;
        }
        if len > 0 && slice.char(len - 1) == '\r' {
            len -= 1;
        }
        Some(len)
    }

    /// Character offset of `pos`, if it lies inside the document (the end
    /// of a line counts as inside).
    pub fn offset(&self, pos: Position) -> Result<usize, PositionError> {
        let line = pos.line as usize;
        let len = self.line_len(line).ok_or(PositionError::LineOutOfRange {
            line: pos.line,
            lines: self.line_count(),
        })?;
        if pos.character as usize > len {
            return Err(PositionError::CharacterOutOfRange {
                line: pos.line,
                character: pos.character,
                len,
            });
        }
        Ok(self.text.line_to_char(line) + pos.character as usize)
    }

    /// Character offsets `[start, end)` of `range`.
    pub fn span(&self, range: Range) -> Result<(usize, usize), PositionError> {
        let start = self.offset(range.start)?;
        let end = self.offset(range.end)?;
        if end < start {
            return Err(PositionError::Reversed);
        }
        Ok((start, end))
    }

    /// The position of character offset `offset` (clamped to the end).
    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len_chars());
        let line = self.text.char_to_line(offset);
        Position {
            line: line as u32,
            character: (offset - self.text.line_to_char(line)) as u32,
        }
    }

    /// The text between two character offsets.
    pub fn slice(&self, start: usize, end: usize) -> String {
        self.text.slice(start..end).to_string()
    }

    /// Total number of characters.
    pub fn len_chars(&self) -> usize {
        self.text.len_chars()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_edits_in_place() {
        let mut doc = Document::new("let a = 1;\nlet b = 2;\n");
        doc.replace(4, 5, "alpha");
        doc.replace(100, 200, "// end\n");
        assert_eq!(
            doc.rope().to_string(),
            "let alpha = 1;\nlet b = 2;\n// end\n"
        );
    }

    fn pos(line: u32, character: u32) -> Position {
        Position { line, character }
    }

    #[test]
    fn offsets_count_unicode_scalar_values() {
        let doc = Document::new("fn a() {}\nlet 🦀 = \"é\";\n");
        assert_eq!(doc.line_count(), 3);
        assert_eq!(doc.line_len(1), Some(12));
        assert_eq!(doc.offset(pos(1, 5)).unwrap(), 15);
        assert_eq!(doc.slice(15, 16), " ");
        assert_eq!(doc.position(15), pos(1, 5));
        assert_eq!(doc.line_len(2), Some(0));
    }

    #[test]
    fn positions_outside_the_document_are_errors() {
        let doc = Document::new("ab\r\ncd");
        assert_eq!(doc.line_len(0), Some(2));
        assert!(doc.offset(pos(0, 2)).is_ok());
        assert_eq!(
            doc.offset(pos(0, 3)),
            Err(PositionError::CharacterOutOfRange {
                line: 0,
                character: 3,
                len: 2
            })
        );
        assert!(matches!(
            doc.offset(pos(2, 0)),
            Err(PositionError::LineOutOfRange { .. })
        ));
        let reversed = Range {
            start: pos(1, 1),
            end: pos(0, 0),
        };
        assert_eq!(doc.span(reversed), Err(PositionError::Reversed));
    }
}
