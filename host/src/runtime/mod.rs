//! The sandbox: loading plugin components and calling them under limits.
//!
//! Each plugin is compiled once (see [`cache`]) and pre-linked; every feature
//! call instantiates it afresh in a new store from the pooling allocator, so
//! no state leaks from one call to the next. Per call: a linear-memory cap,
//! a CPU budget (epoch interruption; time awaiting host calls is not
//! counted), a wall-clock bound, a wasm stack limit, and bounded output.
//! Whatever the plugin does, the outcome is a value or a [`CallError`] for
//! that call; the host never panics on plugin behaviour.

pub mod cache;
pub mod check;
pub mod engine;
pub mod limiter;
pub mod meter;
pub mod plugin;
pub mod stdio;
pub mod ticker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{CallHook, Engine, Store, Trap, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::api::{Action, CompletionItem, DocumentContext, FullPlugin, PluginError, TextEdit};
use crate::document::Document;
use crate::gate::{Gate, LogLimits, Services, TextSink};
use crate::text;
use crate::validate::{self, InvalidOutput, OutputLimits};
use limiter::{MemoryExceeded, MemoryLimiter};
use meter::{CpuExceeded, CpuMeter};
pub use plugin::{Feature, LoadError, Origin, Plugin};
use stdio::CappedPipe;

/// Limits applied to each call of a plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of linear memory.
    pub memory_bytes: usize,
    /// Time running plugin code.
    pub cpu: Duration,
    /// Time the host works for the plugin's calls (not waiting on a remote
    /// model).
    pub host_work: Duration,
    /// Time for the whole call, model requests included.
    pub wall: Duration,
    /// What the plugin may return.
    pub output: OutputLimits,
    /// Bytes of stdout and of stderr kept for the log.
    pub stdio_bytes: usize,
    /// What the plugin may log.
    pub log: LogLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 * 1024 * 1024,
            cpu: Duration::from_millis(250),
            host_work: Duration::from_secs(1),
            wall: Duration::from_secs(60),
            output: OutputLimits::default(),
            stdio_bytes: 16 * 1024,
            log: LogLimits::default(),
        }
    }
}

/// Why a plugin call produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("plugin `{plugin}` does not provide {feature}")]
    NotProvided {
        plugin: String,
        feature: &'static str,
    },
    #[error("plugin `{plugin}` {0}", .reason)]
    CpuTime { plugin: String, reason: CpuExceeded },
    #[error("plugin `{plugin}` ran out of memory: {reason}")]
    Memory {
        plugin: String,
        reason: MemoryExceeded,
    },
    #[error("plugin `{plugin}` overflowed its stack (unbounded recursion?)")]
    StackOverflow { plugin: String },
    #[error("plugin `{plugin}` did not finish within {limit:?}")]
    WallTimeout { plugin: String, limit: Duration },
    #[error("plugin `{plugin}` crashed: {message}")]
    Trap { plugin: String, message: String },
    #[error("plugin `{plugin}` returned an invalid answer: {reason}")]
    InvalidOutput {
        plugin: String,
        reason: InvalidOutput,
    },
    #[error("plugin `{plugin}`: {}: {}", .error.kind(), .error.message())]
    Plugin { plugin: String, error: PluginError },
}

impl CallError {
    /// A short stable name for the kind of failure, for `--json` output and
    /// the LSP layer. Plugin errors use their WIT variant name.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::NotProvided { .. } => "not-provided",
            CallError::CpuTime { .. } => "cpu-time",
            CallError::Memory { .. } => "memory",
            CallError::StackOverflow { .. } => "stack-overflow",
            CallError::WallTimeout { .. } => "timeout",
            CallError::Trap { .. } => "trap",
            CallError::InvalidOutput { .. } => "invalid-output",
            CallError::Plugin { error, .. } => error.kind(),
        }
    }

    /// What went wrong, for a person: a model error's own message (which
    /// says what to configure) without the plugin and variant in front;
    /// otherwise the whole error.
    pub fn reason(&self) -> String {
        match self {
            CallError::Plugin { error, .. } => error.message().to_owned(),
            other => other.to_string(),
        }
    }
}

