//! Cordon's first-party explain plugin.
//!
//! [`logic`] picks the code to explain (the selection, else the item
//! enclosing the cursor, else the lines around it), asks the model for a
//! concise Markdown explanation and returns it. It works on the WIT types
//! the SDK generates, and runs natively as well. The `component` module,
//! compiled for `wasm32` only, exports it as the `explain-plugin` world of
//! `cordon:plugin@0.2.0`.

pub mod logic;

#[cfg(all(target_arch = "wasm32", feature = "component"))]
mod component;
