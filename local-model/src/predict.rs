//! Completion: greedy decoding with stupid backoff over the n-gram table.
//!
//! The last token of the prefix is treated as possibly unfinished (`self.ite`,
//! `String:`, a trailing space): the first prediction must start with it and
//! only the remainder is output. After that each step picks the best next
//! token, preferring the longest context that has seen it, and generation
//! stops as soon as the model is unsure, the line (or block) ends, the text
//! would run into what already follows the cursor, or decoding starts to loop.
//! Stopping early is deliberate: an empty answer is better than invented text.

use std::borrow::Cow;

use crate::ngram::{Table, context_keys};
use crate::tokenize::{self, Kind, Token, indent_width, is_emittable, newline_parts};
use crate::vocab::Vocab;
use crate::{Completion, CompletionRequest, StopReason};

/// Bytes of the prefix looked at: a few lines are plenty for a context of a
/// handful of tokens, and bounding it keeps a request on a 10 MB document as
/// cheap as on a small one.
const PREFIX_WINDOW: usize = 1024;
/// Bytes of the suffix looked at (only its first lines matter).
const SUFFIX_WINDOW: usize = 1024;
/// Stupid-backoff discount per order given up.
const BACKOFF: f32 = 0.4;
/// Below this score the next token is a guess, and guesses are not output.
const MIN_SCORE: f32 = 0.3;
/// Keys scanned when completing a partial word from word frequencies alone.
const UNIGRAM_SCAN: usize = 4096;
/// Shortest partial word completed from word frequencies alone: one letter
/// says too little about which word is meant.
const UNIGRAM_MIN_PARTIAL: usize = 2;
/// Id given to prefix tokens the vocabulary does not know; matches no context.
const UNKNOWN: u32 = u32::MAX;

/// Read-only view of the model that answers requests.
pub(crate) struct Predictor<'m> {
    pub vocab: &'m Vocab,
    pub table: &'m Table,
    /// Longest context, in tokens (the model's order minus one).
    pub max_context: usize,
    /// Tokens indexed (for unigram probabilities).
    pub tokens: usize,
}

/// How far generation may go.
#[derive(Clone, Copy)]
enum Mode {
    /// The cursor line has code before the cursor: finish that line only.
    Line,
    /// The cursor is on a blank line: write lines at or below this indentation
    /// width, up to a blank line.
    Block { indent: usize },
}

/// One candidate next token.
#[derive(Clone, Copy)]
struct Candidate {
    id: u32,
    score: f32,
    /// Context length that proposed it.
    order: usize,
    count: u32,
    /// Its score as a share of all candidates' scores.
    share: f32,
}

