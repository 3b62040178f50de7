//! The detectors, in [`KINDS`](super::KINDS) order.

use std::ops::Range;
use std::sync::LazyLock;

use regex::bytes::{CaptureLocations, Regex};

use super::assign::{self, Runs, classes, entropy};
use super::pem;

pub(super) struct Detector {
    /// The kinds it reports: one, or for the vendor-name detector one per
    /// vendor.
    pub(super) kinds: Vec<&'static str>,
    regex: Regex,
    /// Finds the secret's byte range from a match, if it is one.
    accept: Accept,
}

/// What a detector does with a match.
#[derive(Clone, Copy)]
enum Accept {
    /// Checks the match alone.
    Match(fn(&CaptureLocations, &str) -> Option<Range<usize>>),
    /// Reads the value after the match (with the scan's memo of runs).
    Value(fn(&CaptureLocations, &str, &mut Runs) -> Option<Range<usize>>),
    /// Reads the value after the match; the kind depends on the name.
    Named(NamedFn),
}

/// A secret's range and kind from a match and the text after it.
type NamedFn = fn(&CaptureLocations, &str, &mut Runs) -> Option<(Range<usize>, &'static str)>;

impl Detector {
    /// Calls `found` with the range and kind of every secret in `text`. A
    /// match that
    /// `accept` rejects is retried from its next character, so that a
    /// rejected candidate does not hide one that starts inside it; matches
    /// are bounded in length, so this stays linear.
    pub(super) fn find(&self, text: &str, mut found: impl FnMut(Range<usize>, &'static str)) {
        let mut locs = self.regex.capture_locations();
        let mut runs = Runs::default();
        let mut at = 0;
        while at <= text.len() {
            let Some(m) = self.regex.captures_read_at(&mut locs, text.as_bytes(), at) else {
                break;
            };
            let accepted = match self.accept {
                Accept::Match(f) => f(&locs, text).map(|r| (r, self.kinds[0])),
                Accept::Value(f) => f(&locs, text, &mut runs).map(|r| (r, self.kinds[0])),
                Accept::Named(f) => f(&locs, text, &mut runs),
            };
            match accepted {
                Some((range, kind)) if !range.is_empty() => {
                    found(range, kind);
                    at = if m.end() > m.start() {
                        m.end()
                    } else {
                        next_char(text, m.start())
                    };
                }
                _ => at = next_char(text, m.start()),
            }
        }
    }
}

/// The first character boundary after `at`.
fn next_char(text: &str, at: usize) -> usize {
    let mut next = at + 1;
    while next < text.len() && !text.is_char_boundary(next) {
        next += 1;
    }
    next
}

fn range(locs: &CaptureLocations, i: usize) -> Option<Range<usize>> {
    locs.get(i).map(|(s, e)| s..e)
}

/// The whole match.
fn whole(locs: &CaptureLocations, _: &str) -> Option<Range<usize>> {
    range(locs, 0)
}

/// The first participating capture group after the whole match.
fn group(locs: &CaptureLocations, _: &str) -> Option<Range<usize>> {
    (1..locs.len()).find_map(|i| range(locs, i))
}

/// Whether the byte at `end` ends a token (end of text or not one of
/// `also` or an ASCII alphanumeric).
fn ends_token(text: &str, end: usize, also: &[u8]) -> bool {
    text.as_bytes()
        .get(end)
        .is_none_or(|b| !(b.is_ascii_alphanumeric() || also.contains(b)))
}

/// The whole match if it ends a token that may contain `_` and `-`.
fn whole_token(locs: &CaptureLocations, text: &str) -> Option<Range<usize>> {
    let m = range(locs, 0)?;
    ends_token(text, m.end, b"_-").then_some(m)
}

/// The whole match if it has letters and digits (documentation's
/// `sk_live_xxxxxxxxxxxxxxxx` and `xoxb-your-token` are not secrets).
fn whole_random(locs: &CaptureLocations, text: &str) -> Option<Range<usize>> {
    let m = range(locs, 0)?;
    let (lower, upper, digit, _) = classes(&text[m.clone()]);
    (digit && (lower || upper) && entropy(&text[m.clone()]) >= 3.0).then_some(m)
}

/// The whole match if it ends a token (the next byte is not alphanumeric
/// or one of `also`) and has letters and digits ([`whole_random`]).
fn random_token(locs: &CaptureLocations, text: &str, also: &[u8]) -> Option<Range<usize>> {
    let m = range(locs, 0)?;
    ends_token(text, m.end, also)
        .then_some(())
        .and_then(|_| whole_random(locs, text))
}

/// The whole match if it has both lower- and upper-case letters.
fn whole_mixed_case(locs: &CaptureLocations, text: &str) -> Option<Range<usize>> {
    let m = range(locs, 0)?;
    let (lower, upper, _, _) = classes(&text[m.clone()]);
    (lower && upper).then_some(m)
}

/// The credential after `Bearer` or in an `Authorization` header.
fn bearer(locs: &CaptureLocations, text: &str) -> Option<Range<usize>> {
    let m = group(locs, text)?;
    let v = &text[m.clone()];
    let (_, _, digit, _) = classes(v);
    // Not a scheme (`AWS4-HMAC-SHA256 Credential=…`) or a member path
    // (`authorization = base64.decodebytes(…)`).
    let scheme = v.starts_with("AWS4-");
    let path = v.contains('.')
        && v.split('.').all(|p| {
            p.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
                && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
    ((digit || v.len() >= 32) && entropy(v) >= 3.0 && !scheme && !path).then_some(m)
}

/// The password of a URL, unless it is a placeholder or a parser's test
/// input: `user:password@`, `foo:bar@`, `****`, `${PASSWORD}`, non-ASCII
/// or bracketed.
fn url_password(locs: &CaptureLocations, text: &str) -> Option<Range<usize>> {
    let m = group(locs, text)?;
    let v = &text[m.clone()];
    let placeholder = (v.len() <= 10 && v.bytes().all(|b| b.is_ascii_lowercase()))
        || v.bytes().all(|b| b"*xX.".contains(&b))
        || v.bytes()
            .any(|b| !b.is_ascii() || b"()[]{}\\<$".contains(&b));
    (!placeholder).then_some(m)
}

pub(super) static DETECTORS: LazyLock<Vec<Detector>> = LazyLock::new(|| {
    const B: &str = r"\b";
    let build = |kinds: &[&'static str], pattern: &str, accept| Detector {
        kinds: kinds.to_vec(),
        // ASCII semantics throughout (`\w`, `\s`, `[^…]` match bytes): the
        // automata stay small and every boundary a pattern can match at is
        // an ASCII byte, hence a character boundary.
        regex: Regex::new(&format!("(?-u){}", pattern.replace("{B}", B)))
            .unwrap_or_else(|e| panic!("built-in redaction pattern for {kinds:?}: {e}")),
        accept,
    };
    let v = |kind, pattern: &str, accept| build(&[kind], pattern, accept);
    let d = |kind, pattern: &str, accept: fn(&CaptureLocations, &str) -> Option<Range<usize>>| {
        v(kind, pattern, Accept::Match(accept))
    };
    vec![
        d(
            "private-key",
            r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----",
            |locs, text| pem::private_key_block(range(locs, 0)?, text),
        ),
        d(
            "aws-access-key",
            "{B}(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA|A3T[A-Z0-9])[A-Z0-9]{16}{B}",
            whole,
        ),
        d(
            "github-token",
            "{B}(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}){B}",
            whole_random,
        ),
        d(
            "gitlab-token",
            r"{B}(?:gl(?:pat|dt|rt|ptt|cbt|imt|agent|oas|soat|ffct|ft)-[A-Za-z0-9_-]{20,255}(?:\.[0-9a-z]{2}\.?[0-9a-z]{7,9})?|GR1348941[A-Za-z0-9_-]{20,255})",
            |locs, text| whole_token(locs, text).and_then(|_| whole_random(locs, text)),
        ),
        d(
            "slack-token",
            r"{B}(?:xox[abposre]-[A-Za-z0-9-]{10,250}|xoxe\.xox[bp]-\d-[A-Za-z0-9]{100,250}|xapp-\d-[A-Z0-9]{6,20}-\d{6,20}-[a-z0-9]{20,100})",
            whole_random,
        ),
        d(
            "slack-webhook",
            r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{10,}",
            whole,
        ),
        d(
            "stripe-key",
            "{B}[rs]k_(?:live|test|prod)_[A-Za-z0-9]{10,99}{B}",
            whole_random,
        ),
        d("google-api-key", "{B}AIza[0-9A-Za-z_-]{35}", whole_token),
        d(
            "azure-storage-key",
            r"(?i:AccountKey)[ \t]*=[ \t]*([A-Za-z0-9+/]{40,100}={0,2})|[?&;]sig=([A-Za-z0-9%+/]{30,200}(?:%3[dD]|=){0,2})",
            group,
        ),
        d(
            "azure-client-secret",
            r"[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}",
            |locs, text| {
                let m = range(locs, 0)?;
                let bytes = text.as_bytes();
                let before = m.start.checked_sub(1).map(|i| bytes[i]);
                let boundary = |b: Option<u8>, also: &[u8]| {
                    b.is_none_or(|b| {
                        b.is_ascii_whitespace() || b"\\'\"`),".contains(&b) || also.contains(&b)
                    })
                };
                (boundary(before, b">=:(") && boundary(bytes.get(m.end).copied(), b"<;"))
                    .then_some(m)
            },
        ),
        d("anthropic-key", "{B}sk-ant-[A-Za-z0-9_-]{20,300}", whole),
        d(
            "openai-key",
            "{B}sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,300}",
            |locs, text| {
                let m = range(locs, 0)?;
                let s = &text[m.clone()];
                let (lower, upper, digit, _) = classes(s);
                (!s.starts_with("sk-ant-") && lower && upper && digit).then_some(m)
            },
        ),
        d("npm-token", "{B}npm_[A-Za-z0-9]{36}{B}", whole_random),
        d(
            "pypi-token",
            "{B}pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,1000}",
            whole,
        ),
        d("twilio-key", "{B}SK[0-9a-fA-F]{32}{B}", whole_random),
        d(
            "sendgrid-key",
            r"{B}SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}",
            whole_token,
        ),
        d("mailgun-key", "{B}key-[0-9a-f]{32}{B}", whole_random),
        d(
            "shopify-token",
            "{B}shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}{B}",
            whole,
        ),
        d(
            "huggingface-token",
            "{B}(?:hf_|api_org_)[A-Za-z]{34}{B}",
            whole_mixed_case,
        ),
        d(
            "databricks-token",
            r"{B}dapi[a-f0-9]{32}(?:-\d)?{B}",
            whole_random,
        ),
        d("digitalocean-token", "{B}do[opr]_v1_[a-f0-9]{64}{B}", whole),
        d(
            "atlassian-token",
            "{B}ATATT3[A-Za-z0-9_=-]{186}",
            |locs, text| random_token(locs, text, b"_=-"),
        ),
        d(
            "grafana-token",
            "{B}(?:glc_[A-Za-z0-9+/]{32,400}={0,3}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|eyJrIjoi[A-Za-z0-9]{70,400}={0,3})",
            |locs, text| random_token(locs, text, b"_+/=-"),
        ),
        d(
            "vault-token",
            "{B}hv[sbr]\\.[A-Za-z0-9_-]{24,300}",
            |locs, text| {
                let m = random_token(locs, text, b"_-")?;
                assign::vault_token(&text[m.clone()]).then_some(m)
            },
        ),
        d(
            "terraform-token",
            r"{B}[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}",
            |locs, text| random_token(locs, text, b"_=-"),
        ),
        d(
            "sentry-token",
            "{B}(?:sntrys_eyJ[A-Za-z0-9+/]{20,1000}={0,2}_[A-Za-z0-9+/]{43}|sntryu_[a-f0-9]{64})",
            |locs, text| random_token(locs, text, b"_+/=-"),
        ),
        d(
            "age-secret-key",
            "{B}AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
            |locs, text| random_token(locs, text, b"_-"),
        ),
        d(
            "postman-token",
            "{B}PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}",
            |locs, text| random_token(locs, text, b"_-"),
        ),
        d(
            "doppler-token",
            r"{B}dp\.(?:pt|ct|sa|scim|audit|st(?:\.[A-Za-z0-9_-]{1,64})?)\.[A-Za-z0-9]{40,44}",
            |locs, text| random_token(locs, text, b"_-"),
        ),
        d(
            "linear-api-key",
            "{B}lin_api_[A-Za-z0-9]{40}",
            |locs, text| random_token(locs, text, b"_-"),
        ),
        d("pulumi-token", "{B}pul-[a-f0-9]{40}", |locs, text| {
            random_token(locs, text, b"_-")
        }),
        d(
            "square-token",
            "{B}(?:sq0atp-[A-Za-z0-9_-]{22,60}|sq0csp-[A-Za-z0-9_-]{40,60}|EAAA[A-Za-z0-9_-]{22,60})",
            |locs, text| {
                // `EAAA` also starts base64 data: a token has both cases
                // and digits, and no base64 after it.
                let m = random_token(locs, text, b"_+/=-")?;
                let (lower, upper, digit, _) = classes(&text[m.clone()]);
                (lower && upper && digit).then_some(m)
            },
        ),
        d(
            "heroku-api-key",
            "{B}HRKU-AA[A-Za-z0-9_-]{58}",
            |locs, text| random_token(locs, text, b"_-"),
        ),
        build(
            &assign::VENDOR_KINDS,
            &assign::assignment(assign::VENDOR_NAMES),
            Accept::Named(assign::vendor),
        ),
        build(
            &assign::VENDOR_KINDS,
            &assign::directive(assign::VENDOR_DIRECTIVE_NAMES, false),
            Accept::Named(assign::vendor),
        ),
        d(
            "jwt",
            r"{B}eyJ[A-Za-z0-9_-]{5,2000}\.eyJ[A-Za-z0-9_-]{5,4000}\.[A-Za-z0-9_-]{10,2000}",
            whole,
        ),
        v(
            "aws-secret-key",
            &assign::assignment(assign::AWS_SECRET_NAMES),
            Accept::Value(assign::aws_secret),
        ),
        v(
            "aws-secret-key",
            &assign::directive(assign::AWS_SECRET_NAMES, false),
            Accept::Value(assign::aws_secret),
        ),
        d(
            "bearer-token",
            r#"{B}(?:(?i:bearer)[ \t]+([A-Za-z0-9._~+/-]{16,}=*)|(?i:authorization)["']?[ \t]*[:=][ \t]*["']?(?:(?i:basic|token|bearer)[ \t]+)?([A-Za-z0-9._~+/-]{12,}=*))"#,
            bearer,
        ),
        d(
            "url-credentials",
            r#"{B}[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/@"'<>]{0,64}:([^\s:/@"'<>]{3,128})@"#,
            url_password,
        ),
        v(
            "generic-secret",
            &assign::assignment(assign::SECRET_NAMES),
            Accept::Value(assign::generic),
        ),
        v(
            "generic-secret",
            &assign::directive(assign::SECRET_NAMES, true),
            Accept::Value(assign::generic),
        ),
    ]
});
