//! Cordon's first-party explain plugin.
//!
//! [`logic`] picks the code to explain (the selection, else the item
//! enclosing the cursor, else the lines around it), asks the model for a
//! concise Markdown explanation and returns it. It is plain Rust over the
//! kit's types, so it runs natively as well. The `component` module,
//! compiled for `wasm32` only, binds it to the `explain-plugin` world of
//! `cordon:plugin@0.1.0`.

pub mod logic {
    //! Explain logic: choosing the code, the prompt, and the reply.

    use cordon_plugin_kit::fence::{code_blocks, language_tag};
    use cordon_plugin_kit::item::{Family, enclosing_item};
    use cordon_plugin_kit::text::{
        Selection, Window, dedent, head_at_line_boundary, is_blank, selection,
    };
    use cordon_plugin_kit::{ChatRequest, DocumentContext, Error, Message, Model, Purpose, Range};

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
    mod tests {
        use super::*;
        use cordon_plugin_kit::testing::{CannedModel, marked_context};
        use cordon_plugin_kit::{Diagnostic, Position, Severity};

        fn prompt_of(model: &CannedModel) -> &str {
            &model.chat_requests[0].messages[0].content
        }

        #[test]
        fn explains_the_selection() {
            let ctx = marked_context(
                "fn f() {\n    let y = $0x.pow(2) + 1$0;\n}\n",
                "rust",
                "src/m.rs",
            );
            let mut model = CannedModel::answering("  Squares `x` and adds one.\n\n");
            let answer = explain(&ctx, &mut model).unwrap();
            assert_eq!(answer, "Squares `x` and adds one.");
            assert_eq!(model.streamed, 1, "explanations are streamed");
            let req = &model.chat_requests[0];
            assert_eq!(req.purpose, Purpose::Explain);
            assert!(req.system.contains("Markdown") && req.system.contains("pitfalls"));
            assert_eq!(req.max_tokens, MAX_TOKENS);
            let prompt = prompt_of(&model);
            assert!(
                prompt.starts_with("Explain the selected code from `src/m.rs` (language: rust)."),
                "{prompt}"
            );
            assert!(prompt.contains("```rust\nx.pow(2) + 1\n```"), "{prompt}");
        }

        #[test]
        fn explains_the_enclosing_item() {
            let doc = "import os\n\nclass Store:\n    def load(self, path):\n        with open(path) as f:\n            return f$0.read()\n\n    def save(self):\n        pass\n";
            let ctx = marked_context(doc, "python", "store.py");
            let mut model = CannedModel::answering("Reads a file.");
            explain(&ctx, &mut model).unwrap();
            let prompt = prompt_of(&model);
            assert!(
                prompt.contains("Explain function `load` from `store.py` (language: python)."),
                "{prompt}"
            );
            assert!(
                prompt.contains("```python\ndef load(self, path):\n    with open(path) as f:\n        return f.read()\n```"),
                "{prompt}"
            );
            assert!(!prompt.contains("def save"));
        }

        #[test]
        fn explains_lines_around_the_cursor_outside_items() {
            let mut doc: String = (1..=40).map(|i| format!("x{i} = {i}\n")).collect();
            doc.insert_str(doc.find("x20 =").unwrap(), "$0");
            let ctx = marked_context(&doc, "python", "s.py");
            let subject = subject(&ctx).unwrap();
            assert_eq!(subject.what, "the code on lines 5-35 (cursor on line 20)");
            assert!(
                subject.code.starts_with("x5 = 5\n") && subject.code.ends_with("x35 = 35"),
                "{}",
                subject.code
            );
            assert_eq!(
                subject.range,
                Some(Range::new(Position::new(4, 0), Position::new(34, 8)))
            );
        }

        #[test]
        fn diagnostics_in_the_code_are_quoted() {
            let mut ctx = marked_context(
                "fn f() {\n    let x: u8 = 300;$0\n}\n\nfn g() {}\n",
                "rust",
                "a.rs",
            );
            ctx.diagnostics = vec![
                Diagnostic {
                    range: Range::new(Position::new(1, 16), Position::new(1, 19)),
                    severity: Severity::Error,
                    message: "literal out of range for `u8`".into(),
                },
                Diagnostic {
                    range: Range::new(Position::new(4, 3), Position::new(4, 4)),
                    severity: Severity::Warning,
                    message: "function `g` is never used".into(),
                },
            ];
            let request = request(&ctx).unwrap();
            let prompt = &request.messages[0].content;
            assert!(
                prompt.contains("- error on line 2: literal out of range for `u8`"),
                "{prompt}"
            );
            assert!(!prompt.contains("never used"), "{prompt}");
        }

