//! Cutting the bounded [`DocumentContext`] a plugin sees out of a document.
//!
//! The windows are bounded in characters, so the cost of a feature call does
//! not grow with the document: ropes slice in O(log n).

use crate::api::{Diagnostic, DocumentContext, Position, Range};
use crate::document::{Document, PositionError};

/// How much text around the cursor a plugin is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// Characters before the cursor.
    pub prefix_chars: usize,
    /// Characters after the cursor.
    pub suffix_chars: usize,
    /// Characters of selected text.
    pub selection_chars: usize,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            prefix_chars: 8 * 1024,
            suffix_chars: 2 * 1024,
            selection_chars: 16 * 1024,
        }
    }
}

/// Where the user is in which document.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Workspace-relative path with `/` separators.
    pub path: &'a str,
    /// LSP language identifier.
    pub language_id: &'a str,
    pub cursor: Position,
    pub selection: Option<Range>,
    pub diagnostics: &'a [Diagnostic],
}

/// The context for `request` in `doc`, or why the cursor or selection is not
/// inside the document.
pub fn build(
    doc: &Document,
    request: &Request<'_>,
    windows: Windows,
) -> Result<DocumentContext, PositionError> {
    let cursor = doc.offset(request.cursor)?;
    let prefix_start = cursor.saturating_sub(windows.prefix_chars);
    let suffix_end = (cursor + windows.suffix_chars).min(doc.len_chars());

    let (selection, selected_text) = match request.selection {
        Some(range) => {
            let (start, end) = doc.span(range)?;
            let end = end.min(start + windows.selection_chars);
            (Some(range), Some(doc.slice(start, end)))
        }
        None => (None, None),
    };

    let first_line = doc.position(prefix_start).line;
    let last_line = doc.position(suffix_end).line;
    let diagnostics = request
        .diagnostics
        .iter()
        .filter(|d| d.range.end.line >= first_line && d.range.start.line <= last_line)
        .take(64)
        .cloned()
        .collect();

    Ok(DocumentContext {
        language_id: request.language_id.to_owned(),
        path: request.path.to_owned(),
        cursor: request.cursor,
        prefix: doc.slice(prefix_start, cursor),
        suffix: doc.slice(cursor, suffix_end),
        prefix_truncated: prefix_start > 0,
        suffix_truncated: suffix_end < doc.len_chars(),
        selection,
        selected_text,
        diagnostics,
    })
}

/// The LSP language identifier for a file name, by extension; `plaintext`
/// when unknown.
pub fn language_id(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "rs" => "rust",
        "py" | "pyi" => "python",
        "js" | "mjs" | "cjs" => "javascript",
        "jsx" => "javascriptreact",
        "ts" | "mts" | "cts" => "typescript",
        "tsx" => "typescriptreact",
        "go" => "go",
        "java" => "java",
        "c" | "h" => "c",
        "cc" | "cpp" | "cxx" | "hpp" | "hh" => "cpp",
        "cs" => "csharp",
        "rb" => "ruby",
        "php" => "php",
        "swift" => "swift",
        "kt" | "kts" => "kotlin",
        "scala" => "scala",
        "lua" => "lua",
        "sh" | "bash" => "shellscript",
        "toml" => "toml",
        "json" => "json",
        "yaml" | "yml" => "yaml",
        "md" => "markdown",
        "html" | "htm" => "html",
        "css" => "css",
        "sql" => "sql",
        "zig" => "zig",
        "hs" => "haskell",
        "ml" | "mli" => "ocaml",
        "ex" | "exs" => "elixir",
        _ => "plaintext",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(line: u32, character: u32) -> Request<'static> {
        Request {
            path: "src/lib.rs",
            language_id: "rust",
            cursor: Position { line, character },
            selection: None,
            diagnostics: &[],
        }
    }

    #[test]
    fn windows_bound_what_the_plugin_sees() {
        let text = "a".repeat(100) + "\n" + &"b".repeat(100);
        let doc = Document::new(&text);
        let windows = Windows {
            prefix_chars: 10,
            suffix_chars: 5,
            selection_chars: 3,
        };
        let ctx = build(&doc, &request(1, 4), windows).unwrap();
        assert_eq!(ctx.prefix, "aaaaa\nbbbb");
        assert_eq!(ctx.suffix, "bbbbb");
        assert!(ctx.prefix_truncated && ctx.suffix_truncated);

        let mut selecting = request(0, 0);
        selecting.selection = Some(Range {
            start: Position {
                line: 0,
                character: 0,
            },
            end: Position {
                line: 1,
                character: 2,
            },
        });
        let ctx = build(&doc, &selecting, windows).unwrap();
        assert_eq!(ctx.selected_text.as_deref(), Some("aaa"));
        assert!(!ctx.prefix_truncated);
    }

    #[test]
    fn cursor_outside_the_document_is_refused() {
        let doc = Document::new("fn main() {}\n");
        assert!(build(&doc, &request(0, 12), Windows::default()).is_ok());
        assert!(build(&doc, &request(0, 13), Windows::default()).is_err());
        assert!(build(&doc, &request(5, 0), Windows::default()).is_err());
    }

    #[test]
    fn language_ids_follow_lsp_names() {
        assert_eq!(language_id("src/main.rs"), "rust");
        assert_eq!(language_id("app.tsx"), "typescriptreact");
        assert_eq!(language_id("Makefile"), "plaintext");
    }
}
