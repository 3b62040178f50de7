//! Secret redaction: find common secrets in text that is about to leave the
//! machine and replace them with placeholders.
//!
//! # Detectors
//!
//! | kind | finds |
//! | --- | --- |
//! | `private-key` | `-----BEGIN … PRIVATE KEY-----` blocks up to the matching `END` line, or to the end of the base64 body when a context window cut the block |
//! | `aws-access-key` | AWS access key ids (`AKIA…`, `ASIA…` and the other 4-letter prefixes, 20 characters) |
//! | `aws-secret-key` | 40-character secret keys assigned to `aws_secret_access_key` and similar names |
//! | `github-token` | `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` tokens and fine-grained `github_pat_` tokens |
//! | `slack-token` | `xoxb-`, `xoxp-`, `xoxa-`, `xoxo-`, `xoxr-`, `xoxs-` tokens |
//! | `slack-webhook` | `https://hooks.slack.com/services/…` URLs |
//! | `anthropic-key` | `sk-ant-…` keys |
//! | `openai-key` | `sk-…` / `sk-proj-…` keys (mixed case and digits required) |
//! | `jwt` | JSON Web Tokens (`eyJ….eyJ….…`) |
//! | `bearer-token` | the credential after `Bearer` or in an `Authorization:` header |
//! | `url-credentials` | the password in `scheme://user:password@host` |
//! | `generic-secret` | a value assigned to a key ending in `password`, `passwd`, `pwd`, `secret`, `token`, `api_key`, `apikey`, `access_key`, `secret_key`, `private_key`, `client_secret`, `auth_key`, `credential(s)` whose characters look random (Shannon entropy threshold, mixed character classes) |
//!
//! Only the secret itself is replaced (`aws_secret_access_key =
//! [REDACTED:aws-secret-key]`), so the model still sees the shape of the
//! code.
//!
//! # What is deliberately not redacted
//!
//! Bare hex or base64 strings are not secrets by themselves: commit ids,
//! `Cargo.lock` checksums, `package-lock.json` integrity hashes, UUIDs and
//! test vectors are everywhere in ordinary code, and redacting them would
//! damage completions. They are redacted only when assigned to a
//! secret-like key (`token = "…"`). Passphrases made only of lowercase
//! words, short passwords (under 8 characters) and values that look like
//! identifiers, paths, URLs or environment-variable references are not
//! redacted by the generic detector.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// The result of [`redact`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Redacted {
    /// The text with every secret found replaced by `[REDACTED:<kind>]`.
    pub text: String,
    /// How many secrets were replaced.
    pub count: usize,
    /// How many of each kind (see [`KINDS`]).
    pub kinds: BTreeMap<&'static str, usize>,
}

/// Every kind of secret [`redact`] detects, in priority order.
pub const KINDS: [&str; 12] = [
    "private-key",
    "aws-access-key",
    "github-token",
    "slack-token",
    "slack-webhook",
    "anthropic-key",
    "openai-key",
    "jwt",
    "aws-secret-key",
    "bearer-token",
    "url-credentials",
    "generic-secret",
];

/// The placeholder that replaces a secret of `kind`.
pub fn placeholder(kind: &str) -> String {
    format!("[REDACTED:{kind}]")
}

struct Detector {
    kind: &'static str,
    regex: Regex,
    /// Finds the secret's byte range inside a match, if it is one.
    accept: fn(&Captures<'_>, &str) -> Option<Range<usize>>,
}

/// The whole match.
fn whole(c: &Captures<'_>, _: &str) -> Option<Range<usize>> {
    c.get(0).map(|m| m.range())
}

/// The first participating capture group after the whole match.
fn group<'t>(c: &Captures<'t>) -> Option<regex::Match<'t>> {
    c.iter().skip(1).flatten().next()
}

/// Whether the byte after `end` ends a token (end of text or not one of
/// `also` or an ASCII alphanumeric).
fn ends_token(text: &str, end: usize, also: &[u8]) -> bool {
    text.as_bytes()
        .get(end)
        .is_none_or(|b| !(b.is_ascii_alphanumeric() || also.contains(b)))
}

