//! Real code on the machine, for counting false positives: every
//! redaction in it is a false positive unless it is plausibly a real test
//! credential (a human judges the sample printed).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Extensions of the source and configuration files scanned.
pub const EXTENSIONS: &[&str] = &[
    "rs",
    "toml",
    "md",
    "json",
    "yaml",
    "yml",
    "py",
    "pyi",
    "js",
    "mjs",
    "ts",
    "go",
    "c",
    "h",
    "cc",
    "cpp",
    "hpp",
    "java",
    "kt",
    "swift",
    "sh",
    "bash",
    "xml",
    "cfg",
    "ini",
    "txt",
    "html",
    "css",
    "rb",
    "php",
    "cs",
    "tf",
    "hcl",
    "env",
    "properties",
    "gradle",
    "s",
    "S",
    "asm",
    "pl",
    "lua",
    "proto",
    "wit",
    "wat",
    "sql",
    "csv",
];

/// Files larger than this are generated tables, not code; skipped.
pub const MAX_FILE: u64 = 1 << 20;

/// The crates under `$CARGO_HOME/registry/src` (`$HOME/.cargo` when
/// `CARGO_HOME` is unset), one root per crate, sorted.
pub fn cargo_registry_crates() -> Vec<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(home) = home else {
        return Vec::new();
    };
    let mut crates = Vec::new();
    for index in sorted_entries(&home.join("registry").join("src")) {
        if index.is_dir() {
            crates.extend(sorted_entries(&index).into_iter().filter(|p| p.is_dir()));
        }
    }
    crates
}

/// Python's standard library, if `python3` is installed.
pub fn python_stdlib() -> Option<PathBuf> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sysconfig;print(sysconfig.get_paths()['stdlib'])",
        ])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    path.is_dir().then_some(path)
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    entries.sort();
    entries
}

/// The source files under `root`, skipping `target`, `.git`,
/// `node_modules` and any directory in `skip`, up to `budget` bytes. When
/// the files are more than the budget, the ones taken are drawn in a fixed
/// pseudo-random order (a hash of their path), so that a sample of a crate
/// is not just its first directory (often a test-vector folder).
pub fn files(root: &Path, skip: &[&Path], budget: u64) -> Vec<PathBuf> {
    let mut all = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for path in sorted_entries(&dir) {
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if meta.is_dir() {
                if !matches!(name, "target" | ".git" | "node_modules" | "__pycache__")
                    && !skip.iter().any(|s| path.starts_with(s))
                {
                    stack.push(path);
                }
            } else if meta.is_file() && meta.len() <= MAX_FILE {
                let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
                if EXTENSIONS.contains(&ext) || name.starts_with(".env") || name == "Dockerfile" {
                    all.push((path, meta.len()));
                }
            }
        }
    }
    all.sort();
    let total: u64 = all.iter().map(|(_, len)| len).sum();
    if total > budget {
        all.sort_by_key(|(path, _)| fnv1a(path.to_string_lossy().as_bytes()));
    }
    let mut used = 0u64;
    let mut out = Vec::new();
    for (path, len) in all {
        if used + len > budget {
            continue;
        }
        used += len;
        out.push(path);
    }
    out
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// One redaction in real code.
pub struct Finding {
    pub path: PathBuf,
    pub line: usize,
    pub kind: &'static str,
    /// The line, redacted, cut to 160 characters.
    pub excerpt: String,
    /// What was redacted.
    pub secret: String,
}

impl Finding {
    /// Whether this is plausibly a real test credential rather than a
    /// false positive: a vendor's documented example value
    /// (`AKIAIOSFODNN7EXAMPLE`, `AKIDEXAMPLE`, `…EXAMPLEKEY`) or a value in
    /// a test, fixture, bench or example file, or in the documentation
    /// comments that show one.
    pub fn test_credential(&self) -> bool {
        let example = self.secret.to_ascii_uppercase().contains("EXAMPLE");
        let test_path = self.path.components().any(|c| {
            let c = c.as_os_str().to_string_lossy().to_ascii_lowercase();
            matches!(
                c.as_str(),
                "test" | "tests" | "testdata" | "testing" | "fixtures" | "benches" | "examples"
            ) || c.starts_with("test_")
                || c.contains("_test.")
                || c.contains("-test-")
                || c.ends_with("_tests.rs")
                || c.ends_with("_test.rs")
        });
        let doc = ["///", "//!", "# ", "* ", ">>> "]
            .iter()
            .any(|p| self.excerpt.starts_with(p));
        example || test_path || doc
    }
}

/// What a scan saw.
#[derive(Default)]
pub struct Scan {
    pub files: usize,
    pub lines: usize,
    pub bytes: usize,
    pub findings: Vec<Finding>,
    /// Time spent in `redact` only.
    pub redact_time: Duration,
}

impl Scan {
    /// Redactions per 10 000 lines.
    pub fn per_10k_lines(&self) -> f64 {
        self.per_10k(self.findings.len())
    }

    /// The redactions that are not plausibly test credentials.
    pub fn false_positives(&self) -> Vec<&Finding> {
        self.findings
            .iter()
            .filter(|f| !f.test_credential())
            .collect()
    }

    /// False positives per 10 000 lines.
    pub fn false_positives_per_10k_lines(&self) -> f64 {
        self.per_10k(self.false_positives().len())
    }

    fn per_10k(&self, n: usize) -> f64 {
        if self.lines == 0 {
            return 0.0;
        }
        n as f64 * 10_000.0 / self.lines as f64
    }

    /// Throughput of `redact`, MB/s.
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.redact_time.as_secs_f64().max(1e-9)
    }
}

/// Redacts each file whole (as a request carries a context window) and
/// records every redaction.
pub fn scan(paths: &[PathBuf]) -> Scan {
    let mut scan = Scan::default();
    for path in paths {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let Ok(text) = String::from_utf8(bytes) else {
            continue;
        };
        scan.files += 1;
        scan.lines += text.lines().count();
        scan.bytes += text.len();
        let start = Instant::now();
        let spans = cordon_policy::redact::spans(&text);
        scan.redact_time += start.elapsed();
        for (range, kind) in spans {
            let line_start = text[..range.start].rfind('\n').map_or(0, |i| i + 1);
            let line_end = text[range.end..]
                .find('\n')
                .map_or(text.len(), |i| range.end + i);
            let excerpt = format!(
                "{}{}{}",
                &text[line_start..range.start],
                cordon_policy::redact::placeholder(kind),
                &text[range.end..line_end]
            );
            scan.findings.push(Finding {
                path: path.clone(),
                line: text[..range.start].matches('\n').count() + 1,
                kind,
                excerpt: excerpt.trim().chars().take(160).collect(),
                secret: text[range].to_owned(),
            });
        }
    }
    scan
}
