//! The audit log: append-only JSON Lines, each line chained to the one
//! before it by sha256.
//!
//! # Format
//!
//! One JSON object per line, fields in this order: `v` (format version, 1),
//! `time` (RFC 3339, UTC, milliseconds), `plugin`, `digest`, `capability`,
//! `backend`, `provider`, `model`, `region`, `input_tokens`,
//! `output_tokens`, `bytes_sent`, `redactions`, `redaction_kinds`,
//! `decision` (`allowed` / `denied`), `layer`, `reason`, `prompt` (only in
//! logs whose policy says `prompts = true`), for model calls the join
//! fields of [`CallFacts`] (`call`, `endpoint`, `auth`, `processing`,
//! `guardrail`, `inference_geo`, `request_id`, `stop_reason`, `operation`),
//! then:
//!
//! - `prev`: the sha256 (lowercase hex) of the previous line's bytes,
//!   without its newline; for the first line, of the empty string
//!   ([`GENESIS`]);
//! - `hash`, always last: the sha256 of this line's bytes with the
//!   `,"hash":"…"` member removed (the line up to that member, then `}`).
//!
//! Absent optional fields are omitted. So altering any byte of a line
//! breaks its `hash`, and removing, inserting or reordering lines breaks the
//! next line's `prev`; [`verify`] names the first line where that happens.
//!
//! # Limits
//!
//! - A hash chain detects edits by someone who does not rewrite the rest of
//!   the file; whoever can rewrite the whole file can forge a new chain.
//!   Keep an [`Anchor`] (the last line number and its hash, see
//!   [`AuditLog::anchor`]) somewhere else, or ship the log off the machine,
//!   to detect that and truncation at a line boundary
//!   ([`verify_with_anchor`]).
//! - Concurrent writers: the file is opened with `O_APPEND`, each record is
//!   written with one `write` of a whole line, and every append holds an
//!   exclusive advisory lock ([`std::fs::File::lock`]) while it reads the
//!   last line and writes, so that two processes keep one chain. Advisory
//!   locks bind only writers that take them (all `AuditLog`s do), and may
//!   not work on network file systems; there, use one log per host.
//! - A torn last line (a crash or a full disk mid-write) is kept as it is:
//!   the next append first ends it with a newline and chains to its bytes,
//!   and [`verify`] reports it in [`VerifyReport::torn`] instead of failing.
//!   A torn line at the very end of the file, with nothing chained after it,
//!   is reported as [`VerifyError::Incomplete`] (it is indistinguishable from
//!   truncation).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::{AuditSink, Decision, Layer};

/// `prev` of the first line: the sha256 of the empty string.
pub const GENESIS: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const HASH_MEMBER: &[u8] = b",\"hash\":\"";

/// One gate decision or model call, as written to the audit log.
///
/// Prompt text is never written unless the log was opened with
/// `prompts = true` ([`AuditLog::open_sink`], [`AuditLog::with_prompts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// When it happened (written as RFC 3339 UTC).
    pub time: SystemTime,
    /// The plugin's name.
    pub plugin: String,
    /// The sha256 of the plugin's build, if known.
    pub digest: Option<String>,
    /// The capability used: `model`, `workspace.read`, `log`, or a
    /// host event such as `load`.
    pub capability: String,
    /// The configured backend name, for model calls.
    pub backend: Option<String>,
    /// The provider kind, for model calls.
    pub provider: Option<String>,
    /// The model id, for model calls.
    pub model: Option<String>,
    /// The region, for model calls that have one.
    pub region: Option<String>,
    /// Tokens sent to the model.
    pub input_tokens: Option<u64>,
    /// Tokens the model generated.
    pub output_tokens: Option<u64>,
    /// Bytes sent to the backend.
    pub bytes_sent: Option<u64>,
    /// How many secrets were redacted from what was sent.
    pub redactions: usize,
    /// How many of each kind (see [`crate::redact::KINDS`]).
    pub redaction_kinds: BTreeMap<String, usize>,
    /// Whether the gate allowed it.
    pub allowed: bool,
    /// The layer whose rule decided, if any.
    pub layer: Option<Layer>,
    /// Why ([`Decision::reason`]).
    pub reason: String,
    /// The prompt text; written only to logs that allow prompts.
    pub prompt: Option<String>,
    /// Facts that join this record to the provider's own logs (model calls).
    pub call: CallFacts,
}

