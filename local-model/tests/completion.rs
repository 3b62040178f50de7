//! What a user of the `local` backend notices: completions built from the
//! workspace's own code, that follow edits, stop where they should, and never
//! make things up.

use std::path::Path;
use std::sync::Arc;

use cordon_local_model::{Completion, CompletionRequest, LocalModel, ModelConfig, StopReason};

const INVENTORY: &str = r#"use std::collections::HashMap;

pub struct Inventory {
    items: Vec<Item>,
    index: HashMap<String, usize>,
}

impl Inventory {
    pub fn empty() -> Self {
        Inventory { items: Vec::with_capacity(8), index: HashMap::default() }
    }

    pub fn add(&mut self, item: Item) {
        self.index.insert(item.name.clone(), self.items.len());
        self.items.push(item);
    }

    pub fn render(&self) -> String {
        let mut buf = String::new();
        for item in &self.items {
            buf.push_str(&item.name);
        }
        buf
    }
}
"#;

const REPORT: &str = r#"pub struct Report {
    items: Vec<Item>,
}

impl Report {
    pub fn push(&mut self, item: Item) {
        self.items.push(item);
    }

    pub fn title(&self) -> String {
        let mut buf = String::new();
        buf.push_str("report");
        buf
    }

    pub fn body(&self) -> String {
        let mut buf = String::new();
        for item in &self.items {
            buf.push_str(&item.describe());
        }
        buf
    }
}
"#;

const LEDGER: &str = r#"pub struct Ledger {
    items: Vec<Item>,
}

impl Ledger {
    pub fn record(&mut self, item: Item) {
        self.items.push(item);
    }

    pub fn summary(&self) -> String {
        let mut buf = String::new();
        buf.push_str("ledger");
        buf
    }
}
"#;

fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("inventory.rs"), INVENTORY).unwrap();
    std::fs::write(src.join("report.rs"), REPORT).unwrap();
    std::fs::write(src.join("ledger.rs"), LEDGER).unwrap();
    dir
}

fn index(root: &Path) -> LocalModel {
    let (model, stats) = LocalModel::index_workspace(ModelConfig::default(), root).unwrap();
    assert_eq!(stats.files, 3);
    model
}

fn complete(model: &LocalModel, prefix: &str, suffix: &str) -> Completion {
    complete_with(model, prefix, suffix, &[])
}

fn complete_with(model: &LocalModel, prefix: &str, suffix: &str, stop: &[String]) -> Completion {
    model.complete(&CompletionRequest {
        prefix,
        suffix,
        max_tokens: 64,
        stop,
        document: None,
    })
}

/// A function body being typed into a new file of the same workspace.
const EDITING: &str = "impl Basket {\n    pub fn total(&self) -> String {\n        ";

#[test]
fn completes_a_workspace_idiom() {
    let dir = fixture();
    let model = index(dir.path());
    let prefix = format!("{EDITING}let mut buf = ");
    let done = complete(&model, &prefix, "\n    }\n}\n");
    assert_eq!(done.text, "String::new();");
    assert_eq!(done.stopped_by, StopReason::End);
    // " String" (finishing the typed space), "::", "new", "(", ")", ";".
    assert_eq!(done.tokens, 6, "{done:?}");
    assert!(done.input_tokens > 10);
}

#[test]
fn finishes_a_partial_identifier_with_the_workspace_names() {
    let dir = fixture();
    let model = index(dir.path());
    // `self.items` goes on with `.push(..)`, `.len()` or ` {` in the
    // workspace: the word is certain, what follows is not.
    let done = complete(&model, &format!("{EDITING}self.ite"), "\n    }\n}\n");
    assert_eq!(done.text, "ms");
    // Given a little more, the whole idiom follows.
    let done = complete(&model, &format!("{EDITING}self.items.pu"), "\n    }\n}\n");
    assert_eq!(done.text, "sh(item);");

    // Only the remainder of the word is returned, including for words that
    // only ever appear after a space.
    let done = complete(&model, &format!("{EDITING}let mut buf = Str"), "");
    assert_eq!(done.text, "ing::new();");
    let done = complete(&model, &format!("{EDITING}buf.push_"), "");
    assert_eq!(done.text, "str(");
}

#[test]
fn multi_line_completion_on_a_blank_line_stops_at_the_block_end() {
    let dir = fixture();
    let model = index(dir.path());
    let prefix = "impl Basket {\n    pub fn add(&mut self, item: Item) {\n        ";
    let done = complete(&model, prefix, "\n}\n");
    // Learned indentation and line structure; never past the closing brace.
    assert!(done.text.starts_with("self."), "{done:?}");
    assert!(!done.text.contains('}'), "{done:?}");
    assert!(!done.text.ends_with('\n'), "{done:?}");
}

