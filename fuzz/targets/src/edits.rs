//! `lsp_edits`: what `textDocument/didChange` does with an editor's edits
//! (`cordon::lsp::apply_changes`: positions in the negotiated encoding,
//! converted by `lsp::Encoding`, applied to the rope), then a context cut
//! at an editor position, as every feature request does.
//!
//! Input: structured (`arbitrary`): a document, an encoding, edits with any
//! positions (past the end, inside a character, reversed), a cursor.
//! Checks, against a plain reference model of the LSP rules written here
//! (lines end at `\n`, `\r\n` or `\r`; a position inside a character rounds
//! down and past the end of a line clamps to it; a line past the end or a
//! reversed range is refused): the text after the edits, which edits were
//! refused, and the context's prefix and suffix.

use arbitrary::{Result, Unstructured};
use cordon::context::{self, Request, Windows};
use cordon::document::Document;
use cordon::lsp::{Encoding, apply_changes};
use tower_lsp_server::ls_types::{self as lsp, TextDocumentContentChangeEvent};

use crate::input::{coordinate, text};

/// The fuzz target.
pub fn lsp_edits(data: &[u8]) {
    let _ = run(&mut Unstructured::new(data));
}

pub(crate) fn encoding(u: &mut Unstructured<'_>) -> Result<Encoding> {
    Ok(*u.choose(&[Encoding::Utf8, Encoding::Utf16, Encoding::Utf32])?)
}

pub(crate) fn lsp_position(u: &mut Unstructured<'_>) -> Result<lsp::Position> {
    Ok(lsp::Position {
        line: coordinate(u)?,
        character: coordinate(u)?,
    })
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let initial = text(u, 64)?;
    let encoding = encoding(u)?;
    let mut doc = Document::new(&initial);
    let mut model: Vec<char> = initial.chars().collect();
    let count = u.int_in_range(0..=6)?;
    for _ in 0..count {
        let changes: Vec<TextDocumentContentChangeEvent> = (0..u.int_in_range(1..=3)?)
            .map(|_| {
                let range = if u.ratio(1u8, 10)? {
                    None
                } else {
                    Some(lsp::Range {
                        start: lsp_position(u)?,
                        end: lsp_position(u)?,
                    })
                };
                Ok(TextDocumentContentChangeEvent {
                    range,
                    range_length: None,
                    text: text(u, 12)?,
                })
            })
            .collect::<Result<_>>()?;
        let mut refused = false;
        for change in &changes {
            match change.range {
                None => model = change.text.chars().collect(),
                Some(range) => match model_span(&model, encoding, range) {
                    Some((start, end)) => {
                        model.splice(start..end, change.text.chars());
                    }
                    None => refused = true,
                },
            }
        }
        let lost = apply_changes(&mut doc, encoding, changes);
        assert_eq!(lost.is_some(), refused, "refused edits differ: {lost:?}");
        assert_eq!(
            doc.rope().to_string(),
            model.iter().collect::<String>(),
            "the text after the edits differs"
        );
    }
    // A feature request at an editor position.
    let cursor = lsp_position(u)?;
    let api = encoding.to_api(&doc, cursor);
    let expected = model_offset(&model, encoding, cursor);
    assert_eq!(
        api.is_ok(),
        expected.is_some(),
        "position {cursor:?}: {api:?}"
    );
    let Ok(api) = api else { return Ok(()) };
    let windows = Windows {
        prefix_chars: u.int_in_range(0..=40)?,
        suffix_chars: u.int_in_range(0..=40)?,
        selection_chars: 16,
    };
    let ctx = context::build(
        &doc,
        &Request {
            path: "src/a.rs",
            language_id: "rust",
            cursor: api,
            selection: None,
            diagnostics: &[],
        },
        windows,
    )
    .expect("a position from to_api is inside the document");
    let at = expected.unwrap_or_default();
    let from = at.saturating_sub(windows.prefix_chars);
    let to = (at + windows.suffix_chars).min(model.len());
    assert_eq!(ctx.prefix, model[from..at].iter().collect::<String>());
    assert_eq!(ctx.suffix, model[at..to].iter().collect::<String>());
    // Back to the editor: the same place (a position inside a character or
    // past the line's end comes back rounded down or clamped).
    let back = encoding.to_lsp(&doc, api);
    assert_eq!(
        model_offset(&model, encoding, back),
        expected,
        "to_lsp({api:?}) = {back:?} is elsewhere"
    );
    Ok(())
}

/// Code units of `c` in `encoding`.
fn units(encoding: Encoding, c: char) -> u64 {
    match encoding {
        Encoding::Utf8 => c.len_utf8() as u64,
        Encoding::Utf16 => c.len_utf16() as u64,
        Encoding::Utf32 => 1,
    }
}

/// The character offset of an LSP position in `text`, by the LSP rules.
fn model_offset(text: &[char], encoding: Encoding, pos: lsp::Position) -> Option<usize> {
    // Line starts: after every `\n`, `\r\n` or lone `\r`.
    let mut line_start = 0;
    let mut line = 0;
    let mut i = 0;
    while line < pos.line {
        if i >= text.len() {
            return None;
        }
        match text[i] {
            '\r' if text.get(i + 1) == Some(&'\n') => {
                i += 2;
                line += 1;
                line_start = i;
            }
            '\r' | '\n' => {
                i += 1;
                line += 1;
                line_start = i;
            }
            _ => i += 1,
        }
    }
    let mut seen = 0u64;
    let mut at = line_start;
    while at < text.len() && text[at] != '\n' && text[at] != '\r' {
        let next = seen + units(encoding, text[at]);
        if next > u64::from(pos.character) {
            break;
        }
        seen = next;
        at += 1;
    }
    Some(at)
}

fn model_span(text: &[char], encoding: Encoding, range: lsp::Range) -> Option<(usize, usize)> {
    let start = model_offset(text, encoding, range.start)?;
    let end = model_offset(text, encoding, range.end)?;
    // Reversed is judged on the converted positions (line, character).
    let line_char = |offset: usize, line: u32| (line, offset);
    (line_char(end, range.end.line) >= line_char(start, range.start.line)).then_some((start, end))
}
