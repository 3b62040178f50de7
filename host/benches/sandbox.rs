//! Sandbox cost of one feature call, and the same plugin logic natively.
//!
//! For each first-party plugin: instantiate + call + return through the
//! runtime (fresh instance, limits, gate), with the model answered instantly
//! by an in-process backend, against the plugin's own `logic` compiled
//! natively and called with the same context and the same canned answer.
//!
//! A second table answers "is the plugin's own code slower in Wasm?": the
//! plugins' `logic`, timed from inside a program (`bench/work`) built
//! natively and for `wasm32-wasip2` from the same source, the Wasm build run
//! in Cordon's engine. Those figures leave out the fixed per-call cost the
//! first table measures.
//!
//! Run: `cargo bench -p cordon --bench sandbox`. Prints the tables and writes
//! `target/bench/sandbox.json`. Figures are percentiles over many calls in
//! one process; compare ratios, not absolute times, across machines.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cordon::api::model::{ChatRequest, FimRequest, Response, StopReason, Usage};
use cordon::api::{DocumentContext, PluginError};
use cordon::backends::Router;
use cordon::backends::{Backend, BoxFuture, Call};
use cordon::context::{self, Windows};
use cordon::document::Document;
use cordon::gate::Services;
use cordon::runtime::{Limits, Origin, Plugin, Runtime};
use cordon_plugin_sdk as sdk;
use serde_json::{Value, json};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::Command as WasiCommand;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

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
    fn chat<'a>(
        &'a self,
        _: &'a ChatRequest,
        _: &'a Call,
    ) -> BoxFuture<'a, Result<Response, PluginError>> {
        Box::pin(async { Ok(response(CHAT_ANSWER)) })
    }
    fn fim<'a>(
        &'a self,
        _: &'a FimRequest,
        _: &'a Call,
    ) -> BoxFuture<'a, Result<Response, PluginError>> {
        Box::pin(async { Ok(response(FIM_ANSWER)) })
    }
}

