//! Audit export: ships audit logs to OpenTelemetry collectors over OTLP.
//!
//! The JSONL audit log stays the source of truth. The exporter *reads* it,
//! from a persisted [`cursor::Cursor`], and sends what is new, in order, in
//! batches; the cursor moves only once the collector accepted a batch. So a
//! collector that is down, slow or refusing costs delay, never a record,
//! and a record may arrive twice (each carries `cordon.record_hash`).
//!
//! It never sits between a plugin and the gate: the gate appends to the
//! log and returns; the exporter runs on its own thread ([`spawn`]), with
//! its own single-threaded async runtime, and finds new records by looking
//! at the log's length. `cordon audit export` ships on demand with the same
//! [`Shipper`].
//!
//! Destinations ([`jobs`]): the organisation policy's `[audit.export]`
//! ships the organisation's `[audit]` log; the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` / `_HEADERS` / `_PROTOCOL` /
//! `_CERTIFICATE` variables add a further destination for the most
//! authoritative log, and never remove or redirect the organisation's.

pub mod cursor;
pub mod otlp;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use thiserror::Error;

use cursor::Cursor;

/// Lines per request.
const BATCH: usize = 256;

/// Who named a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The organisation policy's `[audit.export]`.
    Organisation,
    /// The `OTEL_EXPORTER_OTLP_*` environment variables.
    Environment,
}

/// Where a header's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    /// The named environment variable (policy files name variables, never
    /// values).
    Env(String),
    /// A value given in `OTEL_EXPORTER_OTLP_HEADERS` (already the
    /// environment's).
    Given(String),
}

/// One OTLP/HTTP collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Who named it.
    pub origin: Origin,
    /// The base URL (`/v1/logs` and `/v1/traces` are appended).
    pub endpoint: String,
    /// Headers sent with every request.
    pub headers: BTreeMap<String, HeaderValue>,
    /// Extra CA certificates (PEM) to trust.
    pub ca_file: Option<PathBuf>,
}

impl Destination {
    /// The destination of the organisation policy's `[audit.export]`.
    pub fn of_policy(target: &cordon_policy::ExportTarget) -> Self {
        Destination {
            origin: Origin::Organisation,
            endpoint: target.endpoint.clone(),
            headers: target
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), HeaderValue::Env(v.clone())))
                .collect(),
            ca_file: target.ca_file.clone(),
        }
    }

    /// The destination of the standard `OTEL_EXPORTER_OTLP_*` variables
    /// (read through `env`), if `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
    pub fn of_env(env: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ExportError> {
        let Some(endpoint) = env("OTEL_EXPORTER_OTLP_ENDPOINT").filter(|e| !e.trim().is_empty())
        else {
            return Ok(None);
        };
        if let Some(protocol) = env("OTEL_EXPORTER_OTLP_PROTOCOL").filter(|p| !p.is_empty())
            && protocol.trim() != "http/protobuf"
        {
            return Err(ExportError::Protocol {
                protocol: protocol.trim().to_owned(),
            });
        }
        if !cordon_policy::valid_endpoint(&endpoint) {
            return Err(ExportError::BadEndpoint {
                endpoint,
                from: "OTEL_EXPORTER_OTLP_ENDPOINT",
            });
        }
        let mut headers = BTreeMap::new();
        if let Some(list) = env("OTEL_EXPORTER_OTLP_HEADERS") {
            for pair in list.split(',').filter(|p| !p.trim().is_empty()) {
                let Some((k, v)) = pair.split_once('=') else {
                    return Err(ExportError::HeaderList {
                        pair: pair.split('=').next().unwrap_or_default().trim().to_owned(),
                    });
                };
                headers.insert(
                    k.trim().to_owned(),
                    HeaderValue::Given(percent_decode(v.trim())),
                );
            }
        }
        Ok(Some(Destination {
            origin: Origin::Environment,
            endpoint: endpoint.trim().to_owned(),
            headers,
            ca_file: env("OTEL_EXPORTER_OTLP_CERTIFICATE")
                .filter(|c| !c.is_empty())
                .map(PathBuf::from),
        }))
    }

    /// The headers with their values (environment variables read now).
    pub fn header_values(&self) -> Result<Vec<(String, String)>, ExportError> {
        self.headers
            .iter()
            .map(|(name, value)| match value {
                HeaderValue::Given(v) => Ok((name.clone(), v.clone())),
                HeaderValue::Env(var) => match std::env::var(var) {
                    Ok(v) if !v.is_empty() => Ok((name.clone(), v)),
                    _ => Err(ExportError::MissingHeader {
                        header: name.clone(),
                        var: var.clone(),
                    }),
                },
            })
            .collect()
    }
}

