//! Tests of the refactor logic.

use super::*;
use cordon_plugin_sdk::testing::{CannedModel, marked_context};

fn ids(actions: &[Action]) -> Vec<&str> {
    actions.iter().map(|a| a.id.as_str()).collect()
}

const RUST: &str = "use std::io;\n\nfn total(items: &[u32]) -> u32 {\n    let mut sum = 0;\n    $0for i in items {\n        sum += i;\n    }\n$0    sum\n}\n";

#[test]
fn actions_follow_selection_and_item() {
    let ctx = marked_context(RUST, "rust", "src/lib.rs");
    let listed = actions(&ctx);
    assert_eq!(
        ids(&listed),
        [REWRITE_SELECTION, EXTRACT_FUNCTION, ADD_DOC_COMMENT]
    );
    assert_eq!(listed[0].title, "Rewrite selection…");
    assert_eq!(listed[0].kind, "refactor.rewrite");
    assert!(listed[0].needs_instruction);
    assert_eq!(
        (listed[1].title.as_str(), listed[1].kind.as_str()),
        ("Extract function", "refactor.extract")
    );
    assert!(!listed[1].needs_instruction);
    assert_eq!(
        (listed[2].title.as_str(), listed[2].kind.as_str()),
        ("Add doc comment", "refactor.rewrite")
    );
    // No selection, outside any item: nothing.
    let ctx = marked_context("use std::io;\n$0\nfn f() {}\n", "rust", "src/lib.rs");
    assert!(actions(&ctx).is_empty());
    // Documented items are offered a rewrite of their comment.
    let ctx = marked_context("/// Adds.\nfn add() {\n    $0\n}\n", "rust", "src/lib.rs");
    let listed = actions(&ctx);
    assert_eq!(ids(&listed), [ADD_DOC_COMMENT]);
    assert_eq!(listed[0].title, "Rewrite doc comment");
    // A blank selection is not offered a rewrite.
    let ctx = marked_context("fn f() {\n$0    \n$0}\n", "rust", "src/lib.rs");
    assert_eq!(ids(&actions(&ctx)), [ADD_DOC_COMMENT]);
}

#[test]
fn rewrite_prompt_and_edit() {
    let ctx = marked_context(RUST, "rust", "src/lib.rs");
    let mut model = CannedModel::answering("Sure:\n```rust\nsum = items.iter().sum();\n```\n");
    let edits = apply(
        &ctx,
        REWRITE_SELECTION,
        Some("  use an iterator "),
        &mut model,
    )
    .unwrap();
    let req = &model.chat_requests[0];
    assert_eq!(req.purpose, Purpose::Refactor);
    assert!(req.system.contains("fenced code block"));
    let prompt = &req.messages[0].content;
    assert!(
        prompt.contains("Instruction: use an iterator\n"),
        "{prompt}"
    );
    assert!(prompt.contains("`src/lib.rs` (language: rust)"));
    assert!(
        prompt.contains("```rust\nfor i in items {\n        sum += i;\n    }\n\n```"),
        "{prompt}"
    );
    assert!(prompt.contains("function `total`"), "{prompt}");
    assert!(req.max_tokens >= 512);
    // The selection runs from (4, 4) to (7, 0): indentation and the final line break are kept.
    assert_eq!(
        edits,
        vec![TextEdit::replace(
            Range::new(Position::new(4, 4), Position::new(7, 0)),
            "sum = items.iter().sum();\n"
        )]
    );
}

#[test]
fn rewrite_reindents_multi_line_code() {
    let doc = "def f(xs):\n$0    out = []\n    for x in xs:\n        out.append(x * 2)\n$0    return out\n";
    let ctx = marked_context(doc, "python", "f.py");
    let reply = "```python\nout = [\n    x * 2\n    for x in xs\n]\n```";
    let edits = apply(
        &ctx,
        REWRITE_SELECTION,
        Some("comprehension"),
        &mut CannedModel::answering(reply),
    )
    .unwrap();
    assert_eq!(
        edits[0].range,
        Range::new(Position::new(1, 0), Position::new(4, 0))
    );
    assert_eq!(
        edits[0].new_text,
        "    out = [\n        x * 2\n        for x in xs\n    ]\n"
    );
}

