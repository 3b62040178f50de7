//! `textDocument/hover` (opt-in, the `hover_explain` setting): the explanation of the
//! code under the cursor, streamed into the client's progress when it
//! gave a token.

use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::command::{explain_at, explain_unavailable, is_protocol};
use crate::lsp::convert::user_reason;
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
    // A document that is not open (or is excluded) is the editor's error.
    lsp.snapshot(&tdp.text_document.uri, tdp.position, None)?;
    // Said where the user looks, without asking a model that cannot answer.
    if let Some(reason) = lsp.session().ok().and_then(|s| explain_unavailable(s)) {
        return Ok(Some(markdown(format!(
            "Cordon cannot explain this code: {reason}"
        ))));
    }
    // Only under the client's token: hovers are too frequent for the
    // server to create a progress for each.
    let token = progress::Token::choose(params.work_done_progress_params.work_done_token, false);
    let explained = progress::run(&lsp.client, token, "Explaining…", |sink| {
        explain_at(lsp, &tdp.text_document.uri, range, sink)
    })
    .await;
    match explained {
        Ok(text) => Ok(Some(markdown(text))),
        Err(err) if is_protocol(&err) => Err(err),
        // In the hover, in words: no error pop-up for a mouse move.
        Err(err) => Ok(Some(markdown(format!(
            "Cordon could not explain this code: {}",
            user_reason(&err)
        )))),
    }
}

fn markdown(value: String) -> Hover {
    Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value,
        }),
        range: None,
    }
}