/// `%XX` escapes of `OTEL_EXPORTER_OTLP_HEADERS` values.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(h, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One log shipped to one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The audit log.
    pub log: PathBuf,
    /// Where it goes.
    pub destination: Destination,
}

/// The exports of the effective policy and the process environment: the
/// organisation's `[audit.export]` destinations with their logs, then the
/// environment's destination for the most authoritative log (unless it is
/// the same as one of the organisation's). Problems of the environment's
/// destination are returned beside the jobs; they never remove one.
pub fn jobs(
    effective: &cordon_policy::Effective,
    env: impl Fn(&str) -> Option<String>,
) -> (Vec<Job>, Vec<ExportError>) {
    let mut jobs: Vec<Job> = effective
        .audit_exports()
        .into_iter()
        .map(|(sink, target)| Job {
            log: sink.path,
            destination: Destination::of_policy(&target),
        })
        .collect();
    let mut problems = Vec::new();
    match Destination::of_env(env) {
        Ok(Some(destination)) => {
            if let Some(sink) = effective.audit_sinks().into_iter().next() {
                let same = jobs
                    .iter()
                    .any(|j| j.log == sink.path && j.destination.endpoint == destination.endpoint);
                if !same {
                    jobs.push(Job {
                        log: sink.path,
                        destination,
                    });
                }
            }
        }
        Ok(None) => {}
        Err(e) => problems.push(e),
    }
    (jobs, problems)
}

