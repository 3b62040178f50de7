//! Audit records as OpenTelemetry data, sent with the `opentelemetry-otlp`
//! exporters over HTTP/protobuf.
//!
//! Every line of the log becomes one OTLP log record: its body is the line
//! exactly as written (so a receiver can check the chain itself), its
//! attributes are the record's fields under `cordon.*`, with the GenAI
//! semantic-convention names where one exists, and `cordon.record_hash` so
//! that a receiver can drop the duplicates that at-least-once delivery
//! allows. Every model call (a request record, with its tokens, or a
//! denied model decision) also becomes a span following the GenAI
//! conventions (`gen_ai.operation.name`, `gen_ai.provider.name`,
//! `gen_ai.request.model`, `gen_ai.usage.*`), with ids derived from the
//! record so that a resend is the same span.
//!
//! The exporters are given their own HTTP client ([`Transport`]): it sends
//! exactly the headers of the destination (the SDK would otherwise add
//! `OTEL_EXPORTER_OTLP_HEADERS` to every destination, the organisation's
//! included), trusts the destination's CA file, and keeps the collector's
//! own answer so that a refusal is reported with its status and text.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::{LogBatch, LogExporter as _, SdkLogRecord, SdkLoggerProvider};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Destination, ExportError};

/// How long one request to the collector may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The most of the collector's answer kept for a message.
const ANSWER_BYTES: usize = 512;

/// One line of the log, parsed.
#[derive(Debug, Clone)]
pub struct Line {
    /// 1-based line number.
    pub number: u64,
    /// The line's bytes, without newline.
    pub text: String,
    /// The record, if the line is one (a torn write is not).
    pub record: Option<Value>,
}

