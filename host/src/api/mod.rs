//! Rust bindings of the plugin authors' API, one module per WIT version
//! (`wit/<version>/`).
//!
//! This module is the latest version, `cordon:plugin@0.2.0`: everything the
//! host exchanges with a plugin uses its generated types, so the WIT stays
//! the single definition of the contract. A plugin built against an
//! earlier version is served by that version's adapters ([`v0_1_0`]), which
//! convert its values to the latest types and go through the same gate;
//! [`guest`] calls a plugin's exports whatever its version. Nothing outside
//! this folder names an earlier version's types.

pub mod guest;
pub mod v0_1_0;

/// The plugin API versions this build runs, latest first: a component may
/// be built against any of them.
pub const VERSIONS: &[&str] = &["0.2.0", v0_1_0::VERSION];

/// The latest plugin API version, the one `cordon new` and the SDK build
/// against.
pub const LATEST: &str = VERSIONS[0];

wasmtime::component::bindgen!({
    path: "../wit/0.2.0",
    world: "full-plugin",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [PartialEq],
    with: {
        "cordon:plugin/model.completion-stream": crate::gate::ModelStream,
    },
    // Imports return `gate::Refusal`: a denial and a trap are both `?`.
    trappable_error_type: {
        "cordon:plugin/types.error" => crate::gate::Refusal,
    },
});

pub use cordon::plugin::types::{
    Diagnostic, DocumentContext, Error as PluginError, Position, Range, Severity, TextEdit,
};
pub use cordon::plugin::{log, model};
pub use exports::cordon::plugin::completion::CompletionItem;
pub use exports::cordon::plugin::describe::{CapabilityRequest, Info};
pub use exports::cordon::plugin::refactor::Action;

impl PluginError {
    /// The variant's name as written in the WIT (`denied`, `timeout`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            PluginError::Denied(_) => "denied",
            PluginError::BudgetExceeded(_) => "budget-exceeded",
            PluginError::RateLimited(_) => "rate-limited",
            PluginError::Timeout(_) => "timeout",
            PluginError::Unavailable(_) => "unavailable",
            PluginError::InvalidRequest(_) => "invalid-request",
        }
    }

    /// The same error with its message passed through `f`.
    pub fn with_message(self, f: impl FnOnce(&str) -> String) -> Self {
        match self {
            PluginError::Denied(m) => PluginError::Denied(f(&m)),
            PluginError::BudgetExceeded(m) => PluginError::BudgetExceeded(f(&m)),
            PluginError::RateLimited(m) => PluginError::RateLimited(f(&m)),
            PluginError::Timeout(m) => PluginError::Timeout(f(&m)),
            PluginError::Unavailable(m) => PluginError::Unavailable(f(&m)),
            PluginError::InvalidRequest(m) => PluginError::InvalidRequest(f(&m)),
        }
    }

    /// The human-readable message carried by the variant.
    pub fn message(&self) -> &str {
        match self {
            PluginError::Denied(m)
            | PluginError::BudgetExceeded(m)
            | PluginError::RateLimited(m)
            | PluginError::Timeout(m)
            | PluginError::Unavailable(m)
            | PluginError::InvalidRequest(m) => m,
        }
    }
}

impl model::Purpose {
    /// Lowercase name, as used in configuration routes and the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            model::Purpose::Completion => "completion",
            model::Purpose::Explain => "explain",
            model::Purpose::Refactor => "refactor",
            model::Purpose::Chat => "chat",
        }
    }
}