#[test]
fn rewrite_errors() {
    let ctx = marked_context(RUST, "rust", "src/lib.rs");
    let mut model = CannedModel::answering("```rust\nx\n```");
    for missing in [None, Some("   ")] {
        let err = apply(&ctx, REWRITE_SELECTION, missing, &mut model).unwrap_err();
        assert!(
            matches!(err, Error::InvalidRequest(ref m) if m.contains("instruction")),
            "{err}"
        );
    }
    let no_selection = marked_context("fn f() {\n    $0\n}\n", "rust", "src/lib.rs");
    let err = apply(&no_selection, REWRITE_SELECTION, Some("x"), &mut model).unwrap_err();
    assert!(
        matches!(err, Error::InvalidRequest(ref m) if m.contains("selection")),
        "{err}"
    );
    assert_eq!(model.calls(), 0, "invalid requests never reach the model");

    let err = apply(&ctx, "rename-everything", None, &mut model).unwrap_err();
    assert!(
        matches!(err, Error::InvalidRequest(ref m) if m.contains("rename-everything")),
        "{err}"
    );

    let mut prose = CannedModel::answering("I would use an iterator here.");
    let err = apply(&ctx, REWRITE_SELECTION, Some("iter"), &mut prose).unwrap_err();
    assert!(
        matches!(err, Error::Unavailable(ref m) if m.contains("no code block")),
        "{err}"
    );
    let mut cut = CannedModel::answering("```rust\nlet x = items.iter()");
    let err = apply(&ctx, REWRITE_SELECTION, Some("iter"), &mut cut).unwrap_err();
    assert!(
        matches!(err, Error::Unavailable(ref m) if m.contains("cut off")),
        "{err}"
    );

    let mut down = CannedModel::failing(Error::RateLimited("slow down".into()));
    assert_eq!(
        apply(&ctx, REWRITE_SELECTION, Some("iter"), &mut down),
        Err(Error::RateLimited("slow down".into()))
    );
}

#[test]
fn truncated_selection_is_refused() {
    let mut ctx = marked_context(RUST, "rust", "src/lib.rs");
    ctx.selected_text = Some("for i in".into());
    ctx.prefix = "    sum += i;\n    }\n".into();
    ctx.prefix_truncated = true;
    let err = apply(
        &ctx,
        REWRITE_SELECTION,
        Some("x"),
        &mut CannedModel::answering("```\nx\n```"),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidRequest(ref m) if m.contains("larger")),
        "{err}"
    );
}

#[test]
fn extract_inserts_function_above_item_and_call_at_selection() {
    let ctx = marked_context(RUST, "rust", "src/lib.rs");
    let reply = "```rust\nsum += add_all(items);\n```\n\n```rust\n/// Sums the items.\nfn add_all(items: &[u32]) -> u32 {\n    items.iter().sum()\n}\n```\n";
    let mut model = CannedModel::answering(reply);
    let edits = apply(&ctx, EXTRACT_FUNCTION, None, &mut model).unwrap();
    assert!(
        model.chat_requests[0].messages[0]
            .content
            .contains("exactly two fenced code blocks")
    );
    assert_eq!(edits.len(), 2);
    assert_eq!(edits[0].range, Range::empty(Position::new(2, 0)));
    assert_eq!(
        edits[0].new_text,
        "/// Sums the items.\nfn add_all(items: &[u32]) -> u32 {\n    items.iter().sum()\n}\n\n"
    );
    assert_eq!(
        edits[1].range,
        Range::new(Position::new(4, 4), Position::new(7, 0))
    );
    assert_eq!(edits[1].new_text, "sum += add_all(items);\n");
}

#[test]
fn extract_handles_swapped_blocks_and_methods() {
    let doc = "class Cart:\n    def total(self):\n        $0s = sum(i.price for i in self.items)$0\n        return s\n";
    let ctx = marked_context(doc, "python", "cart.py");
    let reply = "```python\ndef _sum_prices(self):\n    return sum(i.price for i in self.items)\n```\n```python\ns = self._sum_prices()\n```";
    let edits = apply(
        &ctx,
        EXTRACT_FUNCTION,
        Some("call it _sum_prices"),
        &mut CannedModel::answering(reply),
    )
    .unwrap();
    assert_eq!(edits[0].range, Range::empty(Position::new(1, 0)));
    assert_eq!(
        edits[0].new_text,
        "    def _sum_prices(self):\n        return sum(i.price for i in self.items)\n\n"
    );
    assert_eq!(
        edits[1].range,
        Range::new(Position::new(2, 8), Position::new(2, 44))
    );
    assert_eq!(edits[1].new_text, "s = self._sum_prices()");
}