/// The exporters of one destination.
pub struct Client {
    logs: opentelemetry_otlp::LogExporter,
    spans: opentelemetry_otlp::SpanExporter,
    transport: Transport,
    provider: SdkLoggerProvider,
    scope: InstrumentationScope,
    /// Admission times of model calls seen lately (call id → time), so a
    /// call's span starts when it was admitted.
    admitted: HashMap<String, SystemTime>,
    log_path: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.transport.endpoint)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// The exporters for `destination`, shipping the log at `log_path`.
    pub fn new(destination: &Destination, log_path: &std::path::Path) -> Result<Self, ExportError> {
        let transport = Transport::new(destination)?;
        let base = destination.endpoint.trim_end_matches('/');
        let build_err = |e: opentelemetry_otlp::ExporterBuildError| ExportError::Client {
            endpoint: destination.endpoint.clone(),
            reason: e.to_string(),
        };
        let mut logs = opentelemetry_otlp::LogExporter::builder()
            .with_http()
            .with_http_client(transport.clone())
            .with_endpoint(format!("{base}/v1/logs"))
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_timeout(TIMEOUT)
            .with_retry_policy(opentelemetry_otlp::RetryPolicy::disabled())
            .build()
            .map_err(build_err)?;
        let mut spans = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(transport.clone())
            .with_endpoint(format!("{base}/v1/traces"))
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_timeout(TIMEOUT)
            .with_retry_policy(opentelemetry_otlp::RetryPolicy::disabled())
            .build()
            .map_err(build_err)?;
        let resource = Resource::builder_empty()
            .with_attributes([
                KeyValue::new("service.name", "cordon"),
                KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
                KeyValue::new("host.name", host_name()),
            ])
            .build();
        logs.set_resource(&resource);
        spans.set_resource(&resource);
        let scope = InstrumentationScope::builder("cordon.audit")
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Ok(Client {
            logs,
            spans,
            transport,
            provider: SdkLoggerProvider::builder().build(),
            scope,
            admitted: HashMap::new(),
            log_path: log_path.display().to_string(),
        })
    }

    /// Sends `lines` (in order): their log records, then the spans of the
    /// model calls among them. `Ok` only when the collector accepted both.
    pub async fn send(&mut self, lines: &[Line]) -> Result<(), ExportError> {
        let logger = self.provider.logger_with_scope(self.scope.clone());
        let mut records = Vec::with_capacity(lines.len());
        let mut spans = Vec::new();
        for line in lines {
            let mut log = logger.create_log_record();
            fill_log(&mut log, line, &self.log_path);
            records.push(log);
            if let Some(span) = self.span(line) {
                spans.push(span);
            }
        }
        let batch: Vec<(&SdkLogRecord, &InstrumentationScope)> =
            records.iter().map(|r| (r, &self.scope)).collect();
        let result = self.logs.export(LogBatch::new(&batch)).await;
        self.transport.outcome(result.map_err(|e| e.to_string()))?;
        if !spans.is_empty() {
            let result = self.spans.export(spans).await;
            self.transport.outcome(result.map_err(|e| e.to_string()))?;
        }
        Ok(())
    }

    /// The span of a model call, if `line` records one.
    fn span(&mut self, line: &Line) -> Option<SpanData> {
        let record = line.record.as_ref()?;
        let text = |k: &str| record.get(k).and_then(Value::as_str);
        if text("capability") != Some("model") {
            return None;
        }
        let time = text("time")
            .and_then(parse_time)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let denied = text("decision") == Some("denied");
        let is_request = record.get("input_tokens").is_some();
        if let Some(call) = text("call")
            && !is_request
            && !denied
        {
            // The admission of a call: its span is the request record's.
            if self.admitted.len() > 10_000 {
                self.admitted.clear();
            }
            self.admitted.insert(call.to_owned(), time);
            return None;
        }
        // A capability denial before any backend was chosen has no model:
        // it stays a log record.
        if (!is_request && !denied) || text("model").is_none() {
            return None;
        }
        let hash = text("hash").unwrap_or_default();
        let start = text("call")
            .and_then(|c| self.admitted.remove(c))
            .unwrap_or(time);
        let (trace_id, span_id) = ids(text("call"), hash);
        // Logs written before the field existed were chat requests or FIM;
        // `chat` is the conventions' default for a model call.
        let operation = match text("operation") {
            Some("text_completion") => "text_completion",
            _ => "chat",
        };
        let model = text("model").unwrap_or("unknown");
        let mut attributes = vec![
            KeyValue::new("gen_ai.operation.name", operation),
            KeyValue::new("gen_ai.request.model", model.to_owned()),
        ];
        if let Some(provider) = text("provider") {
            attributes.push(KeyValue::new(
                "gen_ai.provider.name",
                provider_name(provider).to_owned(),
            ));
        }
        for (key, field) in [
            ("gen_ai.usage.input_tokens", "input_tokens"),
            ("gen_ai.usage.output_tokens", "output_tokens"),
        ] {
            if let Some(n) = record.get(field).and_then(Value::as_i64) {
                attributes.push(KeyValue::new(key, n));
            }
        }
        if let Some(id) = text("request_id") {
            attributes.push(KeyValue::new("gen_ai.response.id", id.to_owned()));
        }
        if let Some(stop) = text("stop_reason") {
            attributes.push(KeyValue::new(
                "gen_ai.response.finish_reasons",
                opentelemetry::Value::Array(
                    vec![opentelemetry::StringValue::from(stop.to_owned())].into(),
                ),
            ));
        }
        if let Some(endpoint) = text("endpoint") {
            attributes.push(KeyValue::new("server.address", endpoint.to_owned()));
        }
        attributes.extend(
            cordon_attributes(record, line, &self.log_path)
                .into_iter()
                .map(|(k, v)| KeyValue::new(k, any_to_value(v))),
        );
        let reason = text("reason").unwrap_or_default();
        let status = if denied {
            attributes.push(KeyValue::new("error.type", "cordon.denied"));
            Status::error(reason.to_owned())
        } else if let Some(outcome) = reason.strip_prefix("sent; outcome ")
            && outcome != "ok"
        {
            attributes.push(KeyValue::new("error.type", outcome.to_owned()));
            Status::error(reason.to_owned())
        } else {
            Status::Unset
        };
        Some(SpanData {
            span_context: SpanContext::new(
                trace_id,
                span_id,
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Client,
            name: Cow::Owned(format!("{operation} {model}")),
            start_time: start,
            end_time: time.max(start),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: self.scope.clone(),
        })
    }
}

/// The GenAI semantic conventions' `gen_ai.provider.name` for a provider
/// kind of the audit log.
pub fn provider_name(kind: &str) -> &str {
    match kind {
        "bedrock" => "aws.bedrock",
        "openai" => "openai",
        "anthropic" => "anthropic",
        "local" => "cordon.local",
        other => other,
    }
}

/// Trace id from the call id (all records of a call share it) or the
/// record; span id from the record's hash.
fn ids(call: Option<&str>, hash: &str) -> (TraceId, SpanId) {
    let trace = Sha256::digest(call.unwrap_or(hash).as_bytes());
    let span = Sha256::digest(hash.as_bytes());
    let mut t = [0u8; 16];
    t.copy_from_slice(&trace[..16]);
    let mut s = [0u8; 8];
    s.copy_from_slice(&span[..8]);
    (TraceId::from_bytes(t), SpanId::from_bytes(s))
}

