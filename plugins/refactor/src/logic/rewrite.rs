//! `rewrite-selection`: the selection, rewritten as the user instructs.

use cordon_plugin_sdk::fence::language_tag;
use cordon_plugin_sdk::item::enclosing_item;
use cordon_plugin_sdk::text::{Window, with_line_ending};
use cordon_plugin_sdk::{DocumentContext, Error, Range, TextEdit};

use super::{
    Plan, PlanKind, REWRITE_SELECTION, code_block, family, fit, max_tokens_for, push_context,
    request, selected,
};

/// Validates the input of `rewrite-selection` and builds its request.
pub(super) fn plan<'a>(
    ctx: &'a DocumentContext,
    instruction: Option<&str>,
) -> Result<Plan<'a>, Error> {
    let instruction = instruction.ok_or_else(|| {
        Error::InvalidRequest(
            "`rewrite-selection` needs an instruction saying how to rewrite the selection".into(),
        )
    })?;
    let (range, selected) = selected(ctx, REWRITE_SELECTION)?;
    let window = Window::new(ctx);
    let context = enclosing_item(&window, family(ctx))
        .map(|item| (item.describe(), item.text(&window).to_owned()));
    let tag = language_tag(&ctx.language_id, &ctx.path);
    let mut prompt = format!(
        "Rewrite the selected code from `{}` (language: {}).\n\nInstruction: {instruction}\n\nSelected code:\n```{tag}\n{selected}\n```\n",
        ctx.path, ctx.language_id
    );
    push_context(&mut prompt, context, &selected, &tag);
    prompt.push_str(
                    "\nReply with the rewritten code only, in one fenced code block. It replaces the selection exactly, \
                     so leave out any code outside the selection.",
                );
    Ok(Plan {
        request: request(prompt, max_tokens_for(&selected)),
        ctx,
        kind: PlanKind::Rewrite { range, selected },
    })
}

/// The edits of `rewrite-selection` for the model's `reply`.
pub(super) fn edits(
    ctx: &DocumentContext,
    range: Range,
    selected: &str,
    reply: &str,
    eol: &str,
) -> Result<Vec<TextEdit>, Error> {
    let code = code_block(reply, 0)?;
    Ok(vec![TextEdit::replace(
        range,
        with_line_ending(&fit(ctx, range, selected, code), eol),
    )])
}
