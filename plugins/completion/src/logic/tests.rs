//! Tests of the completion logic.

use super::*;
use cordon_plugin_sdk::testing::{CannedModel, marked_context};
use cordon_plugin_sdk::{Position, StopReason};

fn run(doc: &str, language: &str, reply: &str) -> (Vec<CompletionItem>, FimRequest) {
    let ctx = marked_context(doc, language, "src/main.rs");
    let mut model = CannedModel::answering(reply);
    let items = complete(&ctx, &mut model).expect("complete");
    assert_eq!(model.fim_requests.len(), 1);
    assert!(model.chat_requests.is_empty());
    (items, model.fim_requests.remove(0))
}

#[test]
fn request_carries_code_language_and_path() {
    let (_, req) = run("fn main() {\n    let total = $0\n}\n", "rust", "1;");
    assert_eq!(req.prefix, "fn main() {\n    let total = ");
    assert_eq!(req.suffix, "\n}\n");
    assert_eq!(req.language_id, "rust");
    assert_eq!(req.path, "src/main.rs");
    assert_eq!(req.max_tokens, LINE_MAX_TOKENS);
    assert_eq!(req.stop, vec!["\n".to_owned()]);
}

#[test]
fn long_windows_are_cut_at_line_boundaries() {
    let before: String = (0..2000).map(|i| format!("let v{i} = {i};\n")).collect();
    let after: String = (0..2000).map(|i| format!("let w{i} = {i};\n")).collect();
    let (_, req) = run(&format!("{before}let x = $0;\n{after}"), "rust", "1");
    assert!(
        req.prefix.len() <= PREFIX_BUDGET && req.prefix.starts_with("let v"),
        "{}",
        &req.prefix[..20]
    );
    assert!(req.prefix.ends_with("let x = "));
    assert!(req.suffix.len() <= SUFFIX_BUDGET && req.suffix.starts_with(";\nlet w0 = 0;\n"));
    assert!(req.suffix.ends_with('\n'));
}

#[test]
fn mid_line_completion_is_one_line_at_the_cursor() {
    let (items, _) = run(
        "let total = comp$0\n",
        "rust",
        "ute_total(&items);\nlet more = 2;",
    );
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item.insert_text, "ute_total(&items);");
    assert_eq!(item.label, "compute_total(&items);");
    assert_eq!(item.replace, Range::empty(Position::new(0, 16)));
    assert_eq!(item.detail.as_deref(), Some("canned"));
}

#[test]
fn closing_punctuation_already_in_the_document_is_cut() {
    let (items, _) = run("    total = sum(values$0);\n", "python", ", start=0);");
    assert_eq!(items[0].insert_text, ", start=0");
    // A balanced call inside the parentheses keeps its own `)`.
    let (items, _) = run("print(len($0))\n", "python", "items)");
    assert_eq!(items[0].insert_text, "items");
    let (items, _) = run("print(len($0))\n", "python", "items))");
    assert_eq!(items[0].insert_text, "items");
    let (items, _) = run("print($0)\n", "python", "len(items)");
    assert_eq!(items[0].insert_text, "len(items)");
    let (items, _) = run("let s = \"hello$0\";\n", "rust", " world\";");
    assert_eq!(items[0].insert_text, " world");
    // A short word that happens to match is not an overlap.
    let (items, _) = run("let a = ma$0x;\n", "rust", "x");
    assert_eq!(items[0].insert_text, "x");
}

#[test]
fn block_on_indented_empty_line_stops_at_dedent() {
    let doc = "def total(items):\n    $0\n\nprint(1)\n";
    let (items, req) = run(
        doc,
        "python",
        "result = 0\n    for i in items:\n        result += i\nreturn result\n",
    );
    assert_eq!(req.max_tokens, BLOCK_MAX_TOKENS);
    assert!(req.stop.contains(&"\n\n".to_owned()));
    assert_eq!(
        items[0].insert_text,
        "result = 0\n    for i in items:\n        result += i"
    );
    assert_eq!(items[0].label, "result = 0");
    assert_eq!(items[0].detail.as_deref(), Some("3 lines · canned"));
    // The single-line alternative.
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].insert_text, "result = 0");
}

