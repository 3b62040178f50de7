//! Completion: greedy decoding over the n-gram table.
//!
//! The last token of the prefix is treated as possibly unfinished (`self.ite`,
//! `String:`, a trailing space): the first prediction must start with it and
//! only the remainder is output. After that each step picks the most probable
//! next token, and generation stops as soon as the model is unsure, the line
//! (or block) ends, the text would run into what already follows the cursor,
//! or decoding starts to loop. Stopping early is deliberate: an empty answer
//! is better than invented text.
//!
//! Probabilities interpolate all context lengths Witten-Bell style: a context
//! is trusted in proportion to how often it was seen against how many
//! different tokens followed it. Measured on held-out files of three large
//! Rust crates, this beat stupid backoff on wrong characters shown at equal
//! useful ones, and its probabilities make meaningful thresholds.

use std::borrow::Cow;

use rustc_hash::FxHashMap;

use crate::members::Members;
use crate::ngram::{Successors, Table, context_keys};
use crate::tokenize::{self, Kind, Token, indent_width, is_emittable, newline_parts};
use crate::vocab::Vocab;
use crate::{Completion, CompletionRequest, StopReason};

/// Bytes of the prefix looked at: a few lines are plenty for a context of a
/// handful of tokens, and bounding it keeps a request on a 10 MB document as
/// cheap as on a small one.
const PREFIX_WINDOW: usize = 1024;
/// Bytes of the suffix looked at (only its first lines matter).
const SUFFIX_WINDOW: usize = 1024;
/// A next token less probable than this is a guess, and guesses are not
/// output. (Tuned on held-out code: precision against characters accepted.)
const MIN_PROBABILITY: f32 = 0.7;
/// A next token is proposed only after a context at least this long (or the
/// model's longest, if shorter) was seen before: shorter ones say too little,
/// whatever their counts.
const MIN_CONTEXT_SEEN: usize = 3;
/// The token finishing the one under the cursor must have at least this share
/// of the probability of all tokens that could finish it.
const MIN_FINISH_SHARE: f32 = 0.5;
/// Keys scanned when completing a partial word from word frequencies alone.
const UNIGRAM_SCAN: usize = 4096;
/// Shortest partial word completed from word frequencies alone: one letter
/// says too little about which word is meant.
const UNIGRAM_MIN_PARTIAL: usize = 2;
/// Share of the occurrences of all words with the typed beginning that the
/// proposed word must have, when no context helps.
const UNIGRAM_MIN_SHARE: f32 = 0.5;
/// Id given to prefix tokens the vocabulary does not know; matches no context.
const UNKNOWN: u32 = u32::MAX;
/// Ids from here up name words of the live text that the vocabulary does
/// not know (see [`Overlay`]).
pub(crate) const LOCAL_BASE: u32 = 0xc000_0000;
/// Bytes of the text before the cursor that count as the live document: the
/// model learns from them for this request (a cache component, as in Tu et
/// al. 2014) in place of the document's indexed copy.
pub(crate) const LIVE_WINDOW: usize = 4 * 1024;

/// The document being completed, as this request sees it: its indexed copy
/// (which may hold the unfinished word, or the text after the cursor) is
/// taken back, and the live text before the cursor is counted instead.
/// Nothing at or after the cursor ever teaches the model.
pub(crate) struct Overlay<'a> {
    /// Token ids of the indexed copy of the document (taken back).
    minus: &'a [u32],
    /// Token ids of the live text before the cursor, the token under the
    /// cursor excluded (added).
    pub(crate) plus: Vec<u32>,
    /// Words of the live text the vocabulary does not know.
    local: FxHashMap<String, u32>,
    local_keys: Vec<String>,
    /// Occurrence changes per id (the indexed copy out, the live text in).
    unigram: FxHashMap<u32, i64>,
}

