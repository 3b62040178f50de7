//! Refactor logic: listing actions, prompts, and turning replies into
//! edits.
//!
//! | id | offered when | edit |
//! | --- | --- | --- |
//! | `rewrite-selection` | a non-empty selection | the selection, rewritten as instructed |
//! | `extract-function` | a non-empty selection | the selection becomes a call; the new function goes just above the enclosing item |
//! | `add-doc-comment` | the cursor in an undocumented item | a doc comment above the item (a docstring in Python) |

use cordon_plugin_sdk::fence::{code_blocks, has_unclosed_fence};
use cordon_plugin_sdk::item::{Family, enclosing_item};
use cordon_plugin_sdk::text::{
    Selection, Window, dedent, indentation, is_blank, line_ending, reindent, selection,
};
use cordon_plugin_sdk::{
    Action, ChatRequest, DocumentContext, Error, Message, Model, Position, Purpose, Range, TextEdit,
};

mod doc_comment;
mod extract;
mod rewrite;

pub use doc_comment::{DocStyle, doc_text};
use doc_comment::{DocTarget, doc_target};

/// Id of the action rewriting the selection as the user instructs.
pub const REWRITE_SELECTION: &str = "rewrite-selection";
/// Id of the action extracting the selection into a new function.
pub const EXTRACT_FUNCTION: &str = "extract-function";
/// Id of the action documenting the item at the cursor.
pub const ADD_DOC_COMMENT: &str = "add-doc-comment";
/// Largest selection sent to a model, in bytes.
pub const MAX_SELECTION_BYTES: usize = 32 * 1024;
/// Most bytes of surrounding item sent along as context.
pub const MAX_CONTEXT_BYTES: usize = 12 * 1024;
/// Sampling temperature of refactor requests.
pub const TEMPERATURE: f32 = 0.2;

/// System prompt of every refactor request.
pub const SYSTEM_PROMPT: &str = "You are a careful refactoring tool inside a code editor. You receive code and a \
task and reply with only the resulting code in fenced code blocks (```<language> ... ```), exactly as many blocks as \
the task asks for: no explanation, no text before or after the blocks, no placeholders or elisions such as `...`. \
Keep the code's behaviour unless the task says otherwise, follow the style, naming and indentation of the \
surrounding code, and write valid code for the language.";

/// Actions available for the cursor or selection of `ctx`. Cheap: never
/// calls a model.
pub fn actions(ctx: &DocumentContext) -> Vec<Action> {
    let mut out = Vec::new();
    if let Selection::Complete { text, .. } = selection(ctx)
        && !is_blank(&text)
    {
        out.push(action(
            REWRITE_SELECTION,
            "Rewrite selection…",
            "refactor.rewrite",
            true,
        ));
        out.push(action(
            EXTRACT_FUNCTION,
            "Extract function",
            "refactor.extract",
            false,
        ));
    }
    let window = Window::new(ctx);
    if let Some(item) = enclosing_item(&window, family(ctx))
        && let Some(target) = doc_target(ctx, &window, &item)
    {
        let title = if target.existing.is_some() {
            "Rewrite doc comment"
        } else {
            "Add doc comment"
        };
        out.push(action(ADD_DOC_COMMENT, title, "refactor.rewrite", false));
    }
    out
}

fn action(id: &str, title: &str, kind: &str, needs_instruction: bool) -> Action {
    Action {
        id: id.to_owned(),
        title: title.to_owned(),
        kind: kind.to_owned(),
        needs_instruction,
    }
}

fn family(ctx: &DocumentContext) -> Family {
    Family::detect(&ctx.language_id, &ctx.path)
}

/// The edits of action `id` for `ctx`, asking `model` once.
///
/// Errors: `invalid-request` for an unknown id, a missing instruction or
/// selection, or no item at the cursor; `unavailable` when the reply has
/// no usable code; the model's own errors unchanged.
pub fn apply(
    ctx: &DocumentContext,
    id: &str,
    instruction: Option<&str>,
    model: &mut impl Model,
) -> Result<Vec<TextEdit>, Error> {
    let plan = plan(ctx, id, instruction)?;
    let reply = model.chat(&plan.request)?;
    plan.edits(&reply.text)
}

/// A prepared refactoring: the request to send and how to read the reply.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// The chat request for the model.
    pub request: ChatRequest,
    ctx: &'a DocumentContext,
    kind: PlanKind,
}

#[derive(Debug, Clone)]
enum PlanKind {
    Rewrite {
        range: Range,
        selected: String,
    },
    Extract {
        range: Range,
        selected: String,
        insert_before: Option<(Position, String)>,
    },
    Doc(DocTarget),
}

