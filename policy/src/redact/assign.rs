//! Values assigned to secret-like names, in every common declaration style.
//!
//! A regex finds a NAME and the separator that follows it, ending where the
//! value begins (after its opening quote, if any); the value itself is read
//! here, by hand, so that its shape can be checked without one regex copy
//! per quote and per style.

use std::collections::BTreeMap;
use std::ops::Range;

use regex::bytes::CaptureLocations;

/// Names whose value is a generic secret, matched where the name ends.
pub(super) const SECRET_NAMES: &str = r"pass(?:word|wd|phrase)?|pwd|secret|token|creds|credentials?|api[_.-]?key|access[_.-]?key|secret[_.-]?key(?:[_.-]?base)?|private[_.-]?key|signing[_.-]?key|encryption[_.-]?key|master[_.-]?key|account[_.-]?key|auth[_.-]?key";

/// Names whose value is an AWS secret access key.
pub(super) const AWS_SECRET_NAMES: &str = r"aws[_.-]?secret[_.-]?access[_.-]?key|aws[_.-]?secret[_.-]?key|aws[_.-]?secret|secret[_.-]?access[_.-]?key";

/// Vendors' names, whose value is a secret of that vendor when it has the
/// vendor's shape (a UUID is a Heroku API key only as `HEROKU_API_KEY`):
/// a name starting with the vendor, or Datadog's `DD_API_KEY`/`DD_APP_KEY`.
pub(super) const VENDOR_NAMES: &str = r"(?:heroku|vault|datadog|okta|twilio)[\w.-]{0,30}|(?:{B}|_)dd[_.-]?(?:api|app(?:lication)?)[_.-]?key";

/// [`VENDOR_NAMES`] in a directive, where the name ends at a space: the
/// rest of the name unbounded, which keeps the automaton small (a counted
/// repetition after the directive's lazy prefix made it the slowest
/// detector).
pub(super) const VENDOR_DIRECTIVE_NAMES: &str = r"(?:heroku|vault|datadog|okta|twilio)[\w.-]*|(?:{B}|_)dd[_.-]?(?:api|app(?:lication)?)[_.-]?key";

/// The kinds [`vendor`] reports.
pub(super) const VENDOR_KINDS: [&str; 5] = [
    "heroku-api-key",
    "vault-token",
    "datadog-key",
    "okta-token",
    "twilio-auth-token",
];

/// The opening of a string literal, prefixes included: `"`, `'`, `` ` ``,
/// `r#"`, `b"`, `f'`, `@"`, `$"`.
const OPEN: &str = r#"(?:r#{0,3}|[bfuBFU]{1,2}|@|\$)?["'`]"#;

/// The NAME (group 1) followed by a separator in each declaration style,
/// ending where the value begins. Group 2 marks an XML element's content.
/// The alternatives that need a quoted value come before the plain
/// assignment, so that `NAME = f("X", "v")` and `NAME: Type = "v"` are not
/// taken for an unquoted value `f` or `Type`.
const ASSIGNMENT: &str = concat!(
    r"(?i:(%NAMES%))(?:",
    // A call, its first argument a string: `NAME = os.environ.get("X", "v")`,
    // `NAME: String::from("v")`, `NAME = Some("v")`.
    r#"["'`]?\]?[ \t]*(?::=|=>|=|:)[ \t]*(?:new[ \t]+)?[A-Za-z_][\w.:]{0,60}[ \t]*\([ \t]*(?:["'][^"'\n]{0,80}["'][ \t]*,[ \t]*)?%OPEN%"#,
    // A type annotation: `NAME: &str = "v"`, `NAME: String = "v"`.
    r#"|["'`]?[ \t]*:[ \t]*[&'A-Za-z_\[][\w&'<>\[\]., ?:]{0,40}[ \t]*=[ \t]*(?:[A-Za-z_][\w.:]{0,60}[ \t]*\([ \t]*)?%OPEN%"#,
    // Plain: `NAME = v`, `NAME: v`, `"name": "v"`, `NAME := v`, `'name' => 'v'`,
    // `ENV["NAME"] = v`, `NAME || "v"`, `NAME ?? "v"`.
    r#"|["'`]?\]?[ \t]*(?::=|=>|=|:|\|\||\?\?)[ \t]*(?:%OPEN%)?"#,
    // Go: `NAME string = "v"`.
    r#"|[ \t]+[A-Za-z_*\[][\w.\[\]*]{0,30}[ \t]*=[ \t]*%OPEN%"#,
    // Key/value pairs: `key="Name" value="v"`, `"name": "NAME", "value": "v"`.
    r#"|["'][ \t]*,?[ \t]*["']?(?i:value)["']?[ \t]*(?:=>|=|:)[ \t]*%OPEN%"#,
    // Arguments: `os.Setenv("NAME", "v")`, `define('NAME', 'v')`.
    r#"|["'][ \t]*,[ \t]*%OPEN%"#,
    // Kubernetes env: `- name: NAME` then `value: v`.
    r#"|["']?[ \t]*\r?\n[ \t]*-?[ \t]*(?i:value)[ \t]*:[ \t]*(?:%OPEN%)?"#,
    // XML element: `<name>v</name>`, `<entry key="name">v</entry>`.
    r#"|["']?>()"#,
    // HCL variable: `variable "name" { default = "v" }`.
    r#"|["'][ \t]*\{[^}]{0,200}?(?i:default)[ \t]*=[ \t]*%OPEN%"#,
    ")",
);

