//! The language server: `cordon lsp` speaks LSP on stdin/stdout.
//!
//! Documents are held as ropes and converted between the client's position
//! encoding and the plugin API's. Each feature request cuts a bounded
//! context, runs the plugins through [`crate::runtime::Runtime`] and
//! converts the validated answers back. This layer never talks to a model
//! backend: only the gate does.

mod cache;
mod client;
mod convert;
mod documents;
mod encoding;
mod explanation;
mod fanout;
mod handlers;
mod init;
mod progress;
mod reload;
mod server;
mod settings;
mod status;
mod stdio;
mod stragglers;
mod transport;

// For the fuzz targets (fuzz/): the parsers and conversions editor bytes
// and plugin answers go through.
#[doc(hidden)]
pub use convert::{completion_items, inline_items, workspace_edit};
#[doc(hidden)]
pub use documents::apply_changes;
pub use encoding::Encoding;
pub use server::{Options, serve};
pub use settings::{Settings, SettingsError};
#[doc(hidden)]
pub use transport::filter_client_bytes;
