//! Completion lists: a ranked list of whole words for the word at the cursor.
//!
//! Ghost text must be right or silent; a list only needs the right word near
//! the top, so it ranks every plausible word instead of stopping at the first
//! doubt. Four sources, each a distribution over the words that start with
//! what was typed, are mixed:
//!
//! - **members**, after `x.` (`x::`, `x->`): what followed `x.` in the
//!   workspace and in the live text, and what `x`'s apparent type defines
//!   (`self` → the enclosing `impl`/`class`; `x: T`, `let x = T::…`,
//!   `x = T(…)` in the live text; else the type named like `x`);
//! - **n-grams**: the model's interpolated next-token probability after the
//!   last few tokens;
//! - **the live document** (a cache: words nearer the cursor weigh more);
//! - **the vocabulary** (word frequency), the floor that keeps the list from
//!   being empty while any workspace word fits.
//!
//! Like generation, the list reads the document being completed only before
//! the cursor: its indexed copy is taken back (see
//! [`Overlay`](crate::predict::Overlay)).

use rustc_hash::FxHashMap;

use crate::members::{Member, Owner, is_word_key, name_hash, scan};
use crate::predict::Predictor;
use crate::tokenize::{self, Kind, Token, is_emittable};

/// Vocabulary keys scanned per spelling for the floor.
const FLOOR_SCAN: usize = 1024;
/// Bytes before the cursor read for the site and declarations (the live
/// document as a whole is the overlay's).
const SITE_WINDOW: usize = 2048;
/// Fewer when nothing was typed: any word fits, the others sources matter.
const FLOOR_SCAN_EMPTY: usize = 256;
/// Weight of a member the apparent type defines, against one occurrence
/// after the receiver.
const TYPE_MEMBER_WEIGHT: f32 = 2.0;
/// Mixture weights (members, n-grams, live document, vocabulary) after a
/// receiver and elsewhere. Tuned on held-out files of the benchmark corpora.
const MIX_MEMBER: [f32; 4] = [0.55, 0.2, 0.15, 0.1];
const MIX_PLAIN: [f32; 4] = [0.0, 0.45, 0.4, 0.15];

/// One proposal of a completion list.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// The whole word; it replaces the partial word before the cursor.
    pub text: String,
    /// Where it comes from, in a few words (for an editor's detail column).
    pub detail: String,
    /// Its score (a mixture of probabilities, in 0..=1).
    pub score: f32,
}

#[derive(Default)]
struct Evidence {
    /// Per source: members, n-grams, live document, vocabulary.
    raw: [f32; 4],
    detail: Option<String>,
    /// Which source wrote the detail (a stronger one replaces it).
    detail_rank: u8,
}

/// What the list is for.
struct Site<'p> {
    /// The partial word typed (may be empty).
    typed: &'p str,
    /// Token ids before the partial word.
    ctx: Vec<u32>,
    /// The receiver when the cursor follows `x.`.
    receiver: Option<&'p str>,
}