impl Predictor<'_> {
    /// Answers one completion request.
    pub(crate) fn complete(&self, req: &CompletionRequest<'_>) -> Completion {
        let window = prefix_window(req.prefix);
        let tokens: Vec<Token<'_>> = tokenize::tokenize(window).collect();
        let suffix = head(req.suffix, SUFFIX_WINDOW);
        let input_tokens = tokens.len() + tokenize::tokenize(suffix).count();
        let mut out = Output::new(window.contains("\r\n"), req.stop, input_tokens);

        let Some((last, before)) = tokens.split_last() else {
            return out.finish(StopReason::End);
        };
        if req.max_tokens == 0 {
            return out.finish(StopReason::MaxTokens);
        }
        let current_line = &window[window.rfind('\n').map_or(0, |i| i + 1)..];
        let mode = if current_line.trim().is_empty() {
            Mode::Block {
                indent: indent_width(current_line),
            }
        } else {
            Mode::Line
        };
        let fim = Suffix::new(suffix);
        let in_comment = tuning::comment() && is_comment(current_line);

        let skip = before.len().saturating_sub(self.max_context);
        let mut ctx: Vec<u32> = before[skip..].iter().map(|t| self.id_of(t)).collect();

        // Step 1: finish the token under the cursor.
        let partial = tokenize::key(last);
        let (first, remainder) = match self.finish_partial(&ctx, last, &partial) {
            Some(found) => found,
            None => return out.finish(StopReason::End),
        };
        if !remainder.is_empty() {
            if fim.overlaps(&remainder) {
                return out.finish(StopReason::End);
            }
            if let Some(stop) = out.push(&remainder) {
                return out.finish(stop);
            }
        }
        ctx.push(first);
        if in_comment {
            return out.finish(StopReason::End);
        }

        // Step 2..: predict whole tokens.
        let mut seen_states: Vec<(u64, usize)> = vec![(self.state(&ctx), out.text.len())];
        let mut cum = 1.0f32;
        loop {
            if out.starts.len() >= req.max_tokens {
                return out.finish(StopReason::MaxTokens);
            }
            let Some(best) = self.best(&ctx, None) else {
                return out.finish_block(&fim, StopReason::End);
            };
            let key = self.vocab.key(best.id);
            cum *= best.score;
            if best.score < tuning::min_score() || cum < tuning::cum() || !is_emittable(key) {
                return out.finish_block(&fim, StopReason::End);
            }
            if key.starts_with('\n') {
                let (blank, indent) = newline_parts(key);
                match mode {
                    Mode::Line => return out.finish(StopReason::End),
                    Mode::Block { indent: start } => {
                        if blank || indent_width(indent) < start || out.last_line_is(&fim) {
                            return out.finish_block(&fim, StopReason::End);
                        }
                    }
                }
            } else if fim.overlaps(key) {
                return out.finish_block(&fim, StopReason::End);
            }
            if let Some(stop) = out.push(key) {
                return out.finish(stop);
            }
            ctx.push(best.id);
            if ctx.len() > self.max_context {
                ctx.remove(0);
            }
            // Greedy decoding depends only on the last few tokens: a context
            // seen before means an endless loop from here, so keep the text up
            // to the first time it was seen and stop.
            let state = self.state(&ctx);
            if let Some(&(_, len)) = seen_states.iter().find(|(s, _)| *s == state) {
                out.text.truncate(len);
                return out.finish_block(&fim, StopReason::End);
            }
            seen_states.push((state, out.text.len()));
        }
    }

    /// The token that completes `partial` (the last token of the prefix) and
    /// the text it adds; `None` when nothing sensible does.
    fn finish_partial(
        &self,
        ctx: &[u32],
        last: &Token<'_>,
        partial: &str,
    ) -> Option<(u32, String)> {
        // A line break with indentation is complete as typed: the editor (or
        // the user) chose the indentation, and deepening it is never wanted.
        if last.kind == Kind::Newline {
            return self.vocab.get(partial).map(|id| (id, String::new()));
        }
        if let Some(best) = self.best(ctx, Some(partial)) {
            let key = self.vocab.key(best.id);
            if !is_emittable(key) || best.share < tuning::first() {
                return None;
            }
            return Some((best.id, key[partial.len()..].to_owned()));
        }
        if let Some(found) = self.extend_word(last) {
            return Some(found);
        }
        // The token under the cursor is complete as typed, just never seen
        // after this context: carry on from it.
        let id = self.vocab.get(partial)?;
        Some((id, String::new()))
    }

    /// Completes a partial word from word frequencies alone, when no context
    /// proposes anything starting with it.
    fn extend_word(&self, last: &Token<'_>) -> Option<(u32, String)> {
        let core = last.core();
        if !matches!(last.kind, Kind::Word) || core.chars().count() < tuning::uni_min() {
            return None;
        }
        // The same word is a different key with and without a leading space;
        // either spelling completes the typed text.
        let spaced = format!(" {core}");
        let mut best: Option<(u32, u32, &str)> = None;
        let mut total = 0u64;
        for prefix in [core, spaced.as_str()] {
            for (key, id) in self.vocab.with_prefix(prefix, UNIGRAM_SCAN) {
                let count = self.vocab.count(id);
                if !is_emittable(key) {
                    continue;
                }
                total += u64::from(count);
                if best.is_none_or(|(_, c, _)| count > c) {
                    best = Some((id, count, &key[prefix.len()..]));
                }
            }
        }
        let (_, count, rest) = best?;
        if rest.is_empty() || (count as f32) < tuning::uni_share() * total as f32 {
            return None;
        }
        // The continuation is the typed word plus `rest`, which is exactly a
        // key only in the spelling the prefix has.
        let id = self
            .vocab
            .get(&format!("{}{rest}", tokenize::key(last)))
            .unwrap_or(UNKNOWN);
        Some((id, rest.to_owned()))
    }

    /// Best next token after `ctx`, optionally only among keys starting with
    /// `constraint`.
    fn best(&self, ctx: &[u32], constraint: Option<&str>) -> Option<Candidate> {
        if std::env::var("LM_WB").is_ok() {
            return self.best_wb(ctx, constraint);
        }
        let (keys, k_max) = context_keys(ctx, self.max_context);
        let mut found: Vec<Candidate> = Vec::new();
        for k in (1..=k_max).rev() {
            let Some(successors) = self.table.get(keys[k - 1]) else {
                continue;
            };
            let matches = |id: u32| {
                let key = self.vocab.key(id);
                !key.is_empty() && constraint.is_none_or(|p| key.starts_with(p))
            };
            // Under a constraint, score among the keys it allows: a typed
            // prefix is evidence in itself.
            let denominator = match constraint {
                _ if std::env::var("LM_COND").is_err() => successors.total(),
                None => successors.total(),
                Some(_) => successors
                    .iter()
                    .filter(|&(id, _)| matches(id))
                    .map(|(_, c)| c)
                    .sum(),
            };
            if denominator == 0 {
                continue;
            }
            // Discounted from the model's full order, not from what this
            // prefix offers: a context of one token after an empty prefix is
            // weak evidence however peaked its counts are.
            let weight = tuning::backoff().powi((self.max_context - k) as i32);
            for (id, count) in successors.iter() {
                if matches(id) && !found.iter().any(|c| c.id == id) {
                    let score = weight * count as f32 / denominator as f32;
                    found.push(Candidate {
                        id,
                        score,
                        order: k,
                        count,
                        share: 0.0,
                    });
                }
            }
        }
        let sum: f32 = found.iter().map(|c| c.score).sum();
        found.into_iter().max_by(|a, b| {
            a.score
                .total_cmp(&b.score)
                .then(a.order.cmp(&b.order))
                .then(a.count.cmp(&b.count))
                .then(b.id.cmp(&a.id))
        }).map(|c| Candidate { share: c.score / sum, ..c })
    }

    fn best_wb(&self, ctx: &[u32], constraint: Option<&str>) -> Option<Candidate> {
        let (keys, k_max) = context_keys(ctx, self.max_context);
        let levels: Vec<(usize, crate::ngram::Successors)> =
            (1..=k_max).filter_map(|k| self.table.get(keys[k - 1]).map(|s| (k, s))).collect();
        let matches = |id: u32| {
            let key = self.vocab.key(id);
            !key.is_empty() && constraint.is_none_or(|p| key.starts_with(p))
        };
        let mut ids: Vec<u32> = Vec::new();
        for (_, s) in &levels {
            for (id, _) in s.iter() {
                if matches(id) && !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        let n = self.tokens.max(1) as f32;
        let mut best: Option<Candidate> = None;
        let mut sum = 0.0;
        for id in ids {
            let mut p = self.vocab.count(id) as f32 / n;
            let mut order = 0;
            for (k, s) in &levels {
                let total = s.total() as f32;
                let lambda = total / (total + s.distinct().max(1) as f32);
                let c = s.count(id);
                if c > 0 {
                    order = *k;
                }
                p = lambda * c as f32 / total + (1.0 - lambda) * p;
            }
            sum += p;
            let cand = Candidate { id, score: p, order, count: 0, share: 0.0 };
            if best.is_none_or(|b| (cand.score, cand.order, std::cmp::Reverse(id)) > (b.score, b.order, std::cmp::Reverse(b.id))) {
                best = Some(cand);
            }
        }
        best.map(|c| Candidate { share: c.score / sum, ..c })
    }

    fn id_of(&self, token: &Token<'_>) -> u32 {
        self.vocab.get(&tokenize::key(token)).unwrap_or(UNKNOWN)
    }

    /// Identity of the decoder's state: the context it predicts from.
    fn state(&self, ctx: &[u32]) -> u64 {
        let (keys, k) = context_keys(ctx, self.max_context);
        if k == 0 { 0 } else { keys[k - 1] }
    }
}

/// What follows the cursor, as far as stopping is concerned.
struct Suffix<'a> {
    /// Rest of the cursor line, leading spaces dropped.
    line: &'a str,
    /// First non-blank line after the cursor, trimmed (the line itself if it
    /// has text).
    next_line: &'a str,
}