/// The `cordon.*` attributes (and the GenAI names of the model fields) of
/// one line.
fn cordon_attributes(record: &Value, line: &Line, log: &str) -> Vec<(&'static str, AnyValue)> {
    let mut out: Vec<(&'static str, AnyValue)> = vec![
        ("cordon.log", AnyValue::from(log.to_owned())),
        ("cordon.line", AnyValue::Int(line.number as i64)),
    ];
    let text = |k: &str| record.get(k).and_then(Value::as_str).map(str::to_owned);
    for (key, field) in [
        ("cordon.record_hash", "hash"),
        ("cordon.prev_hash", "prev"),
        ("cordon.plugin", "plugin"),
        ("cordon.digest", "digest"),
        ("cordon.capability", "capability"),
        ("cordon.decision", "decision"),
        ("cordon.reason", "reason"),
        ("cordon.policy_layer", "layer"),
        ("cordon.backend", "backend"),
        ("cordon.region", "region"),
        ("cordon.call_id", "call"),
        ("cordon.endpoint", "endpoint"),
        ("cordon.auth", "auth"),
        ("cordon.processing", "processing"),
        ("cordon.guardrail", "guardrail"),
        ("cordon.inference_geo", "inference_geo"),
    ] {
        if let Some(v) = text(field) {
            out.push((key, AnyValue::from(v)));
        }
    }
    if let Some(n) = record.get("redactions").and_then(Value::as_i64) {
        out.push(("cordon.redactions", AnyValue::Int(n)));
    }
    if let Some(kinds) = record.get("redaction_kinds").and_then(Value::as_object) {
        let joined = kinds
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        out.push(("cordon.redaction_kinds", AnyValue::from(joined)));
    }
    if let Some(n) = record.get("bytes_sent").and_then(Value::as_i64) {
        out.push(("cordon.bytes_sent", AnyValue::Int(n)));
    }
    out
}

/// Fills an SDK log record from one line of the log.
fn fill_log(log: &mut SdkLogRecord, line: &Line, path: &str) {
    log.set_event_name("cordon.audit");
    log.set_observed_timestamp(SystemTime::now());
    log.set_body(AnyValue::from(line.text.clone()));
    let Some(record) = &line.record else {
        // A torn write: shipped as it is, so nothing goes missing.
        log.set_severity_number(Severity::Warn);
        log.set_severity_text("WARN");
        log.add_attribute("cordon.log", path.to_owned());
        log.add_attribute("cordon.line", line.number as i64);
        log.add_attribute("cordon.torn", true);
        log.add_attribute(
            "cordon.record_hash",
            hex::encode(Sha256::digest(line.text.as_bytes())),
        );
        return;
    };
    let text = |k: &str| record.get(k).and_then(Value::as_str);
    if let Some(time) = text("time").and_then(parse_time) {
        log.set_timestamp(time);
    }
    if text("decision") == Some("denied") {
        log.set_severity_number(Severity::Warn);
        log.set_severity_text("WARN");
    } else {
        log.set_severity_number(Severity::Info);
        log.set_severity_text("INFO");
    }
    for (key, value) in cordon_attributes(record, line, path) {
        log.add_attribute(key, value);
    }
    if let Some(provider) = text("provider") {
        log.add_attribute("gen_ai.provider.name", provider_name(provider).to_owned());
    }
    if let Some(model) = text("model") {
        log.add_attribute("gen_ai.request.model", model.to_owned());
    }
    for (key, field) in [
        ("gen_ai.usage.input_tokens", "input_tokens"),
        ("gen_ai.usage.output_tokens", "output_tokens"),
    ] {
        if let Some(n) = record.get(field).and_then(Value::as_i64) {
            log.add_attribute(key, n);
        }
    }
    if text("capability") == Some("model")
        && text("model").is_some()
        && (record.get("input_tokens").is_some() || text("decision") == Some("denied"))
    {
        let (trace, span) = ids(text("call"), text("hash").unwrap_or_default());
        log.set_trace_context(trace, span, Some(TraceFlags::SAMPLED));
    }
}

fn any_to_value(v: AnyValue) -> opentelemetry::Value {
    match v {
        AnyValue::Int(n) => opentelemetry::Value::I64(n),
        AnyValue::Boolean(b) => opentelemetry::Value::Bool(b),
        AnyValue::Double(d) => opentelemetry::Value::F64(d),
        AnyValue::String(s) => opentelemetry::Value::String(s),
        other => opentelemetry::Value::String(format!("{other:?}").into()),
    }
}

