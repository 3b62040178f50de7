//! Finding the item (function, method, class, impl, ...) that encloses the
//! cursor, from the context windows alone.
//!
//! These are heuristics, not parsers, tuned to be cheap (one linear pass
//! over the window) and right on ordinary code:
//!
//! - Brace languages (Rust, Go, JavaScript/TypeScript and C-like languages):
//!   a small lexer skips comments, strings and character literals, matches
//!   braces and records statement delimiters (`;` outside parentheses, `{`,
//!   `}`). The statement holding the cursor is tried first (the cursor may be
//!   on a signature); then each brace block open at the cursor, innermost
//!   first, whose header (the text between the previous delimiter and the
//!   `{`) looks like an item of the language.
//! - Python: indentation. Walking up from the cursor, the first `def` or
//!   `class` line indented less than everything between it and the cursor.
//!
//! Offsets are byte offsets in [`Window::text`].

use crate::text::{Window, indent_width, indentation, is_blank, is_ident_char};

/// How a language is treated by the heuristics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Rust.
    Rust,
    /// Python.
    Python,
    /// Go.
    Go,
    /// JavaScript and TypeScript, with or without JSX.
    JavaScript,
    /// C, C++, Java, C#, Kotlin, Swift, Scala, PHP, Dart and anything else
    /// with braces.
    CLike,
}

impl Family {
    /// The family of a document, from its LSP language identifier or, when
    /// that is unknown, the extension of its path.
    pub fn detect(language_id: &str, path: &str) -> Family {
        let by_id = match language_id.to_ascii_lowercase().as_str() {
            "rust" => Some(Family::Rust),
            "python" => Some(Family::Python),
            "go" => Some(Family::Go),
            "javascript" | "typescript" | "javascriptreact" | "typescriptreact" | "vue"
            | "svelte" => Some(Family::JavaScript),
            "" | "plaintext" | "text" => None,
            _ => Some(Family::CLike),
        };
        by_id.unwrap_or_else(|| {
            let ext = path
                .rsplit_once('.')
                .map_or("", |(_, e)| e)
                .to_ascii_lowercase();
            match ext.as_str() {
                "rs" => Family::Rust,
                "py" | "pyi" => Family::Python,
                "go" => Family::Go,
                "js" | "mjs" | "cjs" | "jsx" | "ts" | "mts" | "cts" | "tsx" => Family::JavaScript,
                _ => Family::CLike,
            }
        })
    }
}

/// What sort of item was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemKind {
    /// A function or method.
    Function,
    /// A type: struct, class, enum, interface, trait, union, type alias.
    Type,
    /// A Rust `impl` block.
    Impl,
    /// A module or namespace.
    Module,
    /// Anything else item-like (a constant, a macro).
    Other,
}

impl ItemKind {
    /// A lower-case noun for prompts: `function`, `type`, `impl block`, ...
    pub fn noun(self) -> &'static str {
        match self {
            ItemKind::Function => "function",
            ItemKind::Type => "type",
            ItemKind::Impl => "impl block",
            ItemKind::Module => "module",
            ItemKind::Other => "item",
        }
    }
}

/// An item found in a [`Window`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// What it is.
    pub kind: ItemKind,
    /// Its name, when one was recognised (`foo`, `Display for Foo`).
    pub name: Option<String>,
    /// Offset of the start of the item's first line (attributes and
    /// decorators included, doc comments excluded).
    pub line_start: usize,
    /// Offset of the item's first character on that line.
    pub start: usize,
    /// Offset of the line holding the keyword (`fn`, `def`, `class`, ...),
    /// at its first character.
    pub header: usize,
    /// Offset just past the item's last character (or the end of the
    /// window, when the item runs past it).
    pub end: usize,
    /// True when the item's end lies inside the window.
    pub complete: bool,
    /// Indentation of the item's first line.
    pub indent: String,
    /// True when the item already has a doc comment (or docstring).
    pub has_doc: bool,
    /// The existing doc comment (or docstring) as whole lines `[start,
    /// end)`: from the start of its first line to the start of the line
    /// after it. `None` when there is none, or when it cannot be replaced
    /// safely (a `#[doc]` attribute, a docstring sharing its line with code).
    pub doc: Option<(usize, usize)>,
    /// Python only: offset of the start of the first line after the header,
    /// when the body starts on a line of its own.
    pub body_line_start: Option<usize>,
    /// Python only: indentation of the body's first line, when known.
    pub body_indent: Option<String>,
}

impl Item {
    /// True when only whitespace precedes the item on its first line.
    pub fn starts_line(&self) -> bool {
        self.start >= self.line_start
    }

    /// The item's source text from the start of its first line.
    pub fn text<'w>(&self, window: &'w Window<'_>) -> &'w str {
        let from = if self.starts_line() {
            self.line_start
        } else {
            self.start
        };
        &window.text()[from..self.end]
    }

    /// A short description for prompts, e.g. ``function `parse` ``.
    pub fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("{} `{}`", self.kind.noun(), name),
            None => self.kind.noun().to_owned(),
        }
    }
}

/// The innermost item enclosing the cursor of `window`, if one is found.
pub fn enclosing_item(window: &Window<'_>, family: Family) -> Option<Item> {
    match family {
        Family::Python => python_item(window),
        _ => brace_item(window, family),
    }
}

/// The kind of item that `code` starts with, once blank lines, comments,
/// attributes and decorators are skipped; `None` when it starts with
/// anything else. Used to tell a function definition from a call in code a
/// model wrote.
pub fn header_kind(family: Family, code: &str) -> Option<ItemKind> {
    for line in code.lines() {
        let t = line.trim();
        let comment = t.starts_with("//") || t.starts_with("/*") || t.starts_with('*');
        if t.is_empty()
            || family == Family::Python && (t.starts_with('#') || t.starts_with('@'))
            || family != Family::Python && comment
        {
            continue;
        }
        if family == Family::Python {
            return python_header(t).map(|(kind, _)| kind);
        }
        let stripped = strip_attributes(family, t);
        if stripped.is_empty() {
            continue;
        }
        let signature = stripped.split(['{', ';']).next().unwrap_or(stripped).trim();
        return classify(family, signature).map(|(kind, _)| kind);
    }
    None
}

