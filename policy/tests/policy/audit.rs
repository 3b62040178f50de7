//! The hash-chained audit log.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use cordon_policy::audit::GENESIS;
use cordon_policy::{
    AuditLog, AuditRecord, Decision, Layer, VerifyError, verify, verify_with_anchor,
};

fn record(i: u64) -> AuditRecord {
    let decision = Decision {
        allowed: !i.is_multiple_of(3),
        reason: format!("reason {i}"),
        layer: Some(Layer::Organisation),
    };
    let mut r = AuditRecord::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + i),
        "completion",
        "model",
        &decision,
    );
    r.digest = Some("ab".repeat(32));
    r.backend = Some("claude-bedrock".into());
    r.provider = Some("bedrock".into());
    r.model = Some("anthropic.claude-3-haiku".into());
    r.region = Some("us-east-1".into());
    r.input_tokens = Some(100 + i);
    r.output_tokens = Some(20);
    r.bytes_sent = Some(4096);
    r.redactions = 2;
    r.redaction_kinds.insert("aws-access-key".into(), 2);
    r.prompt = Some("the secret prompt text".into());
    r
}

fn write_log(path: &Path, n: u64) {
    let mut log = AuditLog::open(path).unwrap();
    for i in 1..=n {
        log.append(&record(i)).unwrap();
    }
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn set_lines(path: &Path, lines: &[String]) {
    fs::write(
        path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

#[test]
fn append_reopen_continue_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs/audit.jsonl");
    write_log(&path, 3);
    {
        let mut log = AuditLog::open(&path).unwrap();
        log.append(&record(4)).unwrap();
        log.append(&record(5)).unwrap();
        let anchor = log.anchor().unwrap().unwrap();
        assert_eq!(anchor.line, 5);
    }
    let report = verify(&path).unwrap();
    assert_eq!((report.lines, report.records), (5, 5));
    assert!(report.torn.is_empty());
    assert_eq!(report.anchor.as_ref().unwrap().line, 5);

    let all = lines(&path);
    let first: serde_json::Value = serde_json::from_str(&all[0]).unwrap();
    assert_eq!(first["prev"], GENESIS);
    assert_eq!(first["v"], 1);
    assert_eq!(first["time"], "2023-11-14T22:13:21.000Z");
    assert_eq!(first["plugin"], "completion");
    assert_eq!(first["capability"], "model");
    assert_eq!(first["provider"], "bedrock");
    assert_eq!(first["region"], "us-east-1");
    assert_eq!(first["input_tokens"], 101);
    assert_eq!(first["redactions"], 2);
    assert_eq!(first["redaction_kinds"]["aws-access-key"], 2);
    assert_eq!(first["decision"], "allowed");
    assert_eq!(first["layer"], "organisation");
    assert_eq!(first["reason"], "reason 1");
    assert!(first.get("prompt").is_none(), "no prompt text by default");
    assert!(!fs::read_to_string(&path).unwrap().contains("secret prompt"));
    assert!(all[0].ends_with(&format!(
        ",\"hash\":\"{}\"}}",
        first["hash"].as_str().unwrap()
    )));
    // Each line's prev is the sha256 of the line before.
    let second: serde_json::Value = serde_json::from_str(&all[1]).unwrap();
    use sha2::Digest;
    assert_eq!(
        second["prev"],
        hex::encode(sha2::Sha256::digest(all[0].as_bytes()))
    );
    let third: serde_json::Value = serde_json::from_str(&all[2]).unwrap();
    assert_eq!(third["decision"], "denied");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[test]
fn prompts_only_when_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let sink = cordon_policy::AuditSink {
        layer: Layer::User,
        path: path.clone(),
        prompts: true,
    };
    let mut log = AuditLog::open_sink(&sink).unwrap();
    log.append(&record(1)).unwrap();
    let line: serde_json::Value = serde_json::from_str(&lines(&path)[0]).unwrap();
    assert_eq!(line["prompt"], "the secret prompt text");
    verify(&path).unwrap();
}

#[test]
fn an_altered_field_is_detected_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.jsonl");
    write_log(&path, 5);
    let mut all = lines(&path);
    all[2] = all[2].replace("\"decision\":\"denied\"", "\"decision\":\"allowed\"");
    set_lines(&path, &all);
    let err = verify(&path).unwrap_err();
    assert!(matches!(err, VerifyError::Altered { line: 3 }), "{err:?}");
    assert!(err.to_string().contains("line 3 was altered"), "{err}");
    // Recomputing that line's own hash still breaks the next line's prev.
    let mut all = lines(&path);
    let v: serde_json::Value = serde_json::from_str(&all[2]).unwrap();
    let body_end = all[2].rfind(",\"hash\":").unwrap();
    let body = format!("{}}}", &all[2][..body_end]);
    use sha2::Digest;
    let hash = hex::encode(sha2::Sha256::digest(body.as_bytes()));
    all[2] = format!("{},\"hash\":\"{hash}\"}}", &all[2][..body_end]);
    assert_ne!(v["hash"].as_str().unwrap(), hash);
    set_lines(&path, &all);
    assert!(matches!(
        verify(&path).unwrap_err(),
        VerifyError::Chain { line: 4 }
    ));
}

#[test]
fn an_altered_prev_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.jsonl");
    write_log(&path, 3);
    let mut all = lines(&path);
    let v: serde_json::Value = serde_json::from_str(&all[1]).unwrap();
    all[1] = all[1].replace(v["prev"].as_str().unwrap(), GENESIS);
    set_lines(&path, &all);
    assert!(matches!(
        verify(&path).unwrap_err(),
        VerifyError::Altered { line: 2 }
    ));
}

