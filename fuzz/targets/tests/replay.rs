//! The fuzz targets' smoke run on stable Rust: every committed seed in
//! `fuzz/corpus/<target>/`, then deterministic mutations of them (bit
//! flips, byte changes, cuts, insertions, splices of two seeds), through
//! the very functions the libFuzzer binaries call. A target panics on a
//! crash or a broken invariant, which fails this test and names the input.

use std::path::{Path, PathBuf};

use cordon_fuzz_targets::TARGETS;

/// Mutated inputs per target (the loopback target's are slower).
const MUTATIONS: usize = 3_000;
const MUTATIONS_LOOPBACK: usize = 600;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a corpus entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("a corpus file");
            (p, bytes)
        })
        .collect()
}

/// xorshift64*: the same inputs on every run and machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, seeds: &[(PathBuf, Vec<u8>)]) -> Vec<u8> {
    let mut input = seeds[rng.below(seeds.len())].1.clone();
    for _ in 0..=rng.below(4) {
        let len = input.len();
        match rng.below(6) {
            0 if len > 0 => {
                let at = rng.below(len);
                input[at] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let at = rng.below(len);
                input[at] = *b"\0\n\r:{}\"%\xff0 \\-".get(rng.below(14)).unwrap_or(&0);
            }
            2 if len > 0 => input.truncate(rng.below(len)),
            3 => {
                let at = rng.below(len + 1);
                let byte = rng.next() as u8;
                for _ in 0..=rng.below(8) {
                    input.insert(at, byte);
                }
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())].1;
                let from = rng.below(other.len() + 1);
                let at = rng.below(len + 1);
                let piece = &other[from..(from + rng.below(64)).min(other.len())];
                input.splice(at..at, piece.iter().copied());
            }
            _ if len > 0 => {
                let at = rng.below(len);
                let end = (at + rng.below(16)).min(len);
                input.drain(at..end);
            }
            _ => input.push(rng.next() as u8),
        }
    }
    input
}

fn replay(name: &str) {
    let (_, target) = TARGETS.iter().find(|(n, _)| *n == name).expect("a target");
    let seeds = corpus(name);
    assert!(!seeds.is_empty(), "fuzz/corpus/{name}/ has no seeds");
    for (path, bytes) in &seeds {
        run(name, target, bytes, &path.display().to_string());
    }
    // `CORDON_FUZZ_MUTATIONS=N` runs N per target instead (a longer,
    // still deterministic run without libFuzzer).
    let count = match std::env::var("CORDON_FUZZ_MUTATIONS") {
        Ok(n) => n.parse().expect("CORDON_FUZZ_MUTATIONS is a number"),
        Err(_) if name == "model_replies" => MUTATIONS_LOOPBACK,
        Err(_) => MUTATIONS,
    };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
    for i in 0..count {
        let input = mutate(&mut rng, &seeds);
        run(name, target, &input, &format!("mutation {i}"));
    }
}

fn run(name: &str, target: &cordon_fuzz_targets::Target, input: &[u8], what: &str) {
    let outcome = std::panic::catch_unwind(|| target(input));
    if outcome.is_err() {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join(format!("{name}-{}", what.replace(['/', ' '], "_")));
        let _ = std::fs::write(&file, input);
        panic!(
            "fuzz target {name} failed on {what}; the input is in {} \
             (rerun: cargo fuzz run {name} {})",
            file.display(),
            file.display()
        );
    }
}

#[test]
fn every_target_has_a_test_and_a_corpus() {
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    let bins = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml"))
        .expect("fuzz/Cargo.toml");
    for name in &names {
        assert!(
            bins.contains(&format!("name = \"{name}\"")),
            "{name} has no [[bin]] in fuzz/Cargo.toml"
        );
        assert!(!corpus(name).is_empty());
    }
    let this = include_str!("replay.rs");
    for name in &names {
        assert!(
            this.contains(&format!("replay(\"{name}\")")),
            "{name} is not replayed"
        );
    }
}

#[test]
fn config() {
    replay("config");
}

#[test]
fn eventstream() {
    replay("eventstream");
}

#[test]
fn lsp_edits() {
    replay("lsp_edits");
}

#[test]
fn lsp_transport() {
    replay("lsp_transport");
}

#[test]
fn model_replies() {
    replay("model_replies");
}

#[test]
fn policy() {
    replay("policy");
}

#[test]
fn sse() {
    replay("sse");
}

#[test]
fn validate() {
    replay("validate");
}