        #[test]
        fn long_code_is_bounded() {
            let body: String = (0..3000)
                .map(|i| format!("    let v{i} = {i};\n"))
                .collect();
            let ctx = marked_context(&format!("fn big() {{\n$0{body}}}\n"), "rust", "a.rs");
            let mut model = CannedModel::answering("Big.");
            explain(&ctx, &mut model).unwrap();
            let prompt = prompt_of(&model);
            assert!(prompt.len() < MAX_CODE_BYTES + 2048);
            assert!(prompt.contains("(The code continues beyond what is shown.)"));
        }

        #[test]
        fn random_documents_are_explained_or_refused_clearly() {
            use cordon_plugin_kit::testing::random_document;
            let mut explained = 0;
            for seed in 0..1500 {
                for language in ["rust", "python", "typescript", "go", "c", "plaintext"] {
                    let doc = random_document(seed, language);
                    let mut model = CannedModel::answering("Fine.");
                    match explain(&doc.ctx, &mut model) {
                        Ok(text) => {
                            assert_eq!(text, "Fine.");
                            explained += 1;
                        }
                        Err(Error::InvalidRequest(_)) => assert_eq!(model.calls(), 0),
                        Err(other) => panic!("{other} for {:?}", doc.ctx),
                    }
                }
            }
            assert!(
                explained >= 1000,
                "too few explanations exercised: {explained}"
            );
        }

        #[test]
        fn errors() {
            let ctx = marked_context("\n\n$0\n\n", "rust", "a.rs");
            let mut model = CannedModel::answering("x");
            assert!(matches!(
                explain(&ctx, &mut model),
                Err(Error::InvalidRequest(_))
            ));
            assert_eq!(model.calls(), 0);

            let ctx = marked_context("fn f() {$0}\n", "rust", "a.rs");
            let err = explain(&ctx, &mut CannedModel::answering(" \n ")).unwrap_err();
            assert!(
                matches!(err, Error::Unavailable(ref m) if m.contains("empty")),
                "{err}"
            );
            let unavailable = Error::Unavailable("configure a backend for explanations".into());
            assert_eq!(
                explain(&ctx, &mut CannedModel::failing(unavailable.clone())),
                Err(unavailable)
            );
        }

        #[test]
        fn a_fence_around_the_whole_answer_is_removed() {
            let ctx = marked_context("fn f() {$0}\n", "rust", "a.rs");
            let answer = explain(
                &ctx,
                &mut CannedModel::answering("```markdown\nDoes nothing.\n```"),
            )
            .unwrap();
            assert_eq!(answer, "Does nothing.");
            let code_only = "```rust\nfn f() {}\n```";
            assert_eq!(
                explain(&ctx, &mut CannedModel::answering(code_only)).unwrap(),
                code_only
            );
        }
    }
}

#[cfg(all(target_arch = "wasm32", feature = "component"))]
mod component {
    //! Binding of [`crate::logic`] to the `explain-plugin` world.

    wit_bindgen::generate!({
        path: "../../wit",
        world: "explain-plugin",
    });
    cordon_plugin_kit::wit_glue!();

    use cordon::plugin::log::{Level, log};
    use cordon::plugin::types::{DocumentContext, Error};
    use exports::cordon::plugin::describe::{Guest as Describe, Info};
    use exports::cordon::plugin::explain::Guest as Explain;

    struct Plugin;

    impl Describe for Plugin {
        fn describe() -> Info {
            Info {
                name: "explain".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                description: "Markdown explanations of the selection or the item at the cursor"
                    .to_owned(),
            }
        }
    }

    impl Explain for Plugin {
        fn explain(context: DocumentContext) -> Result<String, Error> {
            let ctx = glue::context_to_kit(context);
            crate::logic::explain(&ctx, &mut glue::HostModel).map_err(|e| {
                log(Level::Debug, &format!("explain failed: {e}"));
                glue::error_to_wit(e)
            })
        }
    }

    export!(Plugin);
}