impl<'a> Overlay<'a> {
    /// The overlay for a request whose live text before the cursor is
    /// `prefix`, on a document whose indexed copy is `minus` (empty when it
    /// is not indexed).
    pub(crate) fn new(vocab: &Vocab, minus: &'a [u32], prefix: &str) -> Self {
        let mut overlay = Overlay {
            minus,
            plus: Vec::new(),
            local: FxHashMap::default(),
            local_keys: Vec::new(),
            unigram: FxHashMap::default(),
        };
        let live = live_window(prefix);
        let mut tokens: Vec<Token<'_>> = tokenize::tokenize(live).collect();
        // The token under the cursor may be unfinished.
        tokens.pop();
        for t in &tokens {
            let key = tokenize::key(t);
            let id = match vocab.get(&key) {
                Some(id) => id,
                None => overlay.local_id(&key),
            };
            overlay.plus.push(id);
            *overlay.unigram.entry(id).or_default() += 1;
        }
        for &id in minus {
            *overlay.unigram.entry(id).or_default() -= 1;
        }
        overlay
    }

    fn local_id(&mut self, key: &str) -> u32 {
        if let Some(&id) = self.local.get(key) {
            return id;
        }
        let id = LOCAL_BASE + self.local_keys.len() as u32;
        self.local.insert(key.to_owned(), id);
        self.local_keys.push(key.to_owned());
        id
    }

    /// The indexed copy of the document (taken back).
    pub(crate) fn minus(&self) -> &'a [u32] {
        self.minus
    }

    /// Words of the live text unknown to the vocabulary, with their ids.
    pub(crate) fn local_words(&self) -> impl Iterator<Item = (&str, u32)> + '_ {
        self.local_keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_str(), LOCAL_BASE + i as u32))
    }
}

/// Successors of one context with the overlay applied.
#[derive(Default)]
pub(crate) struct Level {
    pub(crate) counts: Vec<(u32, u32)>,
    pub(crate) total: u32,
    distinct: u32,
}

impl Level {
    fn from_table(s: &Successors) -> Self {
        Level {
            counts: s.iter().collect(),
            total: s.total(),
            distinct: s.distinct(),
        }
    }

    fn adjust(&mut self, id: u32, add: bool) {
        let slot = self.counts.iter().position(|&(i, _)| i == id);
        if add {
            self.total = self.total.saturating_add(1);
            match slot {
                Some(i) => self.counts[i].1 += 1,
                None => {
                    self.counts.push((id, 1));
                    self.distinct += 1;
                }
            }
        } else {
            self.total = self.total.saturating_sub(1);
            if let Some(i) = slot {
                self.counts[i].1 -= 1;
                if self.counts[i].1 == 0 {
                    self.counts.swap_remove(i);
                    self.distinct = self.distinct.saturating_sub(1);
                }
            }
        }
    }

    pub(crate) fn count(&self, id: u32) -> u32 {
        self.counts
            .iter()
            .find(|&&(i, _)| i == id)
            .map_or(0, |&(_, c)| c)
    }
}

/// Read-only view of the model that answers requests.
pub(crate) struct Predictor<'m> {
    pub vocab: &'m Vocab,
    pub table: &'m Table,
    /// Longest context, in tokens (the model's order minus one).
    pub max_context: usize,
    /// Tokens indexed (for unigram probabilities).
    pub tokens: usize,
    /// The document being completed, live.
    pub overlay: Overlay<'m>,
    /// Members of receivers and types.
    pub members: &'m Members,
    /// File names by index (for details).
    pub names: &'m [Box<str>],
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

/// The most probable next token.
#[derive(Clone, Copy)]
struct Candidate {
    id: u32,
    /// Its probability.
    p: f32,
    /// Its probability as a share of all candidates'.
    share: f32,
    /// Longest context (in tokens) that was seen before.
    depth: usize,
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