/// Shannon entropy in bits per character.
pub(crate) fn entropy(s: &str) -> f64 {
    let mut counts: BTreeMap<char, usize> = BTreeMap::new();
    let mut n = 0usize;
    for c in s.chars() {
        *counts.entry(c).or_default() += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    counts
        .values()
        .map(|&k| {
            let p = k as f64 / n as f64;
            -p * p.log2()
        })
        .sum()
}

/// Character classes present: lowercase, uppercase, digit, other (other
/// than the word separators `.`, `_`, `-`).
fn classes(s: &str) -> (bool, bool, bool, bool) {
    let mut c = (false, false, false, false);
    for b in s.bytes() {
        match b {
            b'a'..=b'z' => c.0 = true,
            b'A'..=b'Z' => c.1 = true,
            b'0'..=b'9' => c.2 = true,
            b'.' | b'_' | b'-' => {}
            _ => c.3 = true,
        }
    }
    c
}

fn class_count(s: &str) -> usize {
    let (a, b, c, d) = classes(s);
    [a, b, c, d].into_iter().filter(|x| *x).count()
}

/// Whether a value assigned to a secret-like key looks like a real secret.
fn looks_secret(value: &str, quoted: bool) -> bool {
    let len = value.chars().count();
    if !(8..=512).contains(&len) {
        return false;
    }
    // Placeholders (ours included), references and templates, not values.
    if value.contains("[REDACTED:")
        || value.starts_with('$')
        || value.starts_with('%')
        || value.contains("${")
        || value.contains("{{")
        || value.contains("{}")
        || value.contains('<')
        || value.contains("://")
        || value.starts_with('/')
        || value.starts_with("./")
        || value.starts_with("~/")
    {
        return false;
    }
    // Environment variable names and constants: `GITHUB_TOKEN`.
    if value
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    {
        return false;
    }
    // Member paths: `self.config.token2`.
    let is_ident = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    if value.contains('.') && value.split('.').all(is_ident) {
        return false;
    }
    let e = entropy(value);
    if quoted {
        class_count(value) >= 2 && e >= 3.0
    } else {
        let (lower, upper, digit, _) = classes(value);
        len >= 12 && digit && (lower || upper) && e >= 3.3
    }
}

/// Extends a `BEGIN … PRIVATE KEY` header over its block: up to the `END`
/// line when there is one before the next `BEGIN`, else (a context window
/// cut the block) over the following base64 and header lines. Accepted only
/// with a base64 body, so a PEM parser's constants are left alone.
fn private_key_block(c: &Captures<'_>, text: &str) -> Option<Range<usize>> {
    let header = c.get(0)?;
    let after = header.end();
    let rest = &text[after..];
    let limit = rest.find("-----BEGIN").unwrap_or(rest.len());
    let end = match rest[..limit].find("-----END") {
        Some(i) => {
            let marker = i + "-----END".len();
            match rest[marker..limit].find("-----") {
                Some(j) if j <= 40 => after + marker + j + "-----".len(),
                _ => after + marker,
            }
        }
        None => {
            let mut end = 0;
            let mut offset = 0;
            let mut after_header = false;
            for line in rest[..limit].split_inclusive('\n') {
                let content = line.trim_end_matches(['\n', '\r']).trim();
                let unescaped = content.replace("\\n", "").replace("\\r", "");
                let base64 = !unescaped.is_empty()
                    && unescaped
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
                let pem_header = content.split_once(": ").is_some_and(|(name, _)| {
                    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
                });
                let blank_after_header = content.is_empty() && after_header;
                if offset == 0 && content.is_empty() {
                    // The rest of the BEGIN line.
                } else if !(base64 || pem_header || blank_after_header) {
                    break;
                }
                after_header = pem_header;
                offset += line.len();
                if !content.is_empty() {
                    end = offset - (line.len() - line.trim_end().len());
                }
            }
            after + end
        }
    };
    let longest_run = text[after..end]
        .bytes()
        .fold((0usize, 0usize), |(run, best), b| {
            if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' {
                (run + 1, best.max(run + 1))
            } else {
                (0, best)
            }
        })
        .1;
    (longest_run >= 40).then_some(header.start()..end)
}

