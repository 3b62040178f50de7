//! Redaction measured: recall on the planted corpus
//! (`tests/redaction-corpus/corpus.rs`) and false positives on real code
//! on the machine. `examples/redaction_figures.rs` prints the full figures.

#[path = "../redaction-corpus/corpus.rs"]
mod corpus;
#[path = "../redaction-corpus/real_code.rs"]
mod real_code;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use cordon_policy::redact;
use cordon_policy::redact::{KINDS, placeholder};

#[test]
fn the_corpus_covers_every_kind_in_at_least_12_formats() {
    let docs = corpus::documents(corpus::SEED);
    let formats: BTreeSet<&str> = docs.iter().map(|d| d.format).collect();
    assert!(formats.len() >= 12, "{formats:?}");
    let kinds: BTreeSet<&str> = docs
        .iter()
        .flat_map(|d| d.plants.iter().map(|p| p.kind))
        .collect();
    let all: BTreeSet<&str> = KINDS.into_iter().collect();
    assert_eq!(kinds, all, "a planted secret of every kind");
    for doc in &docs {
        assert!(!doc.plants.is_empty(), "{}", doc.style);
    }
}

/// Each (style, secret) alone in its file: the secret is gone, its kind is
/// named, and nothing else in the file is touched. A regression names the
/// case.
#[test]
fn every_style_and_secret_is_caught() {
    let mut failures = Vec::new();
    for doc in corpus::single_documents(corpus::SEED) {
        let r = redact(&doc.text);
        let plant = &doc.plants[0];
        let case = format!("{} / {} / {}", doc.format, doc.style, plant.label);
        if let Some(leak) = corpus::leak(&doc.text, plant, &r.text) {
            failures.push(format!("{case}: `{leak}` survives in\n{}", r.text));
        } else if !r.text.contains(&placeholder(plant.kind)) {
            failures.push(format!(
                "{case}: redacted as {:?}, not {}",
                r.kinds, plant.kind
            ));
        } else if r.count != 1 {
            failures.push(format!(
                "{case}: {} redactions, expected 1:\n{}",
                r.count, r.text
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every secret of the corpus in one file per style (as files really mix
/// them): at least 99 % fully removed.
#[test]
fn recall_on_the_corpus_is_at_least_99_percent() {
    let mut total = 0;
    let mut misses = Vec::new();
    for doc in corpus::documents(corpus::SEED) {
        let r = redact(&doc.text);
        for plant in &doc.plants {
            total += 1;
            if let Some(leak) = corpus::leak(&doc.text, plant, &r.text) {
                misses.push(format!("{} / {}: `{leak}`", doc.style, plant.label));
            }
        }
        // The code around the secrets keeps its shape.
        let first = doc.text.lines().next().unwrap_or("");
        assert!(r.text.starts_with(first), "{}", doc.style);
    }
    let recall = 1.0 - misses.len() as f64 / total as f64;
    assert!(total >= 12 * KINDS.len(), "{total} plants");
    assert!(
        recall >= 0.99,
        "recall {:.2} %, misses:\n{}",
        recall * 100.0,
        misses.join("\n")
    );
}

/// Other seeds draw other secrets of the same shapes: the thresholds do not
/// depend on the lucky draw of one seed.
#[test]
fn recall_holds_for_other_seeds() {
    let mut total = 0;
    let mut misses = Vec::new();
    let seeds = if cfg!(debug_assertions) { 2 } else { 8 };
    for seed in 1..=seeds {
        for doc in corpus::documents(seed) {
            let r = redact(&doc.text);
            for plant in &doc.plants {
                total += 1;
                if corpus::leak(&doc.text, plant, &r.text).is_some() {
                    misses.push(format!("seed {seed}: {} / {}", doc.style, plant.label));
                }
            }
        }
    }
    let recall = 1.0 - misses.len() as f64 / total as f64;
    assert!(recall >= 0.99, "recall {:.2} %: {misses:?}", recall * 100.0);
}

/// The repository's own sources, without the files that plant secrets on
/// purpose.
fn repository_files(budget: u64) -> Vec<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().expect("the workspace root");
    let skip = [
        manifest.join("tests"),
        manifest.join("src/redact"),
        manifest.join("examples"),
    ];
    let skip: Vec<&Path> = skip.iter().map(PathBuf::as_path).collect();
    real_code::files(root, &skip, budget)
}

/// False positives on real code: a bounded sample of the crates in the
/// cargo registry (present after any build), spread over every crate, and
/// the repository's own sources. A redaction is a false positive unless it
/// is plausibly a real test credential (a documented example value, or in a
/// test, fixture, bench or example file or a doc comment); the bar is at
/// most 1 per 10 000 lines.
#[test]
fn false_positives_on_real_code_are_rare() {
    // Debug builds run the regexes unoptimised: a smaller sample.
    let budget: u64 = if cfg!(debug_assertions) {
        2 << 20
    } else {
        24 << 20
    };
    let crates = real_code::cargo_registry_crates();
    let mut files = Vec::new();
    if !crates.is_empty() {
        let per_crate = (budget / crates.len() as u64).max(16 << 10);
        for dir in &crates {
            files.extend(real_code::files(dir, &[], per_crate));
        }
    }
    let from_registry = files.len();
    let own = repository_files(budget / 4);
    assert!(!own.is_empty(), "the repository's own sources are readable");
    files.extend(own);
    let scan = real_code::scan(&files);
    let false_positives = scan.false_positives();
    eprintln!(
        "scanned {} files ({from_registry} from {} registry crates, the rest from this repository), {} lines, {:.1} MB: {} redactions ({:.3} per 10 000 lines), {} not test credentials ({:.3} per 10 000 lines)",
        scan.files,
        crates.len(),
        scan.lines,
        scan.bytes as f64 / 1e6,
        scan.findings.len(),
        scan.per_10k_lines(),
        false_positives.len(),
        scan.false_positives_per_10k_lines(),
    );
    for f in &scan.findings {
        let verdict = if f.test_credential() {
            "test credential"
        } else {
            "FALSE POSITIVE"
        };
        eprintln!(
            "  {verdict}: {}:{} [{}] {}",
            f.path.display(),
            f.line,
            f.kind,
            f.excerpt
        );
    }
    // Something meaningful was scanned, whatever the machine has.
    let least = if cfg!(debug_assertions) {
        5_000
    } else {
        20_000
    };
    assert!(
        scan.lines >= least,
        "only {} lines of real code",
        scan.lines
    );
    assert!(
        scan.false_positives_per_10k_lines() <= 1.0,
        "{} false positives in {} lines of real code",
        false_positives.len(),
        scan.lines
    );
}
