//! `validate`: plugin answers through `cordon::validate` (completion items,
//! actions, edits, explanations), then, for what it accepts, the
//! conversions to LSP (`cordon::lsp::completion_items`, `inline_items`,
//! `workspace_edit`).
//!
//! Input: structured (`arbitrary`): a document, limits and answers with any
//! ranges and strings. Checks: what is accepted is within the limits, lies
//! inside the document, edits do not overlap, completion items stay on one
//! line; converted ranges come back to the same plugin range through the
//! negotiated encoding; applying the accepted edits as the editor would
//! (their LSP ranges, last first) gives the text the plugin meant.

use arbitrary::{Result, Unstructured};
use cordon::api::{Action, CompletionItem, Position, Range, TextEdit};
use cordon::document::Document;
use cordon::lsp::{self, Encoding};
use cordon::validate::{self, OutputLimits};
use tower_lsp_server::ls_types as ls;

use crate::input::{coordinate, text};

/// The fuzz target.
pub fn validate(data: &[u8]) {
    let _ = run(&mut Unstructured::new(data));
}

fn range(u: &mut Unstructured<'_>) -> Result<Range> {
    Ok(Range {
        start: Position {
            line: coordinate(u)?,
            character: coordinate(u)?,
        },
        end: Position {
            line: coordinate(u)?,
            character: coordinate(u)?,
        },
    })
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let source = text(u, 64)?;
    let doc = Document::new(&source);
    let encoding = crate::edits::encoding(u)?;
    let limits = if u.arbitrary()? {
        OutputLimits::default()
    } else {
        OutputLimits {
            max_items: u.int_in_range(0..=8)?,
            max_bytes: u.int_in_range(0..=256)?,
        }
    };
    let n = u.int_in_range(0..=6)?;
    let items = (0..n)
        .map(|_| {
            Ok(CompletionItem {
                label: text(u, 8)?,
                insert_text: text(u, 8)?,
                replace: range(u)?,
                detail: if u.arbitrary()? {
                    Some(text(u, 8)?)
                } else {
                    None
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if validate::completion_items(&items, &doc, limits).is_ok() {
        within(
            &limits,
            items.len(),
            items.iter().map(|i| {
                i.label.len() + i.insert_text.len() + i.detail.as_ref().map_or(0, String::len)
            }),
        );
        for item in &items {
            assert!(
                doc.span(item.replace).is_ok(),
                "an item outside the document"
            );
            assert_eq!(item.replace.start.line, item.replace.end.line);
        }
        let snippets = u.arbitrary()?;
        let converted = lsp::completion_items(items.clone(), &doc, encoding, snippets);
        for (item, lsp_item) in items.iter().zip(&converted) {
            let Some(ls::CompletionTextEdit::Edit(edit)) = &lsp_item.text_edit else {
                panic!("a completion item without its edit");
            };
            round_trip(&doc, encoding, item.replace, edit.range);
            // What the editor inserts is the plugin's text, snippet or not.
            let inserted = if lsp_item.insert_text_format == Some(ls::InsertTextFormat::SNIPPET) {
                assert!(snippets, "a snippet for a client without snippets");
                unescape_snippet(&edit.new_text)
            } else {
                edit.new_text.clone()
            };
            assert_eq!(inserted, item.insert_text);
        }
        for (item, inline) in items
            .iter()
            .zip(lsp::inline_items(items.clone(), &doc, encoding))
        {
            round_trip(&doc, encoding, item.replace, inline.range.expect("a range"));
        }
    }

    let n = u.int_in_range(0..=4)?;
    let actions = (0..n)
        .map(|_| {
            Ok(Action {
                id: text(u, 8)?,
                title: text(u, 8)?,
                kind: if u.arbitrary()? {
                    format!("refactor{}", text(u, 4)?)
                } else {
                    text(u, 8)?
                },
                needs_instruction: u.arbitrary()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if validate::actions(&actions, limits).is_ok() {
        within(
            &limits,
            actions.len(),
            actions
                .iter()
                .map(|a| a.id.len() + a.title.len() + a.kind.len()),
        );
        for action in &actions {
            assert!(!action.id.is_empty() && !action.title.contains('\n'));
            assert!(action.kind == "refactor" || action.kind.starts_with("refactor."));
        }
    }

    let n = u.int_in_range(0..=6)?;
    let edits = (0..n)
        .map(|_| {
            Ok(TextEdit {
                range: range(u)?,
                new_text: text(u, 8)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if validate::edits(&edits, &doc, limits).is_ok() {
        within(&limits, edits.len(), edits.iter().map(|e| e.new_text.len()));
        let mut spans: Vec<(usize, usize, &str)> = edits
            .iter()
            .map(|e| {
                let (a, b) = doc.span(e.range).expect("an edit outside the document");
                (a, b, e.new_text.as_str())
            })
            .collect();
        spans.sort_by_key(|s| (s.0, s.1));
        for pair in spans.windows(2) {
            assert!(pair[1].0 >= pair[0].1, "overlapping edits were accepted");
        }
        // What the plugin meant, applied to the characters.
        let mut meant: Vec<char> = source.chars().collect();
        for (a, b, new) in spans.iter().rev() {
            meant.splice(a..b, new.chars());
        }
        // What the editor does with the workspace edit.
        let uri: ls::Uri = "file:///w/a.rs".parse().expect("a URI");
        let edit = lsp::workspace_edit(&uri, edits.clone(), &doc, encoding);
        let mut lsp_edits = edit.changes.expect("changes")[&uri].clone();
        for (e, l) in edits.iter().zip(&lsp_edits) {
            round_trip(&doc, encoding, e.range, l.range);
        }
        lsp_edits.sort_by_key(|e| {
            (
                e.range.start.line,
                e.range.start.character,
                e.range.end.line,
                e.range.end.character,
            )
        });
        let mut editor = doc.clone();
        let changes = lsp_edits
            .into_iter()
            .rev()
            .map(|e| ls::TextDocumentContentChangeEvent {
                range: Some(e.range),
                range_length: None,
                text: e.new_text,
            })
            .collect();
        assert!(lsp::apply_changes(&mut editor, encoding, changes).is_none());
        assert_eq!(
            editor.rope().to_string(),
            meant.iter().collect::<String>(),
            "the editor's result differs from the plugin's edits"
        );
    }

    let explanation = text(u, 32)?;
    if validate::markdown(&explanation, limits).is_ok() {
        assert!(explanation.len() <= limits.max_bytes && !explanation.trim().is_empty());
    }
    Ok(())
}

fn within(limits: &OutputLimits, count: usize, bytes: impl Iterator<Item = usize>) {
    assert!(count <= limits.max_items, "{count} items accepted");
    let bytes: usize = bytes.sum();
    assert!(bytes <= limits.max_bytes, "{bytes} bytes accepted");
}

/// A plugin range converted to LSP comes back as the same plugin range.
fn round_trip(doc: &Document, encoding: Encoding, api: Range, lsp_range: ls::Range) {
    let back = encoding
        .range_to_api(doc, lsp_range)
        .expect("a converted range is inside the document");
    let key = |r: Range| (r.start.line, r.start.character, r.end.line, r.end.character);
    assert_eq!(key(back), key(api), "{api:?} -> {lsp_range:?} -> {back:?}");
}

/// The text a snippet made of escaped text only inserts; panics on a tab
/// stop, a placeholder or a lone backslash.
fn unescape_snippet(snippet: &str) -> String {
    let mut text = String::new();
    let mut chars = snippet.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => text.push(chars.next().expect("a lone backslash at the end")),
            '$' | '}' => panic!("an unescaped `{ch}` in snippet {snippet:?}"),
            _ => text.push(ch),
        }
    }
    text
}
