//! Line and character arithmetic in Unicode scalar values, the coordinate
//! system of the WIT package, plus small text utilities.
//!
//! A [`Window`] joins a context's `prefix` and `suffix` and converts between
//! byte offsets in that text and document [`Position`]s. Lines are split on
//! `\n`; a `\r` before it belongs to the line's text, as in the document.
//! When `prefix` was truncated, the column at which it starts is unknown, so
//! positions on its first (partial) line are not computed ([`None`]).

use std::borrow::Cow;

use crate::{DocumentContext, Position, Range};

/// Number of Unicode scalar values in `s`, saturating at `u32::MAX`.
pub fn char_count(s: &str) -> u32 {
    u32::try_from(s.chars().count()).unwrap_or(u32::MAX)
}

/// The position reached after `text` is written starting at `start`.
pub fn advance(start: Position, text: &str) -> Position {
    match text.rfind('\n') {
        None => Position::new(start.line, start.character.saturating_add(char_count(text))),
        Some(last) => {
            let newlines = u32::try_from(memchr_count(text.as_bytes(), b'\n')).unwrap_or(u32::MAX);
            Position::new(
                start.line.saturating_add(newlines),
                char_count(&text[last + 1..]),
            )
        }
    }
}

/// Count of `needle` bytes in `hay`.
fn memchr_count(hay: &[u8], needle: u8) -> usize {
    hay.iter().filter(|&&b| b == needle).count()
}

/// The text after the last `\n` of `s` (all of `s` when it has none).
pub fn last_line(s: &str) -> &str {
    s.rfind('\n').map_or(s, |i| &s[i + 1..])
}

/// The text before the first `\n` of `s`, without a trailing `\r`.
pub fn first_line(s: &str) -> &str {
    let line = s.find('\n').map_or(s, |i| &s[..i]);
    line.strip_suffix('\r').unwrap_or(line)
}

/// The leading spaces and tabs of `line`.
pub fn indentation(line: &str) -> &str {
    let end = line.len() - line.trim_start_matches([' ', '\t']).len();
    &line[..end]
}

/// Visual width of the leading whitespace of `line`, tabs advancing to the
/// next multiple of 4.
pub fn indent_width(line: &str) -> usize {
    indentation(line)
        .chars()
        .fold(0, |w, c| if c == '\t' { (w / 4 + 1) * 4 } else { w + 1 })
}

/// True when `s` is empty or only whitespace.
pub fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// True for characters that may appear in an identifier in the languages
/// Cordon knows (`$` for JavaScript and PHP).
pub fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// The identifier characters at the end of `s`: the partial word before a
/// cursor.
pub fn trailing_word(s: &str) -> &str {
    let start = s
        .char_indices()
        .rev()
        .take_while(|&(_, c)| is_ident_char(c))
        .last()
        .map_or(s.len(), |(i, _)| i);
    &s[start..]
}

/// `"\r\n"` when any sample uses CRLF line endings, else `"\n"`.
pub fn line_ending(samples: &[&str]) -> &'static str {
    // A byte search first: `contains("\r\n")` is a two-way string search,
    // much slower in Wasm than this word-at-a-time `memchr`.
    let crlf = |s: &&str| s.as_bytes().contains(&b'\r') && s.contains("\r\n");
    if samples.iter().any(crlf) {
        "\r\n"
    } else {
        "\n"
    }
}

/// Converts every line ending of `s` (`\r\n` or `\n`) to `eol`.
pub fn with_line_ending(s: &str, eol: &str) -> String {
    let normalized = s.replace("\r\n", "\n");
    if eol == "\n" {
        normalized
    } else {
        normalized.replace('\n', eol)
    }
}

/// `s` cut to at most `max` characters; an ellipsis marks a cut.
pub fn truncate_chars(s: &str, max: usize) -> Cow<'_, str> {
    match s.char_indices().nth(max) {
        None => Cow::Borrowed(s),
        Some(_) => {
            let keep = max.saturating_sub(1);
            let end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
            Cow::Owned(format!("{}…", s[..end].trim_end()))
        }
    }
}