/// What a model call really did, so that its audit record can be joined to
/// the provider's own logs (Bedrock invocation logs, CloudTrail, the
/// Anthropic console). Every field is optional; absent ones are omitted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallFacts {
    /// Cordon's id for the call, shared by its admission and its request
    /// records, and sent to Bedrock as `requestMetadata.cordon_call`.
    pub call_id: Option<String>,
    /// The host (and port) the request went to, as the client resolved it.
    pub endpoint: Option<String>,
    /// The credential kind: `sigv4`, `bearer`, `api-key`, `none`.
    pub auth: Option<String>,
    /// Every region the request may be processed in (comma-separated), or
    /// `global`, or `opaque` for an application inference profile.
    pub processing: Option<String>,
    /// The Bedrock guardrail sent with the request (`id:version`).
    pub guardrail: Option<String>,
    /// Where the provider says the request ran (Anthropic `inference_geo`).
    pub inference_geo: Option<String>,
    /// The provider's request id (`x-amzn-RequestId`, Anthropic `request-id`).
    pub request_id: Option<String>,
    /// The provider's stop reason as it said it (`end_turn`,
    /// `guardrail_intervened`, …).
    pub stop_reason: Option<String>,
    /// The kind of request, named as OpenTelemetry's GenAI conventions name
    /// it: `chat` or `text_completion` (fill-in-the-middle).
    pub operation: Option<String>,
}

impl AuditRecord {
    /// A record of `decision` on `capability` for `plugin` at `time`, with
    /// every optional field empty.
    pub fn new(time: SystemTime, plugin: &str, capability: &str, decision: &Decision) -> Self {
        AuditRecord {
            time,
            plugin: plugin.to_owned(),
            digest: None,
            capability: capability.to_owned(),
            backend: None,
            provider: None,
            model: None,
            region: None,
            input_tokens: None,
            output_tokens: None,
            bytes_sent: None,
            redactions: 0,
            redaction_kinds: BTreeMap::new(),
            allowed: decision.allowed,
            layer: decision.layer,
            reason: decision.reason.clone(),
            prompt: None,
            call: CallFacts::default(),
        }
    }
}

#[derive(Serialize)]
struct Line<'a> {
    v: u32,
    time: String,
    plugin: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    digest: Option<&'a str>,
    capability: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    backend: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes_sent: Option<u64>,
    redactions: usize,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    redaction_kinds: &'a BTreeMap<String, usize>,
    decision: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    layer: Option<Layer>,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    call: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    endpoint: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    processing: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    guardrail: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inference_geo: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: Option<&'a str>,
    prev: &'a str,
}

/// Errors of writing the audit log.
#[derive(Debug, Error)]
pub enum AuditError {
    /// The log could not be opened, read or written.
    #[error(
        "{}: cannot write the audit log: {source}; check that its folder exists and is writable (Cordon refuses model calls it cannot audit)",
        path.display()
    )]
    Io {
        /// The log file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The path names something Cordon did not create as an audit log.
    #[error(
        "{}: refusing to write the audit log there: {why}; point `audit.path` at a new file or an existing Cordon audit log",
        path.display()
    )]
    NotOwned {
        /// The log file.
        path: PathBuf,
        /// What is there instead.
        why: String,
    },
}

/// The position of a log's last line, to keep elsewhere and check later
/// with [`verify_with_anchor`] (detects truncation and a rewritten chain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Anchor {
    /// 1-based number of the line.
    pub line: usize,
    /// The sha256 of that line's bytes (what the next line's `prev` is).
    pub hash: String,
}

/// An append-only, hash-chained JSONL audit log (see the module docs).
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    prompts: bool,
    /// File length after our last append and the hash of the line we
    /// wrote, to skip re-reading the tail when nobody else wrote since.
    cached: Option<(u64, String)>,
    /// Lines known to be in the file, when counted (for [`AuditLog::anchor`]).
    lines: Option<usize>,
}