        // Step 2..: predict whole tokens.
        let mut seen_states: Vec<(u64, usize)> = vec![(self.state(&ctx), out.text.len())];
        loop {
            if out.starts.len() >= req.max_tokens {
                return out.finish(StopReason::MaxTokens);
            }
            let Some(best) = self.best(&ctx, None) else {
                return out.end(mode, &fim);
            };
            let key = self.key(best.id);
            if best.p < MIN_PROBABILITY
                || best.depth < MIN_CONTEXT_SEEN.min(self.max_context)
                || !is_emittable(key)
            {
                return out.end(mode, &fim);
            }
            if key.starts_with('\n') {
                let (blank, indent) = newline_parts(key);
                match mode {
                    Mode::Line => return out.finish(StopReason::End),
                    Mode::Block { indent: start } => {
                        if blank || indent_width(indent) < start || out.last_line_is(&fim) {
                            return out.end(mode, &fim);
                        }
                    }
                }
            } else if fim.overlaps(key) {
                return out.end(mode, &fim);
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
                return out.end(mode, &fim);
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
            return self.known(partial).map(|id| (id, String::new()));
        }
        if let Some(best) = self.best(ctx, Some(partial)) {
            let key = self.key(best.id);
            if !is_emittable(key) || best.share < MIN_FINISH_SHARE {
                return None;
            }
            return Some((best.id, key[partial.len()..].to_owned()));
        }
        if let Some(found) = self.extend_word(last) {
            return Some(found);
        }
        // The token under the cursor is complete as typed, just never seen
        // after this context: carry on from it.
        let id = self.known(partial)?;
        Some((id, String::new()))
    }

    /// Id of a key the workspace (as this request sees it) holds.
    fn known(&self, key: &str) -> Option<u32> {
        self.vocab
            .get(key)
            .or_else(|| self.overlay.local.get(key).copied())
            .filter(|&id| self.count(id) > 0)
    }

    /// Completes a partial word from word frequencies alone, when no context
    /// proposes anything starting with it.
    fn extend_word(&self, last: &Token<'_>) -> Option<(u32, String)> {
        let core = last.core();
        if !matches!(last.kind, Kind::Word) || core.chars().count() < UNIGRAM_MIN_PARTIAL {
            return None;
        }
        // The same word is a different key with and without a leading space;
        // either spelling completes the typed text.
        let spaced = format!(" {core}");
        let mut best: Option<(u32, u64, &str)> = None;
        let mut total = 0u64;
        for prefix in [core, spaced.as_str()] {
            let live = self
                .overlay
                .local_words()
                .filter(|(k, _)| k.starts_with(prefix));
            for (key, id) in self.vocab.with_prefix(prefix, UNIGRAM_SCAN).chain(live) {
                let count = self.count(id);
                if !is_emittable(key) || count == 0 {
                    continue;
                }
                total += count;
                if best.is_none_or(|(_, c, _)| count > c) {
                    best = Some((id, count, &key[prefix.len()..]));
                }
            }
        }
        let (_, count, rest) = best?;
        if rest.is_empty() || (count as f32) < UNIGRAM_MIN_SHARE * total as f32 {
            return None;
        }
        // The continuation is the typed word plus `rest`, which is exactly a
        // key only in the spelling the prefix has.
        let id = self
            .known(&format!("{}{rest}", tokenize::key(last)))
            .unwrap_or(UNKNOWN);
        Some((id, rest.to_owned()))
    }

