//! Completion logic: prompt construction and post-processing.
//!
//! Two situations are told apart:
//!
//! - [`Mode::Line`]: the cursor is inside a line or after code on it.
//!   Only the rest of the line is proposed.
//! - [`Mode::Block`]: the cursor is on an empty or whitespace-only line,
//!   or after a block opener (`{`, or `:` in Python). Up to a block is
//!   proposed, ending at a blank line, at a line dedented below where the
//!   block started, or where the model starts repeating the next line of
//!   the document.
//!
//! In both, text at the end of the proposal that the document already has
//! after the cursor (a closing `)`, a `;`, a `}` line) is cut.
//!
//! One request ([`Model::fim_ranked`]) serves both ways an editor shows
//! completions: the model's one proposal comes first (ghost text shows it,
//! inserted at the cursor), then the model's ranked list of whole words for
//! the partial word before the cursor ([`word_items`]), each replacing that
//! partial word, with where it comes from as its detail. Ghost text leaves
//! those out (see `completion-item` in the WIT); a completion list shows
//! them all.

use cordon_plugin_sdk::item::Family;
use cordon_plugin_sdk::text::{
    first_line, head_at_line_boundary, indent_width, is_blank, is_ident_char, last_line,
    line_ending, tail_at_line_boundary, trailing_word, truncate_chars, with_line_ending,
};
use cordon_plugin_sdk::{
    Candidate, CompletionItem, DocumentContext, Error, FimRequest, Model, Position, Range,
    Response, StopReason,
};

/// Most bytes of `prefix` sent to the model (cut at a line start).
pub const PREFIX_BUDGET: usize = 8 * 1024;
/// Most bytes of `suffix` sent to the model (cut after a line end).
pub const SUFFIX_BUDGET: usize = 4 * 1024;
/// `max_tokens` when completing the rest of a line.
pub const LINE_MAX_TOKENS: u32 = 64;
/// `max_tokens` when completing a block.
pub const BLOCK_MAX_TOKENS: u32 = 128;
/// Most lines in a block proposal.
pub const MAX_BLOCK_LINES: usize = 24;
/// Most characters in a label.
pub const LABEL_MAX_CHARS: usize = 60;
/// Most bytes of the document after the cursor compared for overlap.
const OVERLAP_WINDOW: usize = 256;
/// Most words asked for the completion list.
pub const LIST_LIMIT: u32 = 10;

/// How much the plugin proposes at the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The rest of the current line.
    Line,
    /// Up to a block of lines.
    Block,
}

/// What the plugin makes of the cursor's surroundings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Situation<'a> {
    /// How much to propose.
    pub mode: Mode,
    /// Text of the cursor line before the cursor.
    pub line_before: &'a str,
    /// Text of the cursor line after the cursor.
    pub line_after: &'a str,
    /// Block mode: indentation width the block starts at.
    pub base_indent: usize,
    /// Block mode: the cursor follows a block opener, so the block's
    /// lines are indented deeper than `base_indent` and a closing line
    /// at `base_indent` ends it.
    pub after_opener: bool,
    /// The line after the cursor line, when it is not blank.
    pub next_line: Option<&'a str>,
}

/// Reads the situation at the cursor of `ctx`.
pub fn situation(ctx: &DocumentContext) -> Situation<'_> {
    let line_before = last_line(&ctx.prefix);
    let line_after = first_line(&ctx.suffix);
    let next_line = ctx
        .suffix
        .split('\n')
        .nth(1)
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .filter(|l| !is_blank(l));
    let python = Family::detect(&ctx.language_id, &ctx.path) == Family::Python;
    let code_before = line_before.trim_end();
    let opener = code_before.ends_with('{') || python && code_before.ends_with(':');
    let (mode, after_opener) = if is_blank(line_after) && is_blank(line_before) {
        (Mode::Block, false)
    } else if is_blank(line_after) && opener {
        (Mode::Block, true)
    } else {
        (Mode::Line, false)
    };
    Situation {
        mode,
        line_before,
        line_after,
        base_indent: indent_width(line_before),
        after_opener,
        next_line,
    }
}

/// The fill-in-the-middle request for the cursor of `ctx`.
pub fn fim_request(ctx: &DocumentContext) -> FimRequest {
    fim_request_for(ctx, &situation(ctx))
}