impl<'a> Suffix<'a> {
    fn new(suffix: &'a str) -> Self {
        let line = suffix.split('\n').next().unwrap_or("").trim_start();
        let next_line = suffix
            .split('\n')
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        Suffix { line, next_line }
    }

    /// Whether emitting `text` would start re-typing what is already after
    /// the cursor on this line.
    fn overlaps(&self, text: &str) -> bool {
        let text = text.trim_start();
        !text.is_empty() && !self.line.is_empty() && self.line.starts_with(text)
    }
}

/// Text generated so far, with the checks that look at it as a whole.
struct Output<'s> {
    text: String,
    /// Where each generated token starts in `text`; truncating the text
    /// un-generates the tokens that start past its end.
    starts: Vec<usize>,
    crlf: bool,
    stop: &'s [String],
    input_tokens: usize,
}

impl<'s> Output<'s> {
    fn new(crlf: bool, stop: &'s [String], input_tokens: usize) -> Self {
        Output {
            text: String::new(),
            starts: Vec::new(),
            crlf,
            stop,
            input_tokens,
        }
    }

    /// Appends one token's text; returns `StopSequence` (after cutting the
    /// text before it) when a stop sequence now appears.
    fn push(&mut self, key: &str) -> Option<StopReason> {
        let before = self.text.len();
        let piece: Cow<'_, str> = if self.crlf && key.contains('\n') {
            Cow::Owned(key.replace('\n', "\r\n"))
        } else {
            Cow::Borrowed(key)
        };
        self.starts.push(before);
        self.text.push_str(&piece);
        let mut cut: Option<usize> = None;
        for stop in self.stop.iter().filter(|s| !s.is_empty()) {
            // Only a match that involves the new text can be new.
            let mut from = before.saturating_sub(stop.len() - 1);
            while !self.text.is_char_boundary(from) {
                from -= 1;
            }
            if let Some(i) = self.text[from..].find(stop.as_str()) {
                cut = Some(cut.map_or(from + i, |c| c.min(from + i)));
            }
        }
        let at = cut?;
        self.text.truncate(at);
        Some(StopReason::StopSequence)
    }

    /// Whether the line just written is the line that follows the cursor
    /// anyway (filling in the middle must not duplicate it).
    fn last_line_is(&self, fim: &Suffix<'_>) -> bool {
        let last = self.text.rsplit('\n').next().unwrap_or("").trim();
        !last.is_empty() && last == fim.next_line
    }

    /// Ends a multi-line answer: drops a final line that duplicates the line
    /// after the cursor and any dangling line break.
    fn finish_block(mut self, fim: &Suffix<'_>, reason: StopReason) -> Completion {
        if self.last_line_is(fim) {
            let keep = self.text.rfind('\n').unwrap_or(0);
            self.text.truncate(keep);
        }
        self.finish(reason)
    }

    fn finish(mut self, stopped_by: StopReason) -> Completion {
        // A trailing line break with indentation only would leave the cursor
        // on an empty line; the editor adds that itself when wanted.
        let trimmed = self.text.trim_end_matches([' ', '\t', '\r', '\n']).len();
        if trimmed < self.text.len() && self.text[trimmed..].contains('\n') {
            self.text.truncate(trimmed);
        }
        let len = self.text.len();
        let tokens = self.starts.iter().filter(|&&start| start < len).count();
        Completion {
            text: self.text,
            tokens,
            stopped_by,
            input_tokens: self.input_tokens,
        }
    }
}