/// Directives that separate a NAME from its value by a space
/// (`ENV NAME v`, `#define NAME "v"`, `setenv NAME v`).
const DIRECTIVE: &str = r#"(?m)^[ \t]*(?i:env|arg|export|readonly|declare[ \t]+-x|set|setx|setenv|\#[ \t]*define|define)[ \t]+[\w.-]*?(?i:(%NAMES%))["']?[ \t]+(?:%OPEN%)?"#;

/// SQL passwords: `IDENTIFIED BY 'v'`, `WITH PASSWORD 'v'`.
const SQL: &str = r#"(?i:identified[ \t]+by|with[ \t]+(?:encrypted[ \t]+)?password)[ \t]+%OPEN%"#;

/// The assignment pattern for `names`.
pub(super) fn assignment(names: &str) -> String {
    ASSIGNMENT.replace("%NAMES%", names).replace("%OPEN%", OPEN)
}

/// The directive pattern for `names`, with SQL's password clauses if
/// `sql`.
pub(super) fn directive(names: &str, sql: bool) -> String {
    let mut p = DIRECTIVE.to_owned();
    if sql {
        p = format!("{p}|{SQL}");
    }
    p.replace("%NAMES%", names).replace("%OPEN%", OPEN)
}

/// How a value is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delimited {
    /// By this quote.
    Quote(u8),
    /// By `<` (XML element content).
    Element,
    /// Not at all.
    Bare,
}

/// The longest value read.
const MAX_VALUE: usize = 4096;

/// Runs of bytes already scanned, one per kind of run: the bytes in
/// `start..end` are all in the run and `end` is not (or is the end of the
/// text). A value starting inside a known run ends where it ends, so each
/// byte is scanned once per kind however many candidate names precede it
/// (`password=password=password=…` stays linear).
#[derive(Default)]
pub(super) struct Runs([Range<usize>; 5]);

/// The kinds of run.
const BARE: usize = 0;
const ELEMENT: usize = 1;
/// `2 + ` the quote's index in `"'\``.
const QUOTED: usize = 2;

impl Runs {
    /// The end of the run of bytes that satisfy `inside` from `from`.
    fn end(
        &mut self,
        kind: usize,
        bytes: &[u8],
        from: usize,
        inside: impl Fn(u8) -> bool,
    ) -> usize {
        let known = &self.0[kind];
        if known.start <= from && from <= known.end && known.end > known.start {
            return known.end;
        }
        let end = from
            + bytes[from..]
                .iter()
                .position(|b| !inside(*b))
                .unwrap_or(bytes.len() - from);
        self.0[kind] = from..end;
        end
    }
}

fn bare_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+/=_~!@#$%^*.-".contains(&b)
}

/// Where the value of an assignment match is, and how it is delimited. The
/// value starts where the match ends.
fn value_at(
    locs: &CaptureLocations,
    text: &str,
    runs: &mut Runs,
) -> Option<(Range<usize>, Delimited)> {
    let (start, end) = locs.get(0)?;
    let bytes = text.as_bytes();
    if locs.get(2).is_some() {
        // XML element content: `>v</`, spaces around allowed.
        let mut from = end;
        while bytes.get(from).is_some_and(|b| *b == b' ' || *b == b'\t') {
            from += 1;
        }
        let stop = runs.end(ELEMENT, bytes, from, |b| !b"<>\"' \t\r\n".contains(&b));
        if stop - from > MAX_VALUE {
            return None;
        }
        let mut close = stop;
        while bytes.get(close).is_some_and(|b| *b == b' ' || *b == b'\t') {
            close += 1;
        }
        return bytes[close..]
            .starts_with(b"</")
            .then_some((from..stop, Delimited::Element));
    }
    match bytes[start..end].last() {
        Some(&q @ (b'"' | b'\'' | b'`')) => {
            let kind = QUOTED + b"\"'`".iter().position(|c| *c == q)?;
            let stop = runs.end(kind, bytes, end, |b| {
                !(b == q || b == b'\\' || b.is_ascii_whitespace())
            });
            (stop - end <= MAX_VALUE && bytes.get(stop) == Some(&q))
                .then_some((end..stop, Delimited::Quote(q)))
        }
        _ => {
            let stop = runs.end(BARE, bytes, end, bare_byte);
            // `<` ends a value only as a closing tag: `Seed25519Bin<'_>` is
            // a generic type.
            let ends = bytes.get(stop).is_none_or(|b| {
                b.is_ascii_whitespace()
                    || b",;})]&\"'".contains(b)
                    || (*b == b'<' && bytes.get(stop + 1) == Some(&b'/'))
            });
            (ends && stop - end <= MAX_VALUE).then_some((end..stop, Delimited::Bare))
        }
    }
}