/// The data of one call's store.
pub struct CallState {
    wasi: WasiCtx,
    wasi_table: ResourceTable,
    limiter: MemoryLimiter,
    gate: Gate,
    /// Keeps the epoch advancing while the plugin's own code runs.
    ticking: ticker::Ticking,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.wasi_table,
        }
    }
}

/// The sandbox runtime: one engine, one linker, the loaded plugins.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    services: Arc<Services>,
    cache_dir: Option<PathBuf>,
    compiler: cache::Compiler,
    ticker: ticker::EpochTicker,
}

impl Runtime {
    /// A runtime whose gate delegates to `services`, caching compiled
    /// plugins in `cache_dir` (none: compile every time).
    pub fn new(services: Services, cache_dir: Option<PathBuf>) -> wasmtime::Result<Self> {
        let engine = engine::new_engine()?;
        let mut linker = Linker::new(&engine);
        // WASI is linked because components built with Rust's std import it,
        // but each call's WasiCtx has no preopened folders, no environment,
        // no arguments, no network and no stdin.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        // Every API version's imports, all implemented by the one gate.
        FullPlugin::add_to_linker::<CallState, HasSelf<Gate>>(&mut linker, |s| &mut s.gate)?;
        crate::api::v0_1_0::FullPlugin::add_to_linker::<CallState, HasSelf<Gate>>(
            &mut linker,
            |s| &mut s.gate,
        )?;
        let ticker = ticker::EpochTicker::start(&engine).map_err(|err| {
            wasmtime::Error::msg(format!(
                "cannot start the clock that bounds plugins' CPU time: {err}"
            ))
        })?;
        Ok(Runtime {
            engine,
            linker,
            services: Arc::new(services),
            cache_dir,
            compiler: cache::Compiler::default(),
            ticker,
        })
    }

    /// Compile plugins with `compiler` (e.g. in child processes, bounded
    /// in time) instead of in this process.
    pub fn compile_with(&mut self, compiler: cache::Compiler) {
        self.compiler = compiler;
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The services the gate delegates to.
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    fn new_store(&self, plugin: &Plugin, limits: &Limits) -> (Store<CallState>, [CappedPipe; 2]) {
        let ticking = self.ticker.tick();
        let stdout = CappedPipe::new(limits.stdio_bytes);
        let stderr = CappedPipe::new(limits.stdio_bytes);
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let meter = CpuMeter::new(limits.cpu, limits.host_work);
        let gate = Gate::new(
            Arc::clone(&plugin.name),
            Arc::clone(&plugin.digest_arc),
            Arc::clone(&self.services),
            meter,
            limits.log,
        );
        let mut store = Store::new(
            &self.engine,
            CallState {
                wasi,
                wasi_table: ResourceTable::new(),
                limiter: MemoryLimiter {
                    cap: limits.memory_bytes,
                },
                gate,
                ticking,
            },
        );
        store.limiter(|s| &mut s.limiter);
        // Every host call passes here, WASI's included: the plugin's clock
        // stops and the host-work clock runs until it returns; the epoch
        // only needs to advance while the plugin's code runs.
        store.call_hook(|mut ctx, hook| {
            let state = ctx.data_mut();
            match hook {
                CallHook::CallingHost => {
                    state.gate.meter().enter_host();
                    state.ticking.pause();
                }
                CallHook::ReturningFromHost => {
                    state.ticking.resume();
                    state.gate.meter().leave_host()?;
                }
                CallHook::CallingWasm | CallHook::ReturningFromWasm => {}
            }
            Ok(())
        });
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|ctx| match ctx.data().gate.meter().charge() {
            // Yield at every tick so that a busy plugin never holds an
            // executor thread that other calls are waiting for.
            Ok(()) => Ok(UpdateDeadline::Yield(1)),
            Err(exceeded) => Err(exceeded.into()),
        });
        (store, [stdout, stderr])
    }

    /// A fresh store for one call of `plugin`, with the meter running.
    fn begin(&self, plugin: &Plugin) -> Call {
        let (store, pipes) = self.new_store(plugin, &plugin.limits);
        store.data().gate.meter().start();
        Call { store, pipes }
    }

