//! Lossless, language-agnostic code tokenizer.
//!
//! Every byte of the input belongs to exactly one token, so concatenating the
//! tokens' `text` gives the input back. That is what lets generated tokens be
//! pasted into a document as they are, and lets the prefix of a request be cut
//! into the same units the model was trained on.
//!
//! Whitespace is not a token of its own in the middle of a line: a run of
//! spaces or tabs is glued to the token after it (`" foo"`, like GPT-style
//! vocabularies), which keeps a 3-token context from being half spaces. A
//! whitespace run that contains a line break is one token, indentation
//! included, so the model learns indentation.
//!
//! [`key`] maps a token to the string the model counts: the same for tokens
//! that differ only in ways the model should not learn (alignment spaces,
//! trailing spaces, `\r\n`), and a placeholder for long literals whose exact
//! text is never worth predicting.

use std::borrow::Cow;

/// What a token is; decides how [`key`] normalises it and how the predictor
/// treats it (line breaks end a line completion, placeholders are never
/// emitted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Identifier or keyword, possibly preceded by spaces.
    Word,
    /// Numeric literal, possibly preceded by spaces.
    Number,
    /// Quoted literal on one line (or running to the end of the input, which
    /// is where a cursor typing a string sits), possibly preceded by spaces.
    Str,
    /// Operator or any other single character, possibly preceded by spaces.
    Punct,
    /// Horizontal whitespace at the very end of the input (nothing to glue it to).
    Space,
    /// A whitespace run containing at least one line break, with the
    /// indentation of the line it leads to.
    Newline,
}

/// One token: a slice of the input and what it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    /// The exact input bytes of this token.
    pub text: &'a str,
    /// What the token is.
    pub kind: Kind,
    /// Byte length of the leading horizontal whitespace inside `text`
    /// (always 0 for `Space` and `Newline`).
    pub lead: usize,
}

impl<'a> Token<'a> {
    /// The token without its leading whitespace.
    pub(crate) fn core(&self) -> &'a str {
        &self.text[self.lead..]
    }
}

/// Multi-character operators, longest first so the first match wins.
const OPERATORS: &[&str] = &[
    "...", "..=", "<<=", ">>=", "===", "!==", "#![", "::", "->", "=>", "==", "!=", "<=", ">=",
    "&&", "||", "+=", "-=", "*=", "/=", "%=", "^=", "|=", "&=", "..", "//", "/*", "*/", "#[", "<-",
    ":=", "++", "--", "**", "??", "?.", "|>",
];

/// A literal longer than this (bytes, quotes included) becomes a placeholder
/// key: its text is specific to one place and predicting it would be noise.
const MAX_LITERAL_KEY: usize = 32;
/// Any other token core longer than this becomes a placeholder key (base64
/// blobs, generated identifiers).
const MAX_CORE_KEY: usize = 64;
/// Indentation longer than this is cut in the key (deeply nested generated
/// code would otherwise mint one vocabulary entry per depth).
const MAX_INDENT_KEY: usize = 80;

/// Marks keys that stand for text the model must never emit.
pub(crate) const PLACEHOLDER: char = '\u{1}';
const LONG_LITERAL: &str = "\u{1}str";
const LONG_LITERAL_LEAD: &str = " \u{1}str";
const LONG_TOKEN: &str = "\u{1}long";
const LONG_TOKEN_LEAD: &str = " \u{1}long";

/// Cuts `src` into tokens; see the module documentation.
pub(crate) fn tokenize(src: &str) -> Tokens<'_> {
    Tokens { src, pos: 0 }
}

/// Iterator returned by [`tokenize`].
pub(crate) struct Tokens<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let src = self.src;
        let start = self.pos;
        if start >= src.len() {
            return None;
        }
        let ws_end = scan_whitespace(src, start);
        let (kind, end, lead) = if ws_end > start {
            if src.as_bytes()[start..ws_end].contains(&b'\n') {
                (Kind::Newline, ws_end, 0)
            } else if ws_end == src.len() {
                (Kind::Space, ws_end, 0)
            } else {
                let (kind, end) = scan_core(src, ws_end);
                (kind, end, ws_end - start)
            }
        } else {
            let (kind, end) = scan_core(src, start);
            (kind, end, 0)
        };
        self.pos = end;
        Some(Token {
            text: &src[start..end],
            kind,
            lead,
        })
    }
}

