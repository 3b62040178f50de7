//! Audit export end to end, in process: a log of real records (written by
//! `cordon_policy::AuditLog`), the exporter's `Shipper`, and a loopback
//! OTLP/HTTP collector that decodes the protobuf messages with the
//! `opentelemetry-proto` crate (a double of the remote service, not of
//! Cordon). Checks what the Python tests (tests/audit) cannot cheaply:
//! logs longer than one batch, a failure between batches, and a restart
//! that resumes from the persisted cursor without resending or skipping.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use cordon::export::{Destination, ExportError, Job, Origin, Shipper};
use cordon_policy::{AuditLog, AuditRecord, Decision};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Default)]
struct Received {
    /// `cordon.record_hash` of every log record, in arrival order.
    hashes: Vec<String>,
    /// `gen_ai.request.model` of every span.
    span_models: Vec<String>,
    /// Statuses to answer the next requests with (front first); 200 after.
    script: Vec<u16>,
    requests: usize,
}

fn attribute(
    attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<String> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            Value::IntValue(n) => Some(n.to_string()),
            _ => None,
        }
    })
}

/// A loopback OTLP/HTTP collector (HTTP/1.1, keep-alive).
async fn collector(state: Arc<Mutex<Received>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                loop {
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        let mut chunk = [0u8; 8192];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    while buf.len() < head_end + length {
                        let mut chunk = [0u8; 8192];
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let body: Vec<u8> = buf.drain(..head_end + length).skip(head_end).collect();
                    let status = {
                        let mut s = state.lock().unwrap();
                        s.requests += 1;
                        let status = if s.script.is_empty() {
                            200
                        } else {
                            s.script.remove(0)
                        };
                        if status == 200 && path == "/v1/logs" {
                            let req = ExportLogsServiceRequest::decode(&body[..]).unwrap();
                            for rl in req.resource_logs {
                                for sl in rl.scope_logs {
                                    for r in sl.log_records {
                                        s.hashes.push(
                                            attribute(&r.attributes, "cordon.record_hash").unwrap(),
                                        );
                                    }
                                }
                            }
                        } else if status == 200 && path == "/v1/traces" {
                            let req = ExportTraceServiceRequest::decode(&body[..]).unwrap();
                            for rs in req.resource_spans {
                                for ss in rs.scope_spans {
                                    for span in ss.spans {
                                        s.span_models.push(
                                            attribute(&span.attributes, "gen_ai.request.model")
                                                .unwrap(),
                                        );
                                    }
                                }
                            }
                        }
                        status
                    };
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n"
                    );
                    if socket.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// Appends `n` records to the log at `path`: every third a model request.
fn write_records(path: &Path, n: usize, from: usize) {
    let mut log = AuditLog::open(path).unwrap();
    for i in from..from + n {
        let allowed = Decision {
            allowed: i % 7 != 0,
            reason: format!("reason {i}"),
            layer: None,
        };
        let mut r = AuditRecord::new(SystemTime::now(), "completion", "model", &allowed);
        if i % 3 == 0 {
            r.backend = Some("gpt".into());
            r.provider = Some("openai".into());
            r.model = Some(format!("model-{i}"));
            r.input_tokens = Some(10);
            r.output_tokens = Some(2);
        }
        log.append(&r).unwrap();
    }
}

fn hashes_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["hash"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_log_survives_a_failure_between_batches_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // The cursor lives in the data folder; this test binary has no other
    // test that reads the environment.
    unsafe { std::env::set_var("XDG_DATA_HOME", dir.path().join("data")) };
    let log = dir.path().join("audit.jsonl");
    write_records(&log, 600, 0);
    let state = Arc::new(Mutex::new(Received {
        // The first batch's logs are accepted, its spans refused.
        script: vec![200, 503],
        ..Received::default()
    }));
    let url = collector(Arc::clone(&state)).await;
    let job = Job {
        log: log.clone(),
        destination: Destination {
            origin: Origin::Organisation,
            endpoint: url.clone(),
            headers: Default::default(),
            ca_file: None,
        },
    };
    let err = Shipper::new(job.clone(), false)
        .unwrap()
        .ship()
        .await
        .unwrap_err();
    assert!(
        matches!(err, ExportError::Unavailable { status: 503, .. }),
        "{err}"
    );
    let all = hashes_of(&log);
    // A restart: a new shipper, from the persisted cursor, which did not
    // move (the batch was not wholly accepted): the first batch is resent.
    let shipped = Shipper::new(job.clone(), false)
        .unwrap()
        .ship()
        .await
        .unwrap();
    assert_eq!((shipped.lines, shipped.through), (600, 600));
    {
        let s = state.lock().unwrap();
        let batch = s.hashes.len() - 600;
        assert!(batch > 0 && batch <= 600, "{batch}");
        // Every record, in order, after the resent first batch.
        assert_eq!(s.hashes[..batch], all[..batch]);
        assert_eq!(s.hashes[batch..], all[..]);
        let models = all.len().div_ceil(3);
        assert_eq!(s.span_models.len(), models);
        assert!(
            s.requests >= 6,
            "{} requests: more than one batch",
            s.requests
        );
    }
    // More records later: only they are sent, by yet another shipper.
    write_records(&log, 10, 600);
    let shipped = Shipper::new(job, false).unwrap().ship().await.unwrap();
    assert_eq!((shipped.lines, shipped.through), (10, 610));
    let s = state.lock().unwrap();
    assert_eq!(s.hashes[s.hashes.len() - 10..], hashes_of(&log)[600..]);
}