/// The time of a record, `YYYY-MM-DDTHH:MM:SS.mmmZ` as the log writes it.
pub fn parse_time(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[10] != b'T' || !s.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let millis = if b[19] == b'.' {
        num(20..s.len() - 1)?
    } else {
        0
    };
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss;
    let secs = u64::try_from(secs).ok()?;
    Some(
        SystemTime::UNIX_EPOCH
            + Duration::from_secs(secs)
            + Duration::from_millis(u64::try_from(millis).ok()?),
    )
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// What happened to the last request of a [`Transport`].
#[derive(Debug, Clone)]
enum Answer {
    Status { code: u16, body: String },
    Failed(String),
}

/// The HTTP client the exporters send through: the destination's headers
/// only, its CA, and the collector's last answer kept for messages.
#[derive(Clone)]
pub struct Transport {
    client: reqwest::Client,
    endpoint: String,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    last: Arc<Mutex<Option<Answer>>>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values are secrets: never printed.
        f.debug_struct("Transport")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Transport {
    fn new(destination: &Destination) -> Result<Self, ExportError> {
        let mut builder = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(ca) = &destination.ca_file {
            let pem = std::fs::read(ca).map_err(|e| ExportError::CaFile {
                path: ca.clone(),
                reason: e.to_string(),
            })?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ExportError::CaFile {
                    path: ca.clone(),
                    reason: format!("it is not a PEM bundle of certificates ({e})"),
                })?;
            if certs.is_empty() {
                return Err(ExportError::CaFile {
                    path: ca.clone(),
                    reason: "it holds no certificate".into(),
                });
            }
            builder = builder.tls_certs_merge(certs);
        }
        let client = builder.build().map_err(|e| ExportError::Client {
            endpoint: destination.endpoint.clone(),
            reason: e.to_string(),
        })?;
        let mut headers = Vec::new();
        for (name, value) in destination.header_values()? {
            let header = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ExportError::BadHeader {
                    header: name.clone(),
                }
            })?;
            let mut value =
                http::HeaderValue::from_str(&value).map_err(|_| ExportError::BadHeader {
                    header: name.clone(),
                })?;
            value.set_sensitive(true);
            headers.push((header, value));
        }
        Ok(Transport {
            client,
            endpoint: destination.endpoint.clone(),
            headers,
            last: Arc::new(Mutex::new(None)),
        })
    }

    /// Turns an exporter's result into ours, with the collector's answer.
    fn outcome(&self, result: Result<(), String>) -> Result<(), ExportError> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner()).take();
        match (result, last) {
            (Ok(()), _) => Ok(()),
            (Err(_), Some(Answer::Status { code, body }))
                if (400..500).contains(&code) && code != 429 =>
            {
                Err(ExportError::Refused {
                    endpoint: self.endpoint.clone(),
                    status: code,
                    answer: body,
                })
            }
            (Err(_), Some(Answer::Status { code, body })) => Err(ExportError::Unavailable {
                endpoint: self.endpoint.clone(),
                status: code,
                answer: body,
            }),
            (Err(_), Some(Answer::Failed(reason))) => Err(ExportError::Unreachable {
                endpoint: self.endpoint.clone(),
                reason,
            }),
            (Err(reason), None) => Err(ExportError::Client {
                endpoint: self.endpoint.clone(),
                reason,
            }),
        }
    }

    fn remember(&self, answer: Answer) {
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(answer);
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for Transport {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, opentelemetry_http::HttpError> {
        let (parts, body) = request.into_parts();
        let mut out = self.client.post(parts.uri.to_string()).body(body);
        // Only what describes the body comes from the SDK; every other
        // header is the destination's own.
        for name in [http::header::CONTENT_TYPE, http::header::CONTENT_ENCODING] {
            if let Some(v) = parts.headers.get(&name) {
                out = out.header(name, v.clone());
            }
        }
        for (name, value) in &self.headers {
            out = out.header(name.clone(), value.clone());
        }
        let response = match out.send().await {
            Ok(r) => r,
            Err(e) => {
                let mut reason = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    reason.push_str(": ");
                    reason.push_str(&s.to_string());
                    source = s.source();
                }
                self.remember(Answer::Failed(reason.clone()));
                return Err(reason.into());
            }
        };
        let status = response.status();
        let mut builder = http::Response::builder().status(status);
        for (k, v) in response.headers() {
            builder = builder.header(k, v);
        }
        let body = response.bytes().await.map_err(|e| {
            self.remember(Answer::Failed(format!("reading the answer: {e}")));
            e
        })?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(ANSWER_BYTES)])
                .trim()
                .to_owned();
            self.remember(Answer::Status {
                code: status.as_u16(),
                body: text,
            });
        }
        Ok(builder.body(body)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_with_the_log_writer() {
        for ms in [0u64, 951_782_400_000, 1_735_689_599_999, 1_764_590_000_123] {
            let t = SystemTime::UNIX_EPOCH + Duration::from_millis(ms);
            assert_eq!(parse_time(&cordon_policy::audit::rfc3339(t)), Some(t));
        }
        assert_eq!(parse_time("yesterday"), None);
    }
}