/// End of the whitespace run starting at `i` (`i` itself if there is none).
fn scan_whitespace(src: &str, mut i: usize) -> usize {
    let bytes = src.as_bytes();
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
                i += 1;
                continue;
            }
            break;
        }
        match src[i..].chars().next() {
            Some(c) if c.is_whitespace() => i += c.len_utf8(),
            _ => break,
        }
    }
    i
}

fn is_word_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_word_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// Scans one non-whitespace token starting at `i` (which is not whitespace
/// and not the end). Always advances by at least one character.
fn scan_core(src: &str, i: usize) -> (Kind, usize) {
    let bytes = src.as_bytes();
    let b = bytes[i];
    if b.is_ascii_alphabetic() || b == b'_' || (b >= 0x80 && starts_word(src, i)) {
        return (Kind::Word, scan_word(src, i));
    }
    if b.is_ascii_digit() {
        return (Kind::Number, scan_number(bytes, i));
    }
    if b == b'"' || b == b'`' {
        return match scan_quoted(bytes, i) {
            Quoted::Closed(end) => (Kind::Str, end),
            // A cursor typing a string sits at the end of the prefix: keep
            // the open literal whole so it can be matched as a partial token.
            Quoted::Eof => (Kind::Str, bytes.len()),
            Quoted::Newline => (Kind::Punct, i + 1),
        };
    }
    if b == b'\'' {
        return match scan_single_quote(src, i) {
            Some(end) => (Kind::Str, end),
            None => (Kind::Punct, i + 1),
        };
    }
    // Most punctuation is one byte: compare the first byte before calling
    // into a slice comparison (this loop dominated tokenizing).
    for op in OPERATORS {
        let op = op.as_bytes();
        if op[0] == b && bytes.len() - i >= op.len() && bytes[i + 1..i + op.len()] == op[1..] {
            return (Kind::Punct, i + op.len());
        }
    }
    let len = src[i..].chars().next().map_or(1, char::len_utf8);
    (Kind::Punct, i + len)
}

fn starts_word(src: &str, i: usize) -> bool {
    src[i..].chars().next().is_some_and(is_word_start)
}

fn scan_word(src: &str, mut i: usize) -> usize {
    let bytes = src.as_bytes();
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            if b.is_ascii_alphanumeric() || b == b'_' {
                i += 1;
                continue;
            }
            break;
        }
        match src[i..].chars().next() {
            Some(c) if is_word_continue(c) => i += c.len_utf8(),
            _ => break,
        }
    }
    i
}

/// Digits, suffixes and hex letters (`0x1F`, `10u32`, `1_000`), and one
/// fractional part when a digit follows the dot (so `0..10` stays a range).
fn scan_number(bytes: &[u8], mut i: usize) -> usize {
    let alnum = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    while i < bytes.len() && alnum(bytes[i]) {
        i += 1;
    }
    if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
        i += 1;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
    }
    i
}

enum Quoted {
    /// Closing quote found; the end is just past it.
    Closed(usize),
    /// The line ended first.
    Newline,
    /// The input ended first, on the same line.
    Eof,
}

/// Scans a literal opened by the quote at `i`, honouring backslash escapes,
/// without crossing a line break.
fn scan_quoted(bytes: &[u8], i: usize) -> Quoted {
    let quote = bytes[i];
    let mut j = i + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' if bytes.get(j + 1) == Some(&b'\n') => return Quoted::Newline,
            b'\\' => j += 2,
            b'\n' => return Quoted::Newline,
            b if b == quote => return Quoted::Closed(j + 1),
            _ => j += 1,
        }
    }
    Quoted::Eof
}

