//! Completion lists as a user meets them: after `inventory.` the methods the
//! workspace calls there and the methods `Inventory` defines, the word being
//! typed first whether or not the file is saved, and nothing learnt from the
//! text at or after the cursor, nor from an excluded file.

use std::sync::Arc;

use cordon_local_model::{Candidate, CompletionRequest, LocalModel, ModelConfig};

const INVENTORY: &str = r#"pub struct Inventory {
    items: Vec<Item>,
}

impl Inventory {
    pub fn restock(&mut self, sku: &str, amount: u32) {
        self.items.push(Item::new(sku, amount));
    }

    pub fn remove_item(&mut self, sku: &str) {
        self.items.retain(|item| item.sku != sku);
    }

    pub fn total(&self) -> u32 {
        self.items.iter().map(|item| item.amount).sum()
    }
}
"#;

const REPORT: &str = r#"pub fn refill(inventory: &mut Inventory, sku: &str, amount: u32) {
    inventory.restock(sku, amount);
}

pub fn tidy(cache: &mut Cache, names: &mut Names) {
    cache.remove(0);
    names.remove(1);
    cache.remove(2);
}
"#;

fn model_with(files: &[(&str, &str)]) -> LocalModel {
    let mut model = LocalModel::new(ModelConfig::default());
    for (path, text) in files {
        model.update_file(path, text);
    }
    model
}

fn list(model: &LocalModel, prefix: &str, document: Option<&str>) -> Vec<Candidate> {
    model.candidates(
        &CompletionRequest {
            prefix,
            suffix: "",
            max_tokens: 0,
            stop: &[],
            document,
        },
        10,
    )
}

fn words(list: &[Candidate]) -> Vec<&str> {
    list.iter().map(|c| c.text.as_str()).collect()
}

const EDITING: &str = "pub fn audit(inventory: &mut Inventory) {\n    inventory.";

#[test]
fn the_member_being_typed_comes_first_on_an_unsaved_buffer() {
    let model = model_with(&[("src/inventory.rs", INVENTORY), ("src/report.rs", REPORT)]);
    let found = list(&model, &format!("{EDITING}rest"), Some("src/audit.rs"));
    assert_eq!(
        found.first().map(|c| c.text.as_str()),
        Some("restock"),
        "{found:?}"
    );
    assert!(
        found[0].detail.contains("member of `inventory`")
            || found[0].detail.contains("member of `Inventory`"),
        "{found:?}"
    );
}

#[test]
fn the_member_being_typed_comes_first_in_a_saved_file_that_holds_the_unfinished_word() {
    // The file was saved with `inventory.rest` at its end and indexed so.
    let saved = format!("{EDITING}rest");
    let model = model_with(&[
        ("src/inventory.rs", INVENTORY),
        ("src/report.rs", REPORT),
        ("src/audit.rs", &saved),
    ]);
    let found = list(&model, &saved, Some("src/audit.rs"));
    assert_eq!(
        found.first().map(|c| c.text.as_str()),
        Some("restock"),
        "{found:?}"
    );
    assert!(!words(&found).contains(&"rest"), "{found:?}");
    // Ghost text finishes it too.
    let ghost = model.complete(&CompletionRequest {
        prefix: &saved,
        suffix: "",
        max_tokens: 16,
        stop: &[],
        document: Some("src/audit.rs"),
    });
    assert!(ghost.text.starts_with("ock"), "{ghost:?}");
}

#[test]
fn a_member_after_the_dot_comes_from_another_file() {
    let model = model_with(&[("src/inventory.rs", INVENTORY), ("src/report.rs", REPORT)]);
    let found = list(&model, EDITING, Some("src/audit.rs"));
    let w = words(&found);
    for member in ["restock", "remove_item", "total"] {
        assert!(w.contains(&member), "{member} missing from {found:?}");
    }
    let restock = found.iter().find(|c| c.text == "restock").unwrap();
    assert!(
        restock.detail.ends_with("report.rs") || restock.detail.ends_with("inventory.rs"),
        "{restock:?}"
    );
    // Members of other receivers are not members of this one.
    assert!(
        w.iter().position(|&x| x == "retain").is_none_or(|i| i > 2),
        "{found:?}"
    );
}