#[test]
fn line_completion_stops_at_the_end_of_the_line() {
    let dir = fixture();
    let model = index(dir.path());
    // In the workspace this line is always followed by a loop body; a line
    // completion still ends with the line.
    let done = complete(&model, &format!("{EDITING}for item in &self.items {{"), "");
    assert_eq!(done.text, "");
    // On the next line the body comes.
    let prefix = format!("{EDITING}for item in &self.items {{\n            ");
    let done = complete(&model, &prefix, "");
    assert!(done.text.starts_with("buf.push_str("), "{done:?}");
    let done = complete(&model, &format!("{EDITING}let mut buf = String::"), "");
    assert_eq!(done.text, "new();");
}

#[test]
fn does_not_retype_what_follows_the_cursor() {
    let dir = fixture();
    let model = index(dir.path());
    // The editor closed the parenthesis already.
    let done = complete(&model, &format!("{EDITING}self.items.push("), ");\n");
    assert_eq!(done.text, "item");
    // The rest of the word is already there.
    let done = complete(&model, &format!("{EDITING}self.ite"), "ms.push(item);\n");
    assert_eq!(done.text, "");
    // A blank line before code that the completion would write again.
    let prefix = "impl Basket {\n    pub fn add(&mut self, item: Item) {\n        ";
    let done = complete(
        &model,
        prefix,
        "\n        self.items.push(item);\n    }\n}\n",
    );
    assert!(!done.text.contains("self.items.push(item);"), "{done:?}");
}

#[test]
fn honours_stop_sequences() {
    let dir = fixture();
    let model = index(dir.path());
    let prefix = format!("{EDITING}let mut buf = ");
    let done = complete_with(&model, &prefix, "", &["::".to_owned()]);
    assert_eq!(done.text, "String");
    assert_eq!(done.stopped_by, StopReason::StopSequence);
    let done = model.complete(&CompletionRequest {
        prefix: &prefix,
        suffix: "",
        max_tokens: 2,
        stop: &[],
        document: None,
    });
    assert_eq!(done.text, "String::");
    assert_eq!(done.stopped_by, StopReason::MaxTokens);
    assert_eq!(done.tokens, 2);
}

#[test]
fn says_nothing_rather_than_inventing() {
    let dir = fixture();
    let model = index(dir.path());
    for prefix in [
        "",
        "zzqx_unknown_thing(",
        "SELECT * FROM users WHERE ",
        "    \n",
    ] {
        let done = complete(&model, prefix, "");
        assert_eq!(done.text, "", "prefix {prefix:?}: {done:?}");
        assert_eq!(done.tokens, 0);
    }
    let empty = LocalModel::new(ModelConfig::default());
    assert_eq!(complete(&empty, "let mut buf = ", "").text, "");
}

#[test]
fn update_file_changes_predictions() {
    let dir = fixture();
    let mut model = index(dir.path());
    let prefix = format!("{EDITING}let mut buf = ");
    assert_eq!(complete(&model, &prefix, "").text, "String::new();");

    // Every file switches idiom: the model follows.
    for (name, text) in [
        ("src/inventory.rs", INVENTORY),
        ("src/report.rs", REPORT),
        ("src/ledger.rs", LEDGER),
    ] {
        let edited = text.replace(
            "let mut buf = String::new();",
            "let mut buf = Vec::with_capacity(16);",
        );
        model.update_file(name, &edited);
    }
    assert_eq!(
        complete(&model, &prefix, "").text,
        "Vec::with_capacity(16);"
    );
    assert_eq!(model.stats().files, 3);

    // A new file brings a new idiom...
    model.update_file(
        "src/cache.rs",
        "fn warm(cache: &mut Cache) {\n    cache.prefetch_all(Duration::from_millis(250));\n}\n",
    );
    let done = complete(&model, "fn f(cache: &mut Cache) {\n    cache.pre", "");
    assert_eq!(done.text, "fetch_all(Duration::from_millis(250));");
    // ...and removing it takes the idiom away again.
    model.remove_file("src/cache.rs");
    assert_eq!(
        complete(&model, "fn f(cache: &mut Cache) {\n    cache.pre", "").text,
        ""
    );
    assert_eq!(model.stats().files, 3);

    // Removing and re-adding a file restores the model exactly.
    let before = model.stats();
    let inventory = INVENTORY.replace(
        "let mut buf = String::new();",
        "let mut buf = Vec::with_capacity(16);",
    );
    model.remove_file("src/inventory.rs");
    model.update_file("src/inventory.rs", &inventory);
    let after = model.stats();
    assert_eq!(
        (before.files, before.tokens, before.contexts),
        (after.files, after.tokens, after.contexts)
    );
}