fn fim_request_for(ctx: &DocumentContext, s: &Situation<'_>) -> FimRequest {
    let (max_tokens, stop) = match s.mode {
        Mode::Line => (LINE_MAX_TOKENS, vec!["\n".to_owned()]),
        Mode::Block => {
            let mut stop = vec!["\n\n".to_owned()];
            // Stop where the model would start repeating the document's
            // next line, when that line closes or continues the block.
            if let Some(next) = s.next_line
                && indent_width(next) <= s.base_indent
            {
                stop.push(format!("\n{}", next.trim_end()));
            }
            (BLOCK_MAX_TOKENS, stop)
        }
    };
    FimRequest {
        prefix: tail_at_line_boundary(&ctx.prefix, PREFIX_BUDGET).to_owned(),
        suffix: head_at_line_boundary(&ctx.suffix, SUFFIX_BUDGET).to_owned(),
        language_id: ctx.language_id.clone(),
        path: ctx.path.clone(),
        max_tokens,
        stop,
    }
}

/// Proposals for the cursor of `ctx`, best first; errors of the model
/// are returned unchanged.
pub fn complete(
    ctx: &DocumentContext,
    model: &mut impl Model,
) -> Result<Vec<CompletionItem>, Error> {
    let s = situation(ctx);
    let request = fim_request_for(ctx, &s);
    let ranked = model.fim_ranked(&request, LIST_LIMIT)?;
    let mut out = items(ctx, &s, &ranked.response);
    let words = word_items(ctx, &s, &ranked.candidates, &ranked.response.backend);
    for item in words {
        // The proposal already inserts exactly this word: it says where the
        // word comes from.
        match out.iter_mut().find(|o| o.label == item.label) {
            Some(proposal) => proposal.detail = item.detail,
            None => out.push(item),
        }
    }
    Ok(out)
}

/// The completion list's words as items replacing the partial word before
/// the cursor: words that do not start with it, or only repeat it, are
/// dropped (a backend's answer is not trusted to fit).
pub fn word_items(
    ctx: &DocumentContext,
    s: &Situation<'_>,
    candidates: &[Candidate],
    backend: &str,
) -> Vec<CompletionItem> {
    let word = trailing_word(s.line_before);
    let typed = u32::try_from(word.chars().count()).unwrap_or(u32::MAX);
    let Some(start) = ctx.cursor.character.checked_sub(typed) else {
        return Vec::new();
    };
    let replace = Range::new(Position::new(ctx.cursor.line, start), ctx.cursor);
    let mut out: Vec<CompletionItem> = Vec::new();
    for c in candidates {
        let fits = c.text.starts_with(word)
            && c.text != word
            && !c.text.is_empty()
            && c.text.chars().all(is_ident_char)
            && c.text.chars().count() <= LABEL_MAX_CHARS;
        if !fits || out.iter().any(|o| o.label == c.text) {
            continue;
        }
        let detail = match (c.detail.is_empty(), backend.is_empty()) {
            (true, true) => None,
            (true, false) => Some(backend.to_owned()),
            (false, true) => Some(truncate_chars(&c.detail, LABEL_MAX_CHARS).into_owned()),
            (false, false) => Some(format!(
                "{} · {backend}",
                truncate_chars(&c.detail, LABEL_MAX_CHARS)
            )),
        };
        out.push(CompletionItem {
            label: c.text.clone(),
            insert_text: c.text.clone(),
            replace,
            detail,
        });
    }
    out
}

/// Shapes `response` into completion items for the situation `s` at the
/// cursor of `ctx`.
pub fn items(ctx: &DocumentContext, s: &Situation<'_>, response: &Response) -> Vec<CompletionItem> {
    let Some(text) = shape(ctx, s, &response.text, response.stop_reason) else {
        return Vec::new();
    };
    let eol = line_ending(&[
        last_line(&ctx.prefix),
        &ctx.suffix[..floor_boundary(&ctx.suffix, OVERLAP_WINDOW)],
    ]);
    let at = Range::empty(ctx.cursor);
    let word = trailing_word(s.line_before);
    let lines = text.split('\n').count();
    let source = (!response.backend.is_empty()).then_some(response.backend.as_str());
    let detail = |what: String| Some(source.map_or(what.clone(), |b| format!("{what} · {b}")));
    let main = CompletionItem {
        label: label(word, &text),
        insert_text: with_line_ending(&text, eol),
        replace: at,
        detail: if lines > 1 {
            detail(format!("{lines} lines"))
        } else {
            source.map(str::to_owned)
        },
    };
    let mut out = vec![main];
    let first = first_line(&text).trim_end();
    if lines > 1 && !is_blank(first) {
        out.push(CompletionItem {
            label: label(word, first),
            insert_text: first.to_owned(),
            replace: at,
            detail: detail("1 line".to_owned()),
        });
    }
    out
}

