//! Checks on every value a plugin returns, before it reaches the editor.
//!
//! Plugins are untrusted: ranges must lie inside the document, edits must not
//! overlap, counts and sizes are bounded. A value that fails is refused as a
//! whole (never silently repaired), so the user sees a clear error.

use crate::api::{Action, CompletionItem, Range, TextEdit};
use crate::document::Document;

/// Bounds on what one call may return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    /// Completion items, actions or edits in one answer.
    pub max_items: usize,
    /// Bytes in all the strings of one answer together.
    pub max_bytes: usize,
}

impl Default for OutputLimits {
    fn default() -> Self {
        OutputLimits {
            max_items: 100,
            max_bytes: 256 * 1024,
        }
    }
}

/// Why a plugin's answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidOutput {
    #[error("{count} {what} returned, at most {max} are allowed")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("{bytes} bytes returned, at most {max} are allowed")]
    TooLarge { bytes: usize, max: usize },
    #[error("{what} {index} has a range outside the document: {reason}")]
    Range {
        what: &'static str,
        index: usize,
        reason: String,
    },
    #[error("edits {first} and {second} overlap")]
    Overlap { first: usize, second: usize },
    #[error("{0}")]
    Malformed(String),
}

fn check_count(
    what: &'static str,
    count: usize,
    limits: OutputLimits,
) -> Result<(), InvalidOutput> {
    if count > limits.max_items {
        return Err(InvalidOutput::TooMany {
            what,
            count,
            max: limits.max_items,
        });
    }
    Ok(())
}

fn check_bytes(bytes: usize, limits: OutputLimits) -> Result<(), InvalidOutput> {
    if bytes > limits.max_bytes {
        return Err(InvalidOutput::TooLarge {
            bytes,
            max: limits.max_bytes,
        });
    }
    Ok(())
}

fn check_range(
    doc: &Document,
    what: &'static str,
    index: usize,
    range: Range,
) -> Result<(usize, usize), InvalidOutput> {
    doc.span(range).map_err(|e| InvalidOutput::Range {
        what,
        index,
        reason: e.to_string(),
    })
}

/// Validate completion items against `doc`.
pub fn completion_items(
    items: &[CompletionItem],
    doc: &Document,
    limits: OutputLimits,
) -> Result<(), InvalidOutput> {
    check_count("completion items", items.len(), limits)?;
    let bytes = items
        .iter()
        .map(|i| i.label.len() + i.insert_text.len() + i.detail.as_ref().map_or(0, String::len))
        .sum();
    check_bytes(bytes, limits)?;
    for (index, item) in items.iter().enumerate() {
        check_range(doc, "completion item", index, item.replace)?;
        if item.replace.start.line != item.replace.end.line {
            return Err(InvalidOutput::Malformed(format!(
                "completion item {index} replaces more than one line"
            )));
        }
    }
    Ok(())
}

/// Validate refactor actions.
pub fn actions(actions: &[Action], limits: OutputLimits) -> Result<(), InvalidOutput> {
    check_count("actions", actions.len(), limits)?;
    let bytes = actions
        .iter()
        .map(|a| a.id.len() + a.title.len() + a.kind.len())
        .sum();
    check_bytes(bytes, limits)?;
    for (index, action) in actions.iter().enumerate() {
        let id_ok = !action.id.is_empty()
            && action.id.len() <= 64
            && action
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
        if !id_ok {
            return Err(InvalidOutput::Malformed(format!(
                "action {index} has an invalid id {:?} (use 1-64 of [A-Za-z0-9._-])",
                action.id
            )));
        }
        if action.title.trim().is_empty() || action.title.contains('\n') {
            return Err(InvalidOutput::Malformed(format!(
                "action `{}` needs a one-line title",
                action.id
            )));
        }
        if !(action.kind == "refactor" || action.kind.starts_with("refactor.")) {
            return Err(InvalidOutput::Malformed(format!(
                "action `{}` has kind {:?}; refactor actions use `refactor` or `refactor.*`",
                action.id, action.kind
            )));
        }
    }
    Ok(())
}

