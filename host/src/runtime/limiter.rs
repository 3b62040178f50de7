//! The per-call cap on a plugin's linear memory.

/// A plugin tried to grow its memory past its cap.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("tried to grow memory to {desired} bytes, more than the {cap}-byte limit")]
pub struct MemoryExceeded {
    pub desired: usize,
    pub cap: usize,
}

/// Caps the memories and tables of one call's store.
#[derive(Debug, Clone, Copy)]
pub struct MemoryLimiter {
    /// Bytes per linear memory.
    pub cap: usize,
}

/// Table elements allowed per table; generous for real plugins, small enough
/// that a table bomb stays cheap. This limit is the one Cordon relies on
/// (it also holds where the pooling allocator is unavailable); `engine`
/// gives the pool the same number, so neither acts before the other.
pub const MAX_TABLE_ELEMENTS: usize = 20_000;

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            // An error (rather than `Ok(false)`) traps at once with a cause we
            // can name, instead of letting the guest's allocator abort later.
            return Err(MemoryExceeded {
                desired,
                cap: self.cap,
            }
            .into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