    /// Completion items for `context` in `doc`, validated.
    pub async fn complete(
        &self,
        plugin: &Plugin,
        doc: &Document,
        context: &DocumentContext,
    ) -> Result<Vec<CompletionItem>, CallError> {
        let export = plugin
            .exports
            .completion
            .as_ref()
            .ok_or_else(|| not_provided(plugin, "completion"))?;
        let mut call = self.begin(plugin);
        let store = &mut call.store;
        let outcome = tokio::time::timeout(plugin.limits.wall, async {
            let instance = plugin.pre.instantiate_async(&mut *store).await?;
            export.complete(store, &instance, context).await
        })
        .await;
        let items = call.finish(plugin, outcome)?;
        validate::completion_items(&items, doc, plugin.limits.output)
            .map_err(|reason| invalid(plugin, reason))?;
        Ok(items)
    }

    /// Refactor actions offered for `context`, validated.
    pub async fn actions(
        &self,
        plugin: &Plugin,
        context: &DocumentContext,
    ) -> Result<Vec<Action>, CallError> {
        let export = plugin
            .exports
            .refactor
            .as_ref()
            .ok_or_else(|| not_provided(plugin, "refactor"))?;
        let mut call = self.begin(plugin);
        let store = &mut call.store;
        let outcome = tokio::time::timeout(plugin.limits.wall, async {
            let instance = plugin.pre.instantiate_async(&mut *store).await?;
            export.actions(store, &instance, context).await
        })
        .await;
        let actions = call.finish(plugin, outcome)?;
        validate::actions(&actions, plugin.limits.output)
            .map_err(|reason| invalid(plugin, reason))?;
        Ok(actions)
    }

    /// The edits of refactor action `id`, validated against `doc`.
    pub async fn apply(
        &self,
        plugin: &Plugin,
        doc: &Document,
        context: &DocumentContext,
        id: &str,
        instruction: Option<&str>,
    ) -> Result<Vec<TextEdit>, CallError> {
        let export = plugin
            .exports
            .refactor
            .as_ref()
            .ok_or_else(|| not_provided(plugin, "refactor"))?;
        let mut call = self.begin(plugin);
        let store = &mut call.store;
        let outcome = tokio::time::timeout(plugin.limits.wall, async {
            let instance = plugin.pre.instantiate_async(&mut *store).await?;
            export
                .apply(store, &instance, context, id, instruction)
                .await
        })
        .await;
        let edits = call.finish(plugin, outcome)?;
        validate::edits(&edits, doc, plugin.limits.output)
            .map_err(|reason| invalid(plugin, reason))?;
        Ok(edits)
    }

    /// A markdown explanation of `context`, validated. When `sink` is
    /// given, the text of the model's streamed answers goes there as it
    /// arrives (unvalidated: a preview, not the result).
    pub async fn explain(
        &self,
        plugin: &Plugin,
        context: &DocumentContext,
        sink: Option<TextSink>,
    ) -> Result<String, CallError> {
        let export = plugin
            .exports
            .explain
            .as_ref()
            .ok_or_else(|| not_provided(plugin, "explain"))?;
        let mut call = self.begin(plugin);
        if let Some(sink) = sink {
            call.store.data_mut().gate.show_streams(sink);
        }
        let store = &mut call.store;
        let outcome = tokio::time::timeout(plugin.limits.wall, async {
            let instance = plugin.pre.instantiate_async(&mut *store).await?;
            export.explain(store, &instance, context).await
        })
        .await;
        let text = call.finish(plugin, outcome)?;
        validate::markdown(&text, plugin.limits.output)
            .map_err(|reason| invalid(plugin, reason))?;
        Ok(text)
    }
}

/// One call in progress: its store and captured output.
struct Call {
    store: Store<CallState>,
    pipes: [CappedPipe; 2],
}

/// What a bounded call produced: timed out, trapped, failed or answered.
type Outcome<R> = Result<wasmtime::Result<Result<R, PluginError>>, tokio::time::error::Elapsed>;