impl AuditLog {
    /// Opens (creating it and its folder if needed, mode 0600) the log at
    /// `path` for appending, without prompt text.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AuditError> {
        let path = path.as_ref().to_owned();
        let io = |source| AuditError::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Never follow a link planted where the log should be: the
            // record would land in whatever it points at.
            options
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
        }
        let not_owned = |why: String| AuditError::NotOwned {
            path: path.clone(),
            why,
        };
        let mut file = match options.open(&path) {
            Ok(file) => file,
            Err(e)
                if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) =>
            {
                return Err(not_owned(format!("it is a symbolic link ({e})")));
            }
            Err(e) => return Err(io(e)),
        };
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(not_owned(
                "it is not a regular file (a device, pipe or folder)".into(),
            ));
        }
        // An existing file must already be an audit log: a path pointed at
        // a config file or a source file would otherwise be appended to.
        if meta.len() > 0 {
            let tail = last_line(&mut file, meta.len()).map_err(io)?;
            if !looks_like_record(&tail.bytes) {
                return Err(not_owned(
                    "it already holds something that is not a Cordon audit log".into(),
                ));
            }
        }
        Ok(AuditLog {
            path,
            file,
            prompts: false,
            cached: None,
            lines: None,
        })
    }

    /// Opens the log a policy layer names, with its `prompts` setting.
    pub fn open_sink(sink: &AuditSink) -> Result<Self, AuditError> {
        Ok(AuditLog::open(&sink.path)?.with_prompts(sink.prompts))
    }

    /// Whether [`AuditRecord::prompt`] is written (default `false`).
    pub fn with_prompts(mut self, prompts: bool) -> Self {
        self.prompts = prompts;
        self
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends `record` as one line chained to the current last line.
    pub fn append(&mut self, record: &AuditRecord) -> Result<(), AuditError> {
        let path = self.path.clone();
        let io = |source| AuditError::Io { path, source };
        // Unsupported locking (some file systems) degrades to O_APPEND only.
        let locked = match self.file.lock() {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::Unsupported => false,
            Err(e) => return Err(io(e)),
        };
        let result = self.append_locked(record);
        if locked {
            let _ = self.file.unlock();
        }
        result.map_err(io)
    }

    fn append_locked(&mut self, record: &AuditRecord) -> io::Result<()> {
        let len = self.file.metadata()?.len();
        let (prev, needs_newline) = match &self.cached {
            Some((cached_len, hash)) if *cached_len == len => (hash.clone(), false),
            _ => {
                self.lines = None;
                let tail = last_line(&mut self.file, len)?;
                (sha256_hex(&tail.bytes), tail.torn)
            }
        };
        let line = render(record, &prev, self.prompts)?;
        let line_hash = sha256_hex(&line);
        let mut bytes = Vec::with_capacity(line.len() + 2);
        if needs_newline {
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(&line);
        bytes.push(b'\n');
        self.file.write_all(&bytes)?;
        self.file.flush()?;
        self.cached = Some((len + bytes.len() as u64, line_hash));
        self.lines = self.lines.map(|n| n + 1 + usize::from(needs_newline));
        Ok(())
    }

    /// The current last line and its hash, to keep elsewhere (see
    /// [`verify_with_anchor`]). Counts the lines the first time.
    pub fn anchor(&mut self) -> Result<Option<Anchor>, AuditError> {
        let io = |source| AuditError::Io {
            path: self.path.clone(),
            source,
        };
        let mut reader = BufReader::new(File::open(&self.path).map_err(io)?);
        let mut line = Vec::new();
        let mut count = 0;
        let mut last = None;
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).map_err(io)? == 0 {
                break;
            }
            count += 1;
            let content = line.strip_suffix(b"\n").unwrap_or(&line);
            last = Some(sha256_hex(content));
        }
        self.lines = Some(count);
        Ok(last.map(|hash| Anchor { line: count, hash }))
    }
}

struct Tail {
    bytes: Vec<u8>,
    /// The file does not end with a newline.
    torn: bool,
}