#[test]
fn a_removed_line_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.jsonl");
    write_log(&path, 5);
    let mut all = lines(&path);
    all.remove(2);
    set_lines(&path, &all);
    let err = verify(&path).unwrap_err();
    assert!(matches!(err, VerifyError::Chain { line: 3 }), "{err:?}");
    assert!(
        err.to_string()
            .contains("removed, inserted or reordered just before line 3"),
        "{err}"
    );
    // Removing the first line too.
    let mut all = lines(&path);
    all.remove(0);
    set_lines(&path, &all);
    assert!(matches!(
        verify(&path).unwrap_err(),
        VerifyError::Chain { line: 1 }
    ));
}

#[test]
fn swapped_lines_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.jsonl");
    write_log(&path, 5);
    let mut all = lines(&path);
    all.swap(1, 2);
    set_lines(&path, &all);
    assert!(matches!(
        verify(&path).unwrap_err(),
        VerifyError::Chain { line: 2 }
    ));
}

#[test]
fn an_inserted_line_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.jsonl");
    write_log(&path, 4);
    let mut all = lines(&path);
    let copy = all[1].clone();
    all.insert(2, copy);
    set_lines(&path, &all);
    assert!(matches!(
        verify(&path).unwrap_err(),
        VerifyError::Chain { line: 3 }
    ));
    // Garbage inserted mid-file.
    let mut all = lines(&path);
    all[2] = "{\"not\":\"a record\"}".into();
    set_lines(&path, &all);
    let err = verify(&path).unwrap_err();
    assert!(
        matches!(err, VerifyError::Malformed { line: 3, .. }),
        "{err:?}"
    );
    // An empty line.
    let mut all = lines(&path);
    all[2] = String::new();
    set_lines(&path, &all);
    assert!(matches!(
        verify(&path).unwrap_err(),
        VerifyError::Malformed { line: 3, .. }
    ));
}

#[test]
fn truncation_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.jsonl");
    write_log(&path, 5);
    let full = fs::read(&path).unwrap();
    let all = lines(&path);
    // Mid-line: line 4 is incomplete.
    let cut = all[..3].iter().map(|l| l.len() + 1).sum::<usize>() + 40;
    fs::write(&path, &full[..cut]).unwrap();
    let err = verify(&path).unwrap_err();
    assert!(
        matches!(err, VerifyError::Incomplete { line: 4 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("line 4 is incomplete"), "{err}");

    // At a line boundary the chain alone cannot tell; an anchor can.
    fs::write(&path, &full).unwrap();
    let anchor = verify(&path).unwrap().anchor.unwrap();
    let boundary = all[..3].iter().map(|l| l.len() + 1).sum::<usize>();
    fs::write(&path, &full[..boundary]).unwrap();
    assert_eq!(verify(&path).unwrap().lines, 3);
    let err = verify_with_anchor(&path, Some(&anchor)).unwrap_err();
    assert!(
        matches!(err, VerifyError::Anchor { line: 5, lines: 3 }),
        "{err:?}"
    );
    // An older anchor still holds after more appends.
    let older = verify(&path).unwrap().anchor.unwrap();
    write_log(&path, 2);
    verify_with_anchor(&path, Some(&older)).unwrap();
}

#[test]
fn a_torn_last_line_is_kept_and_the_chain_continues() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.jsonl");
    write_log(&path, 3);
    // A crash mid-write leaves half a line.
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    f.write_all(b"{\"v\":1,\"time\":\"2023-").unwrap();
    drop(f);
    assert!(matches!(
        verify(&path).unwrap_err(),
        VerifyError::Incomplete { line: 4 }
    ));
    write_log(&path, 2);
    let report = verify(&path).unwrap();
    assert_eq!(report.lines, 6);
    assert_eq!(report.records, 5);
    assert_eq!(report.torn, [4]);
}