/// Prepares action `id` for `ctx`: validates the input and builds the
/// request.
pub fn plan<'a>(
    ctx: &'a DocumentContext,
    id: &str,
    instruction: Option<&str>,
) -> Result<Plan<'a>, Error> {
    let instruction = instruction.map(str::trim).filter(|s| !s.is_empty());
    match id {
        REWRITE_SELECTION => rewrite::plan(ctx, instruction),
        EXTRACT_FUNCTION => extract::plan(ctx, instruction),
        ADD_DOC_COMMENT => doc_comment::plan(ctx),
        other => Err(Error::InvalidRequest(format!(
            "unknown refactor action `{other}`; this plugin offers `{REWRITE_SELECTION}`, `{EXTRACT_FUNCTION}` and `{ADD_DOC_COMMENT}`"
        ))),
    }
}

impl Plan<'_> {
    /// The edits for the model's `reply`, sorted by position and not
    /// overlapping.
    pub fn edits(&self, reply: &str) -> Result<Vec<TextEdit>, Error> {
        let eol = line_ending(&[&self.ctx.prefix, &self.ctx.suffix]);
        match &self.kind {
            PlanKind::Rewrite { range, selected } => {
                rewrite::edits(self.ctx, *range, selected, reply, eol)
            }
            PlanKind::Extract {
                range,
                selected,
                insert_before,
            } => extract::edits(
                self.ctx,
                *range,
                selected,
                insert_before.as_ref(),
                reply,
                eol,
            ),
            PlanKind::Doc(target) => doc_comment::edits(target, reply, eol),
        }
    }
}

fn request(prompt: String, max_tokens: u32) -> ChatRequest {
    ChatRequest {
        purpose: Purpose::Refactor,
        system: SYSTEM_PROMPT.to_owned(),
        messages: vec![Message::user(prompt)],
        max_tokens,
        temperature: Some(TEMPERATURE),
        stop: Vec::new(),
    }
}

/// Room for the rewritten code: about twice the selection's tokens.
fn max_tokens_for(code: &str) -> u32 {
    let tokens = u32::try_from(code.len() / 3).unwrap_or(u32::MAX);
    tokens
        .saturating_mul(2)
        .saturating_add(256)
        .clamp(512, 4096)
}

fn push_context(prompt: &mut String, context: Option<(String, String)>, selected: &str, tag: &str) {
    if let Some((what, text)) = context
        && text.len() <= MAX_CONTEXT_BYTES
        && text.trim() != selected.trim()
    {
        prompt.push_str(&format!(
            "\nThe selection is part of this {what}, shown for context only:\n```{tag}\n{}\n```\n",
            dedent(&text)
        ));
    }
}

/// The complete, non-blank selection of `ctx`, or why action `id` cannot
/// run.
fn selected(ctx: &DocumentContext, id: &str) -> Result<(Range, String), Error> {
    match selection(ctx) {
        Selection::Complete { range, text } if !is_blank(&text) => {
            if text.len() > MAX_SELECTION_BYTES {
                return Err(Error::InvalidRequest(format!(
                    "the selection is too large to refactor at once ({} KiB; at most {} KiB)",
                    text.len() / 1024,
                    MAX_SELECTION_BYTES / 1024
                )));
            }
            Ok((range, text.into_owned()))
        }
        Selection::Complete { .. } | Selection::None => Err(Error::InvalidRequest(format!(
            "`{id}` needs a selection of code"
        ))),
        Selection::Incomplete { .. } => Err(Error::InvalidRequest(
            "the selection is larger than the text Cordon sends to plugins; select less code"
                .into(),
        )),
    }
}

fn unavailable_cut() -> Error {
    Error::Unavailable(
            "the model's reply was cut off before its code block ended; nothing was changed (try a smaller selection)"
                .into(),
        )
}

fn unavailable_empty() -> Error {
    Error::Unavailable("the model's reply had an empty code block; nothing was changed".into())
}

/// The `index`th fenced code block of `reply`, or an `unavailable` error
/// saying what was wrong with the reply.
fn code_block(reply: &str, index: usize) -> Result<&str, Error> {
    match code_blocks(reply).get(index) {
        Some(block) if !is_blank(block.code) => Ok(block.code),
        Some(_) => Err(unavailable_empty()),
        None if has_unclosed_fence(reply) => Err(unavailable_cut()),
        None => Err(Error::Unavailable(
            "the model's reply contained no code block; nothing was changed".into(),
        )),
    }
}

/// `code` indented to replace the selection `range` (whose text is
/// `selected`): the selection's indentation, its line-start status and
/// its trailing line break are kept.
fn fit(ctx: &DocumentContext, range: Range, selected: &str, code: &str) -> String {
    let code = code.trim_matches(['\n', '\r']);
    let window = Window::new(ctx);
    // Text of the selection's first line before the selection.
    let lead = window
        .offset(range.start)
        .map(|o| &window.text()[window.line_start(o)..o])
        .unwrap_or("");
    let mut out = if range.start.character == 0 {
        let base = selected
            .lines()
            .find(|l| !is_blank(l))
            .map_or("", indentation);
        reindent(code, base, true)
    } else if is_blank(lead) {
        reindent(code, lead, false)
    } else if !code.contains('\n') {
        code.trim().to_owned()
    } else {
        reindent(code, indentation(lead), false)
    };
    if selected.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
