//! The usage page of `cordon audit report`: one self-contained HTML file
//! (inline CSS and SVG charts, no script or style from anywhere else, no
//! network fetch when opened) summarising audit logs: requests and tokens
//! per plugin, backend and model over time, denials and their reasons,
//! redactions, budget hits, and each log's chain verification.
//!
//! Counts are the log's: a model request is a `model` record with token
//! counts (the record the gate writes once a request ended), a denial is a
//! record with `"decision":"denied"`, a budget hit a denial whose reason is
//! a budget's (`requests_per_minute`, `tokens_per_day`). Every number is
//! also in a `data-*` attribute so that tests (and scripts) can read it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Figures for one group (a plugin, backend or model).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Model requests sent.
    pub requests: u64,
    /// Tokens sent to the model.
    pub input_tokens: u64,
    /// Tokens the model generated.
    pub output_tokens: u64,
    /// Denied decisions.
    pub denials: u64,
    /// Secrets redacted.
    pub redactions: u64,
}

impl Usage {
    fn add(&mut self, r: &Value) {
        let n = |k: &str| r.get(k).and_then(Value::as_u64).unwrap_or(0);
        if is_request(r) {
            self.requests += 1;
            self.input_tokens += n("input_tokens");
            self.output_tokens += n("output_tokens");
        }
        if is_denied(r) {
            self.denials += 1;
        }
        self.redactions += n("redactions");
    }
}

/// One log's chain verification.
#[derive(Debug, Clone)]
pub struct Chain {
    /// The log.
    pub path: PathBuf,
    /// `Ok(records)` when intact, else why not.
    pub status: Result<usize, String>,
    /// Torn lines (crash mid-write) the chain continues after.
    pub torn: usize,
}

/// What the page shows.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Lines read (records and torn lines).
    pub records: u64,
    /// Everything together.
    pub total: Usage,
    /// Budget hits.
    pub budget_hits: u64,
    /// Per plugin.
    pub plugins: BTreeMap<String, Usage>,
    /// Per backend.
    pub backends: BTreeMap<String, Usage>,
    /// Per model.
    pub models: BTreeMap<String, Usage>,
    /// Denials per reason.
    pub reasons: BTreeMap<String, u64>,
    /// Redactions per kind.
    pub redaction_kinds: BTreeMap<String, u64>,
    /// Per time bucket (RFC 3339 prefix: hour `YYYY-MM-DDTHH` or day
    /// `YYYY-MM-DD`), per plugin.
    pub timeline: BTreeMap<String, BTreeMap<String, Usage>>,
    /// Whether buckets are days (else hours).
    pub by_day: bool,
    /// First and last record time.
    pub span: Option<(String, String)>,
    /// Each log's chain.
    pub chains: Vec<Chain>,
}

fn is_request(r: &Value) -> bool {
    r.get("capability").and_then(Value::as_str) == Some("model") && r.get("input_tokens").is_some()
}

fn is_denied(r: &Value) -> bool {
    r.get("decision").and_then(Value::as_str) == Some("denied")
}

fn is_budget_hit(r: &Value) -> bool {
    is_denied(r)
        && r.get("reason")
            .and_then(Value::as_str)
            .is_some_and(|s| s.contains("requests_per_minute") || s.contains("tokens_per_day"))
}

