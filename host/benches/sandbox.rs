//! Sandbox cost of one feature call, and the same plugin logic natively.
//!
//! For each first-party plugin: instantiate + call + return through the
//! runtime (fresh instance, limits, gate), with the model answered instantly
//! by an in-process backend, against the plugin's own `logic` compiled
//! natively and called with the same context and the same canned answer.
//!
//! Run: `cargo bench -p cordon --bench sandbox`. Prints a table and writes
//! `target/bench/sandbox.json`. Figures are percentiles over many calls in
//! one process; compare ratios, not absolute times, across machines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cordon::api::model::{ChatRequest, FimRequest, Response, StopReason, Usage};
use cordon::api::{DocumentContext, PluginError};
use cordon::backends::{Backend, BoxFuture};
use cordon::context::{self, Windows};
use cordon::document::Document;
use cordon::gate::{Grants, Services};
use cordon::runtime::{Limits, Origin, Plugin, Runtime};
use cordon_plugin_kit as kit;
use serde_json::json;

const WARMUP: usize = 300;
const SAMPLES: usize = 3000;

const FIM_ANSWER: &str = "names.push(item.name.clone());";
const CHAT_ANSWER: &str = "```rust\n/// Names of the items in stock.\npub fn in_stock(&self) -> Vec<String> {\n```\n\nThis function collects the names of the items that are in stock.";

/// A backend that answers at once: what is measured is Cordon, not a model.
struct Instant0;

fn response(text: &str) -> Response {
    Response {
        text: text.to_owned(),
        usage: Usage {
            input_tokens: 100,
            output_tokens: 10,
        },
        stop_reason: StopReason::End,
        backend: "instant".into(),
        model: "instant".into(),
    }
}

impl Backend for Instant0 {
    fn name(&self) -> &str {
        "instant"
    }
    fn provider(&self) -> &'static str {
        "local"
    }
    fn model(&self) -> &str {
        "instant"
    }
    fn chat<'a>(&'a self, _: &'a ChatRequest) -> BoxFuture<'a, Result<Response, PluginError>> {
        Box::pin(async { Ok(response(CHAT_ANSWER)) })
    }
    fn fim<'a>(&'a self, _: &'a FimRequest) -> BoxFuture<'a, Result<Response, PluginError>> {
        Box::pin(async { Ok(response(FIM_ANSWER)) })
    }
}

fn to_kit(c: &DocumentContext) -> kit::DocumentContext {
    let pos = |p: cordon::api::Position| kit::Position::new(p.line, p.character);
    kit::DocumentContext {
        language_id: c.language_id.clone(),
        path: c.path.clone(),
        cursor: pos(c.cursor),
        prefix: c.prefix.clone(),
        suffix: c.suffix.clone(),
        prefix_truncated: c.prefix_truncated,
        suffix_truncated: c.suffix_truncated,
        selection: c
            .selection
            .map(|r| kit::Range::new(pos(r.start), pos(r.end))),
        selected_text: c.selected_text.clone(),
        diagnostics: Vec::new(),
    }
}

#[derive(Clone, Copy)]
struct Stats {
    p50: Duration,
    p99: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Stats {
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn measure_native(mut f: impl FnMut()) -> Stats {
    for _ in 0..WARMUP {
        f();
    }
    let samples = (0..SAMPLES)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    stats(samples)
}

async fn measure_wasm<F, Fut>(mut f: F) -> Stats
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..WARMUP {
        f().await;
    }
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let t = Instant::now();
        f().await;
        samples.push(t.elapsed());
    }
    stats(samples)
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut services = Services::default();
    services.router.add(Arc::new(Instant0));
    services.router.route("default", "instant");
    let cache = tempfile::tempdir().expect("temp dir");
    let runtime = Runtime::new(services, Some(cache.path().to_owned())).expect("runtime");

    let mut plugins: Vec<Plugin> = Vec::new();
    for builtin in cordon::builtin::PLUGINS {
        let plugin = runtime
            .load(
                Origin::Builtin,
                builtin.wasm.to_vec(),
                Grants::first_party(),
                Limits::default(),
            )
            .await
            .expect("loading a built-in plugin");
        plugins.push(plugin);
    }
    let [completion, refactor, explain] = &plugins[..] else {
        unreachable!("three built-in plugins")
    };

