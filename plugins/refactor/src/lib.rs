//! Cordon's first-party refactor plugin.
//!
//! [`logic`] lists the refactorings available at the cursor (cheaply, never
//! calling a model) and computes the edits of the one the user picked. It works
//! on the WIT types the SDK generates, and runs natively as well. The
//! `component` module, compiled for `wasm32` only, exports it as the
//! `refactor-plugin` world of `cordon:plugin@0.2.0`.

pub mod logic;

#[cfg(all(target_arch = "wasm32", feature = "component"))]
mod component;