/// Whether the name in group 1 is a word of its own: `pass` must not end
/// `bypass` or `compass` (an upper-case `DBPASS` is fine).
fn name_ok(locs: &CaptureLocations, text: &str) -> bool {
    let Some((start, end)) = locs.get(1) else {
        return true;
    };
    let name = &text[start..end];
    !(name == "pass" && start > 0 && text.as_bytes()[start - 1].is_ascii_lowercase())
}

/// A generic secret: a random-looking value after a secret-like name.
pub(super) fn generic(
    locs: &CaptureLocations,
    text: &str,
    runs: &mut Runs,
) -> Option<Range<usize>> {
    if !name_ok(locs, text) {
        return None;
    }
    let (range, delimited) = value_at(locs, text, runs)?;
    looks_secret(&text[range.clone()], delimited != Delimited::Bare).then_some(range)
}

/// An AWS secret access key: 40 base64 characters after an AWS secret name.
pub(super) fn aws_secret(
    locs: &CaptureLocations,
    text: &str,
    _: &mut Runs,
) -> Option<Range<usize>> {
    let (start, end) = locs.get(0)?;
    let bytes = text.as_bytes();
    let shape = |b: &u8| b.is_ascii_alphanumeric() || *b == b'/' || *b == b'+';
    let len = bytes[end..]
        .iter()
        .take(41)
        .take_while(|b| shape(b))
        .count();
    if len != 40 {
        return None;
    }
    let next = bytes.get(end + len);
    let ok = match bytes[start..end].last() {
        Some(&q @ (b'"' | b'\'' | b'`')) => next == Some(&q),
        _ => locs.get(2).is_some() || next.is_none_or(|b| *b != b'='),
    };
    ok.then_some(end..end + len)
}

/// A vendor's secret after the vendor's name ([`VENDOR_NAMES`]), by the
/// shape the vendor issues: a Heroku API key is a UUID, a Vault token
/// `s.` and 24 alphanumerics (or `hvs.`…), a Datadog API or application
/// key 32 or 40 lower-case alphanumerics, an Okta API token `00` and 40
/// characters, a Twilio auth token 32 hex digits. The name must say it
/// holds a credential (`key`, `token`, `secret`, `pass`, `auth`, `cred`):
/// `HEROKU_APP_ID` holds a UUID that is not one.
pub(super) fn vendor(
    locs: &CaptureLocations,
    text: &str,
    runs: &mut Runs,
) -> Option<(Range<usize>, &'static str)> {
    let (start, end) = locs.get(1)?;
    let name = text[start..end]
        .trim_start_matches('_')
        .to_ascii_lowercase();
    if !["key", "token", "secret", "pass", "auth", "cred"]
        .iter()
        .any(|w| name.contains(w))
    {
        return None;
    }
    let (range, _) = value_at(locs, text, runs)?;
    let v = &text[range.clone()];
    let b = v.as_bytes();
    let (lower, upper, digit, _) = classes(v);
    let e = entropy(v);
    let (kind, ok) = if name.starts_with("heroku") {
        let uuid = b.len() == 36
            && b.iter().enumerate().all(|(i, c)| {
                if [8, 13, 18, 23].contains(&i) {
                    *c == b'-'
                } else {
                    c.is_ascii_hexdigit()
                }
            });
        ("heroku-api-key", uuid && digit && e >= 3.0)
    } else if name.starts_with("vault") {
        let legacy = b.len() == 26
            && v.starts_with("s.")
            && b[2..].iter().all(u8::is_ascii_alphanumeric)
            && digit
            && (lower || upper);
        ("vault-token", legacy || vault_token(v))
    } else if name.starts_with("okta") {
        let token = b.len() == 42
            && v.starts_with("00")
            && b[2..]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || b"_=-".contains(c));
        ("okta-token", token && lower && upper && e >= 4.0)
    } else if name.starts_with("twilio") {
        let hex = b.len() == 32 && b.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
        ("twilio-auth-token", hex && digit && lower && e >= 3.0)
    } else {
        let key = (b.len() == 32 || b.len() == 40)
            && b.iter()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase());
        ("datadog-key", key && digit && lower && e >= 3.0)
    };
    ok.then_some((range, kind))
}

