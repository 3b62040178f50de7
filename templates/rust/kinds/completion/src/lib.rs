//! `{{name}}`: a Cordon completion plugin, world `{{world}}` of
//! `cordon:plugin@{{wit_version}}`.
//!
//! [`complete`] asks the model for a fill-in-the-middle completion at the
//! cursor (the text before and after it; the answer stops at the end of the
//! line) and proposes it as one item inserted at the cursor. It is generic
//! over [`Model`], so the test below runs it natively against a canned
//! model; inside the component, `HostModel` is the model Cordon grants.

use cordon_plugin_sdk::text::{
    first_line, head_at_line_boundary, tail_at_line_boundary, truncate_chars,
};
use cordon_plugin_sdk::{CompletionItem, DocumentContext, Error, FimRequest, Model, Range};

/// Most bytes of the text before the cursor sent to the model.
const PREFIX_BYTES: usize = 8 * 1024;
/// Most bytes of the text after the cursor sent to the model.
const SUFFIX_BYTES: usize = 2 * 1024;
/// Most characters of an item's label.
const LABEL_CHARS: usize = 60;

/// The fill-in-the-middle request for the cursor of `ctx`: the rest of the
/// current line.
pub fn fim_request(ctx: &DocumentContext) -> FimRequest {
    FimRequest {
        prefix: tail_at_line_boundary(&ctx.prefix, PREFIX_BYTES).to_owned(),
        suffix: head_at_line_boundary(&ctx.suffix, SUFFIX_BYTES).to_owned(),
        language_id: ctx.language_id.clone(),
        path: ctx.path.clone(),
        max_tokens: 64,
        stop: vec!["\n".to_owned()],
    }
}

/// The proposals for the cursor of `ctx`: the model's completion of the
/// line, without what the line already has after the cursor; none when the
/// model proposes nothing. Model errors are returned unchanged.
pub fn complete(
    ctx: &DocumentContext,
    model: &mut impl Model,
) -> Result<Vec<CompletionItem>, Error> {
    let reply = model.fim(&fim_request(ctx))?;
    let proposal = first_line(&reply.text).trim_end();
    let rest_of_line = first_line(&ctx.suffix).trim();
    let proposal = proposal.strip_suffix(rest_of_line).unwrap_or(proposal);
    if proposal.trim().is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![CompletionItem {
        label: truncate_chars(proposal.trim(), LABEL_CHARS).into_owned(),
        insert_text: proposal.to_owned(),
        replace: Range::empty(ctx.cursor),
        detail: Some("{{name}}".to_owned()),
    }])
}

/// The component's exports: compiled for `wasm32` only.
#[cfg(target_arch = "wasm32")]
mod component {
    use cordon_plugin_sdk::{
        CapabilityRequest, CompletionGuest, CompletionItem, DescribeGuest, DocumentContext, Error,
        HostModel, Info, Level, log,
    };

    struct Plugin;

    impl DescribeGuest for Plugin {
        fn describe() -> Info {
            Info {
                name: "{{name}}".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                description: "Completes the line at the cursor with a fill-in-the-middle model"
                    .to_owned(),
                requests: vec![
                    CapabilityRequest::new("model", "fills in the code at the cursor"),
                    CapabilityRequest::new("log", "says why a call failed"),
                ],
            }
        }
    }

    impl CompletionGuest for Plugin {
        fn complete(context: DocumentContext) -> Result<Vec<CompletionItem>, Error> {
            super::complete(&context, &mut HostModel).inspect_err(|e| {
                log(Level::Debug, &format!("completion failed: {}", e.summary()));
            })
        }
    }

    cordon_plugin_sdk::export_completion!(Plugin);
}

#[cfg(test)]
mod tests {
    use super::*;
    use cordon_plugin_sdk::Position;
    use cordon_plugin_sdk::testing::{CannedModel, marked_context};

    #[test]
    fn proposes_the_rest_of_the_line_at_the_cursor() {
        let ctx = marked_context(
            "fn add(a: i32, b: i32) -> i32 {\n    a $0;\n}\n",
            "rust",
            "src/lib.rs",
        );
        let mut model = CannedModel::answering("+ b;\n}");

        let items = complete(&ctx, &mut model).unwrap();

        assert_eq!(
            items,
            vec![CompletionItem {
                label: "+ b".to_owned(),
                insert_text: "+ b".to_owned(),
                replace: Range::empty(Position::new(1, 6)),
                detail: Some("{{name}}".to_owned()),
            }]
        );
        let request = &model.fim_requests[0];
        assert_eq!(request.prefix, "fn add(a: i32, b: i32) -> i32 {\n    a ");
        assert_eq!(request.suffix, ";\n}\n");
        assert_eq!(request.stop, ["\n"]);
    }
}
