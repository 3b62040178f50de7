//! What the client said it supports, reduced to the few answers that
//! depend on it.

use tower_lsp_server::ls_types::ClientCapabilities;

/// The client's support for what the server's answers may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ClientSupport {
    /// Completion items may be snippets. Multi-word items are sent as
    /// (escaped) snippets then: Neovim inserts a plain-text item only up to
    /// its first space.
    pub snippets: bool,
    /// `window/showDocument`: an explanation opens as a Markdown document.
    pub show_document: bool,
    /// Code actions may be offered disabled, with the reason.
    pub disabled_actions: bool,
    /// `codeAction/resolve` may fill in an action's edit. A client that
    /// cannot (Eglot 1.9) gets refactors as `cordon.refactor` commands.
    pub resolves_edits: bool,
    /// Progress tokens created by the server (`window/workDoneProgress/create`).
    pub server_progress: bool,
}

impl ClientSupport {
    pub(crate) fn of(caps: &ClientCapabilities) -> Self {
        let text = caps.text_document.as_ref();
        let window = caps.window.as_ref();
        ClientSupport {
            snippets: text
                .and_then(|t| t.completion.as_ref())
                .and_then(|c| c.completion_item.as_ref())
                .and_then(|i| i.snippet_support)
                .unwrap_or(false),
            show_document: window
                .and_then(|w| w.show_document.as_ref())
                .is_some_and(|s| s.support),
            disabled_actions: text
                .and_then(|t| t.code_action.as_ref())
                .and_then(|c| c.disabled_support)
                .unwrap_or(false),
            resolves_edits: text
                .and_then(|t| t.code_action.as_ref())
                .and_then(|c| c.resolve_support.as_ref())
                .is_some_and(|r| r.properties.iter().any(|p| p == "edit")),
            server_progress: window.and_then(|w| w.work_done_progress).unwrap_or(false),
        }
    }
}