/// A Vault token of the current format: `hvs.` (service), `hvb.` (batch)
/// or `hvr.` (recovery) and at least 24 characters of both cases and
/// digits (so `hvs.extend_from_slice` is not one).
pub(super) fn vault_token(v: &str) -> bool {
    let b = v.as_bytes();
    let body = v.get(4..).unwrap_or("");
    let (lower, upper, digit, _) = classes(body);
    b.len() >= 28
        && (v.starts_with("hvs.") || v.starts_with("hvb.") || v.starts_with("hvr."))
        && body
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        && lower
        && upper
        && digit
        && entropy(body) >= 3.5
}

/// Shannon entropy in bits per character.
pub(super) fn entropy(s: &str) -> f64 {
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
pub(super) fn classes(s: &str) -> (bool, bool, bool, bool) {
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

/// Whether `value` is words joined by separators or camel case:
/// `my-secret-2024`, `prod/db/password`, `text-davinci-003`,
/// `MySecretValue`, `getToken`. Each part is a lowercase word, a
/// capitalised word, an upper-case word or a number, and parts are 3
/// characters long on average (random letters split into many short
/// humps, `XkTqPzMn`, are not words).
fn is_words(value: &str) -> bool {
    let mut parts = 0usize;
    let mut letters = 0usize;
    for segment in value.split(|c: char| "_-./: ".contains(c)) {
        if segment.is_empty() {
            continue;
        }
        if segment.bytes().all(|b| b.is_ascii_digit()) {
            parts += 1;
            letters += segment.len();
            continue;
        }
        if !segment.bytes().all(|b| b.is_ascii_alphabetic()) {
            return false;
        }
        if segment.bytes().all(|b| b.is_ascii_uppercase()) {
            parts += 1;
            letters += segment.len();
            continue;
        }
        // Camel humps: an upper-case letter after a lower-case one starts a
        // new part (`getToken` is two, `HTTPServer` one).
        let bytes = segment.as_bytes();
        parts += 1 + bytes
            .windows(2)
            .filter(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
            .count();
        letters += segment.len();
    }
    parts > 0 && letters as f64 / parts as f64 >= 3.0
}

/// How many parts of `value` between `_`, `-` and `.` are lower-case
/// words of 3 letters or more (`generate` and `private` in
/// `x25519_generate_private_key`). Random tokens rarely have two.
fn lowercase_words(value: &str) -> usize {
    value
        .split(['_', '-', '.'])
        .filter(|p| p.len() >= 3 && p.bytes().all(|b| b.is_ascii_lowercase()))
        .count()
}

/// Whether a value assigned to a secret-like name looks like a real secret.
pub(super) fn looks_secret(value: &str, quoted: bool) -> bool {
    let len = value.chars().count();
    if !(8..=MAX_VALUE).contains(&len) {
        return false;
    }
    // Placeholders (ours included), references and templates, not values.
    if value.contains("[REDACTED:")
        || value.starts_with('$')
        || value.starts_with('%')
        || value.contains("${")
        || value.contains("{{")
        || value.contains(['{', '}', '[', ']', '(', ')', '<'])
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
    // Words, identifiers and paths: `your-api-key-here`, `MySecretValue`,
    // `x25519_generate_private_key`, `x-aws-ec2-metadata-token`.
    if is_words(value) || lowercase_words(value) >= 2 {
        return false;
    }
    // HTML entities (`&quot;&amp;`) and AWS SigV4 credential scopes
    // (`AKID…/20150830/us-east-1/service/aws4_request`, not a secret).
    if ["&quot;", "&apos;", "&amp;", "&lt;", "&gt;", "&#"]
        .iter()
        .any(|e| value.contains(e))
        || value.contains("aws4_request")
    {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_identifiers() {
        for v in [
            "my-secret-2024",
            "prod/db/password",
            "text-davinci-003",
            "MySecretValue",
            "getToken",
            "HTTPServerConfig",
            "your_api_key_here",
        ] {
            assert!(is_words(v), "{v}");
        }
        for v in [
            "XkTqPzMn",
            "k9Qw2Zx7Lp4Rt8Vn",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "Tr0ub4dor&3xq",
            "4f9c2a7e1b8d3f6a0c5e",
        ] {
            assert!(!is_words(v), "{v}");
        }
    }
}
