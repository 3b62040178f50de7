//! The secret-redaction figures of `BENCHMARKS.md`:
//!
//! ```sh
//! cargo run --release -p cordon-policy --example redaction_figures -- [--sample N] [DIR…]
//! ```
//!
//! 1. Recall on the planted corpus (`tests/redaction-corpus/`), overall, per
//!    kind and per format, and every miss.
//! 2. False positives on real code: every redaction in the given
//!    directories (default: the crates of the cargo registry and Python's
//!    standard library), per 10 000 lines, with a sample to judge.
//! 3. Throughput of `redact` (MB/s) on that code, and on adversarial text
//!    at two sizes to show it stays linear.

#[path = "../tests/redaction-corpus/corpus.rs"]
mod corpus;
#[path = "../tests/redaction-corpus/real_code.rs"]
mod real_code;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use cordon_policy::redact;
use cordon_policy::redact::placeholder;

fn main() {
    let mut sample = 40usize;
    let mut dirs: Vec<PathBuf> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sample" => sample = args.next().and_then(|n| n.parse().ok()).unwrap_or(sample),
            "-h" | "--help" => {
                eprintln!("usage: redaction_figures [--sample N] [DIR…]");
                return;
            }
            _ => dirs.push(PathBuf::from(a)),
        }
    }
    corpus_figures();
    let corpora: Vec<(String, Vec<PathBuf>)> = if dirs.is_empty() {
        let mut c = Vec::new();
        let crates = real_code::cargo_registry_crates();
        if !crates.is_empty() {
            c.push((
                format!("cargo registry ({} crates)", crates.len()),
                crates
                    .iter()
                    .flat_map(|d| real_code::files(d, &[], u64::MAX))
                    .collect(),
            ));
        }
        if let Some(stdlib) = real_code::python_stdlib() {
            c.push((
                format!("Python stdlib ({})", stdlib.display()),
                real_code::files(&stdlib, &[&stdlib.join("site-packages")], u64::MAX),
            ));
        }
        c
    } else {
        dirs.iter()
            .map(|d| (d.display().to_string(), real_code::files(d, &[], u64::MAX)))
            .collect()
    };
    let mut all_files = Vec::new();
    for (name, files) in &corpora {
        false_positive_figures(name, files, sample);
        all_files.extend(files.iter().cloned());
    }
    throughput(&all_files);
}

fn pct(a: usize, b: usize) -> String {
    format!("{:.2} %", 100.0 * a as f64 / b.max(1) as f64)
}

fn corpus_figures() {
    println!(
        "## Recall on the planted corpus (seed {:#x})\n",
        corpus::SEED
    );
    let docs = corpus::documents(corpus::SEED);
    let singles = corpus::single_documents(corpus::SEED);
    let formats: std::collections::BTreeSet<&str> = docs.iter().map(|d| d.format).collect();
    let total: usize = docs.iter().map(|d| d.plants.len()).sum();
    println!(
        "{} styles in {} formats, {} secrets, {} plants; {} kinds planted\n",
        docs.len(),
        formats.len(),
        corpus::secrets(corpus::SEED).len(),
        total,
        docs.iter()
            .flat_map(|d| d.plants.iter().map(|p| p.kind))
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    );
    // (caught, total) by kind and by format; misses.
    let mut by_kind: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut by_format: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut misses = Vec::new();
    let mut caught = 0;
    for doc in &docs {
        let r = redact(&doc.text);
        for plant in &doc.plants {
            let leak = corpus::leak(&doc.text, plant, &r.text);
            let ok = leak.is_none();
            caught += ok as usize;
            for (map, key) in [(&mut by_kind, plant.kind), (&mut by_format, doc.format)] {
                let e = map.entry(key).or_default();
                e.0 += ok as usize;
                e.1 += 1;
            }
            if let Some(leak) = leak {
                misses.push(format!(
                    "{} / {} ({}): `{}` survives",
                    doc.style, plant.label, plant.kind, leak
                ));
            }
        }
    }
    // The strict form: each (style, secret) alone, with its kind named.
    let mut strict_ok = 0;
    let mut wrong_kind = Vec::new();
    let mut extra = 0;
    for doc in &singles {
        let r = redact(&doc.text);
        let plant = &doc.plants[0];
        if corpus::leak(&doc.text, plant, &r.text).is_none() {
            strict_ok += 1;
            if !r.text.contains(&placeholder(plant.kind)) {
                wrong_kind.push(format!("{} / {}: {:?}", doc.style, plant.label, r.kinds));
            }
        }
        extra += r.count.saturating_sub(1);
    }
    println!(
        "recall, all secrets in one file per style: {caught} / {total} = {}",
        pct(caught, total)
    );
    println!(
        "recall, one secret per file: {strict_ok} / {} = {}; with another kind named: {}; extra redactions in the surrounding code: {extra}\n",
        singles.len(),
        pct(strict_ok, singles.len()),
        wrong_kind.len()
    );
    println!("| format | caught | recall |\n| --- | ---: | ---: |");
    for (format, (c, t)) in &by_format {
        println!("| {format} | {c} / {t} | {} |", pct(*c, *t));
    }
    println!("\n| kind | caught | recall |\n| --- | ---: | ---: |");
    for (kind, (c, t)) in &by_kind {
        println!("| `{kind}` | {c} / {t} | {} |", pct(*c, *t));
    }
    if !misses.is_empty() {
        println!("\nmisses:");
        for m in &misses {
            println!("- {m}");
        }
    }
    for w in &wrong_kind {
        println!("- other kind: {w}");
    }
    println!();
}

