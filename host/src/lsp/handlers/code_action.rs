//! `textDocument/codeAction` and `codeAction/resolve`: the refactor
//! plugins' actions at a range (offered concurrently, a slow third-party
//! plugin dropped rather than waited for, see [`Lsp::offer_actions`];
//! resolved lazily: the edit is computed only when the user picks one) and
//! the explain action.

use std::sync::Arc;

use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::command::{
    EXPLAIN_COMMAND, REFACTOR_COMMAND, builtin_cannot_chat, explain_unavailable, is_protocol,
};
use crate::lsp::convert::{self, call_failed, invalid_params, modified, user_reason};
use crate::lsp::progress;
use crate::lsp::server::Lsp;
use crate::lsp::status::State;
use crate::runtime::Feature;

/// The code action kind of the explain action.
pub(crate) const EXPLAIN_KIND: &str = "cordon.explain";

pub(crate) async fn code_action(
    lsp: &Lsp,
    params: CodeActionParams,
) -> Result<Option<CodeActionResponse>> {
    let session = Arc::clone(lsp.session()?);
    let uri = params.text_document.uri;
    let range = params.range;
    let wanted = |kind: &CodeActionKind| {
        params
            .context
            .only
            .as_ref()
            .is_none_or(|only| only.iter().any(|o| kind.as_str().starts_with(o.as_str())))
    };
    let snap = lsp.snapshot(&uri, range.end, Some(range))?;
    // Cordon's own refactor and explain plugins need a chat model: without
    // one their actions are offered disabled, with the reason (or, to
    // clients that cannot show that, not at all) rather than failing when
    // picked.
    let offer = |action: CodeAction, reason: Option<String>| match reason {
        None => Some(action),
        Some(reason) if session.client.disabled_actions => Some(CodeAction {
            disabled: Some(CodeActionDisabled { reason }),
            ..action
        }),
        Some(_) => None,
    };
    let mut actions = Vec::new();
    let asks = lsp.settings().ask_instruction;
    for (plugin, offered) in lsp.offer_actions(&session, &snap).await {
        let reason = builtin_cannot_chat(session.runtime.services(), &plugin);
        for action in offered {
            // Actions that need the user's words are offered only to
            // set-ups that ask for them (`ask_instruction`): as the
            // `cordon.refactor` command, which the editor completes with
            // the instruction. Elsewhere they are reached by that command.
            let kind = CodeActionKind::from(action.kind.clone());
            if !wanted(&kind) || (action.needs_instruction && !asks) {
                continue;
            }
            if action.needs_instruction {
                let title = format!("{}…", action.title);
                let command = Command {
                    title: action.title.clone(),
                    command: REFACTOR_COMMAND.into(),
                    arguments: Some(vec![json!({
                        "uri": uri,
                        "range": range,
                        "plugin": plugin.name(),
                        "action": action.id,
                        "needs_instruction": true,
                    })]),
                };
                let action = CodeAction {
                    title,
                    command: Some(command),
                    ..convert::code_action(action, Value::Null)
                };
                actions.extend(offer(action, reason.clone()).map(CodeActionOrCommand::CodeAction));
                continue;
            }
            let data = json!({
                "uri": uri,
                "range": range,
                "version": snap.version,
                "plugin": plugin.name(),
                "id": action.id,
            });
            let action = if session.client.resolves_edits {
                convert::code_action(action, data)
            } else {
                // Computed when picked all the same: the command applies
                // the edit through workspace/applyEdit.
                CodeAction {
                    command: Some(Command {
                        title: action.title.clone(),
                        command: REFACTOR_COMMAND.into(),
                        arguments: Some(vec![json!({
                            "uri": uri,
                            "range": range,
                            "plugin": plugin.name(),
                            "action": action.id,
                        })]),
                    }),
                    ..convert::code_action(action, Value::Null)
                }
            };
            actions.extend(offer(action, reason.clone()).map(CodeActionOrCommand::CodeAction));
        }
    }
    let explain_kind = CodeActionKind::new(EXPLAIN_KIND);
    if session
        .catalog()
        .providers(Feature::Explain)
        .next()
        .is_some()
        && wanted(&explain_kind)
    {
        let reason = explain_unavailable(&session);
        let action = CodeAction {
            title: "Explain this code (Cordon)".into(),
            kind: Some(explain_kind),
            command: Some(Command {
                title: "Explain this code".into(),
                command: EXPLAIN_COMMAND.into(),
                arguments: Some(vec![json!({ "uri": uri, "range": range })]),
            }),
            ..CodeAction::default()
        };
        actions.extend(offer(action, reason).map(CodeActionOrCommand::CodeAction));
    }
    Ok(Some(actions))
}

