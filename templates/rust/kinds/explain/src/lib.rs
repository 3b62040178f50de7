//! `{{name}}`: a Cordon explain plugin, world `{{world}}` of
//! `cordon:plugin@{{wit_version}}`.
//!
//! [`explain`] picks the code to explain (the selection, else the function
//! or type enclosing the cursor, else the lines around it), asks the model
//! about it by chat, and returns the model's Markdown. It is generic over
//! [`Model`], so the test below runs it natively against a canned model;
//! inside the component, `HostModel` is the model Cordon grants.

use cordon_plugin_sdk::fence::language_tag;
use cordon_plugin_sdk::item::{Family, enclosing_item};
use cordon_plugin_sdk::text::{Selection, Window, head_at_line_boundary, is_blank, selection};
use cordon_plugin_sdk::{ChatRequest, DocumentContext, Error, Message, Model, Purpose};

/// Most bytes of code sent to the model.
const CODE_BYTES: usize = 16 * 1024;
/// Lines above and below the cursor explained when it is in no item.
const AROUND_LINES: usize = 10;

/// The system prompt of every request.
pub const SYSTEM: &str = "You explain code to a developer inside their editor. \
Answer in concise Markdown: what the code does, its inputs and outputs, and any pitfalls.";

/// What to explain in `ctx`: a description for the prompt and the code.
pub fn subject(ctx: &DocumentContext) -> Result<(String, String), Error> {
    let window = Window::new(ctx);
    let (what, code) = match selection(ctx) {
        Selection::Complete { text, .. } if !is_blank(&text) => {
            ("the selected code".to_owned(), text.into_owned())
        }
        _ => match enclosing_item(&window, Family::detect(&ctx.language_id, &ctx.path)) {
            Some(item) => (item.describe(), item.text(&window).to_owned()),
            None => (
                "the code around the cursor".to_owned(),
                window.lines_around(AROUND_LINES, AROUND_LINES).1.to_owned(),
            ),
        },
    };
    if is_blank(&code) {
        return Err(Error::InvalidRequest(
            "there is no code at the cursor to explain".to_owned(),
        ));
    }
    Ok((what, head_at_line_boundary(&code, CODE_BYTES).to_owned()))
}

/// The Markdown explanation of `ctx`'s subject. Model errors are returned
/// unchanged.
pub fn explain(ctx: &DocumentContext, model: &mut impl Model) -> Result<String, Error> {
    let (what, code) = subject(ctx)?;
    let tag = language_tag(&ctx.language_id, &ctx.path);
    let request = ChatRequest {
        purpose: Purpose::Explain,
        system: SYSTEM.to_owned(),
        messages: vec![Message::user(format!(
            "Explain {what} from `{}`:\n\n```{tag}\n{code}\n```",
            ctx.path
        ))],
        max_tokens: 800,
        temperature: Some(0.2),
        stop: Vec::new(),
    };
    // `chat_stream` instead would let the editor show the text as it comes.
    let reply = model.chat(&request)?;
    let text = reply.text.trim();
    if text.is_empty() {
        return Err(Error::Unavailable(
            "the model's answer was empty".to_owned(),
        ));
    }
    Ok(text.to_owned())
}

/// The component's exports: compiled for `wasm32` only.
#[cfg(target_arch = "wasm32")]
mod component {
    use cordon_plugin_sdk::{
        CapabilityRequest, DescribeGuest, DocumentContext, Error, ExplainGuest, HostModel, Info,
        Level, log,
    };

    struct Plugin;

    impl DescribeGuest for Plugin {
        fn describe() -> Info {
            Info {
                name: "{{name}}".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                description: "Explains the selection or the item at the cursor".to_owned(),
                requests: vec![
                    CapabilityRequest::new("model", "asks the model to explain the code"),
                    CapabilityRequest::new("log", "says why a call failed"),
                ],
            }
        }
    }

    impl ExplainGuest for Plugin {
        fn explain(context: DocumentContext) -> Result<String, Error> {
            super::explain(&context, &mut HostModel).inspect_err(|e| {
                log(Level::Debug, &format!("explain failed: {}", e.summary()));
            })
        }
    }

    cordon_plugin_sdk::export_explain!(Plugin);
}

#[cfg(test)]
mod tests {
    use super::*;
    use cordon_plugin_sdk::testing::{CannedModel, marked_context};

    #[test]
    fn explains_the_function_at_the_cursor() {
        let ctx = marked_context(
            "use std::ops::Add;\n\nfn add(a: i32, b: i32) -> i32 {\n    a +$0 b\n}\n",
            "rust",
            "src/lib.rs",
        );
        let mut model = CannedModel::answering("  `add` returns the sum of `a` and `b`.\n");

        let text = explain(&ctx, &mut model).unwrap();

        assert_eq!(text, "`add` returns the sum of `a` and `b`.");
        let request = &model.chat_requests[0];
        assert_eq!(request.purpose, Purpose::Explain);
        assert_eq!(
            request.messages[0].content,
            "Explain function `add` from `src/lib.rs`:\n\n```rust\n\
             fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n```"
        );
    }
}
