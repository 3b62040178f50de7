//! The one wasmtime [`Engine`] and the clock that drives CPU deadlines.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the granularity of CPU deadlines.
pub const TICK: Duration = Duration::from_millis(2);

/// Largest wasm stack a plugin call may use; deep recursion traps here.
pub const MAX_WASM_STACK: usize = 1024 * 1024;

/// Largest linear memory any plugin may be granted (policy may lower it).
pub const MAX_MEMORY_BYTES: usize = 1 << 30;

/// Bytes of each table slot kept resident between calls.
const TABLE_KEEP_RESIDENT: usize = 1024 * 1024;

/// Plugin calls that can run at the same time (pooling allocator slots).
const CONCURRENT_INSTANCES: u32 = 64;

/// Build the engine: component model, epoch interruption, bounded stacks and
/// the pooling allocator (falling back to on-demand allocation where the
/// system refuses the address-space reservation).
pub fn new_engine() -> wasmtime::Result<Engine> {
    let mut config = base_config();
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(CONCURRENT_INSTANCES)
        .total_core_instances(CONCURRENT_INSTANCES * 8)
        .total_memories(CONCURRENT_INSTANCES * 2)
        .total_tables(CONCURRENT_INSTANCES * 4)
        .total_stacks(CONCURRENT_INSTANCES)
        .max_core_instances_per_component(16)
        .max_memories_per_component(4)
        .max_tables_per_component(8)
        .table_elements(super::limiter::MAX_TABLE_ELEMENTS)
        .max_memory_size(MAX_MEMORY_BYTES)
        .max_unused_warm_slots(8)
        // A table's pages are reset in place instead of returned to the
        // kernel: each call would otherwise fault them in again (a few µs
        // per fault on a virtual machine). Linear memory stays on madvise:
        // keeping it resident means resetting every page ever touched on
        // every call, which measured slower.
        .table_keep_resident(TABLE_KEEP_RESIDENT)
        // Where the kernel can tell which pages a call dirtied (Linux 6.7+),
        // reset only those instead of the whole slot.
        .pagemap_scan(wasmtime::Enabled::Auto);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&config) {
        Ok(engine) => Ok(engine),
        Err(err) => {
            tracing::warn!("pooling allocator unavailable ({err:#}); allocating on demand");
            Engine::new(&base_config())
        }
    }
}

fn base_config() -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .max_wasm_stack(MAX_WASM_STACK)
        // Host calls run on the fiber stack too; leave them room above the
        // wasm stack limit.
        .async_stack_size(MAX_WASM_STACK + 1024 * 1024);
    config
}

/// Advances the engine's epoch every [`TICK`] while plugin calls run, and
/// sleeps otherwise, so an idle server costs no CPU wake-ups.
pub struct EpochTicker {
    shared: Arc<Shared>,
    thread: std::thread::Thread,
}

struct Shared {
    stop: AtomicBool,
    active: std::sync::atomic::AtomicUsize,
}

/// Keeps the ticker running while it lives and is not paused (one per
/// plugin call). A call pauses it while it waits on a host call (a model
/// request takes hundreds of milliseconds): only plugin code needs the
/// epoch to advance, so a call waiting on the network wakes nothing.
pub struct Ticking {
    shared: Arc<Shared>,
    thread: std::thread::Thread,
    running: bool,
}

impl Ticking {
    /// The plugin called the host: stop counting this call.
    pub fn pause(&mut self) {
        if std::mem::replace(&mut self.running, false) {
            self.shared.active.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// The host returned to the plugin: count this call again.
    pub fn resume(&mut self) {
        if !std::mem::replace(&mut self.running, true) {
            start(&self.shared, &self.thread);
        }
    }
}

impl Drop for Ticking {
    fn drop(&mut self) {
        self.pause();
    }
}

/// Count one more running call, waking the ticker if it was the first.
fn start(shared: &Shared, thread: &std::thread::Thread) {
    if shared.active.fetch_add(1, Ordering::SeqCst) == 0 {
        thread.unpark();
    }
}

impl EpochTicker {
    /// Start the ticker thread for `engine`.
    pub fn start(engine: &Engine) -> Self {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            active: Default::default(),
        });
        let flag = Arc::clone(&shared);
        let engine = engine.clone();
        let handle = std::thread::Builder::new()
            .name("cordon-epoch".into())
            .spawn(move || {
                while !flag.stop.load(Ordering::Relaxed) {
                    if flag.active.load(Ordering::SeqCst) == 0 {
                        // Woken by `tick` (or a rare spurious wake-up).
                        std::thread::park();
                        continue;
                    }
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        EpochTicker {
            shared,
            thread: handle.thread().clone(),
        }
    }

    /// Tick while the returned guard lives.
    pub fn tick(&self) -> Ticking {
        start(&self.shared, &self.thread);
        Ticking {
            shared: Arc::clone(&self.shared),
            thread: self.thread.clone(),
            running: true,
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.thread.unpark();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(ticker: &EpochTicker) -> usize {
        ticker.shared.active.load(Ordering::SeqCst)
    }

    #[test]
    fn only_calls_running_plugin_code_keep_the_ticker_going() {
        let ticker = EpochTicker::start(&Engine::default());
        let mut waiting = ticker.tick();
        let running_call = ticker.tick();
        assert_eq!(running(&ticker), 2);

        // Entering the host twice (a nested WASI call) counts once.
        waiting.pause();
        waiting.pause();
        assert_eq!(running(&ticker), 1);
        waiting.resume();
        waiting.resume();
        assert_eq!(running(&ticker), 2);

        // A call dropped while paused is not released twice: the ticker
        // would otherwise never park again.
        waiting.pause();
        drop(waiting);
        drop(running_call);
        assert_eq!(running(&ticker), 0);
    }
}
