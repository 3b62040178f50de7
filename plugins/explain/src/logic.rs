//! Explain logic: choosing the code, the prompt, and the reply.

use cordon_plugin_sdk::fence::{code_blocks, language_tag};
use cordon_plugin_sdk::item::{Family, enclosing_item};
use cordon_plugin_sdk::text::{
    Selection, Window, dedent, head_at_line_boundary, is_blank, selection,
};
use cordon_plugin_sdk::{ChatRequest, DocumentContext, Error, Message, Model, Purpose, Range};

/// Most bytes of code sent to the model (cut at a line end).
pub const MAX_CODE_BYTES: usize = 16 * 1024;
/// Lines above and below the cursor explained when there is neither a
/// selection nor an enclosing item.
pub const AROUND_LINES: usize = 15;
/// Most diagnostics quoted in the prompt.
pub const MAX_DIAGNOSTICS: usize = 10;
/// `max_tokens` of an explanation.
pub const MAX_TOKENS: u32 = 800;
/// Sampling temperature of explain requests.
pub const TEMPERATURE: f32 = 0.2;

/// System prompt of every explain request.
pub const SYSTEM_PROMPT: &str = "You explain code to a developer inside their editor. Answer in concise Markdown: \
start with one or two sentences on what the code does; then its inputs and outputs (parameters, return value, side \
effects); then the pitfalls worth knowing (edge cases, error handling, performance, concurrency), only if there are \
any. Refer to identifiers in backticks. Do not restate the code line by line and add no preamble or closing summary. \
If the code shown is incomplete, say what is missing rather than guessing.";

/// The code chosen for explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// What it is, for the prompt: `the selected code`, ``function `f` ``, ...
    pub what: String,
    /// The code, dedented and bounded.
    pub code: String,
    /// Where it is in the document, when known.
    pub range: Option<Range>,
    /// True when `code` was cut short.
    pub truncated: bool,
}

/// The code to explain for `ctx`: the selection, else the item enclosing
/// the cursor, else the lines around the cursor.
pub fn subject(ctx: &DocumentContext) -> Result<Subject, Error> {
    let window = Window::new(ctx);
    let (what, code, range, mut truncated) = match selection(ctx) {
        Selection::Complete { range, text } if !is_blank(&text) => (
            "the selected code".to_owned(),
            text.into_owned(),
            Some(range),
            false,
        ),
        Selection::Incomplete { range }
            if ctx.selected_text.as_deref().is_some_and(|t| !is_blank(t)) =>
        {
            let text = ctx.selected_text.clone().unwrap_or_default();
            ("the selected code".to_owned(), text, Some(range), true)
        }
        _ => match enclosing_item(&window, Family::detect(&ctx.language_id, &ctx.path)) {
            Some(item) => {
                let range = window.range(item.line_start, item.end);
                (
                    item.describe(),
                    item.text(&window).to_owned(),
                    range,
                    !item.complete,
                )
            }
            None => {
                let (start, text) = window.lines_around(AROUND_LINES, AROUND_LINES);
                if is_blank(text) {
                    return Err(Error::InvalidRequest(
                            "there is no code at the cursor to explain; select some code or move the cursor into it"
                                .into(),
                        ));
                }
                let range = window.range(start, start + text.len());
                let what = match range {
                    Some(r) => format!(
                        "the code on lines {}-{} (cursor on line {})",
                        r.start.line + 1,
                        r.end.line + 1,
                        ctx.cursor.line + 1
                    ),
                    None => format!("the code around line {}", ctx.cursor.line + 1),
                };
                (what, text.to_owned(), range, false)
            }
        },
    };
    let mut code = dedent(code.trim_matches(['\n', '\r']));
    if code.len() > MAX_CODE_BYTES {
        code = head_at_line_boundary(&code, MAX_CODE_BYTES)
            .trim_end()
            .to_owned();
        truncated = true;
    }
    Ok(Subject {
        what,
        code,
        range,
        truncated,
    })
}

/// The chat request explaining [`subject`] of `ctx`.
pub fn request(ctx: &DocumentContext) -> Result<ChatRequest, Error> {
    let subject = subject(ctx)?;
    let tag = language_tag(&ctx.language_id, &ctx.path);
    let mut prompt = format!(
        "Explain {} from `{}` (language: {}).\n\n```{tag}\n{}\n```\n",
        subject.what, ctx.path, ctx.language_id, subject.code
    );
    if subject.truncated {
        prompt.push_str("\n(The code continues beyond what is shown.)\n");
    }
    let diagnostics: Vec<String> = ctx
        .diagnostics
        .iter()
        .filter(|d| {
            subject
                .range
                .is_none_or(|r| d.range.start <= r.end && d.range.end >= r.start)
        })
        .take(MAX_DIAGNOSTICS)
        .map(|d| {
            format!(
                "- {} on line {}: {}",
                d.severity.as_str(),
                d.range.start.line + 1,
                d.message.trim()
            )
        })
        .collect();
    if !diagnostics.is_empty() {
        prompt.push_str(
            "\nThe editor reports these diagnostics here; mention them where they matter:\n",
        );
        prompt.push_str(&diagnostics.join("\n"));
        prompt.push('\n');
    }
    Ok(ChatRequest {
        purpose: Purpose::Explain,
        system: SYSTEM_PROMPT.to_owned(),
        messages: vec![Message::user(prompt)],
        max_tokens: MAX_TOKENS,
        temperature: Some(TEMPERATURE),
        stop: Vec::new(),
    })
}

/// Markdown explaining the selection or the code at the cursor of `ctx`.
///
/// Errors: `invalid-request` when there is no code to explain;
/// `unavailable` when the model's answer is empty; the model's own
/// errors unchanged.
pub fn explain(ctx: &DocumentContext, model: &mut impl Model) -> Result<String, Error> {
    let request = request(ctx)?;
    // Streamed, so that the editor can show the text as it arrives.
    let response = model.chat_stream(&request)?;
    let text = unwrap_markdown(response.text.trim());
    if text.is_empty() {
        return Err(Error::Unavailable(
            "the model returned an empty explanation".into(),
        ));
    }
    Ok(text.to_owned())
}

/// The reply without a fence around all of it (` ```markdown ... ``` `),
/// which some models add.
fn unwrap_markdown(text: &str) -> &str {
    if text.starts_with("```") && text.ends_with("```") {
        let blocks = code_blocks(text);
        if let [block] = blocks.as_slice()
            && matches!(block.info, "markdown" | "md")
        {
            return block.code.trim();
        }
    }
    text
}

#[cfg(test)]
mod tests;