/// The last line of the file (without its newline), reading backwards.
fn last_line(file: &mut File, len: u64) -> io::Result<Tail> {
    if len == 0 {
        return Ok(Tail {
            bytes: Vec::new(),
            torn: false,
        });
    }
    const CHUNK: u64 = 8192;
    let mut buf: Vec<u8> = Vec::new();
    let mut end = len;
    let mut torn = None;
    loop {
        let start = end.saturating_sub(CHUNK);
        let mut chunk = vec![0; (end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&buf);
        buf = chunk;
        let torn_now = *torn.get_or_insert(buf.last() != Some(&b'\n'));
        let body_end = if torn_now { buf.len() } else { buf.len() - 1 };
        if let Some(nl) = buf[..body_end].iter().rposition(|&b| b == b'\n') {
            return Ok(Tail {
                bytes: buf[nl + 1..body_end].to_vec(),
                torn: torn_now,
            });
        }
        if start == 0 {
            return Ok(Tail {
                bytes: buf[..body_end].to_vec(),
                torn: torn_now,
            });
        }
        end = start;
    }
}

/// Whether `line` is one of our records (or a torn piece of one).
fn looks_like_record(line: &[u8]) -> bool {
    line.starts_with(b"{\"v\":") || line.is_empty()
}

/// The line for `record`, without newline.
fn render(record: &AuditRecord, prev: &str, prompts: bool) -> io::Result<Vec<u8>> {
    let line = Line {
        v: 1,
        time: rfc3339(record.time),
        plugin: &record.plugin,
        digest: record.digest.as_deref(),
        capability: &record.capability,
        backend: record.backend.as_deref(),
        provider: record.provider.as_deref(),
        model: record.model.as_deref(),
        region: record.region.as_deref(),
        input_tokens: record.input_tokens,
        output_tokens: record.output_tokens,
        bytes_sent: record.bytes_sent,
        redactions: record.redactions,
        redaction_kinds: &record.redaction_kinds,
        decision: if record.allowed { "allowed" } else { "denied" },
        layer: record.layer,
        reason: &record.reason,
        prompt: if prompts {
            record.prompt.as_deref()
        } else {
            None
        },
        call: record.call.call_id.as_deref(),
        endpoint: record.call.endpoint.as_deref(),
        auth: record.call.auth.as_deref(),
        processing: record.call.processing.as_deref(),
        guardrail: record.call.guardrail.as_deref(),
        inference_geo: record.call.inference_geo.as_deref(),
        request_id: record.call.request_id.as_deref(),
        stop_reason: record.call.stop_reason.as_deref(),
        operation: record.call.operation.as_deref(),
        prev,
    };
    let mut body = serde_json::to_vec(&line).map_err(io::Error::other)?;
    let hash = sha256_hex(&body);
    body.pop(); // the closing brace
    body.extend_from_slice(HASH_MEMBER);
    body.extend_from_slice(hash.as_bytes());
    body.extend_from_slice(b"\"}");
    Ok(body)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `SystemTime` as RFC 3339 UTC with milliseconds: `2025-01-31T12:00:00.000Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// What [`verify`] found in an intact log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Lines in the file.
    pub lines: usize,
    /// Records whose hash and chain check out.
    pub records: usize,
    /// Lines that are torn writes (a crash mid-write) with the chain
    /// continuing after them; 1-based.
    pub torn: Vec<usize>,
    /// The last line, to keep as an [`Anchor`]; `None` for an empty log.
    pub anchor: Option<Anchor>,
}

/// Why a log failed verification. Line numbers are 1-based.
#[derive(Debug, Error)]
pub enum VerifyError {
    /// The log could not be read.
    #[error("{}: cannot read the audit log: {source}", path.display())]
    Io {
        /// The log file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A line's content does not match its own hash.
    #[error(
        "line {line} was altered: its content does not match its hash; the log cannot be trusted from line {line} on"
    )]
    Altered {
        /// The altered line.
        line: usize,
    },
    /// A line's `prev` is not the hash of the line before it.
    #[error(
        "line {line} does not follow the line before it: a line was removed, inserted or reordered just before line {line}; the log cannot be trusted from there on"
    )]
    Chain {
        /// The first line whose `prev` does not match.
        line: usize,
    },
    /// The last line has no end: the file was truncated (or a write was
    /// interrupted and nothing was written since).
    #[error("line {line} is incomplete: the log was truncated there, or a write was interrupted")]
    Incomplete {
        /// The incomplete line.
        line: usize,
    },
    /// A line is not an audit record.
    #[error("line {line} is not an audit record ({reason}); the log was edited or damaged there")]
    Malformed {
        /// The line.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The log no longer has the line an anchor remembers, or it differs.
    #[error(
        "the log does not contain line {line} as anchored (it has {lines} lines now): it was truncated or rewritten after that anchor was taken"
    )]
    Anchor {
        /// The anchored line.
        line: usize,
        /// Lines the log has now.
        lines: usize,
    },
}

/// Checks every line's hash and the chain of `prev` hashes of the log at
/// `path`, streaming it line by line. An empty or missing-but-creatable log
/// is not accepted: a missing file is an I/O error.
pub fn verify(path: impl AsRef<Path>) -> Result<VerifyReport, VerifyError> {
    verify_with_anchor(path, None)
}

/// [`verify`], and also check that line `anchor.line` still has hash
/// `anchor.hash` (so the log was neither truncated nor rewritten since the
/// anchor was taken).
pub fn verify_with_anchor(
    path: impl AsRef<Path>,
    anchor: Option<&Anchor>,
) -> Result<VerifyReport, VerifyError> {
    let path = path.as_ref();
    let io = |source| VerifyError::Io {
        path: path.to_owned(),
        source,
    };
    let mut reader = BufReader::new(File::open(path).map_err(io)?);
    let mut buf = Vec::new();
    let mut report = VerifyReport {
        lines: 0,
        records: 0,
        torn: Vec::new(),
        anchor: None,
    };
    // The hash of the previous line's bytes, and whether it was torn (and
    // at which line).
    let mut prev = GENESIS.to_owned();
    let mut pending_torn: Option<usize> = None;
    let mut anchor_ok = anchor.is_none();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(io)? == 0 {
            break;
        }
        report.lines += 1;
        let line_no = report.lines;
        let has_newline = buf.last() == Some(&b'\n');
        let content = if has_newline {
            &buf[..buf.len() - 1]
        } else {
            &buf[..]
        };
        let own = sha256_hex(content);
        if let Some(a) = anchor
            && a.line == line_no
        {
            anchor_ok = a.hash == own;
        }
        match check_line(content) {
            Ok(fields) => {
                if !fields.hash_ok {
                    return Err(VerifyError::Altered { line: line_no });
                }
                if fields.prev != prev {
                    return Err(match pending_torn {
                        Some(torn) => VerifyError::Malformed {
                            line: torn,
                            reason: "a damaged line that the next record does not chain to".into(),
                        },
                        None => VerifyError::Chain { line: line_no },
                    });
                }
                if let Some(torn) = pending_torn.take() {
                    report.torn.push(torn);
                }
                report.records += 1;
            }
            Err(_) => {
                if !has_newline {
                    return Err(VerifyError::Incomplete { line: line_no });
                }
                if let Some(torn) = pending_torn {
                    return Err(VerifyError::Malformed {
                        line: torn,
                        reason: "a damaged line followed by another damaged line".into(),
                    });
                }
                if content.is_empty() {
                    return Err(VerifyError::Malformed {
                        line: line_no,
                        reason: "an empty line".into(),
                    });
                }
                // Possibly a torn write; acceptable only if the next line
                // chains to it.
                pending_torn = Some(line_no);
            }
        }
        prev = own;
    }
    if let Some(torn) = pending_torn {
        return Err(VerifyError::Incomplete { line: torn });
    }
    if let Some(a) = anchor
        && (!anchor_ok || a.line > report.lines)
    {
        return Err(VerifyError::Anchor {
            line: a.line,
            lines: report.lines,
        });
    }
    report.anchor = (report.lines > 0).then_some(Anchor {
        line: report.lines,
        hash: prev,
    });
    Ok(report)
}

struct Fields {
    prev: String,
    hash_ok: bool,
}

/// Parses one line: a JSON object whose last member is `"hash":"<64 hex>"`
/// and that has a string `prev`.
fn check_line(content: &[u8]) -> Result<Fields, String> {
    const SUFFIX_LEN: usize = HASH_MEMBER.len() + 64 + 2;
    if content.len() < SUFFIX_LEN + 2 || !content.ends_with(b"\"}") {
        return Err("it does not end with a hash".into());
    }
    let split = content.len() - SUFFIX_LEN;
    let (body, suffix) = content.split_at(split);
    if !suffix.starts_with(HASH_MEMBER) {
        return Err("it does not end with a hash".into());
    }
    let hash = &suffix[HASH_MEMBER.len()..HASH_MEMBER.len() + 64];
    if !hash
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
        return Err("its hash is not lowercase hex".into());
    }
    let value: serde_json::Value =
        serde_json::from_slice(content).map_err(|e| format!("invalid JSON: {e}"))?;
    let prev = value
        .get("prev")
        .and_then(|p| p.as_str())
        .ok_or("it has no `prev`")?
        .to_owned();
    let mut hashed = Vec::with_capacity(body.len() + 1);
    hashed.extend_from_slice(body);
    hashed.push(b'}');
    Ok(Fields {
        prev,
        hash_ok: sha256_hex(&hashed).as_bytes() == hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn genesis_is_hash_of_empty() {
        assert_eq!(sha256_hex(b""), GENESIS);
    }

    #[test]
    fn rfc3339_known_dates() {
        let t = |s| SystemTime::UNIX_EPOCH + Duration::from_millis(s);
        assert_eq!(rfc3339(t(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(t(951_782_400_000)), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(t(1_735_689_599_999)), "2024-12-31T23:59:59.999Z");
    }
}
