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

/// Keeps the ticker running while it lives (one per plugin call).
pub struct Ticking {
    shared: Arc<Shared>,
}

impl Drop for Ticking {
    fn drop(&mut self) {
        self.shared.active.fetch_sub(1, Ordering::SeqCst);
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
        self.shared.active.fetch_add(1, Ordering::SeqCst);
        self.thread.unpark();
        Ticking {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.thread.unpark();
    }
}
