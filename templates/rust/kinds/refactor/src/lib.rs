//! `{{name}}`: a Cordon refactor plugin, world `{{world}}` of
//! `cordon:plugin@{{wit_version}}`.
//!
//! One action, [`REWRITE`]: when code is selected, [`actions`] offers to
//! have the model rewrite it as the user asks; [`apply`] asks the model by
//! chat and replaces the selection with the fenced code of its reply.
//! Listing actions never calls the model (editors list them often). The
//! logic is generic over [`Model`], so the test below runs it natively
//! against a canned model; inside the component, `HostModel` is the model
//! Cordon grants.

use cordon_plugin_sdk::fence::{first_code_block, language_tag};
use cordon_plugin_sdk::text::{Selection, is_blank, selection};
use cordon_plugin_sdk::{
    Action, ChatRequest, DocumentContext, Error, Message, Model, Purpose, TextEdit,
};

/// The action's id.
pub const REWRITE: &str = "rewrite-selection";

/// The system prompt of every request.
pub const SYSTEM: &str = "You rewrite code inside a developer's editor. Follow the instruction, \
keep the code's behaviour unless told otherwise, and answer with the new code in one fenced code block.";

/// The actions for `ctx`: [`REWRITE`] when code is selected.
pub fn actions(ctx: &DocumentContext) -> Vec<Action> {
    match selection(ctx) {
        Selection::Complete { text, .. } if !is_blank(&text) => vec![Action {
            id: REWRITE.to_owned(),
            title: "Ask the model to rewrite the selection".to_owned(),
            kind: "refactor.rewrite".to_owned(),
            needs_instruction: true,
        }],
        _ => Vec::new(),
    }
}

/// The edits of action `id` for `ctx`. Model errors are returned unchanged.
pub fn apply(
    ctx: &DocumentContext,
    id: &str,
    instruction: Option<&str>,
    model: &mut impl Model,
) -> Result<Vec<TextEdit>, Error> {
    if id != REWRITE {
        return Err(Error::InvalidRequest(format!("unknown action `{id}`")));
    }
    let Selection::Complete { range, text } = selection(ctx) else {
        return Err(Error::InvalidRequest(
            "select the code to rewrite first".to_owned(),
        ));
    };
    let instruction = instruction
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .unwrap_or("Make it simpler and clearer.");
    let tag = language_tag(&ctx.language_id, &ctx.path);
    let request = ChatRequest {
        purpose: Purpose::Refactor,
        system: SYSTEM.to_owned(),
        messages: vec![Message::user(format!(
            "{instruction}\n\n```{tag}\n{text}\n```"
        ))],
        max_tokens: 1024,
        temperature: Some(0.2),
        stop: Vec::new(),
    };
    let reply = model.chat(&request)?;
    let Some(block) = first_code_block(&reply.text) else {
        return Err(Error::Unavailable(
            "the model's reply had no code block; nothing was changed".to_owned(),
        ));
    };
    Ok(vec![TextEdit::replace(range, block.code)])
}

/// The component's exports: compiled for `wasm32` only.
#[cfg(target_arch = "wasm32")]
mod component {
    use cordon_plugin_sdk::{
        Action, CapabilityRequest, DescribeGuest, DocumentContext, Error, HostModel, Info, Level,
        RefactorGuest, TextEdit, log,
    };

    struct Plugin;

    impl DescribeGuest for Plugin {
        fn describe() -> Info {
            Info {
                name: "{{name}}".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                description: "Rewrites the selection as you ask, with a chat model".to_owned(),
                requests: vec![
                    CapabilityRequest::new("model", "asks the model to rewrite the selection"),
                    CapabilityRequest::new("log", "says why a call failed"),
                ],
            }
        }
    }

    impl RefactorGuest for Plugin {
        fn actions(context: DocumentContext) -> Result<Vec<Action>, Error> {
            Ok(super::actions(&context))
        }

        fn apply(
            context: DocumentContext,
            id: String,
            instruction: Option<String>,
        ) -> Result<Vec<TextEdit>, Error> {
            super::apply(&context, &id, instruction.as_deref(), &mut HostModel).inspect_err(|e| {
                log(Level::Debug, &format!("`{id}` failed: {}", e.summary()));
            })
        }
    }

    cordon_plugin_sdk::export_refactor!(Plugin);
}

#[cfg(test)]
mod tests {
    use super::*;
    use cordon_plugin_sdk::testing::{CannedModel, marked_context};
    use cordon_plugin_sdk::{Position, Range};

    #[test]
    fn rewrites_the_selection_with_the_fenced_code_of_the_reply() {
        let ctx = marked_context(
            "fn total(xs: &[u32]) -> u32 {\n    $0let mut t = 0;\n    for x in xs { t += x; }\n    t$0\n}\n",
            "rust",
            "src/lib.rs",
        );
        assert_eq!(actions(&ctx)[0].id, REWRITE);
        let mut model = CannedModel::answering("Here:\n\n```rust\nxs.iter().sum()\n```\n");

        let edits = apply(&ctx, REWRITE, Some("Use an iterator"), &mut model).unwrap();

        let selected = Range::new(Position::new(1, 4), Position::new(3, 5));
        assert_eq!(edits, vec![TextEdit::replace(selected, "xs.iter().sum()")]);
        let request = &model.chat_requests[0];
        assert_eq!(request.purpose, Purpose::Refactor);
        assert_eq!(
            request.messages[0].content,
            "Use an iterator\n\n```rust\nlet mut t = 0;\n    for x in xs { t += x; }\n    t\n```"
        );
        assert!(actions(&marked_context("fn f() {$0}", "rust", "src/lib.rs")).is_empty());
    }
}