impl Predictor<'_> {
    /// Up to `limit` words for the cursor at the end of `prefix`, best first.
    pub(crate) fn candidates(&self, prefix: &str, limit: usize) -> Vec<Candidate> {
        let window = tail(prefix, SITE_WINDOW);
        let tokens: Vec<Token<'_>> = tokenize::tokenize(window).collect();
        let Some(site) = self.site(&tokens) else {
            return Vec::new();
        };
        let mut found: FxHashMap<String, Evidence> = FxHashMap::default();
        let fits = |key: &str| {
            let core = key.trim_start();
            is_word_key(core)
                && is_emittable(core)
                && core.starts_with(site.typed)
                && core != site.typed
        };
        if let Some(receiver) = site.receiver {
            self.member_evidence(receiver, &tokens, &fits, &mut found);
        }
        // N-grams.
        let levels = self.levels(&site.ctx);
        let last = site
            .ctx
            .last()
            .map(|&id| self.key(id).trim().to_owned())
            .unwrap_or_default();
        let mut seen = Vec::new();
        for level in &levels {
            for &(id, _) in &level.counts {
                let key = self.key(id);
                if fits(key) && !seen.contains(&id) {
                    seen.push(id);
                    let p = self.probability(id, &levels);
                    note(&mut found, key.trim_start(), 1, p, &last, 2);
                }
            }
        }
        // The live document, nearest first (its last token is the one under
        // the cursor, already left out of the overlay).
        let mut words = 0usize;
        for &id in self.overlay.plus.iter().rev() {
            let key = self.key(id);
            if !is_word_key(key) {
                continue;
            }
            words += 1;
            if fits(key) {
                let weight = 1.0 / (8.0 + words as f32);
                note(&mut found, key.trim_start(), 2, weight, "in this file", 1);
            }
        }
        // The vocabulary.
        let scan_limit = if site.typed.is_empty() {
            FLOOR_SCAN_EMPTY
        } else {
            FLOOR_SCAN
        };
        let spaced = format!(" {}", site.typed);
        for start in [site.typed, spaced.as_str()] {
            for (key, id) in self.vocab.with_prefix(start, scan_limit) {
                let count = self.count(id);
                if count > 0 && fits(key) {
                    let detail = "identifier in workspace";
                    note(&mut found, key.trim_start(), 3, count as f32, detail, 0);
                }
            }
        }

        let mix = if site.receiver.is_some() {
            MIX_MEMBER
        } else {
            MIX_PLAIN
        };
        let mut sums = [0f32; 4];
        for e in found.values() {
            for (s, r) in sums.iter_mut().zip(e.raw) {
                *s += r;
            }
        }
        let mut out: Vec<Candidate> = found
            .into_iter()
            .map(|(text, e)| {
                let score = (0..4)
                    .filter(|&i| sums[i] > 0.0)
                    .map(|i| mix[i] * e.raw[i] / sums[i])
                    .sum();
                Candidate {
                    text,
                    detail: e.detail.unwrap_or_default(),
                    score,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.text.cmp(&b.text))
        });
        out.truncate(limit);
        out
    }

    /// The partial word, the context before it and the receiver, if any;
    /// `None` inside a literal.
    fn site<'p>(&self, tokens: &[Token<'p>]) -> Option<Site<'p>> {
        let (typed, before) = match tokens.split_last() {
            Some((last, before)) if last.kind == Kind::Word => (last.core(), before),
            Some((last, _)) if last.kind == Kind::Str => return None,
            Some((last, before)) if last.kind == Kind::Space => ("", before),
            _ => ("", tokens),
        };
        let skip = before.len().saturating_sub(self.max_context);
        let ctx = before[skip..].iter().map(|t| self.id_of(t)).collect();
        let receiver = match before {
            [.., recv, sep]
                if recv.kind == Kind::Word
                    && sep.lead == 0
                    && matches!(sep.text, "." | "::" | "->" | "?.") =>
            {
                Some(recv.core())
            }
            _ => None,
        };
        Some(Site {
            typed,
            ctx,
            receiver,
        })
    }

    /// Members of `receiver`: after it in the workspace and the live text,
    /// and defined by its apparent type.
    fn member_evidence(
        &self,
        receiver: &str,
        tokens: &[Token<'_>],
        fits: &impl Fn(&str) -> bool,
        found: &mut FxHashMap<String, Evidence>,
    ) {
        let key = |id: u32| self.key(id);
        let live = &self.overlay.plus;
        // The live text: its receivers and types, and the enclosing type.
        let mut live_pairs: FxHashMap<(Owner, u32), u32> = FxHashMap::default();
        let enclosing = scan(live, key, |o, m| {
            *live_pairs.entry((o, m)).or_default() += 1
        });
        // The document's indexed copy: taken back.
        let mut own: FxHashMap<(Owner, u32), u32> = FxHashMap::default();
        scan(self.overlay.minus(), key, |o, m| {
            *own.entry((o, m)).or_default() += 1
        });
        let mut owners: Vec<(Owner, String)> = vec![(
            Owner::Receiver(name_hash(receiver)),
            format!("member of `{receiver}`"),
        )];
        for ty in apparent_types(receiver, tokens, enclosing.is_some()) {
            let owner = match (&ty, enclosing) {
                (Apparent::Enclosing, Some(h)) => Owner::Type(h),
                (Apparent::Enclosing, None) => continue,
                (Apparent::Named(name), _) => Owner::Type(name_hash(name)),
            };
            let what = match &ty {
                Apparent::Enclosing => "member of this type".to_owned(),
                Apparent::Named(name) => format!("member of `{name}`"),
            };
            if !owners.iter().any(|(o, _)| *o == owner) {
                owners.push((owner, what));
            }
        }
        for (owner, what) in owners {
            let weight = match owner {
                Owner::Receiver(_) => 1.0,
                Owner::Type(_) => TYPE_MEMBER_WEIGHT,
            };
            for &Member { id, count, file } in self.members.of(owner) {
                let count = count.saturating_sub(own.get(&(owner, id)).copied().unwrap_or(0));
                let key = self.key(id);
                if count == 0 || !fits(key) {
                    continue;
                }
                let in_file = self
                    .names
                    .get(file as usize)
                    .map(|n| n.rsplit('/').next().unwrap_or(n).to_owned());
                let detail = match in_file {
                    Some(name) => format!("{what} in {name}"),
                    None => what.clone(),
                };
                let w = weight * (1.0 + (count as f32).ln());
                note(found, key.trim_start(), 0, w, &detail, 3);
            }
            for (&(o, id), &count) in &live_pairs {
                let key = self.key(id);
                if o == owner && fits(key) {
                    let w = weight * (1.0 + (count as f32).ln());
                    note(
                        found,
                        key.trim_start(),
                        0,
                        w,
                        &format!("{what} in this file"),
                        3,
                    );
                }
            }
        }
    }
}