/// The partial word before the cursor and the first line of the
/// continuation (or its first non-blank line), trimmed and bounded.
fn label(word: &str, text: &str) -> String {
    let first = first_line(text);
    let label = if is_blank(first) {
        text.lines()
            .find(|l| !is_blank(l))
            .unwrap_or("")
            .trim()
            .to_owned()
    } else {
        format!("{word}{first}").trim().to_owned()
    };
    truncate_chars(&label, LABEL_MAX_CHARS).into_owned()
}

/// The continuation to insert, or `None` when nothing useful remains.
pub fn shape(
    ctx: &DocumentContext,
    s: &Situation<'_>,
    raw: &str,
    stop_reason: StopReason,
) -> Option<String> {
    let normalized = raw.replace("\r\n", "\n");
    let mut text = normalized.as_str();
    // On an empty line, blank lines the model starts with only push the
    // code away from the cursor.
    if s.mode == Mode::Block && !s.after_opener {
        while let Some((first, rest)) = text.split_once('\n')
            && is_blank(first)
        {
            text = rest;
        }
    }
    // Do not double the whitespace already typed before the cursor.
    if s.line_before.ends_with([' ', '\t']) {
        text = text.trim_start_matches([' ', '\t']);
    }
    let mut text = match s.mode {
        Mode::Line => first_line(text).to_owned(),
        Mode::Block => block(text, s, stop_reason),
    };
    let after = match s.mode {
        Mode::Line => s.line_after,
        Mode::Block => &ctx.suffix[..floor_boundary(&ctx.suffix, OVERLAP_WINDOW)],
    };
    let after = after.replace("\r\n", "\n");
    let keep = text.len() - overlap(&text, &after);
    text.truncate(keep);
    let text = text.trim_end();
    (!is_blank(text)).then(|| text.to_owned())
}

fn floor_boundary(s: &str, max: usize) -> usize {
    cordon_plugin_sdk::text::floor_char_boundary(s, max)
}

/// The lines of `text` that belong to the block started at the cursor.
fn block(text: &str, s: &Situation<'_>, stop_reason: StopReason) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut cut = false;
    for (i, line) in text.split('\n').enumerate() {
        if i == 0 {
            kept.push(line);
            continue;
        }
        if kept.len() >= MAX_BLOCK_LINES || is_blank(line) {
            cut = true;
            break;
        }
        if s.next_line.is_some_and(|next| next.trim() == line.trim()) {
            cut = true;
            break;
        }
        let width = indent_width(line);
        if s.after_opener && width <= s.base_indent {
            // The line closing the opened block ends it; anything else
            // at that level is past it.
            if width == s.base_indent && line.trim_start().starts_with(['}', ')', ']']) {
                kept.push(line);
            }
            cut = true;
            break;
        }
        if !s.after_opener && width < s.base_indent {
            cut = true;
            break;
        }
        kept.push(line);
    }
    if !cut && stop_reason == StopReason::MaxTokens && kept.len() > 1 {
        // The model was cut off: its last line is likely unfinished.
        kept.pop();
    }
    kept.join("\n")
}

/// Length of the longest tail of `text` that repeats the start of
/// `after` (the document after the cursor) and is safe to cut: it must
/// hold punctuation or be a word of 4+ characters, and it may only cut
/// closing brackets and quotes that `text` leaves unbalanced.
pub fn overlap(text: &str, after: &str) -> usize {
    let max = text.len().min(after.len());
    for k in (1..=max).rev() {
        if !after.is_char_boundary(k) || !text.is_char_boundary(text.len() - k) {
            continue;
        }
        let tail = &after[..k];
        if text.ends_with(tail) && safe_to_cut(&text[..text.len() - k], tail) {
            return k;
        }
    }
    0
}

fn safe_to_cut(kept: &str, tail: &str) -> bool {
    if is_blank(tail) {
        return false;
    }
    if tail.chars().all(|c| is_ident_char(c) || c.is_whitespace())
        && tail.trim().chars().count() < 4
    {
        return false;
    }
    let full = format!("{kept}{tail}");
    for (open, close) in [('(', ')'), ('[', ']'), ('{', '}')] {
        let closers = tail.matches(close).count();
        if closers == 0 {
            continue;
        }
        let excess = full
            .matches(close)
            .count()
            .saturating_sub(full.matches(open).count());
        if closers > excess {
            return false;
        }
    }
    for quote in ['"', '\'', '`'] {
        if tail.matches(quote).count() % 2 == 1 && full.matches(quote).count() % 2 == 0 {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests;
