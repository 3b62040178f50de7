//! Conversion between LSP positions and the plugin API's positions.
//!
//! LSP counts a position's `character` in the negotiated encoding: UTF-16
//! code units (the default), UTF-8 bytes, or UTF-32 code points. Plugins
//! always see Unicode scalar values. Conversions walk one line of the rope.

use ropey::RopeSlice;
use tower_lsp_server::ls_types::{self as lsp, PositionEncodingKind};

use crate::api::{Position, Range};
use crate::document::{Document, PositionError};

/// The position encoding agreed with the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    Utf8,
    #[default]
    Utf16,
    Utf32,
}

impl Encoding {
    /// Pick from what the client offers: UTF-8 when offered (cheapest for
    /// us), else UTF-32, else the mandatory UTF-16.
    pub fn negotiate(offered: Option<&[PositionEncodingKind]>) -> Self {
        let offered = offered.unwrap_or(&[]);
        if offered.contains(&PositionEncodingKind::UTF8) {
            Encoding::Utf8
        } else if offered.contains(&PositionEncodingKind::UTF32) {
            Encoding::Utf32
        } else {
            Encoding::Utf16
        }
    }

    /// The LSP name of this encoding.
    pub fn kind(self) -> PositionEncodingKind {
        match self {
            Encoding::Utf8 => PositionEncodingKind::UTF8,
            Encoding::Utf16 => PositionEncodingKind::UTF16,
            Encoding::Utf32 => PositionEncodingKind::UTF32,
        }
    }

    fn units(self, c: char) -> usize {
        match self {
            Encoding::Utf8 => c.len_utf8(),
            Encoding::Utf16 => c.len_utf16(),
            Encoding::Utf32 => 1,
        }
    }

    /// Characters of `line` covered by `units` code units. A position inside
    /// a character rounds down; past the end clamps to the line's end, as
    /// the LSP specification asks.
    fn chars_for(self, line: RopeSlice<'_>, units: u32) -> usize {
        let mut seen = 0usize;
        for (i, c) in line.chars().enumerate() {
            if c == '\n' || c == '\r' {
                return i;
            }
            let next = seen + self.units(c);
            if next > units as usize {
                return i;
            }
            seen = next;
        }
        line.len_chars()
    }

    fn units_for(self, line: RopeSlice<'_>, chars: usize) -> u32 {
        let units: usize = match self {
            Encoding::Utf32 => chars,
            _ => line.chars().take(chars).map(|c| self.units(c)).sum(),
        };
        u32::try_from(units).unwrap_or(u32::MAX)
    }

    /// The plugin-API position of an LSP position in `doc`.
    pub fn to_api(self, doc: &Document, pos: lsp::Position) -> Result<Position, PositionError> {
        let line = pos.line as usize;
        if line >= doc.line_count() {
            return Err(PositionError::LineOutOfRange {
                line: pos.line,
                lines: doc.line_count(),
            });
        }
        let chars = self.chars_for(doc.rope().line(line), pos.character);
        Ok(Position {
            line: pos.line,
            character: chars as u32,
        })
    }

    /// The LSP position of a plugin-API position (which must be valid).
    pub fn to_lsp(self, doc: &Document, pos: Position) -> lsp::Position {
        let line = (pos.line as usize).min(doc.line_count().saturating_sub(1));
        lsp::Position {
            line: line as u32,
            character: self.units_for(doc.rope().line(line), pos.character as usize),
        }
    }

    /// [`Self::to_api`] for a range.
    pub fn range_to_api(self, doc: &Document, range: lsp::Range) -> Result<Range, PositionError> {
        let start = self.to_api(doc, range.start)?;
        let end = self.to_api(doc, range.end)?;
        if (end.line, end.character) < (start.line, start.character) {
            return Err(PositionError::Reversed);
        }
        Ok(Range { start, end })
    }

    /// [`Self::to_lsp`] for a range.
    pub fn range_to_lsp(self, doc: &Document, range: Range) -> lsp::Range {
        lsp::Range {
            start: self.to_lsp(doc, range.start),
            end: self.to_lsp(doc, range.end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lsp_pos(line: u32, character: u32) -> lsp::Position {
        lsp::Position { line, character }
    }

    #[test]
    fn positions_after_emoji_cjk_and_combining_marks_round_trip() {
        // "🦀" is 2 UTF-16 units and 4 bytes; "中" 1 unit, 3 bytes; "é" as
        // e + U+0301 is two characters.
        let doc = Document::new("a🦀中e\u{301}x\nsecond\n");
        let cases = [
            (Encoding::Utf16, 6, 5), // before "x": a(1) 🦀(2) 中(1) e(1) ◌́(1)
            (Encoding::Utf8, 11, 5), // a(1) 🦀(4) 中(3) e(1) ◌́(2)
            (Encoding::Utf32, 5, 5),
        ];
        for (enc, units, chars) in cases {
            let api = enc.to_api(&doc, lsp_pos(0, units)).unwrap();
            assert_eq!(api.character, chars, "{enc:?}");
            assert_eq!(enc.to_lsp(&doc, api), lsp_pos(0, units), "{enc:?}");
        }
    }

    #[test]
    fn inside_a_character_rounds_down_and_past_the_end_clamps() {
        let doc = Document::new("🦀x\r\nnext");
        assert_eq!(
            Encoding::Utf16
                .to_api(&doc, lsp_pos(0, 1))
                .unwrap()
                .character,
            0
        );
        assert_eq!(
            Encoding::Utf8
                .to_api(&doc, lsp_pos(0, 2))
                .unwrap()
                .character,
            0
        );
        assert_eq!(
            Encoding::Utf16
                .to_api(&doc, lsp_pos(0, 99))
                .unwrap()
                .character,
            2
        );
        assert!(Encoding::Utf16.to_api(&doc, lsp_pos(2, 0)).is_err());
    }

    #[test]
    fn negotiation_prefers_utf8() {
        let both = [PositionEncodingKind::UTF16, PositionEncodingKind::UTF8];
        assert_eq!(Encoding::negotiate(Some(&both)), Encoding::Utf8);
        assert_eq!(
            Encoding::negotiate(Some(&[PositionEncodingKind::UTF16])),
            Encoding::Utf16
        );
        assert_eq!(Encoding::negotiate(None), Encoding::Utf16);
    }
}