#[test]
fn a_missing_final_newline_is_handled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.jsonl");
    write_log(&path, 2);
    let mut bytes = fs::read(&path).unwrap();
    bytes.pop();
    fs::write(&path, &bytes).unwrap();
    assert_eq!(
        verify(&path).unwrap().records,
        2,
        "a complete last line without newline is fine"
    );
    write_log(&path, 1);
    let report = verify(&path).unwrap();
    assert_eq!((report.lines, report.records), (3, 3));
    assert!(report.torn.is_empty());
}

#[test]
fn two_writers_keep_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.jsonl");
    // Two handles, as two processes would have, interleaving appends.
    let mut a = AuditLog::open(&path).unwrap();
    let mut b = AuditLog::open(&path).unwrap();
    for i in 0..10 {
        a.append(&record(i)).unwrap();
        b.append(&record(100 + i)).unwrap();
        if i % 3 == 0 {
            b.append(&record(200 + i)).unwrap();
        }
    }
    assert_eq!(verify(&path).unwrap().records, 24);
    // And concurrently from threads, each with its own handle.
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut log = AuditLog::open(&path).unwrap();
                for i in 0..25 {
                    log.append(&record(1000 * t + i)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let report = verify(&path).unwrap();
    assert_eq!(report.records, 124);
}

#[test]
fn verify_reports_a_missing_log() {
    let dir = tempfile::tempdir().unwrap();
    let err = verify(dir.path().join("none.jsonl")).unwrap_err();
    assert!(matches!(err, VerifyError::Io { .. }));
    // An empty log is intact.
    let path = dir.path().join("empty.jsonl");
    AuditLog::open(&path).unwrap();
    let report = verify(&path).unwrap();
    assert_eq!((report.lines, report.anchor), (0, None));
}

#[test]
fn the_log_is_never_written_through_a_link_to_a_device_or_into_a_foreign_file() {
    let dir = tempfile::tempdir().unwrap();
    // A device (what `/dev/stdout` is, through a link).
    let err = AuditLog::open("/dev/stdout").unwrap_err().to_string();
    assert!(
        err.contains("refusing to write the audit log there"),
        "{err}"
    );
    let err = AuditLog::open("/dev/null").unwrap_err().to_string();
    assert!(err.contains("not a regular file"), "{err}");
    // A link planted where the log should be.
    let target = dir.path().join("elsewhere.jsonl");
    let link = dir.path().join("audit.jsonl");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = AuditLog::open(&link).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(!target.exists(), "nothing was created through the link");
    }
    // A file that is not an audit log (the user's configuration, say).
    let config = dir.path().join("cordon.toml");
    fs::write(&config, "[backends.claude]\nprovider = \"anthropic\"\n").unwrap();
    let err = AuditLog::open(&config).unwrap_err().to_string();
    assert!(err.contains("not a Cordon audit log"), "{err}");
    assert_eq!(
        fs::read_to_string(&config).unwrap(),
        "[backends.claude]\nprovider = \"anthropic\"\n",
        "the file is untouched"
    );
    // An existing audit log is appended to as before.
    let log = dir.path().join("real.jsonl");
    write_log(&log, 2);
    let mut opened = AuditLog::open(&log).unwrap();
    opened.append(&record(3)).unwrap();
    assert_eq!(lines(&log).len(), 3);
    assert!(verify(&log).is_ok());
}
