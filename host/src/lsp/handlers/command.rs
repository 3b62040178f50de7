//! `workspace/executeCommand`: `cordon.explain` (the explanation of a
//! range, streamed into the request's progress) and `cordon.refactor` (an
//! action with the user's instruction, applied through the client).

use std::sync::Arc;

use serde_json::{Value, json};
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::*;

use super::code_action::refactor_edit;
use crate::gate::Services;
use crate::gate::TextSink;
use crate::lsp::convert::{call_failed, failed, invalid_params, modified, user_reason};
use crate::lsp::explanation;
use crate::lsp::init::Session;
use crate::lsp::progress;
use crate::lsp::server::Lsp;
use crate::lsp::status::State;
use crate::runtime::{Feature, Origin, Plugin};

/// The command that explains the code at a range.
pub(crate) const EXPLAIN_COMMAND: &str = "cordon.explain";
/// The command that applies a refactor action, with an instruction.
pub(crate) const REFACTOR_COMMAND: &str = "cordon.refactor";

pub(crate) async fn execute_command(
    lsp: &Lsp,
    params: ExecuteCommandParams,
) -> Result<Option<Value>> {
    let command = params.command.as_str();
    let title = match command {
        EXPLAIN_COMMAND => match command_target(&params.arguments)
            .ok()
            .and_then(|(uri, range)| subject(lsp, &uri, range))
        {
            Some(name) => format!("Explaining `{name}`…"),
            None => "Explaining this code…".to_owned(),
        },
        REFACTOR_COMMAND => format!(
            "Refactoring ({})…",
            params
                .arguments
                .first()
                .and_then(|a| a["action"].as_str())
                .unwrap_or("an action")
        ),
        _ => "Cordon…".to_owned(),
    };
    lsp.show_status(State::Working, &title, None).await;
    let token = lsp.progress_token(params.work_done_progress_params.work_done_token);
    let result = progress::run(&lsp.client, token, &title, |sink| {
        run_command(lsp, command, &params.arguments, sink)
    })
    .await;
    match result {
        Ok(value) => {
            lsp.show_ready().await;
            Ok(value)
        }
        // The editor's own mistakes and the protocol's ordinary outcomes
        // stay errors: no person needs to read them.
        Err(err) if is_protocol(&err) => {
            lsp.show_ready().await;
            Err(err)
        }
        // Anything else is for the user: one sentence, once, and no error
        // code (editors print a JSON-RPC error with its code).
        Err(err) => {
            let what = if command == EXPLAIN_COMMAND {
                "explain this code"
            } else {
                "apply the refactor"
            };
            let message = format!("Cordon could not {what}: {}", user_reason(&err));
            tracing::warn!("{message}");
            lsp.client.show_message(MessageType::ERROR, &message).await;
            lsp.show_status(State::Failed, &message, None).await;
            Ok(None)
        }
    }
}

/// Errors that answer the request rather than tell the user something:
/// bad arguments, a stale document, a cancellation.
pub(crate) fn is_protocol(err: &Error) -> bool {
    matches!(
        err.code,
        ErrorCode::InvalidParams | ErrorCode::RequestCancelled | ErrorCode::ContentModified
    )
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
            show_explanation(lsp, &uri, range, &markdown).await;
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

/// Show an explanation where it stays: a Markdown document the editor
/// opens (`window/showDocument`), or, for editors that cannot open one,
/// a message.
async fn show_explanation(lsp: &Lsp, uri: &Uri, range: Range, markdown: &str) {
    let can_open = lsp.session().is_ok_and(|s| s.client.show_document);
    if let (true, Ok(snap)) = (can_open, lsp.snapshot(uri, range.end, Some(range))) {
        let name = subject(lsp, uri, range);
        match explanation::write(&snap.ctx.path, range.start.line, name.as_deref(), markdown) {
            Ok(document) => {
                let shown = lsp
                    .client
                    .show_document(ShowDocumentParams {
                        uri: document,
                        external: Some(false),
                        take_focus: Some(true),
                        selection: None,
                    })
                    .await;
                if shown.unwrap_or(false) {
                    return;
                }
            }
            Err(err) => tracing::warn!("the explanation could not be written to a file: {err}"),
        }
    }
    lsp.client.show_message(MessageType::INFO, markdown).await;
}

/// The name the explanation of `range` is about: the identifier at its
/// start, or the one a selection (or the line) declares.
fn subject(lsp: &Lsp, uri: &Uri, range: Range) -> Option<String> {
    let session = lsp.session().ok()?;
    let snap = lsp.snapshot(uri, range.end, Some(range)).ok()?;
    let api_range = session.encoding.range_to_api(&snap.doc, range).ok()?;
    let (start, end) = snap.doc.span(api_range).ok()?;
    let line = snap.doc.position(start).line as usize;
    let line_start = snap.doc.rope().line_to_char(line);
    let line_text = snap.doc.rope().line(line).to_string();
    let text = if end > start {
        snap.doc.slice(start, end.min(start + 4096))
    } else {
        line_text.clone()
    };
    explanation::subject(&line_text, start - line_start, &text, end > start)
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

/// Why no explain plugin can ask a chat model now, if none can (only
/// Cordon's own are known to need one).
pub(crate) fn explain_unavailable(session: &Session) -> Option<String> {
    let services = session.runtime.services();
    let catalog = session.catalog();
    let mut reasons = catalog
        .providers(Feature::Explain)
        .map(|plugin| builtin_cannot_chat(services, plugin));
    let first = reasons.next()??;
    reasons.all(|r| r.is_some()).then_some(first)
}

/// Why Cordon's own plugin `plugin` (which needs a chat model) cannot have
/// one answer now; `None` for a plugin that can, or a third-party one
/// (whose needs are not known).
pub(crate) fn builtin_cannot_chat(services: &Services, plugin: &Plugin) -> Option<String> {
    (plugin.origin == Origin::Builtin)
        .then(|| services.chat_unavailable(plugin.name()))
        .flatten()
}
