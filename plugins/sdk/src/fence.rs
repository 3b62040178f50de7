//! Fenced code blocks in a model's Markdown reply.
//!
//! A fence is a line of at least three backticks or tildes, indented by at
//! most three spaces, optionally followed by an info string (`rust`,
//! `python`, ...). The block ends at a line holding only a fence of the same
//! character at least as long. Models sometimes glue the closing fence to the
//! last line of code (`}````); that is accepted too.

/// One fenced code block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeBlock<'a> {
    /// The info string after the opening fence (e.g. `rust`), trimmed.
    pub info: &'a str,
    /// The code between the fences, without the final line break.
    pub code: &'a str,
}

/// All fenced code blocks of `reply` that are closed, in order.
pub fn code_blocks(reply: &str) -> Vec<CodeBlock<'_>> {
    scan(reply).0
}

/// The first closed fenced code block of `reply`.
pub fn first_code_block(reply: &str) -> Option<CodeBlock<'_>> {
    code_blocks(reply).into_iter().next()
}

/// True when `reply` opens a fence it never closes: the model was cut off
/// in the middle of its code.
pub fn has_unclosed_fence(reply: &str) -> bool {
    scan(reply).1
}

/// Parses an opening fence line: `(fence char, fence length, info)`.
fn opening_fence(line: &str) -> Option<(char, usize, &str)> {
    let trimmed = line.trim_start_matches(' ');
    if line.len() - trimmed.len() > 3 {
        return None;
    }
    let ch = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = trimmed.len() - trimmed.trim_start_matches(ch).len();
    if len < 3 {
        return None;
    }
    let info = trimmed[len..].trim();
    if ch == '`' && info.contains('`') {
        return None;
    }
    Some((ch, len, info))
}

/// True when `line` closes a fence of `ch` repeated at least `len` times.
fn is_closing_fence(line: &str, ch: char, len: usize) -> bool {
    let trimmed = line.trim();
    let n = trimmed.len() - trimmed.trim_start_matches(ch).len();
    n >= len && n == trimmed.len() && line.len() - line.trim_start_matches(' ').len() <= 3
}

fn scan(reply: &str) -> (Vec<CodeBlock<'_>>, bool) {
    let mut blocks = Vec::new();
    let mut open: Option<(char, usize, &str, usize)> = None; // (ch, len, info, code start)
    let mut offset = 0;
    for raw in reply.split_inclusive('\n') {
        let line_start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        match open {
            None => {
                if let Some((ch, len, info)) = opening_fence(line) {
                    open = Some((ch, len, info, offset));
                }
            }
            Some((ch, len, info, start)) => {
                let fence: String = std::iter::repeat_n(ch, len).collect();
                if is_closing_fence(line, ch, len) {
                    let code = trim_final_newline(&reply[start..line_start]);
                    blocks.push(CodeBlock { info, code });
                    open = None;
                } else if line.trim_end().ends_with(&fence) && !line.trim().starts_with(ch) {
                    // Closing fence glued to the last line of code.
                    let end = line_start + line.trim_end().len() - fence.len();
                    let end = reply[start..end].trim_end_matches(ch).len() + start;
                    blocks.push(CodeBlock {
                        info,
                        code: trim_final_newline(&reply[start..end]),
                    });
                    open = None;
                }
            }
        }
    }
    (blocks, open.is_some())
}

/// The info string to open a fence with for a document: the language's
/// usual Markdown tag, from its LSP language identifier or else its path's
/// extension.
pub fn language_tag(language_id: &str, path: &str) -> String {
    let tag = match language_id {
        "typescriptreact" => "tsx",
        "javascriptreact" => "jsx",
        "shellscript" => "sh",
        "objective-c" => "objc",
        "objective-cpp" => "objcpp",
        "" | "plaintext" => path
            .rsplit_once('.')
            .filter(|(_, e)| !e.contains('/'))
            .map_or("", |(_, e)| e),
        other => other,
    };
    tag.to_owned()
}

fn trim_final_newline(s: &str) -> &str {
    let s = s.strip_suffix('\n').unwrap_or(s);
    s.strip_suffix('\r').unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_blocks_with_info() {
        let reply = "Here you go:\n\n```rust\nfn a() {}\n\nfn b() {}\n```\nand\n~~~\nx\n~~~\n";
        let blocks = code_blocks(reply);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].info, "rust");
        assert_eq!(blocks[0].code, "fn a() {}\n\nfn b() {}");
        assert_eq!(blocks[1].code, "x");
        assert!(!has_unclosed_fence(reply));
    }

    #[test]
    fn longer_fences_contain_shorter_ones() {
        let reply = "````md\n```rust\nx\n```\n````";
        assert_eq!(first_code_block(reply).unwrap().code, "```rust\nx\n```");
    }

    #[test]
    fn glued_closing_fence_and_crlf() {
        assert_eq!(
            first_code_block("```py\nreturn 1```").unwrap().code,
            "return 1"
        );
        assert_eq!(
            first_code_block("```\r\na\r\nb\r\n```\r\n").unwrap().code,
            "a\r\nb"
        );
        assert_eq!(first_code_block("```\n```").unwrap().code, "");
    }

    #[test]
    fn language_tags() {
        assert_eq!(language_tag("rust", "a.rs"), "rust");
        assert_eq!(language_tag("typescriptreact", "a.tsx"), "tsx");
        assert_eq!(language_tag("", "src/a.py"), "py");
        assert_eq!(language_tag("", "Makefile"), "");
    }

    #[test]
    fn no_block_or_unclosed() {
        assert_eq!(first_code_block("just prose, `inline` code"), None);
        assert!(has_unclosed_fence("```rust\nfn a() {\n"));
        assert_eq!(first_code_block("```rust\nfn a() {\n"), None);
    }
}