/// Reads `logs` (each verified too) into a [`Report`].
pub fn build(logs: &[PathBuf]) -> Result<Report, String> {
    let mut records = Vec::new();
    let mut report = Report::default();
    for path in logs {
        let file = std::fs::File::open(path)
            .map_err(|e| format!("{}: cannot read it: {e}", path.display()))?;
        for line in std::io::BufReader::new(file).split(b'\n') {
            let line = line.map_err(|e| format!("{}: cannot read it: {e}", path.display()))?;
            report.records += 1;
            if let Ok(v) = serde_json::from_slice::<Value>(&line)
                && v.is_object()
            {
                records.push(v);
            }
        }
        report.chains.push(match cordon_policy::verify(path) {
            Ok(r) => Chain {
                path: path.clone(),
                status: Ok(r.records),
                torn: r.torn.len(),
            },
            Err(e) => Chain {
                path: path.clone(),
                status: Err(e.to_string()),
                torn: 0,
            },
        });
    }
    let time = |r: &Value| {
        r.get("time")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let mut times: Vec<String> = records.iter().map(time).filter(|t| t.len() >= 13).collect();
    times.sort();
    report.span = times
        .first()
        .zip(times.last())
        .map(|(a, b)| (a.clone(), b.clone()));
    // Hours while the logs cover at most three days, else days.
    report.by_day = report
        .span
        .as_ref()
        .is_some_and(|(a, b)| days_between(a, b) > 3);
    let text = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
    for r in &records {
        report.total.add(r);
        if is_budget_hit(r) {
            report.budget_hits += 1;
        }
        let plugin = text(r, "plugin").unwrap_or_else(|| "?".into());
        report.plugins.entry(plugin.clone()).or_default().add(r);
        if let Some(b) = text(r, "backend") {
            report.backends.entry(b).or_default().add(r);
        }
        if let Some(m) = text(r, "model") {
            report.models.entry(m).or_default().add(r);
        }
        if is_denied(r) {
            *report
                .reasons
                .entry(text(r, "reason").unwrap_or_default())
                .or_default() += 1;
        }
        if let Some(kinds) = r.get("redaction_kinds").and_then(Value::as_object) {
            for (k, v) in kinds {
                *report.redaction_kinds.entry(k.clone()).or_default() += v.as_u64().unwrap_or(0);
            }
        }
        let t = time(r);
        if t.len() >= 13 {
            let bucket = if report.by_day { &t[..10] } else { &t[..13] };
            report
                .timeline
                .entry(bucket.to_owned())
                .or_default()
                .entry(plugin)
                .or_default()
                .add(r);
        }
    }
    Ok(report)
}

fn days_between(a: &str, b: &str) -> u64 {
    match (
        crate::export::otlp::parse_time(a),
        crate::export::otlp::parse_time(b),
    ) {
        (Some(a), Some(b)) => b.duration_since(a).map_or(0, |d| d.as_secs() / 86_400),
        _ => 0,
    }
}

/// HTML-escapes `s`.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const PALETTE: [&str; 8] = [
    "#3b6fd4", "#d4793b", "#3ba55c", "#b03bd4", "#d43b5a", "#3bb8d4", "#8a8a3b", "#6b4f2a",
];

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1100px;color:#1d2330;padding:0 16px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde;padding-bottom:4px}\
.sub{color:#667}.cards{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}\
.card{border:1px solid #dde;border-radius:8px;padding:10px 14px;min-width:120px;background:#f8f9fc}\
.card b{display:block;font-size:22px}.card span{color:#667;font-size:12px}\
table{border-collapse:collapse;width:100%;margin:6px 0}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}th{cursor:pointer;background:#f3f4f8}\
.ok{color:#1f7a3a;font-weight:600}.bad{color:#b3261e;font-weight:600}.legend span{display:inline-block;margin-right:12px}\
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}svg{max-width:100%}";

/// Sorts a table by the clicked column. Inline: the page loads nothing.
const SCRIPT: &str = "document.querySelectorAll('table.sortable th').forEach(function(th,i){th.addEventListener('click',function(){\
var tb=th.closest('table').tBodies[0];var rows=Array.prototype.slice.call(tb.rows);var num=th.classList.contains('n');\
var dir=th.dataset.dir==='asc'?-1:1;th.dataset.dir=dir===1?'asc':'desc';rows.sort(function(a,b){var x=a.cells[i].textContent,y=b.cells[i].textContent;\
return num?dir*(parseFloat(x.replace(/,/g,''))-parseFloat(y.replace(/,/g,''))):dir*x.localeCompare(y);});rows.forEach(function(r){tb.appendChild(r);});});});\
document.documentElement.dataset.rendered='yes';";

fn card(out: &mut String, metric: &str, label: &str, value: u64) {
    let _ = write!(
        out,
        "<div class=\"card\"><b data-metric=\"{metric}\">{value}</b><span>{label}</span></div>"
    );
}

fn usage_table(out: &mut String, kind: &str, rows: &BTreeMap<String, Usage>) {
    if rows.is_empty() {
        out.push_str("<p class=\"sub\">none recorded</p>");
        return;
    }
    let _ = write!(
        out,
        "<table class=\"sortable\" data-table=\"{kind}\"><thead><tr><th>{kind}</th><th class=\"n\">requests</th><th class=\"n\">input tokens</th><th class=\"n\">output tokens</th><th class=\"n\">denials</th><th class=\"n\">redactions</th></tr></thead><tbody>"
    );
    for (name, u) in rows {
        let n = esc(name);
        let _ = write!(
            out,
            "<tr data-{kind}=\"{n}\"><td>{n}</td><td class=\"n\" data-metric=\"requests\">{}</td><td class=\"n\" data-metric=\"input_tokens\">{}</td><td class=\"n\" data-metric=\"output_tokens\">{}</td><td class=\"n\" data-metric=\"denials\">{}</td><td class=\"n\" data-metric=\"redactions\">{}</td></tr>",
            u.requests, u.input_tokens, u.output_tokens, u.denials, u.redactions
        );
    }
    out.push_str("</tbody></table>");
}

/// A stacked bar chart (inline SVG) of `value` per bucket and plugin.
fn chart(
    out: &mut String,
    title: &str,
    report: &Report,
    colors: &BTreeMap<String, &str>,
    value: impl Fn(&Usage) -> u64,
) {
    let buckets: Vec<(&String, &BTreeMap<String, Usage>)> = report.timeline.iter().collect();
    let max = buckets
        .iter()
        .map(|(_, per)| per.values().map(&value).sum::<u64>())
        .max()
        .unwrap_or(0);
    let (w, h, left, bottom) = (1000.0f64, 220.0f64, 50.0f64, 40.0f64);
    let _ = write!(
        out,
        "<svg role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\">",
        esc(title)
    );
    if max == 0 || buckets.is_empty() {
        out.push_str("<text x=\"60\" y=\"100\" fill=\"#667\">nothing recorded</text></svg>");
        return;
    }
    let plot_h = h - bottom - 10.0;
    let slot = (w - left - 10.0) / buckets.len() as f64;
    let bar = (slot * 0.8).clamp(1.0, 60.0);
    let _ = write!(
        out,
        "<line x1=\"{left}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#99a\"/><text x=\"{}\" y=\"16\" font-size=\"11\" text-anchor=\"end\" fill=\"#667\">{max}</text><text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\" fill=\"#667\">0</text>",
        10.0 + plot_h,
        w - 10.0,
        10.0 + plot_h,
        left - 4.0,
        left - 4.0,
        10.0 + plot_h
    );
    let label_every = (buckets.len() / 10).max(1);
    for (i, (bucket, per)) in buckets.iter().enumerate() {
        let x = left + i as f64 * slot + (slot - bar) / 2.0;
        let mut y = 10.0 + plot_h;
        for (plugin, u) in per.iter() {
            let v = value(u);
            if v == 0 {
                continue;
            }
            let bh = v as f64 / max as f64 * plot_h;
            y -= bh;
            let color = colors.get(plugin).copied().unwrap_or("#888");
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{bh:.1}\" fill=\"{color}\"><title>{} {}: {v}</title></rect>",
                esc(bucket),
                esc(plugin)
            );
        }
        if i % label_every == 0 {
            let label = if report.by_day {
                bucket.to_string()
            } else {
                format!("{}h", bucket.replace('T', " "))
            };
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#667\">{}</text>",
                x + bar / 2.0,
                h - bottom + 14.0,
                esc(&label)
            );
        }
    }
    out.push_str("</svg>");
}

/// The page for `report`.
pub fn html(report: &Report) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\"><title>Cordon usage</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body><h1>Cordon usage</h1><p class=\"sub\">");
    match &report.span {
        Some((a, b)) => {
            let _ = write!(out, "from {} to {}", esc(a), esc(b));
        }
        None => out.push_str("no records"),
    }
    let _ = write!(
        out,
        " · {} log{}</p><div class=\"cards\">",
        report.chains.len(),
        if report.chains.len() == 1 { "" } else { "s" }
    );
    card(&mut out, "records", "records", report.records);
    card(
        &mut out,
        "requests",
        "model requests",
        report.total.requests,
    );
    card(
        &mut out,
        "input_tokens",
        "input tokens",
        report.total.input_tokens,
    );
    card(
        &mut out,
        "output_tokens",
        "output tokens",
        report.total.output_tokens,
    );
    card(&mut out, "denials", "denials", report.total.denials);
    card(
        &mut out,
        "redactions",
        "secrets redacted",
        report.total.redactions,
    );
    card(&mut out, "budget_hits", "budget hits", report.budget_hits);
    out.push_str("</div><h2>Chain verification</h2><table data-table=\"chains\"><tbody>");
    for chain in &report.chains {
        let p = esc(&chain.path.display().to_string());
        match &chain.status {
            Ok(n) => {
                let torn = if chain.torn > 0 {
                    format!(
                        " ({} torn line{} skipped)",
                        chain.torn,
                        if chain.torn == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                };
                let _ = write!(
                    out,
                    "<tr data-chain=\"intact\"><td>{p}</td><td class=\"ok\">intact: {n} records{torn}</td></tr>"
                );
            }
            Err(e) => {
                let _ = write!(
                    out,
                    "<tr data-chain=\"broken\"><td>{p}</td><td class=\"bad\">broken: {}</td></tr>",
                    esc(e)
                );
            }
        }
    }
    out.push_str("</tbody></table>");
    let colors: BTreeMap<String, &str> = report
        .plugins
        .keys()
        .enumerate()
        .map(|(i, p)| (p.clone(), PALETTE[i % PALETTE.len()]))
        .collect();
    let per = if report.by_day { "day" } else { "hour" };
    out.push_str("<div class=\"legend\">");
    for (plugin, color) in &colors {
        let _ = write!(
            out,
            "<span><i style=\"background:{color}\"></i>{}</span>",
            esc(plugin)
        );
    }
    out.push_str("</div>");
    let _ = write!(out, "<h2>Model requests per {per}</h2>");
    chart(&mut out, "model requests over time", report, &colors, |u| {
        u.requests
    });
    let _ = write!(out, "<h2>Tokens per {per} (input + output)</h2>");
    chart(&mut out, "tokens over time", report, &colors, |u| {
        u.input_tokens + u.output_tokens
    });
    let _ = write!(out, "<h2>Denials per {per}</h2>");
    chart(&mut out, "denials over time", report, &colors, |u| {
        u.denials
    });
    out.push_str("<h2>Per plugin</h2>");
    usage_table(&mut out, "plugin", &report.plugins);
    out.push_str("<h2>Per backend</h2>");
    usage_table(&mut out, "backend", &report.backends);
    out.push_str("<h2>Per model</h2>");
    usage_table(&mut out, "model", &report.models);
    out.push_str("<h2>Denials by reason</h2>");
    if report.reasons.is_empty() {
        out.push_str("<p class=\"sub\">none</p>");
    } else {
        out.push_str("<table class=\"sortable\" data-table=\"reasons\"><thead><tr><th>reason</th><th class=\"n\">denials</th></tr></thead><tbody>");
        let mut reasons: Vec<_> = report.reasons.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (reason, n) in reasons {
            let _ = write!(
                out,
                "<tr><td>{}</td><td class=\"n\" data-metric=\"denials\">{n}</td></tr>",
                esc(reason)
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("<h2>Redactions by kind</h2>");
    if report.redaction_kinds.is_empty() {
        out.push_str("<p class=\"sub\">none</p>");
    } else {
        out.push_str("<table class=\"sortable\" data-table=\"redaction_kinds\"><thead><tr><th>kind</th><th class=\"n\">redacted</th></tr></thead><tbody>");
        for (kind, n) in &report.redaction_kinds {
            let _ = write!(
                out,
                "<tr data-kind=\"{k}\"><td>{k}</td><td class=\"n\" data-metric=\"redactions\">{n}</td></tr>",
                k = esc(kind)
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("<script>");
    out.push_str(SCRIPT);
    out.push_str("</script></body></html>\n");
    out
}

/// Builds the report of `logs` and writes the page to `out`.
pub fn write(logs: &[PathBuf], out: &Path) -> Result<Report, String> {
    let report = build(logs)?;
    std::fs::write(out, html(&report))
        .map_err(|e| format!("{}: cannot write the page: {e}", out.display()))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_log_is_escaped() {
        assert_eq!(esc("<script>\"&'"), "&lt;script&gt;&quot;&amp;&#39;");
    }
}