#[test]
fn extract_at_top_level_replaces_selection_with_both() {
    let doc = "$0total = 0\nfor x in xs:\n    total += x\n$0print(total)\n";
    let ctx = marked_context(doc, "python", "s.py");
    let reply = "```python\ntotal = add(xs)\n```\n```python\ndef add(xs):\n    return sum(xs)\n```";
    let edits = apply(
        &ctx,
        EXTRACT_FUNCTION,
        None,
        &mut CannedModel::answering(reply),
    )
    .unwrap();
    assert_eq!(edits.len(), 1);
    assert_eq!(
        edits[0].new_text,
        "def add(xs):\n    return sum(xs)\n\ntotal = add(xs)\n"
    );
}

#[test]
fn doc_comment_above_rust_item_with_attributes() {
    let doc = "impl Cart {\n    #[must_use]\n    pub fn total(&self) -> u32 {\n        self.items.$0iter().sum()\n    }\n}\n";
    let ctx = marked_context(doc, "rust", "src/cart.rs");
    let mut model = CannedModel::answering(
        "```rust\n/// Total price of the cart.\n///\n/// Sums every item.\npub fn total(&self) -> u32 {\n```",
    );
    let edits = apply(&ctx, ADD_DOC_COMMENT, None, &mut model).unwrap();
    let prompt = &model.chat_requests[0].messages[0].content;
    assert!(prompt.contains("function `total`"), "{prompt}");
    assert!(prompt.contains("```rust\n#[must_use]\npub fn total(&self) -> u32 {\n    self.items.iter().sum()\n}\n```"), "{prompt}");
    assert!(prompt.contains("`///`"));
    assert_eq!(
        edits,
        vec![TextEdit::insert(
            Position::new(1, 0),
            "    /// Total price of the cart.\n    ///\n    /// Sums every item.\n"
        )]
    );
}

#[test]
fn an_existing_doc_comment_is_rewritten_in_place() {
    let doc = "impl Inventory {\n    /// Names of the items that are in stock.\n    #[must_use]\n    pub fn in_stock(&self) -> Vec<String> {\n        let mut names = Vec::new();\n        $0\n        names\n    }\n}\n";
    let ctx = marked_context(doc, "rust", "src/lib.rs");
    let reply = "```rust\n/// Names of the items in stock.\npub fn in_stock(&self) -> Vec<String> {\n```\n\nThis collects names.";
    let mut model = CannedModel::answering(reply);
    let edits = apply(&ctx, ADD_DOC_COMMENT, None, &mut model).unwrap();
    let prompt = &model.chat_requests[0].messages[0].content;
    assert!(
                prompt.contains("Its current documentation is below; rewrite it, keeping what is still accurate:\n```rust\n/// Names of the items that are in stock.\n```"),
                "{prompt}"
            );
    assert_eq!(
        edits,
        vec![TextEdit::replace(
            Range::new(Position::new(1, 0), Position::new(2, 0)),
            "    /// Names of the items in stock.\n"
        )]
    );
    // A Python docstring is replaced by the new one.
    let doc = "def f(x):\n    \"\"\"Old.\n\n    More.\n    \"\"\"\n    return x$0\n";
    let ctx = marked_context(doc, "python", "f.py");
    let edits = apply(
        &ctx,
        ADD_DOC_COMMENT,
        None,
        &mut CannedModel::answering("```\n\"\"\"Returns x.\"\"\"\n```"),
    )
    .unwrap();
    assert_eq!(
        edits,
        vec![TextEdit::replace(
            Range::new(Position::new(1, 0), Position::new(5, 0)),
            "    \"\"\"Returns x.\"\"\"\n"
        )]
    );
}

#[test]
fn doc_comment_styles_per_language() {
    let js = marked_context(
        "class A {\n  add(a, b) {\n    return a + b;$0\n  }\n}\n",
        "typescript",
        "a.ts",
    );
    let edits = apply(
        &js,
        ADD_DOC_COMMENT,
        None,
        &mut CannedModel::answering("Adds two numbers.\n@param a first\n"),
    )
    .unwrap();
    assert_eq!(edits[0].range, Range::empty(Position::new(1, 0)));
    assert_eq!(
        edits[0].new_text,
        "  /**\n   * Adds two numbers.\n   * @param a first\n   */\n"
    );

    let go = marked_context(
        "func Add(a, b int) int {\n\treturn a + b$0\n}\n",
        "go",
        "a.go",
    );
    let reply = "```go\n// Add returns the sum of a and b.\nfunc Add(a, b int) int {\n```";
    let edits = apply(
        &go,
        ADD_DOC_COMMENT,
        None,
        &mut CannedModel::answering(reply),
    )
    .unwrap();
    assert_eq!(
        edits[0],
        TextEdit::insert(Position::new(0, 0), "// Add returns the sum of a and b.\n")
    );

    let cs = marked_context(
        "class A {\r\n    int Add(int a, int b) {\r\n        return a + b;$0\r\n    }\r\n}\r\n",
        "csharp",
        "A.cs",
    );
    let edits = apply(
        &cs,
        ADD_DOC_COMMENT,
        None,
        &mut CannedModel::answering("```csharp\n/// Adds.\n```"),
    )
    .unwrap();
    assert_eq!(
        edits[0].new_text,
        "    /// <summary>\r\n    /// Adds.\r\n    /// </summary>\r\n"
    );
}

