//! `textDocument/hover` (opt-in, the `hover_explain` setting): the explanation of the
//! code under the cursor, streamed into the client's progress when it
//! gave a token.

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::command::explain_at;
use crate::lsp::progress;
use crate::lsp::server::Lsp;

pub(crate) async fn hover(lsp: &Lsp, params: HoverParams) -> Result<Option<Hover>> {
    if !lsp.settings().hover_explain {
        return Ok(None);
    }
    let tdp = params.text_document_position_params;
    let range = Range {
        start: tdp.position,
        end: tdp.position,
    };
    // Only under the client's token: hovers are too frequent for the
    // server to create a progress for each.
    let token = progress::Token::choose(params.work_done_progress_params.work_done_token, false);
    let markdown = progress::run(&lsp.client, token, "explain", |sink| {
        explain_at(lsp, &tdp.text_document.uri, range, sink)
    })
    .await?;
    Ok(Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: markdown,
        }),
        range: None,
    }))
}