fn to_sdk(c: &DocumentContext) -> sdk::DocumentContext {
    let pos = |p: cordon::api::Position| sdk::Position::new(p.line, p.character);
    sdk::DocumentContext {
        language_id: c.language_id.clone(),
        path: c.path.clone(),
        cursor: pos(c.cursor),
        prefix: c.prefix.clone(),
        suffix: c.suffix.clone(),
        prefix_truncated: c.prefix_truncated,
        suffix_truncated: c.suffix_truncated,
        selection: c
            .selection
            .map(|r| sdk::Range::new(pos(r.start), pos(r.end))),
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
    let mut router = Router::default();
    router.add(Arc::new(Instant0));
    router.route("default", "instant");
    let services = Services::new(router, None, Arc::default());
    let cache = tempfile::tempdir().expect("temp dir");
    let runtime = Runtime::new(services, Some(cache.path().to_owned())).expect("runtime");

    let mut plugins: Vec<Plugin> = Vec::new();
    for builtin in cordon::builtin::PLUGINS {
        let plugin = runtime
            .load(Origin::Builtin, builtin.wasm.to_vec(), Limits::default())
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
    let sdk_ctx = to_sdk(&ctx);

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
        let mut model = sdk::testing::CannedModel::answering(FIM_ANSWER);
        let items = cordon_plugin_completion::logic::complete(&sdk_ctx, &mut model)
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
        let actions = cordon_plugin_refactor::logic::actions(&sdk_ctx);
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
        let mut model = sdk::testing::CannedModel::answering(CHAT_ANSWER);
        let edits =
            cordon_plugin_refactor::logic::apply(&sdk_ctx, "add-doc-comment", None, &mut model)
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
        let mut model = sdk::testing::CannedModel::answering(CHAT_ANSWER);
        let text =
            cordon_plugin_explain::logic::explain(&sdk_ctx, &mut model).expect("native explain");
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

    let own_work = match own_work(runtime.engine()).await {
        Ok(rows) => rows,
        Err(why) => {
            println!();
            println!("Plugins' own work: not measured: {why}");
            Vec::new()
        }
    };
    if !own_work.is_empty() {
        println!();
        println!(
            "Plugins' own work, Wasm (Cordon's engine) vs native, same source (bench/work), per call"
        );
        println!();
        println!(
            "| call | Wasm p50 | Wasm p99 | native p50 | native p99 | ratio p50 | ratio p50 without epoch checks |"
        );
        println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        let f = |row: &Value, key: &str| row[key].as_f64().unwrap_or(f64::NAN);
        for row in &own_work {
            println!(
                "| {} | {:.2} µs | {:.2} µs | {:.2} µs | {:.2} µs | {:.2}× | {:.2}× |",
                row["call"].as_str().unwrap_or_default(),
                f(row, "wasm_p50_us"),
                f(row, "wasm_p99_us"),
                f(row, "native_p50_us"),
                f(row, "native_p99_us"),
                f(row, "ratio_p50"),
                f(row, "no_epochs_ratio_p50"),
            );
        }
    }

    let out = repo().join("target/bench");
    std::fs::create_dir_all(&out).expect("creating target/bench");
    let path = out.join("sandbox.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(
            &json!({ "samples": SAMPLES, "rows": json_rows, "own_work": own_work }),
        )
        .unwrap(),
    )
    .expect("writing the JSON figures");
    println!();
    println!("JSON: {}", path.display());
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The store data of the `bench/work` program: WASI only.
struct WorkState {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for WorkState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Build `bench/work` natively and for `wasm32-wasip2`, run both, and pair
/// their figures by case.
async fn own_work(engine: &Engine) -> Result<Vec<Value>, String> {
    let manifest = repo().join("bench/work/Cargo.toml");
    let target_dir = repo().join("target/bench-work");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for target in [None, Some("wasm32-wasip2")] {
        let mut build = Command::new(&cargo);
        // As `host/build.rs` builds the plugins: from the crate's folder,
        // with none of the host build's settings.
        build
            .current_dir(repo().join("bench/work"))
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .args(["build", "--release", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target_dir);
        if let Some(target) = target {
            build.args(["--target", target]);
        }
        let status = build.status().map_err(|e| format!("running cargo: {e}"))?;
        if !status.success() {
            return Err(format!("building {} failed", manifest.display()));
        }
    }

    let native = Command::new(target_dir.join("release/cordon-bench-work"))
        .output()
        .map_err(|e| format!("running the native build: {e}"))?;
    if !native.status.success() {
        return Err("the native build failed".into());
    }

    let wasm = target_dir.join("wasm32-wasip2/release/cordon-bench-work.wasm");
    let in_cordon = run_wasm(engine, &wasm).await?;
    // The same without the epoch checks that enforce the CPU budget, to show
    // what they cost; Cordon never runs plugins this way.
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    let no_epochs = Engine::new(&config).map_err(|e| format!("{e:#}"))?;
    let without_epochs = run_wasm(&no_epochs, &wasm).await?;

    let native = parse(&native.stdout);
    let wasm = parse(&in_cordon);
    let bare = parse(&without_epochs);
    let us = |v: &Value, key: &str| v[key].as_f64().unwrap_or(f64::NAN) / 1000.0;
    let find = |rows: &[Value], case: &Value| rows.iter().find(|r| r["case"] == *case).cloned();
    Ok(native
        .iter()
        .filter_map(|n| {
            let w = find(&wasm, &n["case"])?;
            let b = find(&bare, &n["case"])?;
            Some(json!({
                "call": n["case"],
                "wasm_p50_us": us(&w, "p50_ns"),
                "wasm_p99_us": us(&w, "p99_ns"),
                "native_p50_us": us(n, "p50_ns"),
                "native_p99_us": us(n, "p99_ns"),
                "ratio_p50": us(&w, "p50_ns") / us(n, "p50_ns"),
                "no_epochs_p50_us": us(&b, "p50_ns"),
                "no_epochs_ratio_p50": us(&b, "p50_ns") / us(n, "p50_ns"),
            }))
        })
        .collect())
}

/// The figures `bench/work` prints, one JSON object per line.
fn parse(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Run the `bench/work` command component at `wasm` in `engine`; its stdout.
async fn run_wasm(engine: &Engine, wasm: &Path) -> Result<Vec<u8>, String> {
    let component = Component::from_file(engine, wasm).map_err(|e| format!("{e:#}"))?;
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| format!("{e:#}"))?;
    let stdout = MemoryOutputPipe::new(1 << 20);
    let mut store = Store::new(
        engine,
        WorkState {
            wasi: WasiCtxBuilder::new().stdout(stdout.clone()).build(),
            table: ResourceTable::new(),
        },
    );
    // The engine interrupts at epochs; nothing advances it here, so the
    // checks run (as in a plugin call) and never fire.
    store.set_epoch_deadline(1 << 40);
    let command = WasiCommand::instantiate_async(&mut store, &component, &linker)
        .await
        .map_err(|e| format!("{e:#}"))?;
    command
        .wasi_cli_run()
        .call_run(&mut store)
        .await
        .map_err(|e| format!("{e:#}"))?
        .map_err(|()| "the Wasm build failed".to_owned())?;
    Ok(stdout.contents().to_vec())
}
