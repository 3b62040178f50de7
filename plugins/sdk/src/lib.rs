//! `cordon_plugin_sdk`, the Rust SDK for Cordon plugins, in the manner of
//! Zed's `extension_api`: the one place the `cordon:plugin@0.2.0` bindings
//! are generated, and the helpers plugin logic is written with. Cordon's
//! first-party plugins are built on it, and so is a plugin made by
//! `cordon new NAME --lang rust` (see the crate's `README.md` for a whole
//! plugin and how to build it).
//!
//! # Versions
//!
//! The SDK's version and the WIT package's are tied: SDK `0.2.x` implements
//! `cordon:plugin@0.2.0` ([`WIT_VERSION`]), and a plugin built with it
//! imports and exports exactly that package's interfaces. A new WIT version
//! (a folder `wit/0.3.0/` in Cordon's repository) comes with SDK `0.3.0`:
//! in the component model a new record field or enum case changes the
//! type, so it cannot be added within a version. Cordon keeps running
//! plugins built against earlier versions. A unit test fails when the crate
//! version's major.minor differs from the WIT package's.
//!
//! # Contents
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

/// The version of the WIT package this SDK implements, `cordon:plugin@0.2.0`
/// (the `package` line of `wit/worlds.wit`).
pub const WIT_VERSION: &str = "0.2.0";

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
pub use wit::base::exports::cordon::plugin::describe::{
    CapabilityRequest, Guest as DescribeGuest, Info,
};

impl CapabilityRequest {
    /// A request for `capability` (`model`, `workspace.read` or `log`),
    /// with why, in one line.
    pub fn new(capability: &str, why: &str) -> Self {
        CapabilityRequest {
            capability: capability.to_owned(),
            why: why.to_owned(),
        }
    }
}
pub use wit::completion::exports::cordon::plugin::completion::{
    CompletionItem, Guest as CompletionGuest,
};
pub use wit::explain::exports::cordon::plugin::explain::Guest as ExplainGuest;
pub use wit::refactor::exports::cordon::plugin::refactor::{Action, Guest as RefactorGuest};

#[cfg(test)]
mod tests {
    use super::WIT_VERSION;

    /// The version in `package cordon:plugin@X;` of the WIT the bindings
    /// are generated from.
    fn wit_package_version() -> &'static str {
        let worlds = include_str!("../wit/worlds.wit");
        worlds
            .lines()
            .find_map(|line| line.trim().strip_prefix("package cordon:plugin@"))
            .and_then(|rest| rest.strip_suffix(';'))
            .expect("wit/worlds.wit has a `package cordon:plugin@X;` line")
    }

    fn major_minor(version: &str) -> (&str, &str) {
        let mut parts = version.split('.');
        let major = parts.next().unwrap_or_default();
        let minor = parts.next().unwrap_or_default();
        (major, minor)
    }

    #[test]
    fn wit_version_is_the_wit_package_version() {
        assert_eq!(WIT_VERSION, wit_package_version());
    }

    #[test]
    fn sdk_major_minor_is_the_wit_package_major_minor() {
        let sdk = env!("CARGO_PKG_VERSION");
        let wit = wit_package_version();
        assert_eq!(
            major_minor(sdk),
            major_minor(wit),
            "SDK {sdk} must implement WIT cordon:plugin@{wit}: bump both together"
        );
    }
}