fn false_positive_figures(name: &str, files: &[PathBuf], sample: usize) {
    let scan = real_code::scan(files);
    println!("## Redactions in real code: {name}\n");
    let fps = scan.false_positives();
    println!(
        "{} files, {} lines, {:.1} MB: {} redactions = {:.3} per 10 000 lines; {} not plausibly test credentials = {:.3} false positives per 10 000 lines",
        scan.files,
        scan.lines,
        scan.bytes as f64 / 1e6,
        scan.findings.len(),
        scan.per_10k_lines(),
        fps.len(),
        scan.false_positives_per_10k_lines()
    );
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &scan.findings {
        *by_kind.entry(f.kind).or_default() += 1;
    }
    println!("by kind: {by_kind:?}\n");
    println!("every redaction not classed as a test credential (judge them):");
    for f in &fps {
        println!(
            "- {}:{} [{}] {}",
            f.path.display(),
            f.line,
            f.kind,
            f.excerpt
        );
    }
    // A sample spread over the whole list.
    println!("\na sample of all redactions:");
    let step = (scan.findings.len() / sample.max(1)).max(1);
    for f in scan.findings.iter().step_by(step).take(sample) {
        let verdict = if f.test_credential() {
            "test credential"
        } else {
            "false positive"
        };
        println!(
            "- ({verdict}) {}:{} [{}] {}",
            f.path.display(),
            f.line,
            f.kind,
            f.excerpt
        );
    }
    println!();
}

fn throughput(files: &[PathBuf]) {
    println!("## Throughput of `redact` (release build, one thread)\n");
    // Real code in 8 KiB windows (what a request carries) and whole files.
    let mut text = String::new();
    for f in files {
        if let Ok(s) = std::fs::read_to_string(f) {
            text.push_str(&s);
            if text.len() > 64 << 20 {
                break;
            }
        }
    }
    if !text.is_empty() {
        let windows: Vec<&str> = {
            let mut w = Vec::new();
            let mut at = 0;
            while at < text.len() {
                let mut end = (at + 8192).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                w.push(&text[at..end]);
                at = end;
            }
            w
        };
        let start = Instant::now();
        let mut n = 0;
        for w in &windows {
            n += redact(w).count;
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "real code, 8 KiB windows: {:.1} MB in {:.2} s = {:.0} MB/s ({n} redactions, {:.1} µs per window)",
            text.len() as f64 / 1e6,
            secs,
            text.len() as f64 / 1e6 / secs,
            secs * 1e6 / windows.len() as f64
        );
    }
    // Corpus files, dense with secrets.
    let docs = corpus::documents(corpus::SEED);
    let dense: String = docs
        .iter()
        .map(|d| d.text.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let reps = (4 << 20) / dense.len().max(1) + 1;
    let big = dense.repeat(reps);
    let start = Instant::now();
    let r = redact(&big);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "planted corpus (a secret every ~3 lines): {:.1} MB in {:.3} s = {:.0} MB/s ({} redactions)",
        big.len() as f64 / 1e6,
        secs,
        big.len() as f64 / 1e6 / secs,
        r.count
    );
    // Adversarial: keyword after keyword, rejected values, long lines.
    let patterns = [
        ("`password=` repeated", "password=".to_string()),
        ("`token: token: ` repeated", "token: ".to_string()),
        (
            "`secret = \"aaaaaaaa` unterminated",
            "secret = \"aaaaaaaa".to_string(),
        ),
        (
            "`-----BEGIN PRIVATE KEY-----` repeated",
            "-----BEGIN PRIVATE KEY-----\n".to_string(),
        ),
        ("one long token `AAAA…`", "A".to_string()),
    ];
    for (label, unit) in patterns {
        let mut line = Vec::new();
        for size in [1usize << 20, 4 << 20] {
            let text = unit.repeat(size / unit.len());
            let start = Instant::now();
            let r = redact(&text);
            let secs = start.elapsed().as_secs_f64();
            line.push(format!(
                "{} MB in {:.3} s ({:.0} MB/s, {} redactions)",
                size >> 20,
                secs,
                size as f64 / 1e6 / secs,
                r.count
            ));
        }
        println!("adversarial, {label}: {}", line.join("; "));
    }
}
