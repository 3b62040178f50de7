//! Cordon's fuzz targets, one `pub fn(&[u8])` per parser that reads
//! untrusted bytes. The libFuzzer binaries in `fuzz/fuzz_targets/` call
//! these functions, and so does the stable replay test
//! (`tests/replay.rs`: every committed corpus file plus deterministic
//! mutations of them), so the smoke run in `scripts/test` runs exactly the
//! code the fuzzer runs.
//!
//! A target panics only when Cordon breaks a promise: a parser that panics,
//! hangs or allocates without bound, or an answer that breaks an invariant
//! the target checks (each says which).

mod config;
mod edits;
mod eventstream;
mod input;
mod lsp;
mod models;
mod policy;
mod sse;
mod validate;

pub use config::config;
pub use edits::lsp_edits;
pub use eventstream::eventstream;
pub use lsp::lsp_transport;
pub use models::model_replies;
pub use policy::policy;
pub use sse::sse;
pub use validate::validate;

/// A fuzz target: any bytes in, a panic only on a broken promise.
pub type Target = fn(&[u8]);

/// Every target by name, as `cargo fuzz run NAME` and `corpus/NAME/` call it.
pub const TARGETS: &[(&str, Target)] = &[
    ("config", config),
    ("eventstream", eventstream),
    ("lsp_edits", lsp_edits),
    ("lsp_transport", lsp_transport),
    ("model_replies", model_replies),
    ("policy", policy),
    ("sse", sse),
    ("validate", validate),
];