// ---------------------------------------------------------------------------
// Brace languages.

/// The lexer's view of a window.
struct Lexed {
    /// `(open, close)` offsets of each `{`, in opening order.
    braces: Vec<(usize, Option<usize>)>,
    /// Offsets of `;` outside parentheses, `{` and `}`, ascending.
    delims: Vec<usize>,
    /// Indices into `braces` of the blocks open at the cursor, outermost
    /// first.
    open_at_cursor: Vec<usize>,
}

fn lex(text: &str, cursor: usize, family: Family) -> Lexed {
    let b = text.as_bytes();
    let single_quote_strings = family == Family::JavaScript;
    let backtick_strings = matches!(family, Family::JavaScript | Family::Go);
    let multiline_strings = family == Family::Rust;
    let mut lexed = Lexed {
        braces: Vec::new(),
        delims: Vec::new(),
        open_at_cursor: Vec::new(),
    };
    let mut stack: Vec<usize> = Vec::new();
    let mut parens: Vec<u32> = Vec::new();
    let mut paren = 0u32;
    let mut snapshot = false;
    let mut i = 0;
    loop {
        i = skip_plain(b, i);
        if i >= b.len() {
            break;
        }
        if !snapshot && i >= cursor {
            lexed.open_at_cursor = stack.clone();
            snapshot = true;
        }
        let c = b[i];
        let next = b.get(i + 1).copied().unwrap_or(0);
        match c {
            b'/' if next == b'/' => {
                i = find_byte(b, i, b'\n');
                continue;
            }
            b'/' if next == b'*' => {
                let mut depth = 1;
                i += 2;
                while i < b.len() && depth > 0 {
                    if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                    } else if family == Family::Rust && b[i] == b'/' && b.get(i + 1) == Some(&b'*')
                    {
                        depth += 1;
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'"' => {
                // `r"…"`, `r#"…"#`: the `r` and `#`s were skipped as plain
                // bytes; they are recognised from the quote.
                let raw = (family == Family::Rust)
                    .then(|| raw_string_start(b, i))
                    .flatten();
                i = match raw {
                    Some(from) => skip_raw_string(b, from).unwrap_or(b.len()),
                    None => skip_quoted(b, i + 1, b'"', multiline_strings),
                };
                continue;
            }
            b'\'' if single_quote_strings => {
                i = skip_quoted(b, i + 1, b'\'', false);
                continue;
            }
            b'\'' => {
                i = skip_char_literal(text, i);
                continue;
            }
            b'`' if backtick_strings => {
                i = skip_quoted(b, i + 1, b'`', true);
                continue;
            }
            b'{' => {
                stack.push(lexed.braces.len());
                lexed.braces.push((i, None));
                lexed.delims.push(i);
                parens.push(paren);
                paren = 0;
            }
            b'}' => {
                if let Some(idx) = stack.pop() {
                    lexed.braces[idx].1 = Some(i);
                }
                lexed.delims.push(i);
                paren = parens.pop().unwrap_or(0);
            }
            b'(' | b'[' => paren += 1,
            b')' | b']' => paren = paren.saturating_sub(1),
            b';' if paren == 0 => lexed.delims.push(i),
            _ => {}
        }
        i += 1;
    }
    if !snapshot {
        lexed.open_at_cursor = stack;
    }
    lexed
}

/// Bytes [`lex`] acts on; it skips every other byte in bulk.
const LEXED: [bool; 256] = {
    let mut table = [false; 256];
    let special = b"/\"'`{}()[];";
    let mut k = 0;
    while k < special.len() {
        table[special[k] as usize] = true;
        k += 1;
    }
    table
};

/// The offset of the first byte at or after `from` that [`lex`] acts on, or
/// the end. Four bytes per step: fewer iterations and branches than one
/// byte at a time (and, in a Wasm plugin, fewer epoch checks).
fn skip_plain(b: &[u8], mut from: usize) -> usize {
    while let Some(&[w, x, y, z]) = b.get(from..from + 4) {
        if LEXED[w as usize] | LEXED[x as usize] | LEXED[y as usize] | LEXED[z as usize] {
            break;
        }
        from += 4;
    }
    while from < b.len() && !LEXED[b[from] as usize] {
        from += 1;
    }
    from
}

/// Where the `#`s or quote of a Rust raw string start, when the quote at
/// `quote` opens one (`r"`, `r#"`, not `br"` or `for"`).
fn raw_string_start(b: &[u8], quote: usize) -> Option<usize> {
    let hashes = b[..quote].iter().rev().take_while(|&&x| x == b'#').count();
    let r = quote.checked_sub(hashes + 1)?;
    (b[r] == b'r' && (r == 0 || !is_ident_byte(b[r - 1]))).then_some(r + 1)
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

/// Offset of the next `byte` at or after `from`, or the end.
fn find_byte(b: &[u8], from: usize, byte: u8) -> usize {
    b[from..]
        .iter()
        .position(|&x| x == byte)
        .map_or(b.len(), |p| from + p)
}

/// Offset just past the closing `quote` of a string whose body starts at
/// `from`. Unless `multiline`, an unterminated string ends at the line break.
fn skip_quoted(b: &[u8], from: usize, quote: u8, multiline: bool) -> usize {
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'\n' if !multiline => return i,
            x if x == quote => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// Past a character literal at `i` (`'x'`, `'\n'`, `'\u{1F600}'`), or just
/// past the quote when it starts a Rust lifetime or label.
fn skip_char_literal(text: &str, i: usize) -> usize {
    let b = text.as_bytes();
    if b.get(i + 1) == Some(&b'\\') {
        // An escape: the closing quote follows within a few bytes.
        let limit = (i + 12).min(b.len());
        return b[i + 2..limit]
            .iter()
            .position(|&x| x == b'\'')
            .map_or(i + 1, |p| i + 2 + p + 1);
    }
    match text[i + 1..].chars().next() {
        Some(ch) if ch != '\n' && ch != '\'' => {
            let after = i + 1 + ch.len_utf8();
            if b.get(after) == Some(&b'\'') {
                after + 1
            } else {
                i + 1
            }
        }
        _ => i + 1,
    }
}

/// Past a Rust raw string whose `#`s or quote start at `from`, if it is one.
fn skip_raw_string(b: &[u8], from: usize) -> Option<usize> {
    let hashes = b[from..].iter().take_while(|&&x| x == b'#').count();
    if b.get(from + hashes) != Some(&b'"') {
        return None;
    }
    let mut i = from + hashes + 1;
    while i < b.len() {
        if b[i] == b'"'
            && b[i + 1..]
                .iter()
                .take(hashes)
                .filter(|&&x| x == b'#')
                .count()
                == hashes
        {
            return Some(i + 1 + hashes);
        }
        i += 1;
    }
    Some(b.len())
}

fn brace_item(window: &Window<'_>, family: Family) -> Option<Item> {
    let text = window.text();
    let cursor = window.cursor_offset();
    let lexed = lex(text, cursor, family);
    let region_start = |at: usize| -> usize {
        let idx = lexed.delims.partition_point(|&d| d < at);
        if idx == 0 {
            0
        } else {
            lexed.delims[idx - 1] + 1
        }
    };
    let brace_close = |open: usize| -> Option<usize> {
        let idx = lexed.braces.partition_point(|&(o, _)| o < open);
        lexed
            .braces
            .get(idx)
            .filter(|(o, _)| *o == open)
            .and_then(|(_, c)| *c)
    };

    // 1. The statement holding the cursor, when it is an item's signature.
    let next = lexed.delims.partition_point(|&d| d < cursor);
    if let Some(&term) = lexed.delims.get(next)
        && matches!(text.as_bytes()[term], b'{' | b';')
    {
        let end = if text.as_bytes()[term] == b'{' {
            brace_close(term).map(|c| c + 1)
        } else {
            Some(term + 1)
        };
        if let Some(item) = item_from_region(window, family, region_start(cursor), term, end)
            && cursor >= item.start
        {
            return Some(item);
        }
    }

    // 2. The blocks open at the cursor, innermost first.
    for &idx in lexed.open_at_cursor.iter().rev() {
        let (open, close) = lexed.braces[idx];
        if let Some(item) = item_from_region(
            window,
            family,
            region_start(open),
            open,
            close.map(|c| c + 1),
        ) {
            return Some(item);
        }
    }
    None
}

/// The item whose header is `text[from..term]`, ending at `end` (`None`:
/// past the window), if the header looks like one.
fn item_from_region(
    window: &Window<'_>,
    family: Family,
    from: usize,
    term: usize,
    end: Option<usize>,
) -> Option<Item> {
    let text = window.text();
    let region = &text[from..term];
    let mut first: Option<usize> = None;
    let mut header: Option<usize> = None;
    let mut doc = false;
    let mut doc_start: Option<usize> = None;
    let mut doc_attribute = false;
    let mut in_block_comment = false;
    let mut offset = from;
    for line in region.split_inclusive('\n') {
        let line_offset = offset;
        offset += line.len();
        let t = line.trim();
        let code_at = line_offset + (line.len() - line.trim_start().len());
        if first.is_none() {
            if in_block_comment {
                if t.contains("*/") {
                    in_block_comment = false;
                }
                continue;
            }
            if t.is_empty() {
                doc = false;
                doc_start = None;
                continue;
            }
            if t.starts_with("//") {
                let is_doc = is_doc_line_comment(family, t);
                if !is_doc {
                    doc_start = None;
                } else if !doc {
                    doc_start = Some(line_offset);
                }
                doc = is_doc;
                continue;
            }
            if t.starts_with("/*") {
                doc = t.starts_with("/**") && !t.starts_with("/**/");
                doc_start = doc.then_some(line_offset);
                in_block_comment = !t.contains("*/");
                continue;
            }
            if family == Family::Rust && t.starts_with("#[doc") {
                doc = true;
                doc_attribute = true;
            }
            first = Some(code_at);
        }
        if header.is_none() && !strip_attributes(family, t).is_empty() {
            header = Some(code_at + (t.len() - strip_attributes(family, t).len()));
        }
    }
    let first = first?;
    let header = header?;
    let signature: String = text[header..term]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let (kind, name) = classify(family, &signature)?;
    let line_start = window.line_start(first);
    let starts_line = is_blank(&text[line_start..first]);
    Some(Item {
        kind,
        name,
        line_start,
        start: if starts_line { line_start } else { first },
        header,
        end: end.unwrap_or(text.len()),
        complete: end.is_some(),
        indent: indentation(&text[line_start..]).to_owned(),
        has_doc: doc,
        doc: doc_start
            .filter(|_| doc && !doc_attribute)
            .map(|s| (s, line_start)),
        body_line_start: None,
        body_indent: None,
    })
}

fn is_doc_line_comment(family: Family, t: &str) -> bool {
    match family {
        // Go documents with any comment directly above a declaration.
        Family::Go => true,
        _ => t.starts_with("///") && !t.starts_with("////"),
    }
}

/// `t` without leading attributes, decorators or annotations.
fn strip_attributes(family: Family, mut t: &str) -> &str {
    loop {
        t = t.trim_start();
        if family == Family::Rust && t.starts_with("#[")
            || family == Family::CLike && t.starts_with('[')
        {
            match matching_close(t, '[', ']') {
                Some(end) => t = &t[end + 1..],
                None => return "",
            }
        } else if family != Family::Rust
            && family != Family::Go
            && t.starts_with('@')
            && !t.starts_with("@interface")
        {
            let name_len = t[1..]
                .find(|c: char| !(is_ident_char(c) || c == '.'))
                .unwrap_or(t.len() - 1);
            t = &t[1 + name_len..];
            if t.starts_with('(') {
                match matching_close(t, '(', ')') {
                    Some(end) => t = &t[end + 1..],
                    None => return "",
                }
            }
        } else {
            return t;
        }
    }
}

/// Offset of the `close` matching the `open` that starts `t`.
fn matching_close(t: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in t.char_indices() {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(i);
            }
        }
    }
    None
}

/// `s` without the leading keyword `word`, when `s` starts with it as a
/// whole word.
fn strip_word<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let rest = s.strip_prefix(word)?;
    match rest.chars().next() {
        Some(c) if is_ident_char(c) => None,
        _ => Some(rest.trim_start()),
    }
}

/// The identifier at the start of `s`.
fn leading_ident(s: &str) -> &str {
    let end = s.find(|c: char| !is_ident_char(c)).unwrap_or(s.len());
    &s[..end]
}

fn name_of(s: &str) -> Option<String> {
    let name = leading_ident(s);
    (!name.is_empty()).then(|| name.to_owned())
}

/// Words that start statements, never items.
const CONTROL: &[&str] = &[
    "if",
    "else",
    "for",
    "foreach",
    "while",
    "do",
    "switch",
    "match",
    "catch",
    "try",
    "finally",
    "return",
    "with",
    "using",
    "lock",
    "synchronized",
    "when",
    "guard",
    "defer",
    "loop",
    "new",
    "throw",
    "case",
    "await",
    "yield",
    "go",
    "select",
    "unsafe",
    "async",
    "elif",
    "except",
    "sizeof",
    "typeof",
    "delete",
    "static_assert",
];

/// Item kind and name of a one-line, whitespace-collapsed signature.
fn classify(family: Family, sig: &str) -> Option<(ItemKind, Option<String>)> {
    match family {
        Family::Rust => classify_rust(sig),
        Family::Go => classify_go(sig),
        Family::JavaScript => classify_js(sig),
        Family::CLike => classify_c_like(sig),
        Family::Python => None,
    }
}

fn classify_rust(sig: &str) -> Option<(ItemKind, Option<String>)> {
    let mut s = sig;
    loop {
        if let Some(rest) = strip_word(s, "pub") {
            s = rest;
            if s.starts_with('(') {
                s = s[matching_close(s, '(', ')')? + 1..].trim_start();
            }
        } else if let Some(rest) = strip_word(s, "extern") {
            s = rest;
            if s.starts_with('"') {
                s = s[1..].split_once('"')?.1.trim_start();
            }
        } else if let Some(rest) = ["async", "unsafe", "default", "safe"]
            .iter()
            .find_map(|w| strip_word(s, w))
        {
            s = rest;
        } else if let Some(rest) = strip_word(s, "const")
            && ["fn", "unsafe", "async", "extern"]
                .iter()
                .any(|w| strip_word(rest, w).is_some())
        {
            s = rest;
        } else {
            break;
        }
    }
    if let Some(rest) = strip_word(s, "fn") {
        return Some((ItemKind::Function, name_of(rest)));
    }
    for kw in ["struct", "enum", "union", "trait", "type"] {
        if let Some(rest) = strip_word(s, kw) {
            return Some((ItemKind::Type, name_of(rest)));
        }
    }
    if let Some(mut rest) = strip_word(s, "impl") {
        if rest.starts_with('<') {
            rest = rest[matching_close(rest, '<', '>')? + 1..].trim_start();
        }
        let rest = rest.split(" where ").next().unwrap_or(rest).trim();
        return Some((ItemKind::Impl, (!rest.is_empty()).then(|| rest.to_owned())));
    }
    if let Some(rest) = strip_word(s, "mod") {
        return Some((ItemKind::Module, name_of(rest)));
    }
    if let Some(rest) = s.strip_prefix("macro_rules!") {
        return Some((ItemKind::Other, name_of(rest.trim_start())));
    }
    for kw in ["const", "static"] {
        if let Some(rest) = strip_word(s, kw) {
            let rest = strip_word(rest, "mut").unwrap_or(rest);
            let name = leading_ident(rest);
            if !name.is_empty() && rest[name.len()..].trim_start().starts_with(':') {
                return Some((ItemKind::Other, Some(name.to_owned())));
            }
        }
    }
    None
}

fn classify_go(sig: &str) -> Option<(ItemKind, Option<String>)> {
    if let Some(mut rest) = strip_word(sig, "func") {
        if rest.starts_with('(') {
            rest = rest[matching_close(rest, '(', ')')? + 1..].trim_start();
        }
        return Some((ItemKind::Function, name_of(rest)));
    }
    if let Some(rest) = strip_word(sig, "type") {
        return Some((ItemKind::Type, name_of(rest)));
    }
    None
}

fn classify_js(sig: &str) -> Option<(ItemKind, Option<String>)> {
    let mut s = sig;
    loop {
        let stripped = [
            "export",
            "default",
            "declare",
            "abstract",
            "async",
            "public",
            "private",
            "protected",
            "static",
            "readonly",
            "override",
            "accessor",
        ]
        .iter()
        .find_map(|w| strip_word(s, w));
        if let Some(rest) = stripped {
            s = rest;
            continue;
        }
        // `get name()` / `set name(v)`, but not a method named `get`.
        if let Some(rest) = ["get", "set"].iter().find_map(|w| strip_word(s, w))
            && rest.starts_with(|c: char| is_ident_char(c) || c == '#' || c == '[')
        {
            s = rest;
            continue;
        }
        break;
    }
    if let Some(rest) = strip_word(s, "function") {
        let rest = rest.trim_start_matches('*').trim_start();
        return Some((ItemKind::Function, name_of(rest)));
    }
    for kw in ["class", "interface", "enum", "type"] {
        if let Some(rest) = strip_word(s, kw) {
            return Some((ItemKind::Type, name_of(rest)));
        }
    }
    for kw in ["namespace", "module"] {
        if let Some(rest) = strip_word(s, kw) {
            return Some((ItemKind::Module, name_of(rest)));
        }
    }
    for kw in ["const", "let", "var"] {
        if let Some(rest) = strip_word(s, kw) {
            let name = leading_ident(rest);
            let value = rest[name.len()..]
                .split_once('=')
                .map(|(_, v)| v.trim_start());
            return match value {
                Some(v)
                    if !name.is_empty()
                        && (v.contains("=>")
                            || v.starts_with("function")
                            || v.starts_with("async")) =>
                {
                    Some((ItemKind::Function, Some(name.to_owned())))
                }
                _ => None,
            };
        }
    }
    // Class members: `name(args) {`, `name = (args) => {`, `*gen() {`.
    let s = s.trim_start_matches('*').trim_start();
    let name = leading_ident(s.trim_start_matches('#'));
    if name.is_empty() || CONTROL.contains(&name) || name == "function" {
        return None;
    }
    let rest = s.trim_start_matches('#')[name.len()..].trim_start();
    let rest = rest.strip_prefix('?').unwrap_or(rest).trim_start();
    if rest.starts_with('(') || rest.starts_with('<') {
        return Some((ItemKind::Function, Some(name.to_owned())));
    }
    if let Some(value) = rest.strip_prefix('=')
        && value.contains("=>")
    {
        return Some((ItemKind::Function, Some(name.to_owned())));
    }
    None
}

fn classify_c_like(sig: &str) -> Option<(ItemKind, Option<String>)> {
    const MODIFIERS: &[&str] = &[
        "public",
        "private",
        "protected",
        "internal",
        "static",
        "final",
        "abstract",
        "virtual",
        "override",
        "sealed",
        "async",
        "inline",
        "extern",
        "constexpr",
        "consteval",
        "unsafe",
        "open",
        "data",
        "suspend",
        "fileprivate",
        "mutating",
        "synchronized",
        "native",
        "partial",
        "readonly",
        "export",
        "explicit",
        "friend",
        "default",
        "strictfp",
        "transient",
        "volatile",
        "lateinit",
        "inner",
        "value",
        "annotation",
        "companion",
        "tailrec",
        "operator",
        "infix",
        "external",
        "actual",
        "expect",
        "required",
        "convenience",
        "dynamic",
        "nonisolated",
    ];
    let mut s = sig;
    loop {
        if let Some(rest) = MODIFIERS.iter().find_map(|w| strip_word(s, w)) {
            s = rest;
        } else if let Some(rest) = strip_word(s, "template")
            && rest.starts_with('<')
        {
            s = rest[matching_close(rest, '<', '>')? + 1..].trim_start();
        } else {
            break;
        }
    }
    for kw in ["fun", "func", "def", "function", "fn", "sub", "proc"] {
        if let Some(rest) = strip_word(s, kw) {
            let rest = if rest.starts_with('(') {
                // Go-style receivers, Kotlin extension receivers.
                rest[matching_close(rest, '(', ')')? + 1..].trim_start()
            } else {
                rest
            };
            let rest = rest
                .rsplit_once('.')
                .filter(|(a, _)| !a.contains('('))
                .map_or(rest, |(_, b)| b);
            return Some((ItemKind::Function, name_of(rest)));
        }
    }
    for kw in ["namespace", "module", "package"] {
        if let Some(rest) = strip_word(s, kw) {
            return Some((ItemKind::Module, name_of(rest)));
        }
    }
    for kw in [
        "class",
        "struct",
        "interface",
        "@interface",
        "enum",
        "record",
        "union",
        "trait",
        "object",
        "protocol",
        "extension",
        "impl",
        "actor",
    ] {
        if let Some(rest) = strip_word(s, kw) {
            let rest = strip_word(rest, "class")
                .or_else(|| strip_word(rest, "struct"))
                .unwrap_or(rest);
            return Some((ItemKind::Type, name_of(rest)));
        }
    }
    // A function definition: `<type> name(<params>) <qualifiers>`.
    let first_word = leading_ident(s);
    if CONTROL.contains(&first_word) {
        return None;
    }
    let paren = s.find('(')?;
    let before = s[..paren].trim_end();
    if before.contains('=') || before.contains('.') && !before.contains("::") {
        return None;
    }
    let name_start = before
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_ident_char(c) || c == ':' || c == '~')
        .last()
        .map_or(before.len(), |(i, _)| i);
    let name = &before[name_start..];
    let return_type = before[..name_start].trim();
    let simple = name
        .rsplit("::")
        .next()
        .unwrap_or(name)
        .trim_start_matches('~');
    if simple.is_empty()
        || CONTROL.contains(&simple)
        || (return_type.is_empty() && !name.contains("::"))
    {
        return None;
    }
    Some((ItemKind::Function, Some(name.to_owned())))
}