#[test]
fn forgetting_excluded_files_removes_what_they_taught() {
    let dir = fixture();
    let mut model = index(dir.path());
    assert_eq!(
        model.forget_where(|path| path.ends_with("report.rs") || path.ends_with("ledger.rs")),
        2
    );
    assert_eq!(model.stats().files, 1);
    assert_eq!(model.forget_where(|_| false), 0);
    assert_eq!(model.forget_where(|_| true), 1);
    assert_eq!(model.stats().tokens, 0);
}

#[test]
fn excluded_files_are_forgotten_and_never_learnt_again() {
    let dir = fixture();
    let mut model = index(dir.path());
    let files = model.stats().files;
    let excluded: cordon_local_model::Exclusion = Arc::new(|path: &str| path.ends_with(".env.rs"));
    assert_eq!(model.exclude(excluded), 0);
    // A file created later (as a watcher reports it) under an excluded name.
    model.update_file("src/.env.rs", "let secret_token = \"s3cr3t\";\n");
    assert_eq!(model.stats().files, files, "the excluded file was indexed");
    // Others are still learnt.
    model.update_file("src/extra.rs", "fn extra() {}\n");
    assert_eq!(model.stats().files, files + 1);
}

#[test]
fn an_exclusion_that_changes_is_applied_again_on_demand() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = fixture();
    let mut model = index(dir.path());
    let files = model.stats().files;
    let strict = Arc::new(AtomicBool::new(false));
    let policy = Arc::clone(&strict);
    let excluded: cordon_local_model::Exclusion =
        Arc::new(move |path: &str| policy.load(Ordering::SeqCst) && path.ends_with("report.rs"));
    assert_eq!(model.exclude(excluded), 0);
    assert_eq!(model.apply_exclusion(), 0);
    strict.store(true, Ordering::SeqCst); // as after a policy reload
    assert_eq!(model.apply_exclusion(), 1);
    assert_eq!(model.stats().files, files - 1);
}

#[test]
fn removing_every_file_empties_the_model() {
    let dir = fixture();
    let mut model = index(dir.path());
    for name in ["src/inventory.rs", "src/report.rs", "src/ledger.rs"] {
        model.remove_file(name);
    }
    let stats = model.stats();
    assert_eq!((stats.files, stats.tokens, stats.contexts), (0, 0, 0));
    assert_eq!(
        complete(&model, &format!("{EDITING}let mut buf = "), "").text,
        ""
    );
}

#[test]
fn index_respects_ignore_rules_and_limits() {
    let dir = fixture();
    let root = dir.path();
    std::fs::write(root.join(".gitignore"), "generated/\n").unwrap();
    for skipped in ["generated", "target", "node_modules", ".git"] {
        std::fs::create_dir_all(root.join(skipped)).unwrap();
        std::fs::write(
            root.join(skipped).join("noise.rs"),
            "fn noise() { let q = zebra_only_here(); }\n",
        )
        .unwrap();
    }
    std::fs::write(root.join("logo.png"), [0x89u8, b'P', b'N', b'G', 0, 0]).unwrap();
    std::fs::write(root.join("latin1.rs"), [b'f', b'n', b' ', 0xe9, b'\n']).unwrap();
    std::fs::write(root.join("huge.rs"), "x".repeat(4096)).unwrap();
    let config = ModelConfig {
        max_file_bytes: 2048,
        ..ModelConfig::default()
    };
    let (model, stats) = LocalModel::index_workspace(config, root).unwrap();
    assert_eq!(stats.files, 3, "{stats:?}");
    assert_eq!(stats.skipped_files, 2, "non-UTF-8 and oversized: {stats:?}");
    assert_eq!(complete(&model, "let q = zebra_", "").text, "");

    let config = ModelConfig {
        max_files: 2,
        ..ModelConfig::default()
    };
    let (mut model, stats) = LocalModel::index_workspace(config, root).unwrap();
    assert_eq!(stats.files, 2);
    model.update_file("src/extra.rs", "fn extra() {}\n");
    assert_eq!(model.stats().files, 2, "max_files holds for updates too");

    assert!(LocalModel::index_workspace(ModelConfig::default(), &root.join("missing")).is_err());
    assert!(LocalModel::index_workspace(ModelConfig::default(), &root.join("huge.rs")).is_err());
}

/// Deterministic generator of plausible Rust, for the large-corpus tests.
fn synthetic_corpus(files: usize, lines_per_file: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut n = 0usize;
    for f in 0..files {
        let mut text = String::new();
        let mut lines = 0;
        while lines < lines_per_file {
            n += 1;
            text.push_str(&format!(
                "fn handler_{n}(ctx: &mut Context{f}, value_{n}: u64) -> Result<u64, Error> {{\n    let total_{n} = ctx.lookup(\"key_{n}\")?.checked_add(value_{n} * {n});\n    ctx.metrics.record_{}(total_{n});\n    Ok(total_{n}.unwrap_or({n}))\n}}\n\n",
                n % 97
            ));
            lines += 6;
        }
        out.push((format!("src/gen_{f}.rs"), text));
    }
    out
}