/// Why an export did not happen. Nothing is lost in any case: the records
/// stay in the log and the cursor where it was.
#[derive(Debug, Error)]
pub enum ExportError {
    /// The endpoint is not an http(s) URL.
    #[error(
        "{from}=`{endpoint}` is not an OTLP/HTTP endpoint; set it to the collector's base URL, e.g. http://localhost:4318 (Cordon appends /v1/logs and /v1/traces)"
    )]
    BadEndpoint {
        /// What was given.
        endpoint: String,
        /// Where it was given.
        from: &'static str,
    },
    /// A protocol Cordon does not speak.
    #[error(
        "OTEL_EXPORTER_OTLP_PROTOCOL=`{protocol}` is not supported: Cordon exports OTLP over http/protobuf only; set it to http/protobuf and point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's OTLP/HTTP port (4318)"
    )]
    Protocol {
        /// What was given.
        protocol: String,
    },
    /// `OTEL_EXPORTER_OTLP_HEADERS` is not a `key=value,…` list.
    #[error(
        "OTEL_EXPORTER_OTLP_HEADERS: `{pair}` has no `=`; write the headers as name=value pairs separated by commas"
    )]
    HeaderList {
        /// The header name of the bad pair.
        pair: String,
    },
    /// A header's environment variable is not set.
    #[error(
        "the collector header `{header}` takes its value from ${var}, which is not set; export {var} in Cordon's environment (the policy names the variable, never the value)"
    )]
    MissingHeader {
        /// The header.
        header: String,
        /// The variable.
        var: String,
    },
    /// A header value that HTTP cannot carry.
    #[error(
        "the collector header `{header}` has a name or value HTTP cannot carry (a line break or a control character); fix its environment variable"
    )]
    BadHeader {
        /// The header.
        header: String,
    },
    /// The CA file cannot be used.
    #[error(
        "{}: cannot use it as the collector's CA file: {reason}; point ca_file (or OTEL_EXPORTER_OTLP_CERTIFICATE) at a PEM file of CA certificates",
        path.display()
    )]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The HTTP client or exporter could not be built or failed locally.
    #[error("exporting to {endpoint}: {reason}")]
    Client {
        /// The destination.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// The collector cannot be reached.
    #[error(
        "the collector at {endpoint} cannot be reached ({reason}); nothing is lost: the records stay in the audit log and are sent once it answers (check that it runs and that the endpoint is right)"
    )]
    Unreachable {
        /// The destination.
        endpoint: String,
        /// What the connection said.
        reason: String,
    },
    /// The collector refused the request (4xx other than 429).
    #[error(
        "the collector at {endpoint} refused the records: HTTP {status}{}; nothing is lost: they stay in the audit log and are sent again on the next attempt; {}",
        if answer.is_empty() { String::new() } else { format!(" ({answer})") },
        match status { 401 | 403 => "check the credentials in the export's headers", 404 => "check the endpoint: it must be the collector's OTLP/HTTP base URL (Cordon appends /v1/logs)", 413 => "raise the collector's request size limit", _ => "check the collector's configuration" }
    )]
    Refused {
        /// The destination.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The start of the collector's answer.
        answer: String,
    },
    /// The collector failed or is overloaded (5xx, 429).
    #[error(
        "the collector at {endpoint} is unavailable: HTTP {status}{}; nothing is lost: the records stay in the audit log and are sent once it recovers",
        if answer.is_empty() { String::new() } else { format!(" ({answer})") }
    )]
    Unavailable {
        /// The destination.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The start of the collector's answer.
        answer: String,
    },
    /// The log cannot be read.
    #[error("{}: cannot read the audit log: {source}", path.display())]
    Log {
        /// The log.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The cursor cannot be read or written.
    #[error(
        "{}: the export cursor cannot be used: {reason}; check that Cordon's data folder is writable (or remove the file to ship the log again from its start)",
        path.display()
    )]
    Cursor {
        /// The cursor file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// No data folder for cursors.
    #[error("no data folder to keep the export cursor in; set XDG_DATA_HOME or HOME")]
    NoDataFolder,
    /// The log no longer holds what was shipped.
    #[error(
        "{}: the log no longer holds line {line} as it was shipped (it was rotated, truncated or rewritten); run `cordon audit export {} --from-start` to ship it from its first line",
        log.display(), log.display()
    )]
    LogChanged {
        /// The log.
        log: PathBuf,
        /// The last shipped line.
        line: u64,
    },
}

impl ExportError {
    fn log(path: &Path, source: std::io::Error) -> Self {
        ExportError::Log {
            path: path.to_owned(),
            source,
        }
    }

    /// Whether trying again later may succeed without anyone changing
    /// anything (the collector is down or overloaded).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ExportError::Unreachable { .. } | ExportError::Unavailable { .. }
        )
    }
}

/// What one [`Shipper::ship`] sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shipped {
    /// Lines sent (and accepted) in this call.
    pub lines: u64,
    /// The last line now shipped (1-based; 0: none yet).
    pub through: u64,
}

/// Ships one log to one destination from its cursor.
#[derive(Debug)]
pub struct Shipper {
    job: Job,
    client: otlp::Client,
    cursor: Cursor,
    cursor_path: PathBuf,
    /// Shipping from the first line on purpose (`--from-start`).
    fresh: bool,
}

impl Shipper {
    /// The shipper of `job`, resuming from its saved cursor (or from the
    /// first line with `from_start`).
    pub fn new(job: Job, from_start: bool) -> Result<Self, ExportError> {
        let cursor_path = cursor::path_for(&job.log, &job.destination.endpoint)
            .ok_or(ExportError::NoDataFolder)?;
        let cursor = if from_start {
            Cursor {
                log: job.log.clone(),
                endpoint: job.destination.endpoint.clone(),
                ..Cursor::default()
            }
        } else {
            Cursor::load(&cursor_path, &job.log, &job.destination.endpoint)?
        };
        let client = otlp::Client::new(&job.destination, &job.log)?;
        Ok(Shipper {
            job,
            client,
            cursor,
            cursor_path,
            fresh: from_start,
        })
    }

    /// The job.
    pub fn job(&self) -> &Job {
        &self.job
    }