/// The largest char boundary of `s` that is `<= i`.
pub fn floor_char_boundary(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    let mut i = i;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The last at most `max_bytes` bytes of `s`, starting at a line start when
/// the cut falls inside a line (unless that would leave nothing).
pub fn tail_at_line_boundary(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut cut = s.len() - max_bytes;
    while !s.is_char_boundary(cut) {
        cut += 1;
    }
    match s[cut..].find('\n') {
        Some(i) if cut + i + 1 < s.len() => &s[cut + i + 1..],
        _ => &s[cut..],
    }
}

/// The first at most `max_bytes` bytes of `s`, ending after a line break
/// when the cut falls inside a line (unless that would leave nothing).
pub fn head_at_line_boundary(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let cut = floor_char_boundary(s, max_bytes);
    match s[..cut].rfind('\n') {
        Some(i) if i > 0 => &s[..i + 1],
        _ => &s[..cut],
    }
}

/// `code` with the indentation common to its non-blank lines removed. Blank
/// lines become empty.
pub fn dedent(code: &str) -> String {
    let common = code
        .lines()
        .filter(|l| !is_blank(l))
        .map(indentation)
        .reduce(|a, b| {
            let n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
            &a[..n]
        })
        .unwrap_or("");
    let mut out = String::with_capacity(code.len());
    for (i, line) in code.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if !is_blank(line) {
            out.push_str(line.strip_prefix(common).unwrap_or(line));
        } else if line.ends_with('\r') {
            out.push('\r');
        }
    }
    out
}

/// `code` dedented, then every non-blank line indented with `indent`; the
/// first line too only when `indent_first`.
pub fn reindent(code: &str, indent: &str, indent_first: bool) -> String {
    let dedented = dedent(code);
    let mut out = String::with_capacity(dedented.len() + indent.len() * 8);
    for (i, line) in dedented.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if !is_blank(line) && (i > 0 || indent_first) {
            out.push_str(indent);
        }
        out.push_str(line);
    }
    out
}

/// The prefix and suffix of a [`DocumentContext`] joined into one text, with
/// conversions between byte offsets in it and document positions.
#[derive(Debug, Clone)]
pub struct Window<'a> {
    text: Cow<'a, str>,
    cursor_offset: usize,
    cursor: Position,
    start_known: bool,
    end_known: bool,
}

impl<'a> Window<'a> {
    /// The window of `ctx`: `prefix` followed by `suffix`.
    pub fn new(ctx: &'a DocumentContext) -> Self {
        let text = if ctx.suffix.is_empty() {
            Cow::Borrowed(ctx.prefix.as_str())
        } else {
            let mut joined = String::with_capacity(ctx.prefix.len() + ctx.suffix.len());
            joined.push_str(&ctx.prefix);
            joined.push_str(&ctx.suffix);
            Cow::Owned(joined)
        };
        Self {
            text,
            cursor_offset: ctx.prefix.len(),
            cursor: ctx.cursor,
            start_known: !ctx.prefix_truncated,
            end_known: !ctx.suffix_truncated,
        }
    }

    /// The whole window text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Byte offset of the cursor in [`Window::text`] (the length of `prefix`).
    pub fn cursor_offset(&self) -> usize {
        self.cursor_offset
    }

    /// The cursor position.
    pub fn cursor(&self) -> Position {
        self.cursor
    }

    /// True when the window reaches the end of the document.
    pub fn end_known(&self) -> bool {
        self.end_known
    }

    /// Offset of the start of the line containing `offset` (0 when that is
    /// the first line of the window).
    pub fn line_start(&self, offset: usize) -> usize {
        self.text[..offset].rfind('\n').map_or(0, |i| i + 1)
    }

    /// Offset of the `\n` ending the line containing `offset`, or the end of
    /// the window.
    pub fn line_end(&self, offset: usize) -> usize {
        self.text[offset..]
            .find('\n')
            .map_or(self.text.len(), |i| offset + i)
    }

    /// The line containing `offset`, without its line break (and without a
    /// trailing `\r`).
    pub fn line_at(&self, offset: usize) -> &str {
        let line = &self.text[self.line_start(offset)..self.line_end(offset)];
        line.strip_suffix('\r').unwrap_or(line)
    }

    /// True when the line containing `offset` is known to start at column 0
    /// of the document (it is not the cut first line of a truncated prefix).
    pub fn line_start_known(&self, offset: usize) -> bool {
        self.start_known || self.text[..offset].contains('\n')
    }

    /// The document position of byte `offset` of the window, or `None` when
    /// it is not a char boundary, lies outside the window, or sits on the
    /// cut first line of a truncated prefix (its column is unknown).
    pub fn position(&self, offset: usize) -> Option<Position> {
        if offset > self.text.len() || !self.text.is_char_boundary(offset) {
            return None;
        }
        let c = self.cursor_offset;
        if offset <= c {
            let between = &self.text[offset..c];
            let newlines = memchr_count(between.as_bytes(), b'\n');
            if newlines == 0 {
                return Some(Position::new(
                    self.cursor.line,
                    self.cursor.character.checked_sub(char_count(between))?,
                ));
            }
            let line = self
                .cursor
                .line
                .checked_sub(u32::try_from(newlines).ok()?)?;
            let before = &self.text[..offset];
            match before.rfind('\n') {
                Some(i) => Some(Position::new(line, char_count(&before[i + 1..]))),
                None if self.start_known && line == 0 => Some(Position::new(0, char_count(before))),
                None => None,
            }
        } else {
            let between = &self.text[c..offset];
            match between.rfind('\n') {
                None => Some(Position::new(
                    self.cursor.line,
                    self.cursor.character.checked_add(char_count(between))?,
                )),
                Some(i) => {
                    let newlines = u32::try_from(memchr_count(between.as_bytes(), b'\n')).ok()?;
                    Some(Position::new(
                        self.cursor.line.checked_add(newlines)?,
                        char_count(&between[i + 1..]),
                    ))
                }
            }
        }
    }

