//! Tests of the explain logic.

use super::*;
use cordon_plugin_sdk::testing::{CannedModel, marked_context};
use cordon_plugin_sdk::{Diagnostic, Position, Severity};

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
    use cordon_plugin_sdk::testing::random_document;
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