    /// Whether the log has bytes past the cursor.
    pub fn pending(&self) -> bool {
        std::fs::metadata(&self.job.log).is_ok_and(|m| m.len() > self.cursor.offset)
    }

    /// Sends every complete line past the cursor, batch by batch, saving
    /// the cursor after each accepted batch. Stops at the first failure
    /// (what was accepted before it stays shipped).
    pub async fn ship(&mut self) -> Result<Shipped, ExportError> {
        // One shipper per log and destination at a time, across processes
        // (an editor's server and `cordon audit export`); the other waits
        // for its next round.
        let lock_path = self.cursor_path.with_extension("lock");
        let lock_err = |e: std::io::Error| ExportError::Cursor {
            path: lock_path.clone(),
            reason: e.to_string(),
        };
        if let Some(parent) = lock_path.parent() {
            std::fs::create_dir_all(parent).map_err(lock_err)?;
        }
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(lock_err)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Ok(Shipped {
                    lines: 0,
                    through: self.cursor.line,
                });
            }
            Err(std::fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(lock_err(e)),
        }
        // Another process may have shipped since: start from the saved
        // cursor when it is further on.
        if let Ok(saved) = Cursor::load(
            &self.cursor_path,
            &self.job.log,
            &self.job.destination.endpoint,
        ) && saved.line > self.cursor.line
            && !self.fresh
        {
            self.cursor = saved;
        }
        let result = self.ship_locked().await;
        drop(lock);
        result
    }

    async fn ship_locked(&mut self) -> Result<Shipped, ExportError> {
        let log = self.job.log.clone();
        let mut file = std::fs::File::open(&log).map_err(|e| ExportError::log(&log, e))?;
        self.cursor.check(&mut file)?;
        file.seek(SeekFrom::Start(self.cursor.offset))
            .map_err(|e| ExportError::log(&log, e))?;
        let mut reader = BufReader::new(file);
        let mut shipped = Shipped {
            lines: 0,
            through: self.cursor.line,
        };
        loop {
            let mut batch = Vec::new();
            let mut offset = self.cursor.offset;
            let mut start = self.cursor.start;
            let mut last_hash = None;
            let mut buf = Vec::new();
            while batch.len() < BATCH {
                buf.clear();
                let n = reader
                    .read_until(b'\n', &mut buf)
                    .map_err(|e| ExportError::log(&log, e))?;
                if n == 0 || buf.last() != Some(&b'\n') {
                    break; // the end, or a line still being written
                }
                let content = &buf[..buf.len() - 1];
                start = offset;
                offset += n as u64;
                last_hash = Some(hex::encode(Sha256::digest(content)));
                let text = String::from_utf8_lossy(content).into_owned();
                let record = serde_json::from_str(&text)
                    .ok()
                    .filter(serde_json::Value::is_object);
                batch.push(otlp::Line {
                    number: self.cursor.line + batch.len() as u64 + 1,
                    text,
                    record,
                });
            }
            if batch.is_empty() {
                return Ok(shipped);
            }
            self.client.send(&batch).await?;
            let count = batch.len() as u64;
            self.cursor.line += count;
            self.cursor.offset = offset;
            self.cursor.start = start;
            self.cursor.hash = last_hash;
            self.cursor.save(&self.cursor_path)?;
            shipped.lines += count;
            shipped.through = self.cursor.line;
            if batch.len() < BATCH {
                return Ok(shipped);
            }
        }
    }
}

/// The background exporter; stops when dropped.
#[derive(Debug)]
pub struct Running {
    jobs: Vec<Job>,
    stop: Arc<Stop>,
    /// Closed when the exporter's thread ends.
    done: std::sync::mpsc::Receiver<()>,
}

impl Running {
    /// What it ships.
    pub fn jobs(&self) -> &[Job] {
        &self.jobs
    }
}

/// How long stopping waits for a batch in flight to be accepted and its
/// cursor saved; without the wait, a process that exits right after the
/// collector took a batch would send it again next time.
const STOP_GRACE: Duration = Duration::from_secs(2);

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.asked.store(true, Ordering::SeqCst);
        self.stop.wake.notify_one();
        let _ = self.done.recv_timeout(STOP_GRACE);
    }
}

