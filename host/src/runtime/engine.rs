//! The one wasmtime [`Engine`]: component model, epoch interruption,
//! bounded stacks, the pooling allocator.

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

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
        // For what is kept resident (tables): where the kernel can tell
        // which pages are resident (Linux 6.7+), reset only those.
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
