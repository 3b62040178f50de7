//! Conversions between the LSP types and the plugin API's: plugin answers
//! into LSP items and edits (positions through the negotiated
//! [`Encoding`]), and call failures into JSON-RPC errors.

use std::collections::HashMap;

use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::{Error, ErrorCode};
use tower_lsp_server::ls_types::*;

use super::encoding::Encoding;
use crate::api;
use crate::document::Document;
use crate::runtime::CallError;

/// LSP `RequestFailed`: the request was valid but could not be served.
const REQUEST_FAILED: i64 = -32803;

pub(crate) fn invalid_params(message: impl Into<String>) -> Error {
    Error {
        code: ErrorCode::InvalidParams,
        message: message.into().into(),
        data: None,
    }
}

pub(crate) fn failed(message: impl Into<String>, kind: &str) -> Error {
    Error {
        code: ErrorCode::ServerError(REQUEST_FAILED),
        message: message.into().into(),
        data: Some(json!({ "kind": kind })),
    }
}

/// The JSON-RPC error of a failed plugin call; `data.reason` is what a
/// person is told (see [`user_reason`]).
pub(crate) fn call_failed(err: &CallError) -> Error {
    Error {
        data: Some(json!({ "kind": err.kind(), "reason": err.reason() })),
        ..failed(err.to_string(), err.kind())
    }
}

/// What to tell a person about `err`: the reason of a failed plugin call,
/// else its message.
pub(crate) fn user_reason(err: &Error) -> &str {
    err.data
        .as_ref()
        .and_then(|d| d.get("reason"))
        .and_then(Value::as_str)
        .unwrap_or(&err.message)
}

pub(crate) fn modified() -> Error {
    Error {
        message: "the document changed while the answer was computed".into(),
        ..Error::content_modified()
    }
}

/// Completion items in the plugins' order (kept by `sortText`), each
/// replacing its range of `doc`. With `snippets` (the client supports
/// them), an item spanning words or lines is an escaped snippet: clients
/// such as Neovim insert a plain-text item only up to its first space.
pub fn completion_items(
    items: Vec<api::CompletionItem>,
    doc: &Document,
    encoding: Encoding,
    snippets: bool,
) -> Vec<CompletionItem> {
    items
        .into_iter()
        .enumerate()
        .map(|(rank, item)| {
            let spans_words = item.insert_text.contains(char::is_whitespace);
            let (format, new_text) = if snippets && spans_words {
                (InsertTextFormat::SNIPPET, snippet_text(&item.insert_text))
            } else {
                (InsertTextFormat::PLAIN_TEXT, item.insert_text)
            };
            CompletionItem {
                label: item.label,
                kind: Some(CompletionItemKind::TEXT),
                detail: item.detail,
                sort_text: Some(format!("{rank:04}")),
                insert_text_format: Some(format),
                text_edit: Some(CompletionTextEdit::Edit(TextEdit {
                    range: encoding.range_to_lsp(doc, item.replace),
                    new_text,
                })),
                ..CompletionItem::default()
            }
        })
        .collect()
}

/// `text` as a snippet that inserts exactly `text`: `$`, `}` and `\` are
/// escaped, so nothing in it is a tab stop or a placeholder.
pub fn snippet_text(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        if matches!(ch, '\\' | '$' | '}') {
            escaped.push('\\');
        }
        escaped.push(ch);
    }
    escaped
}

/// Completion items as inline completions (plain text, each replacing its
/// range of `doc`).
pub fn inline_items(
    items: Vec<api::CompletionItem>,
    doc: &Document,
    encoding: Encoding,
) -> Vec<InlineCompletionItem> {
    items
        .into_iter()
        .map(|item| InlineCompletionItem {
            insert_text: item.insert_text,
            filter_text: None,
            range: Some(encoding.range_to_lsp(doc, item.replace)),
            command: None,
            insert_text_format: Some(InsertTextFormat::PLAIN_TEXT),
        })
        .collect()
}

/// A plugin's refactor action as an unresolved code action; `data` says
/// how to resolve it.
pub(crate) fn code_action(action: api::Action, data: Value) -> CodeAction {
    CodeAction {
        title: action.title,
        kind: Some(CodeActionKind::from(action.kind)),
        data: (!data.is_null()).then_some(data),
        ..CodeAction::default()
    }
}

/// A plugin's edits of `doc` as a workspace edit of `uri`.
pub fn workspace_edit(
    uri: &Uri,
    edits: Vec<api::TextEdit>,
    doc: &Document,
    encoding: Encoding,
) -> WorkspaceEdit {
    let edits = edits
        .into_iter()
        .map(|e| TextEdit {
            range: encoding.range_to_lsp(doc, e.range),
            new_text: e.new_text,
        })
        .collect();
    WorkspaceEdit {
        changes: Some(HashMap::from([(uri.clone(), edits)])),
        ..WorkspaceEdit::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(text: &str) -> api::CompletionItem {
        api::CompletionItem {
            label: text.to_owned(),
            insert_text: text.to_owned(),
            detail: None,
            replace: api::Range {
                start: api::Position {
                    line: 0,
                    character: 4,
                },
                end: api::Position {
                    line: 0,
                    character: 4,
                },
            },
        }
    }

    #[test]
    fn a_multi_word_item_is_an_escaped_snippet_for_clients_that_take_snippets() {
        let doc = Document::new("let ");
        let items = vec![
            item("for item in &self.items {"),
            item("line_items"),
            item("${x} \\n"),
        ];
        let sent = completion_items(items.clone(), &doc, Encoding::Utf16, true);
        let texts: Vec<_> = sent
            .iter()
            .map(|i| match &i.text_edit {
                Some(CompletionTextEdit::Edit(e)) => (i.insert_text_format, e.new_text.as_str()),
                other => panic!("no edit: {other:?}"),
            })
            .collect();
        assert_eq!(
            texts,
            [
                (Some(InsertTextFormat::SNIPPET), "for item in &self.items {"),
                (Some(InsertTextFormat::PLAIN_TEXT), "line_items"),
                (Some(InsertTextFormat::SNIPPET), "\\${x\\} \\\\n"),
            ]
        );
        // Without snippet support every item is plain text, as written.
        let plain = completion_items(items, &doc, Encoding::Utf16, false);
        assert!(
            plain
                .iter()
                .all(|i| i.insert_text_format == Some(InsertTextFormat::PLAIN_TEXT))
        );
    }
}