/// `codeAction/resolve`: the edit of the action the user picked.
pub(crate) async fn resolve(lsp: &Lsp, mut action: CodeAction) -> Result<CodeAction> {
    let Some(data) = action.data.clone() else {
        return Ok(action);
    };
    let field = |name: &str| data.get(name).cloned().unwrap_or(Value::Null);
    let uri: Uri = serde_json::from_value(field("uri"))
        .map_err(|e| invalid_params(format!("data.uri: {e}")))?;
    let range: Range = serde_json::from_value(field("range"))
        .map_err(|e| invalid_params(format!("data.range: {e}")))?;
    let version = field("version")
        .as_i64()
        .and_then(|v| i32::try_from(v).ok());
    let (Some(plugin), Some(id)) = (
        field("plugin").as_str().map(str::to_owned),
        field("id").as_str().map(str::to_owned),
    ) else {
        return Err(invalid_params("data needs `plugin` and `id`"));
    };
    // Resolving calls the model; the request carries no token of its
    // own, so the server creates one when the client allows it.
    let token = lsp.progress_token(None);
    let title = format!("{}…", action.title);
    let edit = progress::run(&lsp.client, token, &title, |_| {
        refactor_edit(lsp, &uri, range, &plugin, &id, None, version)
    })
    .await;
    match edit {
        Ok(edit) => action.edit = Some(edit),
        Err(err) if is_protocol(&err) => return Err(err),
        // For the user, in one sentence and without an error code: the
        // action comes back without an edit, so nothing changes.
        Err(err) => {
            let message = format!("Cordon could not {}: {}", action.title, user_reason(&err));
            tracing::warn!("{message}");
            lsp.client.show_message(MessageType::ERROR, &message).await;
            lsp.show_status(State::Failed, &message, None).await;
        }
    }
    Ok(action)
}

/// Edits of refactor action `id` of `plugin` at `range`.
pub(crate) async fn refactor_edit(
    lsp: &Lsp,
    uri: &Uri,
    range: Range,
    plugin: &str,
    id: &str,
    instruction: Option<&str>,
    expected_version: Option<i32>,
) -> Result<WorkspaceEdit> {
    let session = Arc::clone(lsp.session()?);
    let snap = lsp.snapshot(uri, range.end, Some(range))?;
    if expected_version.is_some_and(|v| v != snap.version) {
        return Err(modified());
    }
    let plugin = Arc::clone(
        session
            .catalog()
            .get(plugin)
            .ok_or_else(|| invalid_params(format!("unknown plugin `{plugin}`")))?,
    );
    let (doc, ctx) = (snap.doc.clone(), snap.ctx.clone());
    let (id, instruction) = (id.to_owned(), instruction.map(str::to_owned));
    // A third-party plugin's edit is computed in its own task; cancelling
    // the request drops it.
    let edits = lsp
        .third_party(&session, &plugin, |session, plugin| async move {
            session
                .runtime
                .apply(&plugin, &doc, &ctx, &id, instruction.as_deref())
                .await
        })
        .await
        .map_err(|e| call_failed(&e))?;
    if lsp.version(uri) != Some(snap.version) {
        return Err(modified());
    }
    Ok(convert::workspace_edit(
        uri,
        edits,
        &snap.doc,
        session.encoding,
    ))
}