    /// Most probable next token after `ctx`, optionally only among keys
    /// starting with `constraint`. Candidates are the tracked successors of
    /// every context length; `None` when no context proposes one.
    fn best(&self, ctx: &[u32], constraint: Option<&str>) -> Option<Candidate> {
        let levels = self.levels(ctx);
        let mut ids: Vec<u32> = Vec::new();
        for level in &levels {
            for &(id, _) in &level.counts {
                let text = self.key(id);
                let allowed = !text.is_empty() && constraint.is_none_or(|p| text.starts_with(p));
                if allowed && !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        let mut best: Option<Candidate> = None;
        let mut sum = 0.0;
        for id in ids {
            let p = self.probability(id, &levels);
            sum += p;
            if best.is_none_or(|b| p > b.p || (p == b.p && id < b.id)) {
                best = Some(Candidate {
                    id,
                    p,
                    share: 0.0,
                    depth: levels.len(),
                });
            }
        }
        best.map(|b| Candidate {
            share: b.p / sum,
            ..b
        })
    }

    /// Witten-Bell interpolated probability of `id` after the contexts
    /// `levels` (shortest first), bottoming out at its overall frequency.
    pub(crate) fn probability(&self, id: u32, levels: &[Level]) -> f32 {
        let mut p = self.count(id) as f32 / self.total_tokens().max(1) as f32;
        for level in levels {
            let total = level.total as f32;
            let trust = total / (total + level.distinct.max(1) as f32);
            p = trust * level.count(id) as f32 / total + (1.0 - trust) * p;
        }
        p
    }

    pub(crate) fn id_of(&self, token: &Token<'_>) -> u32 {
        let key = tokenize::key(token);
        self.vocab
            .get(&key)
            .or_else(|| self.overlay.local.get(key.as_ref()).copied())
            .unwrap_or(UNKNOWN)
    }

    /// Text of `id`, a vocabulary or a live-text id.
    pub(crate) fn key(&self, id: u32) -> &str {
        if id >= LOCAL_BASE && id != UNKNOWN {
            return self
                .overlay
                .local_keys
                .get((id - LOCAL_BASE) as usize)
                .map_or("", String::as_str);
        }
        self.vocab.key(id)
    }

    /// Occurrences of `id` in the workspace as this request sees it.
    pub(crate) fn count(&self, id: u32) -> u64 {
        let base = if id >= LOCAL_BASE {
            0
        } else {
            i64::from(self.vocab.count(id))
        };
        let delta = self.overlay.unigram.get(&id).copied().unwrap_or(0);
        u64::try_from(base + delta).unwrap_or(0)
    }

    /// Tokens in the workspace as this request sees it.
    fn total_tokens(&self) -> usize {
        (self.tokens + self.overlay.plus.len()).saturating_sub(self.overlay.minus.len())
    }

    /// The successors of each context length ending `ctx` (shortest first),
    /// the overlay applied; stops at the first context never seen.
    pub(crate) fn levels(&self, ctx: &[u32]) -> Vec<Level> {
        let (keys, k_max) = context_keys(ctx, self.max_context);
        let mut levels: Vec<Level> = keys[..k_max]
            .iter()
            .map(|key| {
                self.table
                    .get(*key)
                    .map_or_else(Level::default, |s| Level::from_table(&s))
            })
            .collect();
        let tail = &ctx[ctx.len() - k_max..];
        for (ids, add) in [(self.overlay.minus, false), (&self.overlay.plus[..], true)] {
            for i in 1..ids.len() {
                let mut m = 0;
                while m < k_max && m < i && ids[i - 1 - m] == tail[k_max - 1 - m] {
                    m += 1;
                }
                for level in &mut levels[..m] {
                    level.adjust(ids[i], add);
                }
            }
        }
        let seen = levels.iter().take_while(|l| l.total > 0).count();
        levels.truncate(seen);
        levels
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

    /// Ends generation that stopped by itself. A multi-line answer loses a
    /// final line that duplicates the line after the cursor.
    fn end(mut self, mode: Mode, fim: &Suffix<'_>) -> Completion {
        if matches!(mode, Mode::Block { .. }) && self.last_line_is(fim) {
            let keep = self.text.rfind('\n').unwrap_or(0);
            self.text.truncate(keep);
        }
        self.finish(StopReason::End)
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

/// The last [`LIVE_WINDOW`] bytes of the prefix, from a line start when cut.
pub(crate) fn live_window(prefix: &str) -> &str {
    if prefix.len() <= LIVE_WINDOW {
        return prefix;
    }
    let mut start = prefix.len() - LIVE_WINDOW;
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