    /// The byte offset in the window of document position `pos`, or `None`
    /// when it lies outside the window, past the end of its line, or on the
    /// cut first line of a truncated prefix before the window starts.
    pub fn offset(&self, pos: Position) -> Option<usize> {
        let text = self.text.as_bytes();
        // Find the start of pos.line in the window and the column it has.
        let (line_start, start_col) = if pos.line <= self.cursor.line {
            let mut back = self.cursor.line - pos.line;
            let mut i = self.cursor_offset;
            loop {
                match self.text[..i].rfind('\n') {
                    Some(nl) if back == 0 => break (nl + 1, 0),
                    Some(nl) => {
                        back -= 1;
                        i = nl;
                    }
                    None if back == 0 => {
                        // First line of the window.
                        let col = if pos.line == self.cursor.line {
                            self.cursor
                                .character
                                .checked_sub(char_count(&self.text[..self.cursor_offset]))?
                        } else if self.start_known && pos.line == 0 {
                            0
                        } else {
                            return None;
                        };
                        break (0, col);
                    }
                    None => return None,
                }
            }
        } else {
            let mut ahead = pos.line - self.cursor.line;
            let mut i = self.cursor_offset;
            while ahead > 0 {
                let nl = text[i..].iter().position(|&b| b == b'\n')?;
                i += nl + 1;
                ahead -= 1;
            }
            (i, 0)
        };
        // Known column of the line start may be > 0 only on the cursor line.
        let (mut offset, mut col) = (line_start, start_col);
        if pos.line == self.cursor.line && pos.character >= self.cursor.character {
            offset = self.cursor_offset;
            col = self.cursor.character;
        }
        if pos.character < col {
            return None;
        }
        let mut chars = self.text[offset..].char_indices();
        for _ in col..pos.character {
            match chars.next() {
                Some((_, '\n')) | None => return None,
                Some(_) => {}
            }
        }
        Some(chars.next().map_or(self.text.len(), |(i, _)| offset + i))
    }

    /// The range of window text `[start, end)`, if both ends have positions.
    pub fn range(&self, start: usize, end: usize) -> Option<Range> {
        Some(Range::new(self.position(start)?, self.position(end)?))
    }

    /// Up to `before` whole lines above the cursor line, the cursor line and
    /// up to `after` lines below it, as `(start offset, text)`. The first
    /// line of a truncated prefix is skipped, being partial.
    pub fn lines_around(&self, before: usize, after: usize) -> (usize, &str) {
        let mut start = self.line_start(self.cursor_offset);
        for _ in 0..before {
            if start == 0 {
                break;
            }
            start = self.line_start(start - 1);
        }
        if start == 0 && !self.start_known {
            // The cut first line of the window is partial: skip it.
            start = self
                .text
                .find('\n')
                .map_or(self.cursor_offset, |i| (i + 1).min(self.cursor_offset));
            start = self.line_start(start);
        }
        let mut end = self.line_end(self.cursor_offset);
        for _ in 0..after {
            if end >= self.text.len() {
                break;
            }
            end = self.line_end(end + 1);
        }
        (start, &self.text[start..end])
    }
}

/// What the context says about the selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection<'a> {
    /// No selection, or an empty one.
    None,
    /// A selection whose full text is known.
    Complete {
        /// The selected range, start before end.
        range: Range,
        /// Its text.
        text: Cow<'a, str>,
    },
    /// A selection whose text is unknown or was cut short by the host.
    Incomplete {
        /// The selected range, start before end.
        range: Range,
    },
}