/// Validate text edits against `doc`: inside it and not overlapping.
pub fn edits(
    edits: &[TextEdit],
    doc: &Document,
    limits: OutputLimits,
) -> Result<(), InvalidOutput> {
    check_count("edits", edits.len(), limits)?;
    check_bytes(edits.iter().map(|e| e.new_text.len()).sum(), limits)?;
    let mut spans = Vec::with_capacity(edits.len());
    for (index, edit) in edits.iter().enumerate() {
        let (start, end) = check_range(doc, "edit", index, edit.range)?;
        spans.push((start, end, index));
    }
    spans.sort_unstable();
    for pair in spans.windows(2) {
        let (_, first_end, first) = pair[0];
        let (second_start, _, second) = pair[1];
        if second_start < first_end {
            return Err(InvalidOutput::Overlap { first, second });
        }
    }
    Ok(())
}

/// Validate an explanation.
pub fn markdown(text: &str, limits: OutputLimits) -> Result<(), InvalidOutput> {
    check_bytes(text.len(), limits)?;
    if text.trim().is_empty() {
        return Err(InvalidOutput::Malformed("the explanation is empty".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Position;

    fn range(l1: u32, c1: u32, l2: u32, c2: u32) -> Range {
        Range {
            start: Position {
                line: l1,
                character: c1,
            },
            end: Position {
                line: l2,
                character: c2,
            },
        }
    }

    fn edit(range: Range) -> TextEdit {
        TextEdit {
            range,
            new_text: "x".into(),
        }
    }

    #[test]
    fn edits_must_lie_inside_and_not_overlap() {
        let doc = Document::new("hello\nworld\n");
        let limits = OutputLimits::default();
        assert!(
            edits(
                &[edit(range(0, 0, 0, 5)), edit(range(1, 0, 1, 5))],
                &doc,
                limits
            )
            .is_ok()
        );
        assert!(matches!(
            edits(&[edit(range(0, 0, 0, 9))], &doc, limits),
            Err(InvalidOutput::Range { .. })
        ));
        assert!(matches!(
            edits(
                &[edit(range(1, 0, 1, 3)), edit(range(0, 2, 1, 1))],
                &doc,
                limits
            ),
            Err(InvalidOutput::Overlap { .. })
        ));
        assert!(matches!(
            edits(&[edit(range(1, 2, 1, 1))], &doc, limits),
            Err(InvalidOutput::Range { .. })
        ));
    }

    #[test]
    fn counts_and_sizes_are_bounded() {
        let doc = Document::new("x");
        let limits = OutputLimits {
            max_items: 2,
            max_bytes: 10,
        };
        let three = vec![edit(range(0, 0, 0, 0)); 3];
        assert!(matches!(
            edits(&three, &doc, limits),
            Err(InvalidOutput::TooMany { count: 3, .. })
        ));
        assert!(matches!(
            markdown(&"y".repeat(11), limits),
            Err(InvalidOutput::TooLarge { bytes: 11, .. })
        ));
        assert!(markdown("  \n", limits).is_err());
    }

    #[test]
    fn actions_need_ids_titles_and_refactor_kinds() {
        let limits = OutputLimits::default();
        let good = Action {
            id: "add-doc-comment".into(),
            title: "Add doc comment".into(),
            kind: "refactor.rewrite".into(),
            needs_instruction: false,
        };
        assert!(actions(std::slice::from_ref(&good), limits).is_ok());
        let bad_kind = Action {
            kind: "quickfix".into(),
            ..good.clone()
        };
        assert!(actions(&[bad_kind], limits).is_err());
        let bad_id = Action {
            id: "a b".into(),
            ..good
        };
        assert!(actions(&[bad_id], limits).is_err());
    }
}
