//! `textDocument/inlineCompletion`: completion items as ghost text,
//! debounced and superseded per document (an edit or a newer request
//! cancels the call in flight, dropping its plugin instance).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use crate::api::{CompletionItem, DocumentContext};
use crate::lsp::convert;
use crate::lsp::documents::SlotKind;
use crate::lsp::server::Lsp;

pub(crate) async fn inline_completion(
    lsp: &Lsp,
    params: InlineCompletionParams,
) -> Result<Option<InlineCompletionResponse>> {
    let settings = lsp.settings();
    if !settings.inline_completion {
        return Ok(None);
    }
    let session = Arc::clone(lsp.session()?);
    let tdp = params.text_document_position;
    let uri = tdp.text_document.uri;
    let token = lsp.documents.supersede(&uri, SlotKind::Inline)?;
    lsp.stats.inline_requests.fetch_add(1, Ordering::Relaxed);
    // Bursts of keystrokes: wait for a pause; a newer request or an edit
    // cancels this one while it waits. An explicit request runs at once.
    if params.context.trigger_kind != InlineCompletionTriggerKind::INVOKED
        && !settings.debounce.is_zero()
    {
        tokio::select! {
            _ = token.cancelled() => {
                lsp.stats.superseded.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
            _ = tokio::time::sleep(settings.debounce) => {}
        }
    }
    let snap = lsp.snapshot(&uri, tdp.position, None)?;
    let items = tokio::select! {
        // Dropping the call drops the plugin instance and its model request.
        _ = token.cancelled() => {
            lsp.stats.superseded.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        items = lsp.complete(&session, &snap) => items?,
    };
    if lsp.version(&uri) != Some(snap.version) {
        return Ok(None);
    }
    let items: Vec<_> = items
        .into_iter()
        .filter(|item| !is_list_word(item, &snap.ctx))
        .collect();
    let items = convert::inline_items(items, &snap.doc, session.encoding);
    Ok(Some(InlineCompletionResponse::List(InlineCompletionList {
        items,
    })))
}

/// Whether `item` is an entry of a completion list rather than a proposal
/// to show as ghost text: a whole identifier replacing exactly the
/// identifier characters before the cursor (see `completion-item` in the
/// WIT). Ghost text is one confident proposal; the list's ranked words are
/// guesses a user picks from.
fn is_list_word(item: &CompletionItem, ctx: &DocumentContext) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_' || c == '$';
    let typed = ctx.prefix.chars().rev().take_while(|&c| ident(c)).count();
    let Some(start) = ctx.cursor.character.checked_sub(typed as u32) else {
        return false;
    };
    !item.insert_text.is_empty()
        && item.insert_text.chars().all(ident)
        && item.replace.end == ctx.cursor
        && item.replace.start.line == ctx.cursor.line
        && item.replace.start.character == start
}