// ---------------------------------------------------------------------------
// Python.

#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
    /// The line is blank, a comment, or starts inside a triple-quoted string.
    ignorable: bool,
    indent: usize,
}

/// Lines of `text` with ignorable ones marked (blank, comment-only, or
/// inside a triple-quoted string).
fn python_lines(text: &str) -> Vec<Line> {
    let b = text.as_bytes();
    let mut lines = Vec::new();
    let mut in_triple: Option<u8> = None;
    let mut start = 0;
    while start <= b.len() {
        let end = find_byte(b, start, b'\n');
        let line = &text[start..end];
        let starts_in_string = in_triple.is_some();
        // Track triple-quoted strings across the line.
        let mut i = start;
        while i < end {
            match in_triple {
                Some(q) => {
                    if b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == q && b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q) {
                        in_triple = None;
                        i += 3;
                        continue;
                    }
                    i += 1;
                }
                None => match b[i] {
                    b'#' => break,
                    q @ (b'"' | b'\'') => {
                        if b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q) {
                            in_triple = Some(q);
                            i += 3;
                        } else {
                            i = skip_quoted(b, i + 1, q, false).min(end);
                        }
                    }
                    _ => i += 1,
                },
            }
        }
        let t = line.trim();
        lines.push(Line {
            start,
            end,
            ignorable: starts_in_string || t.is_empty() || t.starts_with('#'),
            indent: indent_width(line),
        });
        if end == b.len() {
            break;
        }
        start = end + 1;
    }
    lines
}