/// The selection of `ctx` with its text: `selected_text` when it spans the
/// whole range, else the text recovered from the windows.
pub fn selection(ctx: &DocumentContext) -> Selection<'_> {
    let Some(range) = ctx.selection else {
        return Selection::None;
    };
    let range = if range.end < range.start {
        Range::new(range.end, range.start)
    } else {
        range
    };
    if range.is_empty() {
        return Selection::None;
    }
    // A `selected_text` that does not span the range was cut by the host
    // (or counts line breaks differently): try the windows instead.
    if let Some(text) = ctx.selected_text.as_deref()
        && advance(range.start, text) == range.end
    {
        return Selection::Complete {
            range,
            text: Cow::Borrowed(text),
        };
    }
    let window = Window::new(ctx);
    if let (Some(a), Some(b)) = (window.offset(range.start), window.offset(range.end))
        && a < b
    {
        let text = &window.text()[a..b];
        return Selection::Complete {
            range,
            text: Cow::Owned(text.to_owned()),
        };
    }
    Selection::Incomplete { range }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(prefix: &str, suffix: &str, cursor: Position) -> DocumentContext {
        DocumentContext {
            prefix: prefix.into(),
            suffix: suffix.into(),
            cursor,
            ..Default::default()
        }
    }

    #[test]
    fn advance_counts_scalar_values() {
        assert_eq!(advance(Position::new(2, 3), "héllo"), Position::new(2, 8));
        assert_eq!(advance(Position::new(2, 3), "a\nβγ"), Position::new(3, 2));
        assert_eq!(advance(Position::new(0, 0), "😀\n\n"), Position::new(2, 0));
    }

    #[test]
    fn window_positions_round_trip() {
        let c = ctx("fn é() {\n    lét x", " = 1;\n}\nnext", Position::new(1, 9));
        let w = Window::new(&c);
        for (offset, _) in w.text().char_indices() {
            let pos = w.position(offset).expect("position");
            assert_eq!(w.offset(pos), Some(offset), "offset {offset} pos {pos:?}");
        }
        assert_eq!(w.position(0), Some(Position::new(0, 0)));
        assert_eq!(w.position(w.cursor_offset()), Some(Position::new(1, 9)));
        let end = w.text().len();
        assert_eq!(w.position(end), Some(Position::new(3, 4)));
        assert_eq!(w.offset(Position::new(0, 50)), None);
        assert_eq!(w.offset(Position::new(9, 0)), None);
    }

    #[test]
    fn truncated_prefix_first_line_has_no_position() {
        let mut c = ctx("t_line();\nfn main() {\n    ", "\n}", Position::new(40, 4));
        c.prefix_truncated = true;
        let w = Window::new(&c);
        assert_eq!(w.position(0), None);
        assert_eq!(w.position(10), Some(Position::new(39, 0)));
        assert_eq!(w.offset(Position::new(38, 0)), None);
        assert_eq!(w.offset(Position::new(39, 3)), Some(13));
        // Same line as the cursor but no line break in the prefix: known from the cursor.
        let mut c = ctx("abc", "def", Position::new(7, 10));
        c.prefix_truncated = true;
        let w = Window::new(&c);
        assert_eq!(w.position(0), Some(Position::new(7, 7)));
        assert_eq!(w.offset(Position::new(7, 8)), Some(1));
        assert_eq!(w.offset(Position::new(7, 6)), None);
    }

    #[test]
    fn selection_from_text_or_windows() {
        let mut c = ctx("let a = ", "b + c;\n", Position::new(0, 8));
        c.selection = Some(Range::new(Position::new(0, 8), Position::new(0, 13)));
        assert!(matches!(selection(&c), Selection::Complete { text, .. } if text == "b + c"));
        c.selected_text = Some("b + c".into());
        assert!(matches!(selection(&c), Selection::Complete { text, .. } if text == "b + c"));
        c.selected_text = Some("b +".into());
        c.selection = Some(Range::new(Position::new(0, 8), Position::new(5, 0)));
        assert!(matches!(selection(&c), Selection::Incomplete { .. }));
        c.selection = Some(Range::new(Position::new(0, 8), Position::new(0, 8)));
        assert_eq!(selection(&c), Selection::None);
    }

    #[test]
    fn dedent_and_reindent() {
        assert_eq!(dedent("    a\n\n      b\n    c"), "a\n\n  b\nc");
        assert_eq!(reindent("a\n  b", "\t", true), "\ta\n\t  b");
        assert_eq!(reindent("  a\n    b", "    ", false), "a\n      b");
    }

    #[test]
    fn small_helpers() {
        assert_eq!(trailing_word("let válue"), "válue");
        assert_eq!(trailing_word("foo("), "");
        assert_eq!(indent_width("\t  x"), 6);
        assert_eq!(truncate_chars("abcdef", 4), "abc…");
        assert_eq!(truncate_chars("abc", 4), "abc");
        assert_eq!(tail_at_line_boundary("aaa\nbbb\nccc", 6), "ccc");
        assert_eq!(head_at_line_boundary("aaa\nbbb\nccc", 6), "aaa\n");
        assert_eq!(first_line("ab\r\ncd"), "ab");
        assert_eq!(with_line_ending("a\r\nb\nc", "\r\n"), "a\r\nb\r\nc");
    }
}
