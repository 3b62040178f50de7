//! `cordon/stats`: the LSP layer's counters, and the request that reports
//! them with the gate's (for tests and benchmarks).

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;

use crate::lsp::server::Lsp;

/// Counters of the LSP layer.
#[derive(Default)]
pub(crate) struct LspStats {
    pub(crate) inline_requests: AtomicU64,
    pub(crate) superseded: AtomicU64,
    pub(crate) cache_hits: AtomicU64,
    pub(crate) plugin_calls: AtomicU64,
    /// Completion plugin calls dropped as stragglers.
    pub(crate) stragglers_dropped: AtomicU64,
    /// Completion and refactor plugin calls not made because the plugin
    /// was benched.
    pub(crate) benched_skips: AtomicU64,
    /// Refactor plugins' offers of actions dropped as too late.
    pub(crate) late_actions: AtomicU64,
}

/// `cordon/stats`: counters for tests and benchmarks.
pub(crate) fn stats(lsp: &Lsp) -> Result<Value> {
    let session = lsp.session()?;
    let gate = &session.runtime.services().stats();
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    Ok(json!({
        "model_requests": get(&gate.model_requests),
        "denials": get(&gate.denials),
        "inline_requests": get(&lsp.stats.inline_requests),
        "superseded": get(&lsp.stats.superseded),
        "cache_hits": get(&lsp.stats.cache_hits),
        "plugin_calls": get(&lsp.stats.plugin_calls),
        "stragglers_dropped": get(&lsp.stats.stragglers_dropped),
        "benched_skips": get(&lsp.stats.benched_skips),
        "late_actions": get(&lsp.stats.late_actions),
        "plugins": session.catalog().plugins.len(),
        "plugins_loading": session.loading(),
        "open_documents": lsp.documents.len(),
    }))
}