static DETECTORS: LazyLock<Vec<Detector>> = LazyLock::new(|| {
    const B: &str = r"(?-u:\b)";
    let d = |kind, pattern: &str, accept| Detector {
        kind,
        regex: Regex::new(pattern).expect("built-in redaction pattern compiles"),
        accept,
    };
    vec![
        d(
            "private-key",
            r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----",
            private_key_block,
        ),
        d(
            "aws-access-key",
            &format!(
                "{B}(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{{16}}{B}"
            ),
            whole,
        ),
        d(
            "github-token",
            &format!("{B}(?:gh[pousr]_[A-Za-z0-9]{{36,255}}|github_pat_[A-Za-z0-9_]{{22,255}}){B}"),
            whole,
        ),
        d(
            "slack-token",
            &format!("{B}xox[abposr]-[A-Za-z0-9-]{{10,250}}"),
            whole,
        ),
        d(
            "slack-webhook",
            r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{10,}",
            whole,
        ),
        d(
            "anthropic-key",
            &format!("{B}sk-ant-[A-Za-z0-9_-]{{20,}}"),
            whole,
        ),
        d(
            "openai-key",
            &format!("{B}sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{{20,}}"),
            |c, _| {
                let m = c.get(0)?;
                let s = m.as_str();
                let (lower, upper, digit, _) = classes(s);
                (!s.starts_with("sk-ant-") && lower && upper && digit).then(|| m.range())
            },
        ),
        d(
            "jwt",
            &format!("{B}eyJ[A-Za-z0-9_-]{{5,}}\\.eyJ[A-Za-z0-9_-]{{5,}}\\.[A-Za-z0-9_-]{{10,}}"),
            whole,
        ),
        d(
            "aws-secret-key",
            r#"(?i-u:aws_?secret_?access_?key|aws_?secret_?key|aws_?secret|secret_?access_?key)["']?[ \t]*(?::=|=>|=|:)[ \t]*["']?([A-Za-z0-9/+]{40})"#,
            |c, text| {
                let m = group(c)?;
                ends_token(text, m.end(), b"/+=").then(|| m.range())
            },
        ),
        d(
            "bearer-token",
            &format!(
                r#"{B}(?:(?i-u:bearer)[ \t]+([A-Za-z0-9._~+/-]{{16,}}=*)|(?i-u:authorization)["']?[ \t]*[:=][ \t]*["']?(?:(?i-u:basic|token|bearer)[ \t]+)?([A-Za-z0-9._~+/-]{{12,}}=*))"#
            ),
            |c, _| {
                let m = group(c)?;
                let v = m.as_str();
                let (_, _, digit, _) = classes(v);
                ((digit || v.len() >= 32) && entropy(v) >= 3.0).then(|| m.range())
            },
        ),
        d(
            "url-credentials",
            &format!(
                r#"{B}[A-Za-z][A-Za-z0-9+.-]{{1,20}}://[^\s:/@"'<>]{{1,64}}:([^\s:/@"'<>]{{3,128}})@"#
            ),
            |c, _| {
                let m = group(c)?;
                let v = m.as_str();
                (!v.starts_with('$') && !v.contains('{') && !v.starts_with('<')).then(|| m.range())
            },
        ),
        d(
            "generic-secret",
            r#"(?i-u:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|client[_-]?secret|auth[_-]?key|credentials?)["']?[ \t]*(?::=|=>|=|:)[ \t]*(?:"([^"\s\\]{8,})"|'([^'\s\\]{8,})'|`([^`\s\\]{8,})`|([A-Za-z0-9+/=_~!@#$%^*.-]{12,}))"#,
            |c, text| {
                let quoted = c.get(1).or(c.get(2)).or(c.get(3));
                match (quoted, c.get(4)) {
                    (Some(m), _) => looks_secret(m.as_str(), true).then(|| m.range()),
                    (None, Some(m)) => {
                        let next = text.as_bytes().get(m.end());
                        let ends = next
                            .is_none_or(|b| b.is_ascii_whitespace() || b",;})]&\"'".contains(b));
                        (ends && looks_secret(m.as_str(), false)).then(|| m.range())
                    }
                    (None, None) => None,
                }
            },
        ),
    ]
});

/// Finds the secrets in `text` and replaces each with
/// `[REDACTED:<kind>]` ([`placeholder`]).
///
/// The host calls this on everything it sends to a remote backend (when
/// [`Effective::redact_secrets`](crate::Effective::redact_secrets) is on)
/// and records `count`/`kinds` in the audit log; the secrets themselves are
/// never logged. Overlapping findings are merged, so no part of a secret
/// survives because two detectors disagreed on its bounds.
pub fn redact(text: &str) -> Redacted {
    // (range, priority) of every finding.
    let mut found: Vec<(Range<usize>, usize)> = Vec::new();
    for (priority, detector) in DETECTORS.iter().enumerate() {
        for caps in detector.regex.captures_iter(text) {
            if let Some(range) = (detector.accept)(&caps, text)
                && !range.is_empty()
            {
                found.push((range, priority));
            }
        }
    }
    if found.is_empty() {
        return Redacted {
            text: text.to_owned(),
            ..Redacted::default()
        };
    }
    found.sort_by_key(|(r, p)| (r.start, *p));
    // Merge overlaps; the merged span keeps the kind of its first finding.
    let mut merged: Vec<(Range<usize>, usize)> = Vec::with_capacity(found.len());
    for (range, priority) in found {
        match merged.last_mut() {
            Some((last, _)) if range.start < last.end => last.end = last.end.max(range.end),
            _ => merged.push((range, priority)),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut kinds = BTreeMap::new();
    let mut at = 0;
    for (range, priority) in &merged {
        let kind = DETECTORS[*priority].kind;
        out.push_str(&text[at..range.start]);
        out.push_str(&placeholder(kind));
        at = range.end;
        *kinds.entry(kind).or_insert(0) += 1;
    }
    out.push_str(&text[at..]);
    Redacted {
        text: out,
        count: merged.len(),
        kinds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_match_detectors() {
        let kinds: Vec<&str> = DETECTORS.iter().map(|d| d.kind).collect();
        assert_eq!(kinds, KINDS);
    }

    #[test]
    fn entropy_of_simple_strings() {
        assert_eq!(entropy(""), 0.0);
        assert_eq!(entropy("aaaa"), 0.0);
        assert!((entropy("abcd") - 2.0).abs() < 1e-9);
    }
}