/// A `'`-quoted literal (`'a'`, `'\n'`, Python/JS `'text'`), or `None` for a
/// lone quote. Rust lifetimes (`&'a str`, `<'a, 'b>`) must stay a lone quote
/// plus a word: a lifetime's "closing" quote is always followed by an
/// identifier character, which a real literal's never is.
fn scan_single_quote(src: &str, i: usize) -> Option<usize> {
    let bytes = src.as_bytes();
    let mut chars = src[i + 1..].chars();
    if let (Some(c), Some('\'')) = (chars.next(), chars.next())
        && c != '\\'
        && c != '\n'
    {
        return Some(i + 1 + c.len_utf8() + 1);
    }
    let Quoted::Closed(end) = scan_quoted(bytes, i) else {
        return None;
    };
    let next = src[end..].chars().next();
    if next.is_some_and(is_word_continue) {
        return None;
    }
    Some(end)
}

/// The string the model counts for `token`: see the module documentation.
pub(crate) fn key<'a>(token: &Token<'a>) -> Cow<'a, str> {
    match token.kind {
        Kind::Space => Cow::Borrowed(" "),
        Kind::Newline => newline_key(token.text),
        Kind::Word | Kind::Number | Kind::Str | Kind::Punct => {
            let core = token.core();
            let lead = token.lead > 0;
            let limit = if token.kind == Kind::Str {
                MAX_LITERAL_KEY
            } else {
                MAX_CORE_KEY
            };
            if core.len() > limit {
                let placeholder = match (token.kind == Kind::Str, lead) {
                    (true, false) => LONG_LITERAL,
                    (true, true) => LONG_LITERAL_LEAD,
                    (false, false) => LONG_TOKEN,
                    (false, true) => LONG_TOKEN_LEAD,
                };
                return Cow::Borrowed(placeholder);
            }
            match (lead, token.lead == 1 && token.text.starts_with(' ')) {
                (false, _) => Cow::Borrowed(core),
                (true, true) => Cow::Borrowed(token.text),
                (true, false) => {
                    let mut s = String::with_capacity(core.len() + 1);
                    s.push(' ');
                    s.push_str(core);
                    Cow::Owned(s)
                }
            }
        }
    }
}

/// `"\n"` or `"\n\n"` (any number of blank lines), then the indentation of
/// the last line (spaces and tabs only, capped).
fn newline_key(text: &str) -> Cow<'_, str> {
    let last_nl = text.rfind('\n').unwrap_or(0);
    let indent = &text[last_nl + 1..];
    let blank = text[..last_nl].contains('\n');
    let clean_indent = indent.bytes().all(|b| b == b' ' || b == b'\t');
    if !blank && clean_indent && last_nl == 0 && indent.len() <= MAX_INDENT_KEY {
        return Cow::Borrowed(text);
    }
    let mut s = String::with_capacity(2 + indent.len().min(MAX_INDENT_KEY));
    s.push('\n');
    if blank {
        s.push('\n');
    }
    for c in indent
        .chars()
        .filter(|c| *c == ' ' || *c == '\t')
        .take(MAX_INDENT_KEY)
    {
        s.push(c);
    }
    Cow::Owned(s)
}

/// Whether the model may emit this key as text.
pub(crate) fn is_emittable(key: &str) -> bool {
    !key.contains(PLACEHOLDER)
}

/// Width of an indentation string, counting a tab as four columns.
pub(crate) fn indent_width(indent: &str) -> usize {
    indent.chars().map(|c| if c == '\t' { 4 } else { 1 }).sum()
}