#[test]
fn block_stops_at_blank_line_and_at_the_documents_next_line() {
    let doc = "fn f() {\n    $0\n    cleanup();\n}\n";
    let (items, req) = run(
        doc,
        "rust",
        "let a = 1;\n    let b = 2;\n    cleanup();\n}\n",
    );
    assert!(
        req.stop.contains(&"\n    cleanup();".to_owned()),
        "{:?}",
        req.stop
    );
    assert_eq!(items[0].insert_text, "let a = 1;\n    let b = 2;");
    let (items, _) = run(
        "fn f() {\n    $0\n}\n",
        "rust",
        "a();\n    b();\n\n    c();",
    );
    assert_eq!(items[0].insert_text, "a();\n    b();");
}

#[test]
fn block_after_opener_keeps_a_missing_closer_and_cuts_a_present_one() {
    // At the end of the file the closing brace is proposed...
    let (items, req) = run(
        "fn add(a: i32, b: i32) -> i32 {$0",
        "rust",
        "\n    a + b\n}\n\nfn next() {}",
    );
    assert_eq!(req.max_tokens, BLOCK_MAX_TOKENS);
    assert_eq!(items[0].insert_text, "\n    a + b\n}");
    assert_eq!(items[0].label, "a + b");
    assert_eq!(
        items.len(),
        1,
        "no single-line variant of an empty first line"
    );
    // ...but not when the document already has it.
    let (items, req) = run(
        "fn add(a: i32, b: i32) -> i32 {$0\n}\n",
        "rust",
        "\n    a + b\n}",
    );
    assert!(req.stop.contains(&"\n}".to_owned()));
    assert_eq!(items[0].insert_text, "\n    a + b");
    // Python block openers too; a sibling at the def's level ends it.
    let (items, _) = run(
        "def f(x):$0",
        "python",
        "\n    return x * 2\ndef g():\n    pass",
    );
    assert_eq!(items[0].insert_text, "\n    return x * 2");
}

#[test]
fn leading_blank_lines_on_an_empty_line_are_dropped() {
    let (items, _) = run("fn f() {\n    $0\n}\n", "rust", "\n  \n    a();\n    b();");
    assert_eq!(items[0].insert_text, "a();\n    b();");
}

#[test]
fn truncated_block_drops_its_unfinished_last_line() {
    let ctx = marked_context("fn f() {\n    $0\n}\n", "rust", "a.rs");
    let mut model = CannedModel::answering("let a = 1;\n    let b = compute(")
        .with_stop_reason(StopReason::MaxTokens);
    let items = complete(&ctx, &mut model).unwrap();
    assert_eq!(items[0].insert_text, "let a = 1;");
}

#[test]
fn whitespace_and_repeats_give_no_items() {
    assert!(run("let x = $0\n", "rust", "   \n  ").0.is_empty());
    assert!(run("let x = $0\n", "rust", "").0.is_empty());
    assert!(run("call(a, $0b);\n", "rust", "b);").0.is_empty());
}

#[test]
fn typed_whitespace_is_not_doubled_and_crlf_is_kept() {
    let (items, _) = run("let x =  $0\r\n", "rust", " 5;");
    assert_eq!(items[0].insert_text, "5;");
    let (items, _) = run("fn f() {\r\n    $0\r\n}\r\n", "rust", "a();\n    b();\n}");
    assert_eq!(items[0].insert_text, "a();\r\n    b();");
}

#[test]
fn multibyte_text_at_window_edges_does_not_panic() {
    // A 4-byte character straddles byte 256 of the suffix.
    let suffix = format!("\n{}😀😀 rest\n", "a".repeat(253));
    let doc = format!("fn f() {{\n    $0{suffix}}}\n");
    let (items, _) = run(&doc, "rust", "let é = 1;");
    assert_eq!(items[0].insert_text, "let é = 1;");
    let (items, _) = run("let s = \"😀$0😀\";\n", "rust", "é😀\";");
    assert_eq!(items[0].insert_text, "é");
}

