//! Limits: a hostile plugin (tests/plugins/hostile, built from source here)
//! loses only its own call, with an error naming what it did, and healthy
//! plugins keep answering.

mod common;

use std::sync::Arc;
use std::time::Duration;

use cordon::api::DocumentContext;
use cordon::backends::Router;
use cordon::backends::local::LocalBackend;
use cordon::context::{self, Windows};
use cordon::document::Document;
use cordon::gate::Services;
use cordon::policy::Policy;
use cordon::runtime::{CallError, Limits, Origin, Plugin, Runtime};

struct Fixture {
    runtime: Runtime,
    _cache: tempfile::TempDir,
}

fn fixture() -> Fixture {
    fixture_granting(&[])
}

/// A fixture whose built-in defaults also serve `first_party` as Cordon's
/// own plugins (model, workspace.read, log).
fn fixture_granting(first_party: &[&str]) -> Fixture {
    let mut names: Vec<&str> = cordon::builtin::PLUGINS.iter().map(|p| p.name).collect();
    names.extend_from_slice(first_party);
    let mut router = Router::default();
    router.add(Arc::new(
        LocalBackend::index(&common::shop(), false).unwrap(),
    ));
    router.route("default", "local");
    let services = Services::new(
        router,
        Some(cordon::workspace::Workspace::new(&common::shop()).unwrap()),
        Arc::new(Policy::builtin_defaults(&names)),
    );
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(services, Some(cache.path().to_owned())).unwrap();
    Fixture {
        runtime,
        _cache: cache,
    }
}

fn hostile_limits() -> Limits {
    Limits {
        memory_bytes: 128 * 1024 * 1024,
        cpu: Duration::from_millis(300),
        wall: Duration::from_secs(20),
        ..Limits::default()
    }
}

async fn hostile(runtime: &Runtime, limits: Limits) -> Plugin {
    let path = common::hostile_plugin();
    let bytes = std::fs::read(path).unwrap();
    runtime
        .load(Origin::CommandLine(path.to_owned()), bytes, limits)
        .await
        .unwrap()
}

async fn completion(runtime: &Runtime) -> Plugin {
    let builtin = &cordon::builtin::PLUGINS[0];
    assert_eq!(builtin.name, "completion");
    runtime
        .load(Origin::Builtin, builtin.wasm.to_vec(), Limits::default())
        .await
        .unwrap()
}

/// A document whose first line tells the hostile plugin what to do, with
/// the cursor at the end of the last line.
fn doc_for(mode: &str) -> (Document, DocumentContext) {
    let text = format!(
        "// cordon-test:{mode}\nimpl Cart {{\n    fn clear(&mut self) {{\n        self.line_"
    );
    let doc = Document::new(&text);
    let cursor = doc.position(doc.len_chars());
    let request = context::Request {
        // A new file: the document being completed never teaches the model
        // its own words, so `line_items` must come from the saved cart.rs.
        path: "src/scratch.rs",
        language_id: "rust",
        cursor,
        selection: None,
        diagnostics: &[],
    };
    let ctx = context::build(&doc, &request, Windows::default()).unwrap();
    (doc, ctx)
}

