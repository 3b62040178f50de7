//! Held-out figures of the local model, for `bench/run.py` (section `local`)
//! and BENCHMARKS.md: completion lists and ghost text against Vim-style word
//! completion, plus indexing speed, memory and answer latency.
//!
//! ```sh
//! cargo run --release -p cordon-local-model --example figures -- [--samples N] [--json] DIR...
//! ```
//!
//! Each DIR is one corpus: its `.rs` and `.py` files (sorted, recursively;
//! `DIR/*` for the files directly in DIR),
//! split by `crc32(relative path) % 10 == 0` into held-out (10 %) and
//! training (90 %) files. The model indexes the training files with the
//! host's bounds; positions are sampled at identifier starts in held-out
//! files (keywords, comments and literals skipped), with 0–3 of the
//! identifier's characters typed. The document being completed is the text
//! before the cursor plus the lines after the cursor's line (a line being
//! written in the middle of a file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use cordon_local_model::{CompletionRequest, LocalModel, ModelConfig};

/// The host's bounds (`host/src/backends/local.rs`).
fn host_config() -> ModelConfig {
    ModelConfig {
        max_contexts: 300_000,
        ..ModelConfig::default()
    }
}

const LIST: usize = 10;
const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while",
];
const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield", "self",
];

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn files_under(dir: &Path, recursive: bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || name == "target" || name == "__pycache__" {
            continue;
        }
        if p.is_dir() {
            if recursive {
                files_under(&p, true, out);
            }
        } else if name.ends_with(".rs") || name.ends_with(".py") {
            out.push(p);
        }
    }
}

fn is_start(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphabetic()
}
fn is_cont(c: u8) -> bool {
    c == b'_' || c.is_ascii_alphanumeric()
}