#[test]
fn max_contexts_bounds_the_table() {
    let config = ModelConfig {
        max_contexts: 5_000,
        ..ModelConfig::default()
    };
    let mut model = LocalModel::new(config);
    for (path, text) in synthetic_corpus(20, 600) {
        model.update_file(&path, &text);
    }
    let stats = model.stats();
    assert!(stats.contexts <= 5_000, "{stats:?}");
    assert!(stats.dropped_contexts > 0, "{stats:?}");
    assert_eq!(stats.files, 20);
    // Idioms seen before the table filled up still complete.
    let done = complete(
        &model,
        "fn g(ctx: &mut Context0) {\n    let t = ctx.lookup(k)?.che",
        "",
    );
    assert!(done.text.starts_with("cked_add("), "{done:?}");
    let small = stats.approx_bytes;
    let big = {
        let mut model = LocalModel::new(ModelConfig::default());
        for (path, text) in synthetic_corpus(20, 600) {
            model.update_file(&path, &text);
        }
        model.stats().approx_bytes
    };
    assert!(small < big, "bounded model {small} B vs unbounded {big} B");
}

#[test]
fn indexes_a_fifty_thousand_line_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = synthetic_corpus(50, 1000);
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    let mut expected_lines = 0;
    for (path, text) in &corpus {
        expected_lines += text.lines().count();
        std::fs::write(dir.path().join(path), text).unwrap();
    }
    assert!(expected_lines >= 50_000);
    let (model, stats) = LocalModel::index_workspace(ModelConfig::default(), dir.path()).unwrap();
    assert_eq!(stats.files, 50);
    assert_eq!(stats, model.stats());
    assert!(stats.contexts > 0 && stats.contexts <= ModelConfig::default().max_contexts);
    // Every token was counted once: re-adding a file changes nothing, and
    // removing all files takes every token back.
    let mut model = model;
    let (path, text) = &corpus[7];
    model.update_file(path, text);
    assert_eq!(model.stats().tokens, stats.tokens);
    let per_file: Vec<usize> = corpus
        .iter()
        .map(|(path, _)| {
            let before = model.stats().tokens;
            model.remove_file(path);
            before - model.stats().tokens
        })
        .collect();
    assert_eq!(per_file.iter().sum::<usize>(), stats.tokens);
    assert_eq!(model.stats().contexts, 0);
}

#[test]
fn learns_indentation_and_windows_line_endings() {
    let mut model = LocalModel::new(ModelConfig::default());
    let text = "fn a() {\r\n    if ready {\r\n        start();\r\n    }\r\n}\r\n";
    model.update_file("a.rs", text);
    model.update_file("b.rs", text);
    let done = complete(&model, "fn c() {\r\n    if ready {\r\n        ", "");
    assert_eq!(done.text, "start();");
    let done = complete(&model, "fn c() {\r\n    if ready {", "");
    assert_eq!(done.text, "", "line mode ends at the line break");
    // A block at the cursor's indentation, closed, and nothing past it.
    let done = complete(&model, "fn c() {\r\n    ", "");
    assert_eq!(done.text, "if ready {\r\n        start();\r\n    }");
}

#[test]
fn never_panics_on_arbitrary_input() {
    // xorshift64*: deterministic, dependency-free.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let pieces = [
        "fn ", "let ", "x", "self.", "items", "(", ")", "{", "}", "\n", "\n    ", "\r\n", " ",
        "\t", "\"", "'", "\\", "::", "->", "é", "名", "😀", "\u{301}", "\u{0}", "\u{1}",
        "\u{2028}", "'a", "1.5", "//",
    ];
    let mut text = || {
        let len = (next() % 40) as usize;
        (0..len)
            .map(|_| pieces[(next() % pieces.len() as u64) as usize])
            .collect::<String>()
    };
    let mut model = LocalModel::new(ModelConfig {
        max_contexts: 2_000,
        ..ModelConfig::default()
    });
    for i in 0..300 {
        model.update_file(&format!("f{}.rs", i % 17), &text());
        if i % 5 == 0 {
            model.remove_file(&format!("f{}.rs", (i + 3) % 17));
        }
    }
    for _ in 0..3_000 {
        let (prefix, suffix) = (text(), text());
        let stop = vec![text()];
        let done = model.complete(&CompletionRequest {
            prefix: &prefix,
            suffix: &suffix,
            max_tokens: 32,
            stop: &stop,
            document: None,
        });
        assert!(done.tokens <= 32);
        if done.text.is_empty() {
            assert_eq!(done.tokens, 0);
        }
    }
}