impl Call {
    /// Log the call's output and turn its outcome into a value or a
    /// [`CallError`].
    fn finish<R>(mut self, plugin: &Plugin, outcome: Outcome<R>) -> Result<R, CallError> {
        let name = plugin.name();
        // What the plugin printed is logging too: only with `log` granted.
        let printed = [&self.pipes[0], &self.pipes[1]]
            .iter()
            .any(|p| p.has_output());
        // Read before the pipes are flushed: a crash is told by what the
        // plugin said last (a panic message), not by the trap alone.
        let last_words = match &outcome {
            Ok(Err(_)) => stdio::last_words(&self.pipes[1].contents()),
            _ => None,
        };
        let gate = &mut self.store.data_mut().gate;
        let may_log = if printed {
            gate.may_log()
        } else {
            gate.log_decision().unwrap_or(true)
        };
        gate.finish();
        let gate = &self.store.data().gate;
        flush_output(name, &self.pipes, gate.dropped_logs(), may_log);
        let used = gate.meter().used();
        tracing::debug!(
            plugin = name,
            cpu_us = used.as_micros() as u64,
            "plugin call finished"
        );
        match outcome {
            Err(_elapsed) => Err(CallError::WallTimeout {
                plugin: name.to_owned(),
                limit: plugin.limits.wall,
            }),
            Ok(Err(trap)) => Err(classify(name, trap, last_words.as_deref())),
            Ok(Ok(Err(error))) => Err(CallError::Plugin {
                plugin: name.to_owned(),
                // The plugin's own text: bounded, one line, no escapes.
                error: error.with_message(|m| text::one_line(m, text::MAX_MESSAGE_BYTES)),
            }),
            Ok(Ok(Ok(value))) => Ok(value),
        }
    }
}

fn not_provided(plugin: &Plugin, feature: &'static str) -> CallError {
    CallError::NotProvided {
        plugin: plugin.name().to_owned(),
        feature,
    }
}

fn invalid(plugin: &Plugin, reason: InvalidOutput) -> CallError {
    CallError::InvalidOutput {
        plugin: plugin.name().to_owned(),
        reason,
    }
}

/// Name the cause of a trap; `last_words` is what the plugin wrote last on
/// stderr (a panic message), which says more than `unreachable`.
fn classify(plugin: &str, error: wasmtime::Error, last_words: Option<&str>) -> CallError {
    let plugin = plugin.to_owned();
    if let Some(reason) = error.downcast_ref::<CpuExceeded>() {
        return CallError::CpuTime {
            plugin,
            reason: *reason,
        };
    }
    if let Some(reason) = error.downcast_ref::<MemoryExceeded>() {
        return CallError::Memory {
            plugin,
            reason: *reason,
        };
    }
    if let Some(Trap::StackOverflow) = error.downcast_ref::<Trap>() {
        return CallError::StackOverflow { plugin };
    }
    let message = match (error.downcast_ref::<Trap>(), last_words) {
        (Some(_), Some(words)) => words.to_owned(),
        (Some(trap), None) => trap.to_string(),
        (None, _) => format!("{error:#}"),
    };
    CallError::Trap { plugin, message }
}

/// Send what the plugin printed to the log.
fn flush_output(plugin: &str, pipes: &[CappedPipe; 2], dropped_logs: usize, may_log: bool) {
    for (stream, pipe) in ["stdout", "stderr"].into_iter().zip(pipes) {
        let captured = pipe.take();
        if !may_log {
            continue;
        }
        if !captured.bytes.is_empty() {
            let text = String::from_utf8_lossy(&captured.bytes);
            let text = text::for_terminal(text.trim_end(), captured.bytes.len());
            tracing::info!(target: "cordon::plugin", plugin, stream, "{text}");
        }
        if captured.dropped > 0 {
            tracing::warn!(target: "cordon::plugin", plugin, stream, dropped_bytes = captured.dropped, "plugin output over the cap was dropped");
        }
    }
    // Without `log`, the denial is audited once and nothing else is said.
    if dropped_logs > 0 && may_log {
        tracing::warn!(target: "cordon::plugin", plugin, dropped_messages = dropped_logs, "plugin log messages over the cap were dropped");
    }
}