#[test]
fn random_documents_give_valid_items() {
    use cordon_plugin_sdk::testing::{Rng, check_range, random_document};
    let mut produced = 0;
    for seed in 0..1500 {
        for language in ["rust", "python", "typescript", "go", "c", "plaintext"] {
            let doc = random_document(seed, language);
            let reply = Rng::new(seed ^ 0xC0DE).code(40);
            let items = complete(&doc.ctx, &mut CannedModel::answering(reply)).unwrap();
            produced += items.len();
            for item in items {
                assert_eq!(item.replace, Range::empty(doc.ctx.cursor));
                check_range(&doc.text, item.replace).unwrap();
                assert!(!item.insert_text.trim().is_empty());
                assert!(item.label.chars().count() <= LABEL_MAX_CHARS);
            }
        }
    }
    assert!(produced >= 1000, "too few items exercised: {produced}");
}

#[test]
fn labels_are_bounded() {
    let long = "x".repeat(200);
    let (items, _) = run("let v = $0\n", "rust", &long);
    assert_eq!(items[0].label.chars().count(), LABEL_MAX_CHARS);
    assert!(items[0].label.ends_with('…'));
    assert_eq!(items[0].insert_text, long);
}

#[test]
fn model_errors_propagate_unchanged() {
    let ctx = marked_context("let x = $0", "rust", "a.rs");
    let error = Error::Unavailable("configure a backend for completion".into());
    let mut model = CannedModel::failing(error.clone());
    assert_eq!(complete(&ctx, &mut model), Err(error));
    let mut model = CannedModel::failing(Error::Denied("no model grant".into()));
    assert_eq!(
        complete(&ctx, &mut model),
        Err(Error::Denied("no model grant".into()))
    );
}

#[test]
fn unicode_columns_in_scalar_values() {
    let (items, _) = run("let s = \"héllo😀\"; let n = $0", "rust", "1;");
    assert_eq!(items[0].replace, Range::empty(Position::new(0, 26)));
}

#[test]
fn ranked_words_follow_the_proposal_and_replace_the_partial_word() {
    let ctx = marked_context(
        "fn f(inventory: &mut Inventory) {\n    inventory.rest$0\n}\n",
        "rust",
        "a.rs",
    );
    let mut model = CannedModel::answering("ock(sku, amount);").with_candidates(&[
        ("restock", "member of `inventory` in report.rs"),
        ("rest", "identifier in workspace"),
        ("restore", "identifier in workspace"),
        ("unrelated", "identifier in workspace"),
        ("rest(x)", "not a word"),
    ]);
    let items = complete(&ctx, &mut model).unwrap();
    assert_eq!(model.ranked_limits, [LIST_LIMIT]);
    let labels: Vec<&str> = items.iter().map(|i| i.label.as_str()).collect();
    // The proposal first (inserted at the cursor), then the words that fit.
    assert_eq!(labels, ["restock(sku, amount);", "restock", "restore"]);
    assert_eq!(items[0].replace, Range::empty(ctx.cursor));
    let word = &items[1];
    assert_eq!(word.insert_text, "restock");
    assert_eq!(word.replace.start, Position::new(1, 14));
    assert_eq!(word.replace.end, ctx.cursor);
    assert_eq!(
        word.detail.as_deref(),
        Some("member of `inventory` in report.rs · canned")
    );
}

#[test]
fn a_list_without_a_proposal_after_a_dot() {
    let ctx = marked_context("fn f() {\n    inventory.$0\n}\n", "rust", "a.rs");
    let mut model = CannedModel::answering("").with_candidates(&[
        ("restock", "member of `inventory` in report.rs"),
        ("remove_item", "member of `Inventory` in inventory.rs"),
    ]);
    let items = complete(&ctx, &mut model).unwrap();
    let labels: Vec<&str> = items.iter().map(|i| i.label.as_str()).collect();
    assert_eq!(labels, ["restock", "remove_item"]);
    assert!(items.iter().all(|i| i.replace == Range::empty(ctx.cursor)));
}