/// The last `PREFIX_WINDOW` bytes of the prefix, starting at a line break when
/// cut, so the first token is whole.
fn prefix_window(prefix: &str) -> &str {
    if prefix.len() <= PREFIX_WINDOW {
        return prefix;
    }
    let mut start = prefix.len() - PREFIX_WINDOW;
    while !prefix.is_char_boundary(start) {
        start += 1;
    }
    if let Some(nl) = prefix[start..].find('\n') {
        start += nl;
    }
    &prefix[start..]
}

/// The first `max` bytes of `s`, cut at a character boundary.
fn head(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

mod tuning {
    pub fn uni_min() -> usize { std::env::var("LM_UNI_MIN").ok().and_then(|v| v.parse().ok()).unwrap_or(2) }
    pub fn uni_share() -> f32 { std::env::var("LM_UNI_SHARE").ok().and_then(|v| v.parse().ok()).unwrap_or(0.0) }
    pub fn comment() -> bool { std::env::var("LM_COMMENT").is_ok() }
    pub fn first() -> f32 { std::env::var("LM_FIRST").ok().and_then(|v| v.parse().ok()).unwrap_or(0.0) }
    pub fn cum() -> f32 { std::env::var("LM_CUM").ok().and_then(|v| v.parse().ok()).unwrap_or(0.0) }
    pub fn backoff() -> f32 {
        std::env::var("LM_BACKOFF")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(super::BACKOFF)
    }
    pub fn min_score() -> f32 {
        std::env::var("LM_MIN")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(super::MIN_SCORE)
    }
}

/// Whether the cursor line is (or ends in) a comment: prose, where the model
/// is good at finishing a word and poor at guessing the next ones.
fn is_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("//")
        || t.starts_with("/*")
        || t.starts_with("* ")
        || t == "*"
        || t.starts_with("# ")
        || t == "#"
        || t.starts_with("-- ")
        || t.starts_with("<!--")
        || line.contains(" // ")
}