/// For a `Newline` key: the indentation after the last line break and whether
/// a blank line precedes it.
pub(crate) fn newline_parts(key: &str) -> (bool, &str) {
    let last_nl = key.rfind('\n').unwrap_or(0);
    (
        key[..last_nl].contains('\n'),
        &key[(last_nl + 1).min(key.len())..],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<&str> {
        tokenize(src).map(|t| t.text).collect()
    }

    fn keys(src: &str) -> Vec<String> {
        tokenize(src).map(|t| key(&t).into_owned()).collect()
    }

    #[test]
    fn splits_code_into_model_units() {
        assert_eq!(
            texts("let mut buf = String::new();"),
            [
                "let", " mut", " buf", " =", " String", "::", "new", "(", ")", ";"
            ]
        );
        assert_eq!(
            texts("fn f() {\n    x += 1.5;\n}\n"),
            [
                "fn", " f", "(", ")", " {", "\n    ", "x", " +=", " 1.5", ";", "\n", "}", "\n"
            ]
        );
        assert_eq!(texts("0..10"), ["0", "..", "10"]);
        assert_eq!(texts("a->b"), ["a", "->", "b"]);
    }

    #[test]
    fn literals_and_lifetimes() {
        assert_eq!(
            texts(r#"f("a\"b", 'c')"#),
            ["f", "(", r#""a\"b""#, ",", " 'c'", ")"]
        );
        assert_eq!(texts("&'a str"), ["&", "'", "a", " str"]);
        assert_eq!(texts("<'a, 'b>"), ["<", "'", "a", ",", " '", "b", ">"]);
        assert_eq!(texts("x = 'hi there'"), ["x", " =", " 'hi there'"]);
        // An open string at the end of input is one (partial) token...
        assert_eq!(texts(r#"f("abc"#), ["f", "(", r#""abc"#]);
        // ...but not across a line break.
        assert_eq!(texts("\"ab\ncd\""), ["\"", "ab", "\n", "cd", "\""]);
    }

    #[test]
    fn keys_normalise_whitespace_and_long_literals() {
        assert_eq!(
            keys("a  =\tb   \r\n\r\n  c"),
            ["a", " =", " b", "\n\n  ", "c"]
        );
        let long = format!("x = \"{}\"", "y".repeat(60));
        assert_eq!(keys(&long), ["x", " =", LONG_LITERAL_LEAD]);
        assert!(!is_emittable(LONG_LITERAL_LEAD));
        assert!(is_emittable(" ="));
    }

    #[test]
    fn unicode_words() {
        assert_eq!(
            texts("let café = naïve·x"),
            ["let", " café", " =", " naïve", "·", "x"]
        );
        assert_eq!(texts("名前 = 1"), ["名前", " =", " 1"]);
    }

    /// Small deterministic PRNG (xorshift64*), so the property test needs no
    /// dependency and every failure reproduces.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Code-ish and hostile characters: operators, quotes, escapes, every kind
    /// of whitespace, multi-byte letters, combining marks, emoji, controls.
    const ALPHABET: &[char] = &[
        'a', 'z', 'Q', '_', '0', '9', ' ', ' ', '\t', '\n', '\n', '\r', '\u{b}', '\u{c}', '"',
        '\'', '`', '\\', '.', ':', '=', '>', '<', '!', '&', '|', '+', '-', '*', '/', '#', '[', ']',
        '(', ')', '{', '}', ';', ',', '?', '%', '^', '~', '@', '$', 'é', 'ß', '名', '\u{301}',
        '\u{a0}', '\u{2028}', '\u{3000}', '😀', '\u{0}', '\u{1}', '\u{7f}', '\u{fffd}', '٣',
    ];

    fn random_text(rng: &mut Rng) -> String {
        let len = rng.below(120);
        (0..len)
            .map(|_| {
                if rng.below(8) == 0 {
                    // Any scalar value at all, now and then.
                    char::from_u32(rng.next() as u32 % 0x11_0000).unwrap_or('x')
                } else {
                    ALPHABET[rng.below(ALPHABET.len())]
                }
            })
            .collect()
    }

    #[test]
    fn round_trips_arbitrary_text() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for _ in 0..20_000 {
            let text = random_text(&mut rng);
            let tokens: Vec<Token<'_>> = tokenize(&text).collect();
            let joined: String = tokens.iter().map(|t| t.text).collect();
            assert_eq!(joined, text);
            for t in &tokens {
                assert!(!t.text.is_empty(), "empty token in {text:?}");
                assert!(
                    t.lead < t.text.len() || t.lead == 0,
                    "token is all lead in {text:?}"
                );
                let k = key(t);
                assert!(!k.is_empty(), "empty key in {text:?}");
                if t.kind == Kind::Newline {
                    assert!(k.starts_with('\n'));
                } else {
                    assert!(!k.contains('\n'), "line break inside {t:?}");
                }
            }
        }
    }
}