/// `(kind, name)` of a Python `def`/`class` line.
fn python_header(line: &str) -> Option<(ItemKind, Option<String>)> {
    let t = line.trim_start();
    let t = strip_word(t, "async").unwrap_or(t);
    if let Some(rest) = strip_word(t, "def") {
        return Some((ItemKind::Function, name_of(rest)));
    }
    if let Some(rest) = strip_word(t, "class") {
        return Some((ItemKind::Type, name_of(rest)));
    }
    None
}

fn python_item(window: &Window<'_>) -> Option<Item> {
    let text = window.text();
    let lines = python_lines(text);
    let cursor = window.cursor_offset();
    let cur = lines
        .partition_point(|l| l.end < cursor)
        .min(lines.len() - 1);
    // The first line of a truncated prefix is partial: never use it.
    let first_usable = usize::from(!window.line_start_known(0));

    let header_idx = if !lines[cur].ignorable
        && python_header(&text[lines[cur].start..lines[cur].end]).is_some()
    {
        Some(cur)
    } else {
        let line = &text[lines[cur].start..lines[cur].end];
        let mut min_indent = if !lines[cur].ignorable {
            lines[cur].indent
        } else if indent_width(&text[lines[cur].start..cursor.max(lines[cur].start)]) > 0 {
            indent_width(line)
        } else {
            lines[cur + 1..]
                .iter()
                .find(|l| !l.ignorable)
                .map_or(usize::MAX, |l| l.indent)
        };
        let mut found = None;
        for idx in (first_usable..cur).rev() {
            let l = lines[idx];
            if l.ignorable || l.indent >= min_indent {
                continue;
            }
            if python_header(&text[l.start..l.end]).is_some() {
                found = Some(idx);
                break;
            }
            if l.indent == 0 {
                break;
            }
            min_indent = l.indent;
        }
        found
    };
    let h = header_idx.filter(|&h| h >= first_usable)?;
    let header_line = lines[h];
    let (kind, name) = python_header(&text[header_line.start..header_line.end])?;

    // Decorators directly above, at the same indentation.
    let mut first = h;
    while first > first_usable {
        let l = lines[first - 1];
        let t = text[l.start..l.end].trim();
        if !t.starts_with('@') || l.indent != header_line.indent {
            break;
        }
        first -= 1;
    }

    // The colon ending the (possibly multi-line) signature.
    let b = text.as_bytes();
    let mut depth = 0i32;
    let mut i = header_line.start;
    let mut colon = None;
    while i < b.len() {
        match b[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            q @ (b'"' | b'\'') => {
                i = skip_quoted(b, i + 1, q, false);
                continue;
            }
            b'#' => {
                i = find_byte(b, i, b'\n');
                continue;
            }
            b':' if depth <= 0 => {
                colon = Some(i);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let colon = colon?;
    let colon_line = lines.partition_point(|l| l.end < colon);
    let after_colon = text[colon + 1..lines[colon_line].end].trim();
    let body_on_own_line = after_colon.is_empty() || after_colon.starts_with('#');

    // The body: every following line indented deeper, ignorable lines aside.
    let mut last = colon_line;
    let mut complete = false;
    let mut first_body: Option<usize> = None;
    for (idx, l) in lines.iter().enumerate().skip(colon_line + 1) {
        if l.ignorable {
            if first_body.is_none()
                && !is_blank(&text[l.start..l.end])
                && !text[l.start..l.end].trim().starts_with('#')
            {
                // A docstring continuing on this line.
                first_body = Some(idx);
            }
            continue;
        }
        if l.indent <= header_line.indent {
            complete = true;
            break;
        }
        first_body.get_or_insert(idx);
        last = idx;
    }
    if !body_on_own_line {
        first_body = None;
    }
    // Include a docstring's closing lines that the scan marked ignorable.
    let mut end_line = last;
    for (idx, l) in lines.iter().enumerate().skip(last + 1) {
        if !l.ignorable {
            break;
        }
        if !is_blank(&text[l.start..l.end]) && l.indent > header_line.indent {
            end_line = idx;
        }
    }
    let complete = complete || window_end_known(window);

    let first_line = lines[first];
    let body_first = first_body.map(|idx| lines[idx]);
    let has_doc = match body_first {
        Some(l) => {
            let t = text[l.start..l.end].trim_start();
            let t = t.trim_start_matches(['r', 'R', 'u', 'U', 'b', 'B']);
            t.starts_with('"') || t.starts_with('\'')
        }
        None => false,
    };
    let doc = body_first
        .filter(|_| has_doc)
        .and_then(|l| docstring_lines(text, l.start));
    Some(Item {
        kind,
        name,
        line_start: first_line.start,
        start: first_line.start,
        header: header_line.start
            + (header_line.end
                - header_line.start
                - text[header_line.start..header_line.end].trim_start().len()),
        end: lines[end_line].end,
        complete,
        indent: indentation(&text[first_line.start..first_line.end]).to_owned(),
        has_doc,
        doc,
        body_line_start: body_on_own_line
            .then(|| lines.get(colon_line + 1).map(|l| l.start))
            .flatten(),
        body_indent: body_first.map(|l| indentation(&text[l.start..l.end]).to_owned()),
    })
}

/// The whole lines `[start, end)` of the docstring whose line starts at
/// `line_start`, when nothing but a comment follows it on its last line.
fn docstring_lines(text: &str, line_start: usize) -> Option<(usize, usize)> {
    let b = text.as_bytes();
    let mut i = line_start + (text[line_start..].len() - text[line_start..].trim_start().len());
    while i < b.len() && matches!(b[i], b'r' | b'R' | b'u' | b'U' | b'b' | b'B') {
        i += 1;
    }
    let q = *b.get(i)?;
    let close = if b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q) {
        let body = i + 3;
        let mut j = body;
        loop {
            match b.get(j)? {
                b'\\' => j += 2,
                &c if c == q && b.get(j + 1) == Some(&q) && b.get(j + 2) == Some(&q) => {
                    break j + 3;
                }
                _ => j += 1,
            }
        }
    } else {
        let end = skip_quoted(b, i + 1, q, false);
        if b.get(end - 1) != Some(&q) || end == i + 1 {
            return None;
        }
        end
    };
    let line_end = find_byte(b, close, b'\n');
    let rest = text[close..line_end].trim();
    if !(rest.is_empty() || rest.starts_with('#')) {
        return None;
    }
    Some((line_start, (line_end + 1).min(text.len())))
}

fn window_end_known(window: &Window<'_>) -> bool {
    window.end_known()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DocumentContext, Position};

    /// A context whose cursor is at the `|` in `doc`.
    fn ctx(doc: &str, language: &str) -> DocumentContext {
        let at = doc.find('|').expect("cursor marker");
        let prefix = &doc[..at];
        let suffix = &doc[at + 1..];
        let line = prefix.matches('\n').count() as u32;
        let character = crate::text::char_count(crate::text::last_line(prefix));
        DocumentContext {
            language_id: language.into(),
            path: "x".into(),
            cursor: Position::new(line, character),
            prefix: prefix.into(),
            suffix: suffix.into(),
            ..Default::default()
        }
    }

    fn find(doc: &str, language: &str) -> Option<(Item, String)> {
        let c = ctx(doc, language);
        let w = Window::new(&c);
        let item = enclosing_item(&w, Family::detect(language, ""))?;
        let text = item.text(&w).to_owned();
        Some((item, text))
    }

    #[test]
    fn rust_function_in_impl() {
        let doc = "use std::fmt;\n\nimpl Foo {\n    /// Docs.\n    #[inline]\n    pub fn bar(&self, x: [u8; 4]) -> u8 {\n        let s = \"}\";\n        let c = '{';\n        x[0] |+ 1\n    }\n}\n";
        let (item, text) = find(doc, "rust").unwrap();
        assert_eq!(item.kind, ItemKind::Function);
        assert_eq!(item.name.as_deref(), Some("bar"));
        assert!(item.has_doc);
        let (a, b) = item.doc.unwrap();
        assert_eq!(&doc.replace('|', "")[a..b], "    /// Docs.\n");
        assert_eq!(item.indent, "    ");
        assert!(text.starts_with("    #[inline]\n    pub fn bar"), "{text}");
        assert!(text.ends_with("x[0] + 1\n    }"), "{text}");
        assert!(item.complete);
    }

    #[test]
    fn rust_cursor_on_signature_and_outer_impl() {
        let doc =
            "impl<T: Clone> Display for Wrapper<T> where T: Debug {\n    fn f|mt(&self) {}\n}\n";
        let (item, _) = find(doc, "rust").unwrap();
        assert_eq!(item.name.as_deref(), Some("fmt"));
        let doc =
            "impl<T: Clone> Display for Wrapper<T> where T: Debug {\n    fn fmt(&self) {}\n|\n}\n";
        let (item, _) = find(doc, "rust").unwrap();
        assert_eq!(item.kind, ItemKind::Impl);
        assert_eq!(item.name.as_deref(), Some("Display for Wrapper<T>"));
        assert!(!item.has_doc);
    }

    #[test]
    fn rust_closures_and_blocks_are_not_items() {
        let doc = "fn outer() {\n    let f = |x| {\n        if x {\n            |\n        }\n    };\n}\n";
        let (item, _) = find(doc, "rust").unwrap();
        assert_eq!(item.name.as_deref(), Some("outer"));
        assert_eq!(find("let x = 1;\n|\n", "rust"), None);
        // Lifetimes are not character literals; raw strings hide braces.
        let doc = "fn a<'a>(s: &'a str) -> &'a str {\n    let r = r#\"}\"#;\n    |s\n}\n";
        assert_eq!(find(doc, "rust").unwrap().0.name.as_deref(), Some("a"));
        // A raw string with a quote inside, an unhashed one, and a `for"`
        // that is no raw string at all.
        let doc = "fn b() {\n    let q = r##\"}\"#{\"##;\n    let p = r\"\\\";\n    |p\n}\n";
        assert_eq!(find(doc, "rust").unwrap().0.name.as_deref(), Some("b"));
    }

    #[test]
    fn raw_strings_are_told_from_the_quote() {
        assert_eq!(raw_string_start(b"r\"x\"", 1), Some(1));
        assert_eq!(raw_string_start(b"= r##\"", 5), Some(3));
        assert_eq!(raw_string_start(b"br\"", 2), None);
        assert_eq!(raw_string_start(b"for\"", 3), None);
        assert_eq!(raw_string_start(b"#\"", 1), None);
        assert_eq!(raw_string_start(b"\"", 0), None);
    }

    #[test]
    fn plain_bytes_are_skipped_up_to_the_next_lexed_one() {
        let text = b"let values = compute(x);";
        assert_eq!(skip_plain(text, 0), 20);
        assert_eq!(skip_plain(text, 21), 22);
        assert_eq!(skip_plain(b"abcdefghij", 3), 10);
        assert_eq!(skip_plain(b"", 0), 0);
    }

    #[test]
    fn unterminated_item_runs_to_window_end() {
        let (item, text) = find(
            "struct S;\n\npub(crate) async fn run() {\n    work().await;|\n    more",
            "rust",
        )
        .unwrap();
        assert_eq!(item.name.as_deref(), Some("run"));
        assert!(!item.complete);
        assert!(text.ends_with("more"));
        let (item, text) = find("pub struct Unit|;\n", "rust").unwrap();
        assert_eq!(
            (item.kind, text.as_str()),
            (ItemKind::Type, "pub struct Unit;")
        );
    }

    #[test]
    fn python_def_in_class() {
        let doc = "class A:\n    @staticmethod\n    def f(a,\n          b):\n        \"\"\"Doc.\n\nmore\n        \"\"\"\n        if a:\n            return |b\n        return a\n\n    def g(self):\n        pass\n";
        let (item, text) = find(doc, "python").unwrap();
        assert_eq!(item.kind, ItemKind::Function);
        assert_eq!(item.name.as_deref(), Some("f"));
        assert!(item.has_doc);
        let (a, b) = item.doc.unwrap();
        assert_eq!(
            &doc.replace('|', "")[a..b],
            "        \"\"\"Doc.\n\nmore\n        \"\"\"\n"
        );
        assert_eq!(item.indent, "    ");
        assert_eq!(item.body_indent.as_deref(), Some("        "));
        assert!(
            text.starts_with("    @staticmethod\n    def f(a,"),
            "{text}"
        );
        assert!(text.ends_with("        return a"), "{text}");
    }

    #[test]
    fn python_blank_lines_and_top_level() {
        let doc = "def a():\n    x = 1\n|\n    return x\n\ndef b():\n    pass\n";
        assert_eq!(find(doc, "python").unwrap().0.name.as_deref(), Some("a"));
        let doc = "def a():\n    x = 1\n|\ndef b():\n    pass\n";
        assert_eq!(find(doc, "python"), None);
        let doc = "import os\nx = |1\n";
        assert_eq!(find(doc, "python"), None);
        let doc = "async def fe|tch(url): return url\n";
        let (item, _) = find(doc, "python").unwrap();
        assert_eq!(item.body_line_start, None);
        assert!(!item.has_doc);
    }

    #[test]
    fn javascript_functions_methods_and_arrows() {
        let doc = "export class Cart {\n  /** Total. */\n  total(items) {\n    return items.reduce((a, b) => { return a + |b; }, 0);\n  }\n}\n";
        let (item, _) = find(doc, "javascript").unwrap();
        assert_eq!(item.name.as_deref(), Some("total"));
        assert!(item.has_doc);
        let doc = "const add = (a, b) => {\n  return a + b;|\n};\n";
        assert_eq!(
            find(doc, "typescript").unwrap().0.name.as_deref(),
            Some("add")
        );
        let doc = "if (x) {\n  y();|\n}\n";
        assert_eq!(find(doc, "javascript"), None);
        let doc = "const s = `${a}}`;\nexport default async function main() {\n  |\n}\n";
        assert_eq!(
            find(doc, "javascript").unwrap().0.name.as_deref(),
            Some("main")
        );
    }

    #[test]
    fn header_kinds_of_snippets() {
        assert_eq!(
            header_kind(
                Family::Rust,
                "/// Doc.\n#[inline]\npub fn f(x: u8) -> u8 {\n    x\n}"
            ),
            Some(ItemKind::Function)
        );
        assert_eq!(header_kind(Family::Rust, "let y = f(x);"), None);
        assert_eq!(
            header_kind(Family::Python, "@cache\ndef f(x):\n    return x"),
            Some(ItemKind::Function)
        );
        assert_eq!(header_kind(Family::Python, "y = f(x)"), None);
        assert_eq!(
            header_kind(Family::JavaScript, "function f(x) {\n  return x;\n}"),
            Some(ItemKind::Function)
        );
        assert_eq!(header_kind(Family::JavaScript, "const y = f(x);"), None);
        assert_eq!(
            header_kind(Family::CLike, "static int f(int x) {"),
            Some(ItemKind::Function)
        );
        assert_eq!(header_kind(Family::CLike, "int y = f(x);"), None);
    }

    #[test]
    fn doc_spans() {
        let span = |doc: &str, language: &str| {
            let (item, _) = find(doc, language).unwrap();
            let clean = doc.replace('|', "");
            (item.has_doc, item.doc.map(|(a, b)| clean[a..b].to_owned()))
        };
        // A plain comment between the doc and the item ends the doc block.
        assert_eq!(span("/// A.\n// note\nfn f() {|}\n", "rust"), (false, None));
        assert_eq!(span("/// A.\n\nfn f() {|}\n", "rust"), (false, None));
        assert_eq!(
            span("// x\n/// A.\n/// B.\nfn f() {|}\n", "rust"),
            (true, Some("/// A.\n/// B.\n".into()))
        );
        assert_eq!(span("#[doc = \"A.\"]\nfn f() {|}\n", "rust"), (true, None));
        assert_eq!(
            span("  /**\n   * A.\n   */\n  m() {|}\n", "typescript"),
            (true, Some("  /**\n   * A.\n   */\n".into()))
        );
        assert_eq!(
            span("def f():\n    'One.'  # c\n    |\n", "python"),
            (true, Some("    'One.'  # c\n".into()))
        );
        assert_eq!(
            span("def f():\n    \"\"\"A.\"\"\"; x = 1\n    |\n", "python"),
            (true, None)
        );
    }

    #[test]
    fn go_and_c_like() {
        let doc = "// Sum adds.\nfunc (s *Set) Sum(xs []int) int {\n\tfor _, x := range xs {\n\t\t|\n\t}\n}\n";
        let (item, _) = find(doc, "go").unwrap();
        assert_eq!(item.name.as_deref(), Some("Sum"));
        assert!(item.has_doc);
        let doc = "static int count(const char *s) {\n    while (*s) {|}\n}\n";
        assert_eq!(find(doc, "c").unwrap().0.name.as_deref(), Some("count"));
        let doc = "public class Main {\n    @Override\n    public String toString() {\n        return |\"\";\n    }\n}\n";
        let (item, text) = find(doc, "java").unwrap();
        assert_eq!(item.name.as_deref(), Some("toString"));
        assert!(text.starts_with("    @Override\n"));
        let doc = "int main() {\n    for (int i = 0; i < 3; i++) {\n        |\n    }\n}\n";
        assert_eq!(find(doc, "cpp").unwrap().0.name.as_deref(), Some("main"));
    }
}