async fn healthy_still_answers(runtime: &Runtime, plugin: &Plugin) {
    let (doc, ctx) = doc_for("none");
    let items = runtime.complete(plugin, &doc, &ctx).await.unwrap();
    assert!(
        items
            .first()
            .is_some_and(|i| i.insert_text.starts_with("items")),
        "{items:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_misbehaviour_fails_its_own_call_only() {
    let f = fixture();
    let hostile = hostile(&f.runtime, hostile_limits()).await;
    let healthy = completion(&f.runtime).await;

    let cases = [
        ("loop", "cpu-time"),
        ("memory", "memory"),
        ("recurse", "stack-overflow"),
        // Rust keeps address-taken locals on a shadow stack in linear memory;
        // running off its end is an out-of-bounds access, caught as a trap.
        ("recurse-frames", "trap"),
        ("trap", "trap"),
        ("huge-output", "invalid-output"),
        ("many-items", "invalid-output"),
        ("out-of-range", "invalid-output"),
        ("bad-range", "invalid-output"),
    ];
    for (mode, kind) in cases {
        let (doc, ctx) = doc_for(mode);
        let err = f.runtime.complete(&hostile, &doc, &ctx).await.unwrap_err();
        assert_eq!(err.kind(), kind, "mode {mode}: {err}");
        assert!(err.to_string().contains("plugin `hostile`"), "{err}");
        healthy_still_answers(&f.runtime, &healthy).await;
    }

    // The same plugin, well-behaved, still works after all of that.
    let (doc, ctx) = doc_for("ok");
    let items = f.runtime.complete(&hostile, &doc, &ctx).await.unwrap();
    assert_eq!(items[0].insert_text, "hostile-ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_limit() {
    let f = fixture();
    let hostile = hostile(&f.runtime, hostile_limits()).await;
    let message = |mode: &'static str| {
        let runtime = &f.runtime;
        let hostile = &hostile;
        async move {
            let (doc, ctx) = doc_for(mode);
            runtime
                .complete(hostile, &doc, &ctx)
                .await
                .unwrap_err()
                .to_string()
        }
    };
    assert!(message("loop").await.contains("CPU time"));
    assert!(message("memory").await.contains("134217728-byte limit"));
    assert!(
        message("out-of-range")
            .await
            .contains("outside the document")
    );
    assert!(message("many-items").await.contains("at most 100"));
    // A panic is told by its message and where it happened, not by the
    // `unreachable` it ends in.
    let panicked = message("panic").await;
    assert!(
        panicked.contains("panicked at")
            && panicked.contains("src/lib.rs")
            && panicked.contains("the hostile plugin panics on purpose"),
        "{panicked}"
    );
    assert!(!panicked.contains("unreachable"), "{panicked}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_plugin_does_not_hold_up_others() {
    let f = Arc::new(fixture());
    let slow_limits = Limits {
        cpu: Duration::from_secs(3),
        ..hostile_limits()
    };
    let hostile = Arc::new(hostile(&f.runtime, slow_limits).await);
    let healthy = completion(&f.runtime).await;

    let spinning = {
        let f = Arc::clone(&f);
        let hostile = Arc::clone(&hostile);
        tokio::spawn(async move {
            let (doc, ctx) = doc_for("loop");
            f.runtime.complete(&hostile, &doc, &ctx).await
        })
    };
    for _ in 0..10 {
        healthy_still_answers(&f.runtime, &healthy).await;
    }
    assert!(
        !spinning.is_finished(),
        "ten healthy calls finished while the spinning plugin still had CPU budget left"
    );
    let err = spinning.await.unwrap().unwrap_err();
    assert!(matches!(err, CallError::CpuTime { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_and_stdout_floods_are_capped_not_fatal() {
    let f = fixture();
    let generous = Limits {
        cpu: Duration::from_secs(10),
        ..hostile_limits()
    };
    let hostile = hostile(&f.runtime, generous).await;
    let (doc, ctx) = doc_for("log-flood");
    let items = f.runtime.complete(&hostile, &doc, &ctx).await.unwrap();
    assert_eq!(items[0].insert_text, "flooded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ungranted_capabilities_are_denied() {
    let f = fixture();
    let third_party = hostile(&f.runtime, hostile_limits()).await;
    let (doc, ctx) = doc_for("model");
    let items = f.runtime.complete(&third_party, &doc, &ctx).await.unwrap();
    assert!(items[0].label.contains("denied"), "{items:?}");

    let (doc, ctx) = doc_for("workspace");
    let items = f.runtime.complete(&third_party, &doc, &ctx).await.unwrap();
    let labels: Vec<&str> = items.iter().map(|i| i.label.as_str()).collect();
    assert!(labels.iter().all(|l| l.contains("denied")), "{labels:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspace_reads_stay_inside_the_workspace() {
    let f = fixture_granting(&["hostile"]);
    let trusted = hostile(&f.runtime, hostile_limits()).await;
    let (doc, ctx) = doc_for("workspace");
    let items = f.runtime.complete(&trusted, &doc, &ctx).await.unwrap();
    let labels: Vec<&str> = items.iter().map(|i| i.label.as_str()).collect();
    assert_eq!(labels.len(), 2, "{labels:?}");
    assert!(
        labels[0].contains("denied"),
        "traversal must be denied: {labels:?}"
    );
    assert!(
        labels[1].contains("ok"),
        "a workspace file is readable: {labels:?}"
    );
}

/// A model backend that takes its time, like a remote model does.
struct SlowModel;

impl cordon::backends::Backend for SlowModel {
    fn name(&self) -> &str {
        "slow"
    }
    fn provider(&self) -> &'static str {
        "local"
    }
    fn model(&self) -> &str {
        "slow"
    }
    fn chat<'a>(
        &'a self,
        _: &'a cordon::api::model::ChatRequest,
        _: &'a cordon::backends::Call,
    ) -> cordon::backends::BoxFuture<
        'a,
        Result<cordon::api::model::Response, cordon::api::PluginError>,
    > {
        Box::pin(async { Err(cordon::api::PluginError::Unavailable("chat".into())) })
    }
    fn fim<'a>(
        &'a self,
        _: &'a cordon::api::model::FimRequest,
        _: &'a cordon::backends::Call,
    ) -> cordon::backends::BoxFuture<
        'a,
        Result<cordon::api::model::Response, cordon::api::PluginError>,
    > {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            Ok(cordon::api::model::Response {
                text: "slow answer".into(),
                usage: cordon::api::model::Usage {
                    input_tokens: 1,
                    output_tokens: 1,
                },
                stop_reason: cordon::api::model::StopReason::End,
                backend: "slow".into(),
                model: "slow".into(),
            })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_on_the_model_is_not_cpu_time() {
    let mut router = Router::default();
    router.add(Arc::new(SlowModel));
    router.route("default", "slow");
    let services = Services::new(
        router,
        None,
        Arc::new(Policy::builtin_defaults(&["hostile"])),
    );
    let runtime = Runtime::new(services, None).unwrap();
    // 100 ms of CPU, a model that answers after 600 ms.
    let limits = Limits {
        cpu: Duration::from_millis(100),
        ..hostile_limits()
    };
    let plugin = hostile(&runtime, limits).await;
    let (doc, ctx) = doc_for("model");
    let items = runtime.complete(&plugin, &doc, &ctx).await.unwrap();
    assert_eq!(items[0].label, "model-ok", "{items:?}");
    assert_eq!(items[0].detail.as_deref(), Some("slow answer"));

    // The wall-clock bound still holds: the call is cut, not left hanging.
    let impatient = Limits {
        wall: Duration::from_millis(200),
        ..limits
    };
    let plugin = hostile(&runtime, impatient).await;
    let err = runtime.complete(&plugin, &doc, &ctx).await.unwrap_err();
    assert_eq!(err.kind(), "timeout", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_answer_reaches_the_plugin_piece_by_piece() {
    let server = common::OpenAiServer::start("Hello, streaming world", "", Duration::ZERO);
    let config: cordon_providers::BackendConfig = toml::from_str(&format!(
        "provider = \"openai\"\nmodel = \"test-model\"\nbase_url = \"{}\"\n",
        server.url
    ))
    .unwrap();
    let provider = cordon_providers::Provider::new("gpt", &config)
        .await
        .unwrap();
    let mut router = Router::default();
    router.add(Arc::new(cordon::backends::remote::RemoteBackend::new(
        provider,
    )));
    router.route("default", "gpt");
    let services = Services::new(
        router,
        None,
        Arc::new(Policy::builtin_defaults(&["hostile"])),
    );
    let runtime = Runtime::new(services, None).unwrap();
    let plugin = hostile(&runtime, hostile_limits()).await;
    let (doc, ctx) = doc_for("stream");
    let items = runtime.complete(&plugin, &doc, &ctx).await.unwrap();
    assert_eq!(items[0].insert_text, "Hello, streaming world", "{items:?}");
    assert_eq!(items[0].label, "3 pieces", "{items:?}");
    assert_eq!(items[0].detail.as_deref(), Some("3 output tokens"));
    let request = &server.requests()[0];
    assert!(request.body.contains("\"stream\":true"), "{}", request.body);
}