/// How often the log's length is looked at.
const POLL: Duration = Duration::from_millis(200);

/// Starts shipping `jobs` on a thread of its own (`cordon-audit-export`):
/// whatever is new in each log is sent, failures are retried with a
/// backoff (1 s doubling up to 60 s) and reported once per new kind of
/// failure. `None` when there is nothing to ship.
pub fn spawn(jobs: Vec<Job>) -> Option<Running> {
    if jobs.is_empty() {
        return None;
    }
    let stop = Arc::new(Stop {
        asked: AtomicBool::new(false),
        wake: tokio::sync::Notify::new(),
    });
    let flag = Arc::clone(&stop);
    let work = jobs.clone();
    let (ended, done) = std::sync::mpsc::channel::<()>();
    let started = std::thread::Builder::new()
        .name("cordon-audit-export".into())
        .spawn(move || {
            let _ended = ended;
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("audit export: cannot start its runtime: {e}");
                    return;
                }
            };
            runtime.block_on(run(work, flag));
        });
    if let Err(e) = started {
        tracing::error!("audit export: cannot start its thread: {e}");
        return None;
    }
    Some(Running { jobs, stop, done })
}

struct Slot {
    job: Job,
    shipper: Option<Shipper>,
    retry_at: tokio::time::Instant,
    backoff: Duration,
    last_error: Option<String>,
}

/// Asks the exporter's thread to end, waking it from its pause.
#[derive(Debug)]
struct Stop {
    asked: AtomicBool,
    wake: tokio::sync::Notify,
}

async fn run(jobs: Vec<Job>, stop: Arc<Stop>) {
    let now = tokio::time::Instant::now();
    let mut slots: Vec<Slot> = jobs
        .into_iter()
        .map(|job| Slot {
            job,
            shipper: None,
            retry_at: now,
            backoff: Duration::from_secs(1),
            last_error: None,
        })
        .collect();
    while !stop.asked.load(Ordering::SeqCst) {
        for slot in &mut slots {
            if stop.asked.load(Ordering::SeqCst) {
                return;
            }
            if tokio::time::Instant::now() < slot.retry_at {
                continue;
            }
            let result = match &mut slot.shipper {
                Some(s) if !s.pending() => continue,
                Some(s) => s.ship().await,
                None => match Shipper::new(slot.job.clone(), false) {
                    Ok(s) => {
                        slot.shipper = Some(s);
                        continue;
                    }
                    Err(e) => Err(e),
                },
            };
            match result {
                Ok(shipped) => {
                    if slot.last_error.take().is_some() {
                        tracing::warn!(
                            "audit export to {}: delivering again (through line {})",
                            slot.job.destination.endpoint,
                            shipped.through
                        );
                    }
                    slot.backoff = Duration::from_secs(1);
                }
                Err(e) => {
                    let message = e.to_string();
                    if slot.last_error.as_deref() != Some(&message) {
                        tracing::warn!("audit export: {message}");
                        slot.last_error = Some(message);
                    }
                    if !e.is_transient() {
                        // Configuration may be fixed (a variable set, a CA
                        // file installed): build the shipper again.
                        slot.shipper = None;
                    }
                    slot.retry_at = tokio::time::Instant::now() + slot.backoff;
                    slot.backoff = (slot.backoff * 2).min(Duration::from_secs(60));
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            () = stop.wake.notified() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_environment_adds_a_destination() {
        let d = Destination::of_env(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b,x-team=core"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(d.origin, Origin::Environment);
        assert_eq!(d.headers["api-key"], HeaderValue::Given("a b".into()));
        assert_eq!(d.headers["x-team"], HeaderValue::Given("core".into()));
        assert!(Destination::of_env(env(&[])).unwrap().is_none());
    }

    #[test]
    fn bad_environment_values_say_what_to_set() {
        let e = Destination::of_env(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("http://localhost:4318"), "{e}");
        let e = Destination::of_env(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("http/protobuf only"), "{e}");
    }
}
