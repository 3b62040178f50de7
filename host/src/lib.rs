//! Cordon: a code-assistant runtime. One host process runs assistant features
//! (completion, refactor, explain) as sandboxed WebAssembly components; each
//! reaches a language model or the workspace only through the capability
//! gate. See `ARCHITECTURE.md` for the code map and the invariants.

pub mod api;
pub mod backends;
pub mod builtin;
pub mod catalog;
pub mod config;
pub mod context;
pub mod document;
pub mod export;
pub mod gate;
pub mod lsp;
pub mod policy;
pub mod report;
pub mod requests;
pub mod runtime;
pub mod session;
pub mod text;
pub mod trust;
pub mod validate;
pub mod workspace;
