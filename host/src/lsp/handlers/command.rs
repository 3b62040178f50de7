//! `workspace/executeCommand`: `cordon.explain` (the explanation of a
//! range, streamed into the request's progress) and `cordon.refactor` (an
//! action with the user's instruction, applied through the client).

use std::sync::Arc;

use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::code_action::refactor_edit;
use crate::gate::TextSink;
use crate::lsp::convert::{call_failed, failed, invalid_params, modified};
use crate::lsp::progress;
use crate::lsp::server::Lsp;
use crate::runtime::Feature;

/// The command that explains the code at a range.
pub(crate) const EXPLAIN_COMMAND: &str = "cordon.explain";
/// The command that applies a refactor action, with an instruction.
pub(crate) const REFACTOR_COMMAND: &str = "cordon.refactor";

pub(crate) async fn execute_command(
    lsp: &Lsp,
    params: ExecuteCommandParams,
) -> Result<Option<Value>> {
    let token = lsp.progress_token(params.work_done_progress_params.work_done_token);
    progress::run(&lsp.client, token, &params.command, |sink| {
        run_command(lsp, &params.command, &params.arguments, sink)
    })
    .await
}

/// Run Cordon command `command`; an explanation streams into `sink`.
async fn run_command(
    lsp: &Lsp,
    command: &str,
    arguments: &[Value],
    sink: Option<TextSink>,
) -> Result<Option<Value>> {
    match command {
        EXPLAIN_COMMAND => {
            let (uri, range) = command_target(arguments)?;
            let markdown = explain_at(lsp, &uri, range, sink).await?;
            // For clients that ignore command results.
            lsp.client.show_message(MessageType::INFO, &markdown).await;
            Ok(Some(Value::String(markdown)))
        }
        REFACTOR_COMMAND => {
            let (uri, range) = command_target(arguments)?;
            let arg = &arguments[0];
            let (Some(plugin), Some(id)) = (arg["plugin"].as_str(), arg["action"].as_str()) else {
                return Err(invalid_params(
                    "`cordon.refactor` needs `plugin` and `action`",
                ));
            };
            let edit = refactor_edit(
                lsp,
                &uri,
                range,
                plugin,
                id,
                arg["instruction"].as_str(),
                None,
            )
            .await?;
            match lsp.client.apply_edit(edit).await {
                Ok(response) if response.applied => Ok(Some(json!({ "applied": true }))),
                Ok(response) => Err(failed(
                    format!(
                        "the editor did not apply the edit: {}",
                        response.failure_reason.unwrap_or_default()
                    ),
                    "not-applied",
                )),
                Err(err) => Err(failed(format!("applying the edit: {err}"), "not-applied")),
            }
        }
        other => Err(invalid_params(format!(
            "unknown command `{other}` (known: {EXPLAIN_COMMAND}, {REFACTOR_COMMAND})"
        ))),
    }
}

/// The arguments of the Cordon commands.
fn command_target(arguments: &[Value]) -> Result<(Uri, Range)> {
    let arg = arguments
        .first()
        .ok_or_else(|| invalid_params("expected one argument: { \"uri\": ..., \"range\": ... }"))?;
    let uri: Uri = serde_json::from_value(arg["uri"].clone())
        .map_err(|e| invalid_params(format!("argument `uri`: {e}")))?;
    let range: Range = serde_json::from_value(arg["range"].clone())
        .map_err(|e| invalid_params(format!("argument `range`: {e}")))?;
    Ok((uri, range))
}

/// The explanation of `range`; the text streams into `sink` as the model
/// writes it.
pub(crate) async fn explain_at(
    lsp: &Lsp,
    uri: &Uri,
    range: Range,
    sink: Option<TextSink>,
) -> Result<String> {
    let session = Arc::clone(lsp.session()?);
    let snap = lsp.snapshot(uri, range.end, Some(range))?;
    let mut first_error = None;
    // The most trusted first: a third-party plugin is asked only when the
    // built-in one could not answer, and then in its own task.
    for plugin in session.catalog().providers(Feature::Explain) {
        let (ctx, sink) = (snap.ctx.clone(), sink.clone());
        let explained = lsp
            .third_party(&session, plugin, |session, plugin| async move {
                session.runtime.explain(&plugin, &ctx, sink).await
            })
            .await;
        match explained {
            Ok(markdown) => {
                if lsp.version(uri) != Some(snap.version) {
                    return Err(modified());
                }
                return Ok(markdown);
            }
            Err(err) => {
                tracing::warn!("{err}");
                first_error.get_or_insert(err);
            }
        }
    }
    Err(match first_error {
        Some(err) => call_failed(&err),
        None => failed("no loaded plugin provides explain", "not-provided"),
    })
}
