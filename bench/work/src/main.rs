//! The first-party plugins' own work, timed from inside the program.
//!
//! The same source is compiled natively and for `wasm32-wasip2`; the host's
//! sandbox bench runs the Wasm build in Cordon's engine (same configuration
//! as a plugin call: epoch interruption, pooling allocator, stack limit) and
//! compares. Each case calls a plugin's `logic` on a fixed context with a
//! canned model answer, in batches; the clock is read once per batch so it
//! costs nothing measurable. Neither instantiation nor copying the context
//! across the component boundary is in these figures: that is the fixed
//! per-call cost the sandbox table measures.
//!
//! Output: one JSON object per case on stdout,
//! `{"case": ..., "p50_ns": ..., "p99_ns": ..., "calls": ...}` (per call).

use std::hint::black_box;
use std::time::Instant;

use cordon_plugin_sdk::testing::CannedModel;
use cordon_plugin_sdk::{DocumentContext, Position};

/// Calls per timed batch.
const BATCH: usize = 20;
/// Timed batches per case (after as many untimed ones to warm up).
const BATCHES: usize = 300;

const DEMO: &str = include_str!("../../../examples/demo/src/lib.rs");
/// 0-based line 11 of the demo: the empty line in `in_stock`.
const DEMO_LINE: usize = 11;
const FIM_ANSWER: &str = "names.push(item.name.clone());";
const CHAT_ANSWER: &str = "```rust\n/// Names of the items in stock.\npub fn in_stock(&self) -> Vec<String> {\n```\n\nThis function collects the names of the items that are in stock.";

/// Cordon's default context windows (`host/src/context.rs`).
const PREFIX_CHARS: usize = 8 * 1024;
const SUFFIX_CHARS: usize = 2 * 1024;

fn main() {
    let small = context(DEMO, DEMO_LINE);
    // The demo twelve times over (~21 KB, each copy's types renamed), the
    // cursor in the last copy: full-sized windows, both truncated.
    let copies = 12;
    let large_text: String = (0..copies)
        .map(|i| {
            DEMO.replace("Inventory", &format!("Inventory{i}"))
                .replace("struct Item", &format!("struct Item{i}"))
        })
        .collect();
    let large_line = (copies - 2) * DEMO.lines().count() + DEMO_LINE;
    let large = context(&large_text, large_line);
    assert!(large.prefix_truncated && large.suffix_truncated);

    for (size, ctx) in [("demo", &small), ("8 KiB window", &large)] {
        case(&format!("completion: complete ({size})"), || {
            let mut model = CannedModel::answering(FIM_ANSWER);
            let items = cordon_plugin_completion::logic::complete(black_box(ctx), &mut model)
                .expect("completion");
            assert!(!items.is_empty());
        });
        case(&format!("refactor: actions ({size})"), || {
            let actions = cordon_plugin_refactor::logic::actions(black_box(ctx));
            assert!(!actions.is_empty());
        });
        case(&format!("refactor: apply add-doc-comment ({size})"), || {
            let mut model = CannedModel::answering(CHAT_ANSWER);
            let edits = cordon_plugin_refactor::logic::apply(
                black_box(ctx),
                "add-doc-comment",
                None,
                &mut model,
            )
            .expect("apply");
            assert!(!edits.is_empty());
        });
        case(&format!("explain: explain ({size})"), || {
            let mut model = CannedModel::answering(CHAT_ANSWER);
            let text =
                cordon_plugin_explain::logic::explain(black_box(ctx), &mut model).expect("explain");
            assert!(!text.is_empty());
        });
    }
}

/// Time `f` and print its figures.
fn case(name: &str, mut f: impl FnMut()) {
    for _ in 0..BATCHES * BATCH {
        f();
    }
    let mut per_call: Vec<u64> = (0..BATCHES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..BATCH {
                f();
            }
            (start.elapsed().as_nanos() / BATCH as u128) as u64
        })
        .collect();
    per_call.sort_unstable();
    let at = |q: f64| per_call[((per_call.len() - 1) as f64 * q).round() as usize];
    println!(
        "{{\"case\": \"{name}\", \"p50_ns\": {}, \"p99_ns\": {}, \"calls\": {}}}",
        at(0.5),
        at(0.99),
        BATCHES * BATCH
    );
}

/// The context the host would cut for a cursor at the start of 0-based
/// `line` of `text` (the demo's cursor line is blank up to column 8).
fn context(text: &str, line: usize) -> DocumentContext {
    let offset: usize = text.lines().take(line).map(|l| l.len() + 1).sum::<usize>()
        + text.lines().nth(line).map_or(0, str::len);
    let (before, after) = text.split_at(offset);
    let prefix_start = before
        .char_indices()
        .rev()
        .nth(PREFIX_CHARS - 1)
        .map_or(0, |(i, _)| i);
    let suffix_end = after
        .char_indices()
        .nth(SUFFIX_CHARS)
        .map_or(after.len(), |(i, _)| i);
    let column = text.lines().nth(line).map_or(0, |l| l.chars().count());
    DocumentContext {
        language_id: "rust".to_owned(),
        path: "src/lib.rs".to_owned(),
        cursor: Position::new(line as u32, column as u32),
        prefix: before[prefix_start..].to_owned(),
        suffix: after[..suffix_end].to_owned(),
        prefix_truncated: prefix_start > 0,
        suffix_truncated: suffix_end < after.len(),
        selection: None,
        selected_text: None,
        diagnostics: Vec::new(),
    }
}