#[test]
fn the_method_of_the_apparent_type_beats_a_word_seen_after_other_receivers() {
    let model = model_with(&[("src/inventory.rs", INVENTORY), ("src/report.rs", REPORT)]);
    let found = list(&model, &format!("{EDITING}remo"), Some("src/audit.rs"));
    let w = words(&found);
    assert_eq!(w.first(), Some(&"remove_item"), "{found:?}");
    assert!(
        w.contains(&"remove"),
        "the floor still offers it: {found:?}"
    );
    assert!(found[0].detail.contains("Inventory"), "{found:?}");
}

#[test]
fn self_members_come_from_the_enclosing_type() {
    let model = model_with(&[("src/inventory.rs", INVENTORY), ("src/report.rs", REPORT)]);
    let prefix = "impl Inventory {\n    pub fn clear(&mut self) {\n        self.";
    let w: Vec<String> = list(&model, prefix, Some("src/more.rs"))
        .into_iter()
        .map(|c| c.text)
        .collect();
    assert!(w.iter().take(5).any(|x| x == "items"), "{w:?}");
    assert!(w.iter().any(|x| x == "remove_item"), "{w:?}");
}

#[test]
fn the_text_at_and_after_the_cursor_never_teaches_the_model() {
    // The saved copy of the document says what comes after the cursor; it
    // is the only place in the workspace that does.
    let saved =
        "fn main() {\n    let shipment = prepare_quarterly_shipment_manifest(&warehouse);\n}\n";
    let model = model_with(&[("src/main.rs", saved), ("src/inventory.rs", INVENTORY)]);
    let prefix = "fn main() {\n    let shipment = prepare_quar";
    let req = CompletionRequest {
        prefix,
        suffix: "\n}\n",
        max_tokens: 16,
        stop: &[],
        document: Some("src/main.rs"),
    };
    assert_eq!(
        model.complete(&req).text,
        "",
        "ghost text learnt from the cursor on"
    );
    assert!(
        !words(&model.candidates(&req, 10)).contains(&"prepare_quarterly_shipment_manifest"),
        "the list learnt from the cursor on"
    );
    // The same text in another file does teach it: the test can fail.
    let other = model_with(&[("src/other.rs", saved), ("src/inventory.rs", INVENTORY)]);
    assert!(
        other
            .complete(&req)
            .text
            .starts_with("terly_shipment_manifest("),
        "{:?}",
        other.complete(&req)
    );
    assert_eq!(
        words(&other.candidates(&req, 10)).first(),
        Some(&"prepare_quarterly_shipment_manifest")
    );
}

#[test]
fn the_live_text_before_the_cursor_teaches_the_model() {
    let model = model_with(&[("src/inventory.rs", INVENTORY)]);
    let prefix = "fn main() {\n    let manifest_builder = start();\n    manifest_builder.finish();\n    let again = manif";
    let found = list(&model, prefix, Some("src/new.rs"));
    assert_eq!(found[0].text, "manifest_builder", "{found:?}");
    assert_eq!(found[0].detail, "in this file");
}

#[test]
fn never_empty_while_a_workspace_word_fits() {
    let model = model_with(&[("src/inventory.rs", INVENTORY)]);
    // No context helps; the vocabulary still does.
    let found = list(&model, "zzz(qq, ", Some("src/new.rs"));
    assert!(!found.is_empty());
    let found = list(&model, "zzz(qq + amo", Some("src/new.rs"));
    assert_eq!(words(&found), ["amount"]);
    assert_eq!(found[0].detail, "identifier in workspace");
    // Nothing fits: nothing is made up.
    assert!(list(&model, "zzz(qq, xyzzy", Some("src/new.rs")).is_empty());
    // Inside a string literal there is no word to complete.
    assert!(list(&model, "let s = \"rest", Some("src/new.rs")).is_empty());
}