    let source = include_str!("../../examples/demo/src/lib.rs");
    let doc = Document::new(source);
    // Line 12, column 9 (0-based 11:8): inside `in_stock`, an empty line.
    let cursor = cordon::api::Position {
        line: 11,
        character: 8,
    };
    let request = context::Request {
        path: "src/lib.rs",
        language_id: "rust",
        cursor,
        selection: None,
        diagnostics: &[],
    };
    let ctx = context::build(&doc, &request, Windows::default()).expect("context");
    let kctx = to_kit(&ctx);

    let mut rows = Vec::new();

    // completion
    let wasm = measure_wasm(|| async {
        let items = runtime
            .complete(completion, &doc, &ctx)
            .await
            .expect("completion");
        assert!(!items.is_empty());
    })
    .await;
    let native = measure_native(|| {
        let mut model = kit::testing::CannedModel::answering(FIM_ANSWER);
        let items = cordon_plugin_completion::logic::complete(&kctx, &mut model)
            .expect("native completion");
        assert!(!items.is_empty());
    });
    rows.push(("completion: complete", wasm, native));

    // refactor: listing (no model) and applying `add-doc-comment`
    let wasm = measure_wasm(|| async {
        let actions = runtime.actions(refactor, &ctx).await.expect("actions");
        assert!(!actions.is_empty());
    })
    .await;
    let native = measure_native(|| {
        let actions = cordon_plugin_refactor::logic::actions(&kctx);
        assert!(!actions.is_empty());
    });
    rows.push(("refactor: actions", wasm, native));

    let wasm = measure_wasm(|| async {
        let edits = runtime
            .apply(refactor, &doc, &ctx, "add-doc-comment", None)
            .await
            .expect("apply");
        assert!(!edits.is_empty());
    })
    .await;
    let native = measure_native(|| {
        let mut model = kit::testing::CannedModel::answering(CHAT_ANSWER);
        let edits =
            cordon_plugin_refactor::logic::apply(&kctx, "add-doc-comment", None, &mut model)
                .expect("native apply");
        assert!(!edits.is_empty());
    });
    rows.push(("refactor: apply add-doc-comment", wasm, native));

    // explain
    let wasm = measure_wasm(|| async {
        let text = runtime.explain(explain, &ctx, None).await.expect("explain");
        assert!(!text.is_empty());
    })
    .await;
    let native = measure_native(|| {
        let mut model = kit::testing::CannedModel::answering(CHAT_ANSWER);
        let text =
            cordon_plugin_explain::logic::explain(&kctx, &mut model).expect("native explain");
        assert!(!text.is_empty());
    });
    rows.push(("explain: explain", wasm, native));

    println!(
        "Sandbox cost per feature call ({SAMPLES} calls each, model answered in-process at once)"
    );
    println!();
    println!(
        "| call | sandboxed p50 | sandboxed p99 | native p50 | native p99 | sandbox overhead p50 | ratio p50 |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut json_rows = Vec::new();
    for (name, wasm, native) in &rows {
        let overhead = wasm.p50.saturating_sub(native.p50);
        let ratio = us(wasm.p50) / us(native.p50).max(0.001);
        println!(
            "| {name} | {:.1} µs | {:.1} µs | {:.2} µs | {:.2} µs | {:.1} µs | {:.1}× |",
            us(wasm.p50),
            us(wasm.p99),
            us(native.p50),
            us(native.p99),
            us(overhead),
            ratio
        );
        json_rows.push(json!({
            "call": name,
            "sandboxed_p50_us": us(wasm.p50),
            "sandboxed_p99_us": us(wasm.p99),
            "native_p50_us": us(native.p50),
            "native_p99_us": us(native.p99),
            "overhead_p50_us": us(overhead),
            "ratio_p50": ratio,
        }));
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench");
    std::fs::create_dir_all(&out).expect("creating target/bench");
    let path = out.join("sandbox.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&json!({ "samples": SAMPLES, "rows": json_rows })).unwrap(),
    )
    .expect("writing the JSON figures");
    println!();
    println!("JSON: {}", path.display());
}
