//! Cordon's first-party completion plugin.
//!
//! [`logic`] turns a document context into a fill-in-the-middle request,
//! asks the model, and shapes the answer into completion items. It works on the
//! WIT types the SDK generates, and runs natively as well (tests, the host's
//! native benchmark). The `component` module, compiled for `wasm32` only,
//! exports it as the `completion-plugin` world of `cordon:plugin@0.2.0`.

pub mod logic;

#[cfg(all(target_arch = "wasm32", feature = "component"))]
mod component;
