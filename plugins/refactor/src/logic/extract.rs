//! `extract-function`: the selection becomes a call, and the new function
//! goes just above the enclosing item.

use cordon_plugin_sdk::fence::{code_blocks, language_tag};
use cordon_plugin_sdk::item::{enclosing_item, header_kind};
use cordon_plugin_sdk::text::{Window, dedent, is_blank, reindent, with_line_ending};
use cordon_plugin_sdk::{DocumentContext, Error, Position, Range, TextEdit};

use super::{
    EXTRACT_FUNCTION, Plan, PlanKind, code_block, family, fit, max_tokens_for, push_context,
    request, selected, unavailable_empty,
};

/// Validates the input of `extract-function` and builds its request.
pub(super) fn plan<'a>(
    ctx: &'a DocumentContext,
    instruction: Option<&str>,
) -> Result<Plan<'a>, Error> {
    let (range, selected) = selected(ctx, EXTRACT_FUNCTION)?;
    let window = Window::new(ctx);
    let item = enclosing_item(&window, family(ctx));
    let sel_offset = window.offset(range.start);
    let insert_before = item.as_ref().and_then(|item| {
        let at = window.position(item.line_start)?;
        (item.starts_line() && sel_offset? >= item.line_start).then(|| (at, item.indent.clone()))
    });
    let context = item
        .as_ref()
        .map(|item| (item.describe(), item.text(&window).to_owned()));
    let tag = language_tag(&ctx.language_id, &ctx.path);
    let mut prompt = format!(
        "Extract the selected code from `{}` (language: {}) into a new function.\n\nSelected code:\n```{tag}\n{selected}\n```\n",
        ctx.path, ctx.language_id
    );
    if let Some(instruction) = instruction {
        prompt.push_str(&format!("\nThe user adds: {instruction}\n"));
    }
    push_context(&mut prompt, context, &selected, &tag);
    prompt.push_str(
                    "\nReply with exactly two fenced code blocks and nothing else:\n\
                     1. the code that replaces the selection: a call to the new function, with any assignments of its results;\n\
                     2. the complete definition of the new function, with a short doc comment.\n\
                     Pass what the selected code reads as parameters and return what the code after it uses, so that \
                     behaviour stays the same.",
                );
    let budget = max_tokens_for(&selected).saturating_mul(2).min(8192);
    Ok(Plan {
        request: request(prompt, budget),
        ctx,
        kind: PlanKind::Extract {
            range,
            selected,
            insert_before,
        },
    })
}

/// The edits of `extract-function` for the model's `reply`.
pub(super) fn edits(
    ctx: &DocumentContext,
    range: Range,
    selected: &str,
    insert_before: Option<&(Position, String)>,
    reply: &str,
    eol: &str,
) -> Result<Vec<TextEdit>, Error> {
    let blocks = code_blocks(reply);
    if blocks.len() < 2 {
        // One block: the model put everything together.
        let code = code_block(reply, 0)?;
        return Ok(vec![TextEdit::replace(
            range,
            with_line_ending(&fit(ctx, range, selected, code), eol),
        )]);
    }
    let family = family(ctx);
    let (mut call, mut definition) = (blocks[0].code, blocks[1].code);
    if header_kind(family, call).is_some() && header_kind(family, definition).is_none() {
        std::mem::swap(&mut call, &mut definition);
    }
    if is_blank(call) || is_blank(definition) {
        return Err(unavailable_empty());
    }
    match insert_before {
        Some((at, indent)) => {
            let definition = format!(
                "{}\n\n",
                reindent(definition.trim_matches('\n'), indent, true)
            );
            Ok(vec![
                TextEdit::insert(*at, with_line_ending(&definition, eol)),
                TextEdit::replace(
                    range,
                    with_line_ending(&fit(ctx, range, selected, call), eol),
                ),
            ])
        }
        None => {
            let both = format!(
                "{}\n\n{}",
                dedent(definition).trim_matches('\n'),
                dedent(call).trim_matches('\n')
            );
            Ok(vec![TextEdit::replace(
                range,
                with_line_ending(&fit(ctx, range, selected, &both), eol),
            )])
        }
    }
}