/// Identifiers (start byte, text) of `text` outside comments and literals.
fn identifiers(text: &str, python: bool) -> Vec<(usize, &str)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_triple: Option<&[u8]> = None;
    let mut block_comment = false;
    while i < b.len() {
        if let Some(q) = in_triple {
            if b[i..].starts_with(q) {
                in_triple = None;
                i += 3;
            } else {
                i += 1;
            }
            continue;
        }
        if block_comment {
            if b[i..].starts_with(b"*/") {
                block_comment = false;
                i += 2;
            } else {
                i += 1;
            }
            continue;
        }
        let c = b[i];
        if python && (b[i..].starts_with(b"\"\"\"") || b[i..].starts_with(b"'''")) {
            in_triple = Some(&b[i..i + 3]);
            i += 3;
            continue;
        }
        if (python && c == b'#') || (!python && b[i..].starts_with(b"//")) {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if !python && b[i..].starts_with(b"/*") {
            block_comment = true;
            i += 2;
            continue;
        }
        if c == b'"' || (python && c == b'\'') {
            i += 1;
            while i < b.len() && b[i] != c && b[i] != b'\n' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        if is_start(c) && (i == 0 || !is_cont(b[i - 1])) {
            let s = i;
            while i < b.len() && is_cont(b[i]) {
                i += 1;
            }
            // `r"..."`, `b'..'` and friends are literals, not words.
            if i < b.len() && (b[i] == b'"' || (python && b[i] == b'\'')) && i - s <= 2 {
                continue;
            }
            out.push((s, &text[s..i]));
            continue;
        }
        i += 1;
    }
    out
}

#[derive(Default, Clone)]
struct Tally {
    n: usize,
    top1: usize,
    top5: usize,
    top10: usize,
}

impl Tally {
    fn add(&mut self, rank: Option<usize>) {
        self.n += 1;
        if let Some(r) = rank {
            self.top1 += usize::from(r < 1);
            self.top5 += usize::from(r < 5);
            self.top10 += usize::from(r < 10);
        }
    }
    fn json(&self) -> String {
        let pct = |k: usize| 100.0 * k as f64 / self.n.max(1) as f64;
        format!(
            "{{\"n\": {}, \"top1\": {:.2}, \"top5\": {:.2}, \"top10\": {:.2}}}",
            self.n,
            pct(self.top1),
            pct(self.top5),
            pct(self.top10)
        )
    }
}

#[derive(Default)]
struct Keys {
    chars: usize,
    strokes: usize,
}

impl Keys {
    /// Typing an identifier of `len` characters with `typed` typed, then
    /// `accept` keys inserting `covered` more characters.
    fn add(&mut self, len: usize, typed: usize, accept: usize, covered: usize) {
        self.chars += len;
        self.strokes += typed + accept + (len - typed - covered);
    }
    fn per_stroke(&self) -> f64 {
        self.chars as f64 / self.strokes.max(1) as f64
    }
}

fn pct_of(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn corpus(arg: &str, samples: usize) -> String {
    // `DIR/*`: the files directly in DIR only.
    let (dir, recursive) = match arg.strip_suffix("/*") {
        Some(d) => (Path::new(d), false),
        None => (Path::new(arg), true),
    };
    let mut paths = Vec::new();
    files_under(dir, recursive, &mut paths);
    let mut train: Vec<(String, String)> = Vec::new();
    let mut held: Vec<(String, String)> = Vec::new();
    for p in &paths {
        let rel = p
            .strip_prefix(dir)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let Ok(text) = std::fs::read_to_string(p) else {
            continue;
        };
        if crc32(rel.as_bytes()).is_multiple_of(10) {
            held.push((rel, text));
        } else {
            train.push((rel, text));
        }
    }
    let python = paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "py"))
        .count()
        * 2
        > paths.len();
    let keywords = if python {
        PYTHON_KEYWORDS
    } else {
        RUST_KEYWORDS
    };
    let lines: usize = train.iter().map(|(_, t)| t.lines().count()).sum();

    // Indexing: speed on one thread, memory.
    let rss0 = rss_kib();
    let t0 = Instant::now();
    let mut model = LocalModel::new(host_config());
    for (rel, text) in &train {
        model.update_file(rel, text);
    }
    let index_s = t0.elapsed().as_secs_f64();
    let rss1 = rss_kib();
    let stats = model.stats();

    // What a word completion over the training files knows: every word,
    // and Vim's order for other buffers (files in order, words in order).
    let mut vim_other: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, text) in &train {
        for (_, w) in identifiers(text, python) {
            let n = vim_other.len();
            vim_other.entry(w).or_insert(n);
        }
    }

    // Positions.
    let mut positions: Vec<(usize, usize, usize)> = Vec::new(); // file, start, len
    for (f, (_, text)) in held.iter().enumerate() {
        for (s, w) in identifiers(text, python) {
            if !keywords.contains(&w) && w.len() >= 2 {
                positions.push((f, s, w.len()));
            }
        }
    }
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    for i in (1..positions.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        positions.swap(i, j);
    }
    positions.truncate(samples);

    let mut list_all = Tally::default();
    let mut list_seen = Tally::default();
    let mut vim_all = Tally::default();
    let mut vim_seen = Tally::default();
    let mut by_typed = vec![Tally::default(); 4];
    let mut vim_by_typed = vec![Tally::default(); 4];
    let mut empty_while_match = 0usize;
    let mut empty = 0usize;
    let (mut ghost_answers, mut ghost_right, mut ghost_line) = (0usize, 0usize, 0usize);
    let (mut vim_ghost_answers, mut vim_ghost_right) = (0usize, 0usize);
    let (mut k_list, mut k_vim, mut k_ghost) = (Keys::default(), Keys::default(), Keys::default());
    let (mut lat_list, mut lat_ghost, mut lat_both) = (Vec::new(), Vec::new(), Vec::new());
    let (mut agreed_answers, mut agreed_right) = (0usize, 0usize);
    let stop = vec!["\n".to_owned()];
    for &(f, start, len) in &positions {
        let (rel, text) = &held[f];
        let word = &text[start..start + len];
        let typed = (rng.next() % 4) as usize;
        let typed = typed.min(len - 1);
        let cursor = start + typed;
        let partial = &word[..typed];
        let line_end = text[cursor..].find('\n').map_or(text.len(), |i| cursor + i);
        let prefix = &text[..cursor];
        let suffix = &text[line_end..];
        let rest = &text[cursor..line_end];
        let req = CompletionRequest {
            prefix,
            suffix,
            max_tokens: 64,
            stop: &stop,
            document: Some(rel),
        };
        let t = Instant::now();
        let list = model.candidates(&req, LIST);
        lat_list.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        let ghost = model.complete(&req);
        lat_ghost.push(t.elapsed().as_secs_f64() * 1e6);
        // What the host serves: both in one request, the ghost text silent
        // when it disagrees with the list's first word.
        let t = Instant::now();
        let (agreed, _) = model.complete_with_list(&req, LIST);
        lat_both.push(t.elapsed().as_secs_f64() * 1e6);
        if !agreed.text.is_empty() {
            agreed_answers += 1;
            agreed_right += usize::from(rest.starts_with(&agreed.text));
        }

        let seen = vim_other.contains_key(word);
        let rank = list.iter().position(|c| c.text == word);
        list_all.add(rank);
        by_typed[typed].add(rank);
        if seen {
            list_seen.add(rank);
        }
        let any_match = vim_other
            .range(partial..)
            .take_while(|(w, _)| w.starts_with(partial))
            .any(|(w, _)| *w != partial);
        if list.is_empty() {
            empty += 1;
            if any_match {
                empty_while_match += 1;
            }
        }
        k_list.add(
            len,
            typed,
            rank.filter(|&r| r < 5).map_or(0, |r| r + 1),
            rank.filter(|&r| r < 5).map_or(0, |_| len - typed),
        );

        // Vim: the nearest preceding words of the buffer, then other files.
        let mut vim: Vec<&str> = Vec::new();
        for (_, w) in identifiers(prefix, python).into_iter().rev() {
            if vim.len() >= LIST {
                break;
            }
            if w.starts_with(partial) && w != partial && !vim.contains(&w) {
                vim.push(w);
            }
        }
        if vim.len() < LIST {
            let mut others: Vec<(&str, usize)> = vim_other
                .range(partial..)
                .take_while(|(w, _)| w.starts_with(partial))
                .filter(|(w, _)| **w != partial && !vim.contains(w))
                .map(|(w, &i)| (*w, i))
                .collect();
            others.sort_by_key(|&(_, i)| i);
            vim.extend(others.into_iter().take(LIST - vim.len()).map(|(w, _)| w));
        }
        let vrank = vim.iter().position(|w| *w == word);
        vim_all.add(vrank);
        vim_by_typed[typed].add(vrank);
        if seen {
            vim_seen.add(vrank);
        }
        k_vim.add(
            len,
            typed,
            vrank.filter(|&r| r < 5).map_or(0, |r| r + 1),
            vrank.filter(|&r| r < 5).map_or(0, |_| len - typed),
        );
        // Vim's first match as if it were ghost text.
        if let Some(first) = vim.first() {
            vim_ghost_answers += 1;
            vim_ghost_right += usize::from(*first == word);
        }

        // Ghost text.
        if !ghost.text.is_empty() {
            ghost_answers += 1;
            if rest.starts_with(&ghost.text) {
                ghost_right += 1;
                ghost_line += usize::from(ghost.text.trim_end() == rest.trim_end());
                k_ghost.add(len, typed, 1, ghost.text.len().min(len - typed));
            } else {
                k_ghost.add(len, typed, 0, 0);
            }
        } else {
            k_ghost.add(len, typed, 0, 0);
        }
    }
    let n = positions.len().max(1) as f64;
    let p = |k: usize| 100.0 * k as f64 / n;
    let tallies = |t: &[Tally]| t.iter().map(Tally::json).collect::<Vec<_>>().join(", ");
    format!(
        concat!(
            "{{\"corpus\": {:?}, \"language\": \"{}\", \"files_train\": {}, \"files_held_out\": {}, ",
            "\"lines_train\": {}, \"tokens\": {}, \"contexts\": {}, \"dropped_contexts\": {}, ",
            "\"index_s\": {:.4}, \"lines_per_s\": {:.0}, \"approx_mib\": {:.2}, \"rss_delta_mib\": {:.2}, ",
            "\"samples\": {}, \"list\": {{\"all\": {}, \"seen\": {}, \"by_typed\": [{}], \"empty\": {}, \"empty_while_a_word_fits\": {}, \"chars_per_keystroke\": {:.3}}}, ",
            "\"vim\": {{\"all\": {}, \"seen\": {}, \"by_typed\": [{}], \"chars_per_keystroke\": {:.3}, \"first_answers\": {:.2}, \"first_right\": {:.2}}}, ",
            "\"ghost\": {{\"answers\": {:.2}, \"right_when_answering\": {:.2}, \"right\": {:.2}, \"line_exact\": {:.2}, \"chars_per_keystroke\": {:.3}}}, ",
            "\"ghost_agreeing\": {{\"answers\": {:.2}, \"right_when_answering\": {:.2}}}, ",
            "\"latency_us\": {{\"list_p50\": {:.1}, \"list_p99\": {:.1}, \"ghost_p50\": {:.1}, \"ghost_p99\": {:.1}, \"both_p50\": {:.1}, \"both_p99\": {:.1}}}}}"
        ),
        arg,
        if python { "python" } else { "rust" },
        train.len(),
        held.len(),
        lines,
        stats.tokens,
        stats.contexts,
        stats.dropped_contexts,
        index_s,
        lines as f64 / index_s,
        stats.approx_bytes as f64 / 1048576.0,
        rss1.saturating_sub(rss0) as f64 / 1024.0,
        positions.len(),
        list_all.json(),
        list_seen.json(),
        tallies(&by_typed),
        empty,
        empty_while_match,
        k_list.per_stroke(),
        vim_all.json(),
        vim_seen.json(),
        tallies(&vim_by_typed),
        k_vim.per_stroke(),
        p(vim_ghost_answers),
        100.0 * vim_ghost_right as f64 / vim_ghost_answers.max(1) as f64,
        p(ghost_answers),
        100.0 * ghost_right as f64 / ghost_answers.max(1) as f64,
        p(ghost_right),
        p(ghost_line),
        k_ghost.per_stroke(),
        p(agreed_answers),
        100.0 * agreed_right as f64 / agreed_answers.max(1) as f64,
        pct_of(&mut lat_list, 0.5),
        pct_of(&mut lat_list, 0.99),
        pct_of(&mut lat_ghost, 0.5),
        pct_of(&mut lat_ghost, 0.99),
        pct_of(&mut lat_both, 0.5),
        pct_of(&mut lat_both, 0.99),
    )
}

fn main() {
    let mut samples = 3000;
    let mut dirs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--samples" => samples = args.next().and_then(|s| s.parse().ok()).unwrap_or(samples),
            "--json" => {}
            _ => dirs.push(a),
        }
    }
    let out: Vec<String> = dirs.iter().map(|d| corpus(d, samples)).collect();
    println!("[{}]", out.join(",\n"));
}