#[test]
fn python_docstring_goes_inside_the_body() {
    let doc = "class Cart:\n    def total(self, tax):\n        $0return sum(self.items) * tax\n";
    let ctx = marked_context(doc, "python", "cart.py");
    let reply = "```python\n\"\"\"Total price including tax.\n\n    Args:\n        tax: the multiplier.\n    \"\"\"\n```";
    let edits = apply(
        &ctx,
        ADD_DOC_COMMENT,
        None,
        &mut CannedModel::answering(reply),
    )
    .unwrap();
    assert_eq!(edits[0].range, Range::empty(Position::new(2, 0)));
    assert_eq!(
        edits[0].new_text,
        "        \"\"\"Total price including tax.\n\n        Args:\n            tax: the multiplier.\n        \"\"\"\n"
    );
    // One-line bodies get `#` comments above the def.
    let ctx = marked_context("def sq(x): return x * x$0\n", "python", "m.py");
    let edits = apply(
        &ctx,
        ADD_DOC_COMMENT,
        None,
        &mut CannedModel::answering("```\n\"\"\"Square of x.\"\"\"\n```"),
    )
    .unwrap();
    assert_eq!(
        edits[0],
        TextEdit::insert(Position::new(0, 0), "# Square of x.\n")
    );
}

#[test]
fn random_documents_give_valid_edits() {
    use cordon_plugin_sdk::testing::{Rng, check_range, random_document};
    let mut applied = [0usize; 3];
    for seed in 0..1500 {
        for language in ["rust", "python", "typescript", "go", "csharp", "plaintext"] {
            let doc = random_document(seed, language);
            let offered = actions(&doc.ctx);
            let mut rng = Rng::new(seed ^ 0xF00D);
            for (n, id) in [REWRITE_SELECTION, EXTRACT_FUNCTION, ADD_DOC_COMMENT]
                .into_iter()
                .enumerate()
            {
                let reply = match rng.below(3) {
                    0 => rng.code(30),
                    1 => format!("```\n{}\n```", rng.code(30)),
                    _ => format!("```x\n{}\n```\n```\n{}\n```", rng.code(20), rng.code(20)),
                };
                let result = apply(
                    &doc.ctx,
                    id,
                    Some("simplify"),
                    &mut CannedModel::answering(reply),
                );
                if offered.iter().any(|a| a.id == id) {
                    assert!(
                        !matches!(result, Err(Error::InvalidRequest(_))),
                        "offered `{id}` refused: {result:?} for {:?}",
                        doc.ctx
                    );
                }
                let Ok(edits) = result else { continue };
                applied[n] += 1;
                for edit in &edits {
                    if let Err(e) = check_range(&doc.text, edit.range) {
                        panic!("`{id}`: {e} in {:?} with context {:?}", doc.text, doc.ctx);
                    }
                }
                for pair in edits.windows(2) {
                    assert!(
                        pair[0].range.end <= pair[1].range.start,
                        "overlapping edits {edits:?}"
                    );
                }
            }
        }
    }
    eprintln!("edits produced per action: {applied:?}");
    assert!(
        applied.iter().all(|&n| n >= 100),
        "too few edits exercised: {applied:?}"
    );
}

#[test]
fn doc_comment_errors() {
    let ctx = marked_context("let x = 1;$0\n", "rust", "a.rs");
    let err = apply(
        &ctx,
        ADD_DOC_COMMENT,
        None,
        &mut CannedModel::answering("x"),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidRequest(ref m) if m.contains("inside a function")),
        "{err}"
    );
    let ctx = marked_context("fn f() {$0}\n", "rust", "a.rs");
    let err = apply(
        &ctx,
        ADD_DOC_COMMENT,
        None,
        &mut CannedModel::answering("```rust\n```"),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err}");
}
