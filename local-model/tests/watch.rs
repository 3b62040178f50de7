//! The watcher keeps a shared model in step with the files on disk.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use cordon_local_model::{CompletionRequest, LocalModel, ModelConfig, watch};

const IDIOM: &str =
    "fn warm(cache: &mut Cache) {\n    cache.prefetch_all(Duration::from_millis(250));\n}\n";
const PROBE: &str = "fn f(cache: &mut Cache) {\n    cache.pre";
const EXPECTED: &str = "fetch_all(Duration::from_millis(250));";

fn complete(model: &RwLock<LocalModel>, prefix: &str) -> String {
    let model = model.read().unwrap();
    model
        .complete(&CompletionRequest {
            prefix,
            suffix: "",
            max_tokens: 32,
            stop: &[],
            document: None,
        })
        .text
}

/// Polls `check` for up to ten seconds: file events arrive asynchronously.
fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    check()
}

fn indexed(root: &Path) -> Arc<RwLock<LocalModel>> {
    let (model, _) = LocalModel::index_workspace(ModelConfig::default(), root).unwrap();
    Arc::new(RwLock::new(model))
}

#[test]
fn new_changed_and_removed_files_reach_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
    let model = indexed(root);
    let watcher = watch(model.clone(), root).unwrap();
    assert_eq!(complete(&model, PROBE), "");

    // A new file: its idiom becomes predictable.
    std::fs::write(root.join("src/cache.rs"), IDIOM).unwrap();
    assert!(
        eventually(|| complete(&model, PROBE) == EXPECTED),
        "new file not picked up"
    );

    // A change: the new version replaces the old.
    std::fs::write(root.join("src/cache.rs"), IDIOM.replace("250", "999")).unwrap();
    assert!(
        eventually(|| complete(&model, PROBE) == EXPECTED.replace("250", "999")),
        "change not picked up: {:?}",
        complete(&model, PROBE)
    );

    // A new directory with files already in it when it appears.
    let staging = tempfile::tempdir_in(root.join("..")).unwrap();
    std::fs::create_dir_all(staging.path().join("deep/er")).unwrap();
    std::fs::write(
        staging.path().join("deep/er/stats.rs"),
        "fn s(t: &Tally) -> u64 {\n    t.histogram_bucket_total(7)\n}\n",
    )
    .unwrap();
    std::fs::rename(staging.path().join("deep"), root.join("src/deep")).unwrap();
    let probe = "fn f(t: &Tally) -> u64 {\n    t.histogram_";
    assert!(
        eventually(|| complete(&model, probe) == "bucket_total(7)"),
        "moved-in directory not indexed"
    );

    // A removal takes the idiom away.
    std::fs::remove_file(root.join("src/cache.rs")).unwrap();
    assert!(
        eventually(|| complete(&model, PROBE).is_empty()),
        "removal not picked up"
    );
    std::fs::remove_dir_all(root.join("src/deep")).unwrap();
    assert!(
        eventually(|| complete(&model, probe).is_empty()),
        "directory removal not picked up"
    );
    assert!(eventually(|| model.read().unwrap().stats().files == 1));

    // Dropping the guard stops watching.
    drop(watcher);
    std::thread::sleep(Duration::from_millis(200));
    std::fs::write(root.join("src/late.rs"), IDIOM).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(complete(&model, PROBE), "");
    assert_eq!(model.read().unwrap().stats().files, 1);
}

#[test]
fn ignored_files_stay_out() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join(".gitignore"), "scratch/\n").unwrap();
    for sub in ["scratch", "target/debug", "src"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    let model = indexed(root);
    let _watcher = watch(model.clone(), root).unwrap();
    for ignored in [
        "scratch/a.rs",
        "target/debug/b.rs",
        "src/notes.png",
        ".hidden.rs",
    ] {
        std::fs::write(root.join(ignored), IDIOM).unwrap();
    }
    // A file that is watched, written last: once it is in, the others would
    // have been too.
    std::fs::write(root.join("src/marker.rs"), "fn marker() {}\n").unwrap();
    assert!(eventually(|| model.read().unwrap().stats().files == 1));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(model.read().unwrap().stats().files, 1);
    assert_eq!(complete(&model, PROBE), "");
}

#[test]
fn watching_a_missing_directory_fails() {
    let dir = tempfile::tempdir().unwrap();
    let model = Arc::new(RwLock::new(LocalModel::new(ModelConfig::default())));
    assert!(watch(model, &dir.path().join("missing")).is_err());
}