/// Adds evidence for `word` from source `source`; the detail of the
/// strongest source (`rank`) wins. An n-gram's detail is the token it
/// follows.
fn note(
    found: &mut FxHashMap<String, Evidence>,
    word: &str,
    source: usize,
    weight: f32,
    detail: &str,
    rank: u8,
) {
    let e = match found.get_mut(word) {
        Some(e) => e,
        None => found.entry(word.to_owned()).or_default(),
    };
    e.raw[source] += weight;
    if e.detail.is_none() || rank > e.detail_rank {
        e.detail = Some(match (source, detail) {
            (1, "") => "seen here in the workspace".to_owned(),
            (1, last) => format!("follows `{last}` in the workspace"),
            _ => detail.to_owned(),
        });
        e.detail_rank = rank;
    }
}

/// The last `max` bytes of `s`, from a line start when cut.
fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    if let Some(nl) = s[start..].find('\n') {
        start += nl;
    }
    &s[start..]
}

/// A type `x` may have.
enum Apparent {
    /// The type whose body the cursor is in (`x` is `self`).
    Enclosing,
    Named(String),
}

/// Types the receiver `x` may have, likeliest first: the enclosing type for
/// `self`/`this`; a declaration in the live text (`x: &mut T`, `let x =
/// T::…`, `x = T(…)`); the type named like it (`line_items` → `LineItems`).
fn apparent_types(receiver: &str, tokens: &[Token<'_>], in_type: bool) -> Vec<Apparent> {
    let mut out = Vec::new();
    if matches!(receiver, "self" | "this") {
        if in_type {
            out.push(Apparent::Enclosing);
        }
        return out;
    }
    let n = tokens.len();
    for i in (0..n.saturating_sub(2)).rev() {
        if tokens[i].kind != Kind::Word || tokens[i].core() != receiver {
            continue;
        }
        let mut j = i + 1;
        let declared = match tokens[j].core() {
            ":" => true,
            "=" => false,
            _ => continue,
        };
        j += 1;
        while j < n && matches!(tokens[j].core(), "&" | "mut" | "&&" | "*" | "'" | "dyn") {
            j += 1;
        }
        let Some(ty) = tokens.get(j).filter(|t| t.kind == Kind::Word) else {
            continue;
        };
        let name = ty.core();
        let capital = name.chars().next().is_some_and(char::is_uppercase);
        let constructed = tokens
            .get(j + 1)
            .is_some_and(|t| matches!(t.core(), "::" | "(" | "{"));
        if capital && (declared || constructed) {
            out.push(Apparent::Named(name.to_owned()));
            break;
        }
    }
    let camel: String = receiver
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect();
    if !camel.is_empty()
        && !out
            .iter()
            .any(|a| matches!(a, Apparent::Named(n) if *n == camel))
    {
        out.push(Apparent::Named(camel));
    }
    out
}