#[test]
fn no_proposal_is_made_of_an_excluded_files_words() {
    let secret = "pub fn launch_codes(vault: &mut Vault) {\n    vault.reveal_launch_codes();\n}\n";
    let mut model = model_with(&[("src/inventory.rs", INVENTORY), ("secret/plan.rs", secret)]);
    let before = list(&model, "fn f() {\n    vault.rev", Some("src/new.rs"));
    assert_eq!(
        words(&before).first(),
        Some(&"reveal_launch_codes"),
        "fixture"
    );
    model.exclude(Arc::new(|p: &str| p.starts_with("secret/")));
    for prefix in [
        "fn f() {\n    vault.rev",
        "fn f() {\n    laun",
        "fn f() {\n    vault.",
    ] {
        let found = list(&model, prefix, Some("src/new.rs"));
        assert!(
            found
                .iter()
                .all(|c| !c.text.contains("launch") && !c.text.contains("reveal")),
            "{prefix:?}: {found:?}"
        );
    }
    // A later save of the excluded file is refused too.
    model.update_file("secret/plan.rs", &format!("{secret}\n// v2\n"));
    assert!(list(&model, "fn f() {\n    vault.rev", Some("src/new.rs")).is_empty());
}

#[test]
fn lists_follow_edits_and_removals() {
    let mut model = model_with(&[("src/inventory.rs", INVENTORY), ("src/report.rs", REPORT)]);
    model.remove_file("src/inventory.rs");
    let found = list(&model, &format!("{EDITING}remo"), Some("src/audit.rs"));
    assert!(!words(&found).contains(&"remove_item"), "{found:?}");
    model.update_file("src/inventory.rs", INVENTORY);
    let found = list(&model, &format!("{EDITING}remo"), Some("src/audit.rs"));
    assert_eq!(words(&found).first(), Some(&"remove_item"));
}

#[test]
fn python_members() {
    let shelf = "class Shelf:\n    def __init__(self):\n        self.slots = []\n\n    def put_back(self, item):\n        self.slots.append(item)\n";
    let model = model_with(&[("shelf.py", shelf)]);
    let found = list(
        &model,
        "def f():\n    shelf = Shelf()\n    shelf.pu",
        Some("main.py"),
    );
    assert_eq!(words(&found).first(), Some(&"put_back"), "{found:?}");
    let found = list(
        &model,
        "class Shelf:\n    def count(self):\n        return len(self.",
        Some("shelf2.py"),
    );
    assert!(words(&found).contains(&"slots"), "{found:?}");
}

#[test]
fn ghost_text_is_silent_when_it_disagrees_with_the_list() {
    let model = model_with(&[("src/inventory.rs", INVENTORY), ("src/report.rs", REPORT)]);
    let prefix = format!("{EDITING}remo");
    let req = CompletionRequest {
        prefix: &prefix,
        suffix: "",
        max_tokens: 16,
        stop: &[],
        document: Some("src/audit.rs"),
    };
    // Alone, generation follows `.remove(` seen after other receivers...
    assert!(
        model.complete(&req).text.starts_with("ve"),
        "{:?}",
        model.complete(&req)
    );
    // ...which the list, knowing `Inventory`, ranks below `remove_item`.
    let (ghost, list) = model.complete_with_list(&req, 5);
    assert_eq!(list[0].text, "remove_item");
    assert_eq!(ghost.text, "");
    // Where both agree the proposal stays.
    let prefix = format!("{EDITING}rest");
    let (ghost, list) = model.complete_with_list(
        &CompletionRequest {
            prefix: &prefix,
            ..req
        },
        5,
    );
    assert_eq!(list[0].text, "restock");
    assert!(ghost.text.starts_with("ock"), "{ghost:?}");
}
