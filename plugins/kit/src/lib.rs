//! Shared building blocks for Cordon's first-party plugins, in the manner of
//! Zed's `extension_api`: the one place the `cordon:plugin@0.1.0` bindings
//! are generated, and the helpers plugin logic is written with.
//!
//! - [`wit`] holds what `wit_bindgen::generate!` makes of the WIT package.
//!   The crate root re-exports its types ([`DocumentContext`],
//!   [`CompletionItem`], [`ChatRequest`], [`Error`], ...), so plugin logic
//!   works on the very types that cross the component boundary; [`types`]
//!   adds constructors and accessors to them.
//! - [`Model`] is how plugin logic reaches a model: [`HostModel`] (the
//!   imported `model` interface) inside a component, a fake in tests,
//!   anything else in a native benchmark.
//! - [`export_completion!`], [`export_refactor!`] and [`export_explain!`]
//!   export a type implementing a world's `Guest` traits as the component.
//! - [`text`] does line and character arithmetic in Unicode scalar values,
//!   the coordinate system of the WIT package, over the context windows.
//! - [`item`] finds the item (function, class, impl, ...) enclosing the
//!   cursor with language-aware heuristics.
//! - [`fence`] extracts fenced code blocks from a model's Markdown reply.
//! - [`testing`] has a canned [`Model`] and a context builder from marked
//!   source text, for tests and native benchmarks.
//!
//! Everything but the imports runs natively too (unit tests, the host's
//! native-versus-Wasm benchmark); off `wasm32` an imported function panics.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod export;
pub mod fence;
pub mod item;
mod model;
pub mod testing;
pub mod text;
pub mod types;
// The generated bindings are the only unsafe code (the canonical ABI).
#[allow(unsafe_code)]
pub mod wit;

pub use model::{HostModel, Model};
pub use wit::base::cordon::plugin::log::{Level, log};
pub use wit::base::cordon::plugin::model::{
    Candidate, ChatRequest, CompletionStream, FimRequest, Message, Purpose, RankedResponse,
    Response, Role, StopReason, Usage,
};
pub use wit::base::cordon::plugin::types::{
    Diagnostic, DocumentContext, Error, Position, Range, Severity, TextEdit,
};
pub use wit::base::cordon::plugin::workspace::{list_files, read_file};
pub use wit::base::exports::cordon::plugin::describe::{Guest as DescribeGuest, Info};
pub use wit::completion::exports::cordon::plugin::completion::{
    CompletionItem, Guest as CompletionGuest,
};
pub use wit::explain::exports::cordon::plugin::explain::Guest as ExplainGuest;
pub use wit::refactor::exports::cordon::plugin::refactor::{Action, Guest as RefactorGuest};
