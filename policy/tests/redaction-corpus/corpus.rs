//! The redaction corpus: canonical example credentials planted in the file
//! formats and declaration styles code keeps them in.
//!
//! Nothing secret-shaped is written in this file: the vendors' documented
//! example values are split, and every other credential is generated at
//! run time from a seeded RNG in the shape the vendor issues (prefix,
//! alphabet, length), so the corpus is deterministic and no committed file
//! looks like a leaked key. Shared by the tests (`tests/policy/corpus.rs`)
//! and the figures program (`examples/redaction_figures.rs`).

#![allow(dead_code)]

/// The seed of the corpus the tests and `BENCHMARKS.md` use.
pub const SEED: u64 = 0x5EC2_E7C0_2D0F;

/// SplitMix64: small, seeded, good enough to draw characters.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `n` characters drawn from `alphabet`.
    pub fn draw(&mut self, alphabet: &str, n: usize) -> String {
        let a = alphabet.as_bytes();
        (0..n)
            .map(|_| a[(self.next() % a.len() as u64) as usize] as char)
            .collect()
    }

    /// `n` characters of `alphabet` with at least one lower-case letter,
    /// one upper-case letter and one digit where the alphabet has them
    /// (as real tokens of that length do).
    pub fn token(&mut self, alphabet: &str, n: usize) -> String {
        loop {
            let s = self.draw(alphabet, n);
            let has = |f: fn(&u8) -> bool| {
                alphabet.as_bytes().iter().any(f) <= s.as_bytes().iter().any(f)
            };
            if has(u8::is_ascii_lowercase) && has(u8::is_ascii_uppercase) && has(u8::is_ascii_digit)
            {
                return s;
            }
        }
    }
}

pub const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
pub const UPPER_NUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
pub const LETTERS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const HEX: &str = "0123456789abcdef";
pub const DIGITS: &str = "0123456789";
pub const BASE64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
pub const URLSAFE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
pub const BECH32_UPPER: &str = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";
pub const PASSWORD: &str =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!@#%^*-_+=";

/// A planted credential.
pub struct Secret {
    /// What it is: `aws-secret-key-example`, `github-fine-grained`.
    pub label: &'static str,
    /// The kind [`cordon_policy::redact`] must report.
    pub kind: &'static str,
    /// The words of the name it is assigned to (`["aws", "secret",
    /// "access", "key"]`), cased by each style.
    pub name: &'static [&'static str],
    /// The value planted (may span lines, may hold more than the secret:
    /// a connection string, a URL, an `Authorization` value).
    pub value: String,
    /// The parts that must not survive redaction.
    pub secret: Vec<String>,
}

fn s(
    label: &'static str,
    kind: &'static str,
    name: &'static [&'static str],
    value: String,
) -> Secret {
    Secret {
        label,
        kind,
        name,
        secret: vec![value.clone()],
        value,
    }
}

/// A PEM block of `label` with a random base64 body of `len` characters
/// in 64-character lines, with `headers` after the BEGIN line.
fn pem(rng: &mut Rng, label: &str, headers: &str, len: usize) -> (String, Vec<String>) {
    let body = format!("MII{}", rng.draw(BASE64, len - 3));
    let lines: Vec<String> = body
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let text = format!(
        "-----BEGIN {label}-----\n{headers}{}\n-----END {label}-----",
        lines.join("\n")
    );
    (text, lines)
}

fn base64url(bytes: &[u8]) -> String {
    encode(URLSAFE, bytes)
}

/// Base64 with `alphabet`, unpadded.
fn encode(alphabet: &str, bytes: &[u8]) -> String {
    let a = alphabet.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | *b as u32) << (8 * (3 - chunk.len()));
        for i in 0..=chunk.len() {
            out.push(a[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Every secret of the corpus, drawn from `seed`.
pub fn secrets(seed: u64) -> Vec<Secret> {
    let mut rng = Rng::new(seed);
    let r = &mut rng;
    let mut out = vec![
        // AWS's documented example pair (split so that no scanner flags
        // this file), then a random pair of the same shape.
        s(
            "aws-access-key-example",
            "aws-access-key",
            &["aws", "access", "key", "id"],
            ["AKIA", "IOSFODNN7", "EXAMPLE"].concat(),
        ),
        s(
            "aws-secret-key-example",
            "aws-secret-key",
            &["secret", "access", "key"],
            ["wJalrXUtnFEMI/K7MDENG/", "bPxRfiCY", "EXAMPLEKEY"].concat(),
        ),
        s(
            "aws-access-key",
            "aws-access-key",
            &["aws", "access", "key", "id"],
            format!("AKIA{}", r.draw(UPPER_NUM, 16)),
        ),
        s(
            "aws-secret-key",
            "aws-secret-key",
            &["aws", "secret", "access", "key"],
            r.token(BASE64, 40),
        ),
        s(
            "github-classic",
            "github-token",
            &["github", "token"],
            format!("ghp_{}", r.token(ALNUM, 36)),
        ),
        s(
            "github-fine-grained",
            "github-token",
            &["gh", "pat"],
            format!("github_pat_11{}_{}", r.token(ALNUM, 20), r.token(ALNUM, 59)),
        ),
        s(
            "github-app",
            "github-token",
            &["installation", "token"],
            format!("ghs_{}", r.token(ALNUM, 36)),
        ),
        s(
            "github-oauth",
            "github-token",
            &["gh", "oauth"],
            format!("gho_{}", r.token(ALNUM, 36)),
        ),
        s(
            "gitlab-pat",
            "gitlab-token",
            &["gitlab", "token"],
            format!("glpat-{}", r.token(URLSAFE, 20)),
        ),
        s(
            "gitlab-runner-registration",
            "gitlab-token",
            &["runner", "registration"],
            format!("GR1348941{}", r.token(URLSAFE, 20)),
        ),
        s(
            "slack-bot",
            "slack-token",
            &["slack", "bot", "token"],
            format!(
                "xoxb-{}-{}-{}",
                r.draw(DIGITS, 12),
                r.draw(DIGITS, 13),
                r.token(ALNUM, 24)
            ),
        ),
        s(
            "slack-user",
            "slack-token",
            &["slack", "user"],
            format!(
                "xoxp-{}-{}-{}-{}",
                r.draw(DIGITS, 12),
                r.draw(DIGITS, 12),
                r.draw(DIGITS, 13),
                r.draw(HEX, 32)
            ),
        ),
        s(
            "slack-webhook",
            "slack-webhook",
            &["slack", "webhook", "url"],
            format!(
                "https://hooks.slack.com/services/T{}/B{}/{}",
                r.draw(UPPER_NUM, 10),
                r.draw(UPPER_NUM, 10),
                r.token(ALNUM, 24)
            ),
        ),
        s(
            "stripe-live",
            "stripe-key",
            &["stripe", "secret", "key"],
            format!("sk_live_51{}", r.token(ALNUM, 60)),
        ),
        s(
            "stripe-restricted",
            "stripe-key",
            &["stripe", "restricted"],
            format!("rk_live_{}", r.token(ALNUM, 24)),
        ),
        s(
            "stripe-test",
            "stripe-key",
            &["stripe", "api", "key"],
            format!("sk_test_{}", r.token(ALNUM, 24)),
        ),
        s(
            "google-api-key",
            "google-api-key",
            &["google", "maps", "key"],
            format!("AIza{}", r.token(URLSAFE, 35)),
        ),
        s(
            "azure-client-secret",
            "azure-client-secret",
            &["azure", "client", "secret"],
            format!(
                "{}{}Q~{}",
                r.draw(ALNUM, 3),
                r.draw(DIGITS, 1),
                r.token(ALNUM, 34)
            ),
        ),
        s(
            "anthropic",
            "anthropic-key",
            &["anthropic", "api", "key"],
            format!("sk-ant-api03-{}AA", r.token(URLSAFE, 93)),
        ),
        s(
            "openai-project",
            "openai-key",
            &["openai", "api", "key"],
            format!(
                "sk-proj-{}T3BlbkFJ{}",
                r.token(URLSAFE, 74),
                r.token(URLSAFE, 74)
            ),
        ),
        s(
            "openai-legacy",
            "openai-key",
            &["openai"],
            format!("sk-{}T3BlbkFJ{}", r.token(ALNUM, 20), r.token(ALNUM, 20)),
        ),
        s(
            "npm",
            "npm-token",
            &["npm", "token"],
            format!("npm_{}", r.token(ALNUM, 36)),
        ),
        s(
            "pypi",
            "pypi-token",
            &["twine", "password"],
            format!("pypi-AgEIcHlwaS5vcmc{}", r.token(URLSAFE, 70)),
        ),
        s(
            "twilio",
            "twilio-key",
            &["twilio", "api", "key"],
            format!("SK{}", r.draw(HEX, 32)),
        ),
        s(
            "sendgrid",
            "sendgrid-key",
            &["sendgrid", "api", "key"],
            format!("SG.{}.{}", r.token(URLSAFE, 22), r.token(URLSAFE, 43)),
        ),
        s(
            "mailgun",
            "mailgun-key",
            &["mailgun", "api", "key"],
            format!("key-{}", r.draw(HEX, 32)),
        ),
        s(
            "shopify",
            "shopify-token",
            &["shopify", "access", "token"],
            format!("shpat_{}", r.draw(HEX, 32)),
        ),
        s(
            "huggingface",
            "huggingface-token",
            &["hf", "token"],
            format!("hf_{}", r.token(LETTERS, 34)),
        ),
        s(
            "databricks",
            "databricks-token",
            &["databricks", "token"],
            format!("dapi{}", r.draw(HEX, 32)),
        ),
        s(
            "digitalocean",
            "digitalocean-token",
            &["digitalocean", "token"],
            format!("dop_v1_{}", r.draw(HEX, 64)),
        ),
        s(
            "generic-password",
            "generic-secret",
            &["db", "password"],
            r.token(PASSWORD, 18),
        ),
        s(
            "generic-hex",
            "generic-secret",
            &["session", "secret"],
            r.draw(HEX, 32),
        ),
        s(
            "generic-base64",
            "generic-secret",
            &["encryption", "key"],
            format!("{}=", r.token(BASE64, 43)),
        ),
        s(
            "generic-token",
            "generic-secret",
            &["auth", "token"],
            r.token(ALNUM, 40),
        ),
        s(
            "generic-api-key",
            "generic-secret",
            &["api", "key"],
            r.token(ALNUM, 32),
        ),
    ];
    // Values around the secret.
    let key = format!("{}==", r.token(BASE64, 86));
    out.push(Secret {
        label: "azure-storage",
        kind: "azure-storage-key",
        name: &["azure", "storage", "connection", "string"],
        value: format!(
            "DefaultEndpointsProtocol=https;AccountName=examplestore;AccountKey={key};EndpointSuffix=core.windows.net"
        ),
        secret: vec![key],
    });
    let password = r.token(ALNUM, 20);
    out.push(Secret {
        label: "url-password",
        kind: "url-credentials",
        name: &["database", "url"],
        value: format!("postgres://app:{password}@db.internal:5432/app"),
        secret: vec![password],
    });
    let bearer = r.token(ALNUM, 40);
    out.push(Secret {
        label: "bearer",
        kind: "bearer-token",
        name: &["auth", "header"],
        value: format!("Bearer {bearer}"),
        secret: vec![bearer],
    });
    let header = base64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = base64url(
        format!(
            r#"{{"sub":"{}","name":"Example","iat":{}}}"#,
            r.draw(DIGITS, 10),
            1_700_000_000 + r.next() % 10_000_000
        )
        .as_bytes(),
    );
    let jwt = format!("{header}.{payload}.{}", r.token(URLSAFE, 43));
    out.push(s("jwt", "jwt", &["service", "jwt"], jwt));
    // Private keys, multi-line.
    for (label, pem_label, headers, len, name) in [
        (
            "private-key-rsa",
            "RSA PRIVATE KEY",
            "",
            1600,
            &["tls", "private", "key"][..],
        ),
        (
            "private-key-ec",
            "EC PRIVATE KEY",
            "",
            160,
            &["signing", "key"],
        ),
        (
            "private-key-openssh",
            "OPENSSH PRIVATE KEY",
            "",
            400,
            &["deploy", "key"],
        ),
        (
            "private-key-pgp",
            "PGP PRIVATE KEY BLOCK",
            "Version: GnuPG v2\n\n",
            900,
            &["release", "signing", "key"],
        ),
        (
            "private-key-encrypted",
            "ENCRYPTED PRIVATE KEY",
            "",
            1700,
            &["encrypted", "key"],
        ),
    ] {
        let (value, lines) = pem(r, pem_label, headers, len);
        out.push(Secret {
            label,
            kind: "private-key",
            name,
            value,
            secret: lines,
        });
    }
    // A GCP service account's key: PKCS#8 in a JSON string, `\n` escaped.
    let (value, lines) = pem(r, "PRIVATE KEY", "", 1620);
    out.push(Secret {
        label: "gcp-service-account",
        kind: "private-key",
        name: &["private", "key"],
        value: format!("{}\\n", value.replace('\n', "\\n")),
        secret: lines,
    });
    out.extend(vendors(r));
    out
}

/// Base64 (standard alphabet) of `json`, padded.
fn base64_json(json: &str) -> String {
    let mut b = encode(BASE64, json.as_bytes());
    while !b.len().is_multiple_of(4) {
        b.push('=');
    }
    b
}

/// The vendors of gitleaks' rule set added after the first corpus (drawn
/// after it, so the first secrets keep their values).
fn vendors(r: &mut Rng) -> Vec<Secret> {
    let uuid = |r: &mut Rng| {
        format!(
            "{}-{}-{}-{}-{}",
            r.draw(HEX, 8),
            r.draw(HEX, 4),
            r.draw(HEX, 4),
            r.draw(HEX, 4),
            r.draw(HEX, 12)
        )
    };
    let mut out = vec![
        s(
            "heroku",
            "heroku-api-key",
            &["heroku", "api", "key"],
            uuid(r),
        ),
        s(
            "heroku-v2",
            "heroku-api-key",
            &["heroku", "api", "token"],
            format!("HRKU-AA{}", r.token(URLSAFE, 58)),
        ),
        s(
            "atlassian",
            "atlassian-token",
            &["jira", "api", "token"],
            format!(
                "ATATT3xFfGF0{}={}",
                r.token(URLSAFE, 171),
                r.draw(HEX, 8).to_uppercase()
            ),
        ),
        s(
            "grafana-service-account",
            "grafana-token",
            &["grafana", "sa", "token"],
            format!("glsa_{}_{}", r.token(ALNUM, 32), r.draw(HEX, 8)),
        ),
        s(
            "vault-service",
            "vault-token",
            &["vault", "token"],
            format!("hvs.CAESI{}", r.token(URLSAFE, 86)),
        ),
        s(
            "vault-batch",
            "vault-token",
            &["vault", "batch", "token"],
            format!("hvb.AAAAAQ{}", r.token(URLSAFE, 140)),
        ),
        s(
            "vault-legacy",
            "vault-token",
            &["vault", "root", "token"],
            format!("s.{}", r.token(ALNUM, 24)),
        ),
        s(
            "terraform",
            "terraform-token",
            &["tfe", "token"],
            format!("{}.atlasv1.{}", r.token(ALNUM, 14), r.token(ALNUM, 67)),
        ),
        s(
            "sentry-user",
            "sentry-token",
            &["sentry", "user", "token"],
            format!("sntryu_{}", r.draw(HEX, 64)),
        ),
        s(
            "age",
            "age-secret-key",
            &["age", "secret", "key"],
            format!("AGE-SECRET-KEY-1{}", r.draw(BECH32_UPPER, 58)),
        ),
        s(
            "postman",
            "postman-token",
            &["postman", "api", "key"],
            format!("PMAK-{}-{}", r.draw(HEX, 24), r.draw(HEX, 34)),
        ),
        s(
            "doppler",
            "doppler-token",
            &["doppler", "token"],
            format!("dp.pt.{}", r.token(ALNUM, 43)),
        ),
        s(
            "linear",
            "linear-api-key",
            &["linear", "api", "key"],
            format!("lin_api_{}", r.token(ALNUM, 40)),
        ),
        s(
            "pulumi",
            "pulumi-token",
            &["pulumi", "access", "token"],
            format!("pul-{}", r.draw(HEX, 40)),
        ),
        s(
            "datadog-api",
            "datadog-key",
            &["datadog", "api", "key"],
            r.token(HEX, 32),
        ),
        s(
            "datadog-app",
            "datadog-key",
            &["dd", "app", "key"],
            r.token(HEX, 40),
        ),
        s(
            "okta",
            "okta-token",
            &["okta", "api", "token"],
            format!("00{}", r.token(URLSAFE, 40)),
        ),
        s(
            "square-access",
            "square-token",
            &["square", "access", "token"],
            format!("EAAA{}", r.token(URLSAFE, 60)),
        ),
        s(
            "square-legacy",
            "square-token",
            &["square", "token"],
            format!("sq0atp-{}", r.token(URLSAFE, 22)),
        ),
        s(
            "square-oauth-secret",
            "square-token",
            &["square", "oauth", "secret"],
            format!("sq0csp-{}", r.token(URLSAFE, 43)),
        ),
        s(
            "twilio-auth",
            "twilio-auth-token",
            &["twilio", "auth", "token"],
            r.token(HEX, 32),
        ),
    ];
    // Grafana's and Sentry's tokens are base64 JSON with a random part.
    let json = format!(
        r#"{{"o":"{}","n":"stack-{}-hm-read-example","k":"{}","m":{{"r":"prod-us-east-0"}}}}"#,
        r.draw(DIGITS, 6),
        r.draw(DIGITS, 6),
        r.token(ALNUM, 24)
    );
    out.push(s(
        "grafana-cloud",
        "grafana-token",
        &["grafana", "cloud", "token"],
        format!("glc_{}", base64_json(&json)),
    ));
    let json = format!(
        r#"{{"k":"{}","n":"example","id":{}}}"#,
        r.token(ALNUM, 32),
        1 + r.next() % 9
    );
    out.push(s(
        "grafana-api-key",
        "grafana-token",
        &["grafana", "api", "key"],
        base64_json(&json),
    ));
    let json = format!(
        r#"{{"iat":{}.{},"url":"https://sentry.io","region_url":"https://us.sentry.io","org":"example-{}"}}"#,
        1_700_000_000 + r.next() % 10_000_000,
        r.draw(DIGITS, 6),
        r.draw(DIGITS, 4)
    );
    out.push(s(
        "sentry-org",
        "sentry-token",
        &["sentry", "auth", "token"],
        format!(
            "sntrys_{}_{}",
            base64_json(&json).trim_end_matches('='),
            r.token(BASE64, 43)
        ),
    ));
    // A SAS URL: only its signature is secret.
    let sig = format!("{}=", r.token(BASE64, 43))
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    out.push(Secret {
        label: "azure-sas",
        kind: "azure-storage-key",
        name: &["azure", "blob", "sas", "url"],
        value: format!(
            "https://examplestore.blob.core.windows.net/backups/db.tar.gz?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01T00:00:00Z&spr=https&sig={sig}"
        ),
        secret: vec![sig],
    });
    out
}

/// A name in each casing.
pub struct Name<'a>(pub &'a [&'a str]);

impl Name<'_> {
    pub fn screaming(&self) -> String {
        self.0.join("_").to_uppercase()
    }
    pub fn snake(&self) -> String {
        self.0.join("_")
    }
    pub fn kebab(&self) -> String {
        self.0.join("-")
    }
    pub fn dotted(&self) -> String {
        self.0.join(".")
    }
    pub fn camel(&self) -> String {
        let p = self.pascal();
        let mut c = p.chars();
        c.next()
            .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
            .unwrap_or_default()
    }
    pub fn pascal(&self) -> String {
        self.0
            .iter()
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect()
    }
}

/// `v` as one line: newlines as `\n` escapes.
fn esc(v: &str) -> String {
    v.replace('\n', "\\n")
}

fn block(v: &str) -> bool {
    v.contains('\n')
}

/// `v` quoted with `"` if it needs quotes in a bare-value format (spaces,
/// YAML indicators, `#`).
fn maybe_quoted(v: &str) -> String {
    if v.contains(|c: char| " #!@%^*&:,{}[]\\\"'\n".contains(c)) {
        format!("\"{}\"", esc(v))
    } else {
        v.to_owned()
    }
}

/// `v` as a YAML block scalar indented by `indent`, or a scalar.
fn yaml(v: &str, indent: &str) -> String {
    if block(v) {
        let lines: Vec<String> = v.lines().map(|l| format!("{indent}{l}")).collect();
        format!("|\n{}", lines.join("\n"))
    } else {
        maybe_quoted(v)
    }
}

/// A declaration style: how a file of `format` declares `NAME = value`.
pub struct Style {
    pub format: &'static str,
    pub name: &'static str,
    pub prelude: &'static str,
    pub postlude: &'static str,
    /// The declaration, or `None` where the style cannot hold the value.
    pub decl: fn(&Name<'_>, &str) -> Option<String>,
}

/// Every style of the corpus.
pub fn styles() -> Vec<Style> {
    vec![
        Style {
            format: "rust",
            name: "rust-const",
            prelude: "//! Deployment settings.\n\nuse std::time::Duration;\n\npub const TIMEOUT: Duration = Duration::from_secs(30);\n",
            postlude: "\npub fn region() -> &'static str {\n    \"eu-west-1\"\n}\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!("pub const {}: &str = r#\"{v}\"#;", n.screaming())
                } else {
                    format!("pub const {}: &str = \"{v}\";", n.screaming())
                })
            },
        },
        Style {
            format: "rust",
            name: "rust-static-let",
            prelude: "fn settings() -> Settings {\n    let retries: u32 = 3;\n",
            postlude: "    Settings { retries }\n}\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!("    let {}: String = String::from(r\"{v}\");", n.snake())
                } else {
                    format!("    let {}: String = String::from(\"{v}\");", n.snake())
                })
            },
        },
        Style {
            format: "rust",
            name: "rust-struct-literal",
            prelude: "let config = Config {\n    endpoint: \"https://api.example.com\".into(),\n",
            postlude: "    ..Config::default()\n};\n",
            decl: |n, v| Some(format!("    {}: \"{}\".to_string(),", n.snake(), esc(v))),
        },
        Style {
            format: "typescript",
            name: "ts-const",
            prelude: "import { Client } from \"./client\";\n\nexport const API_BASE: string = \"https://api.example.com\";\n",
            postlude: "\nexport function client(): Client {\n  return new Client(API_BASE);\n}\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!("export const {}: string = `{v}`;", n.screaming())
                } else {
                    format!("export const {}: string = \"{v}\";", n.screaming())
                })
            },
        },
        Style {
            format: "typescript",
            name: "ts-object",
            prelude: "export const config = {\n  region: 'us-east-1',\n",
            postlude: "  retries: 3,\n};\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!("  {}: `{v}`,", n.camel())
                } else {
                    format!("  {}: '{v}',", n.camel())
                })
            },
        },
        Style {
            format: "javascript",
            name: "js-env-default",
            prelude: "'use strict';\nconst express = require('express');\n",
            postlude: "\nmodule.exports = { app: express() };\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!(
                        "const {} = process.env.{} || `{v}`;",
                        n.camel(),
                        n.screaming()
                    )
                } else {
                    format!(
                        "const {} = process.env.{} || \"{v}\";",
                        n.camel(),
                        n.screaming()
                    )
                })
            },
        },
        Style {
            format: "go",
            name: "go-var",
            prelude: "package config\n\nimport \"time\"\n\nvar Timeout time.Duration = 30 * time.Second\n",
            postlude: "\nfunc Region() string { return \"eu-west-1\" }\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!("var {} string = `{v}`", n.camel())
                } else {
                    format!("var {} string = \"{v}\"", n.camel())
                })
            },
        },
        Style {
            format: "go",
            name: "go-const-short",
            prelude: "package main\n\nfunc main() {\n\tretries := 3\n",
            postlude: "\t_ = retries\n}\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!("\t{} := `{v}`", n.camel())
                } else {
                    format!("\t{} := \"{v}\"", n.camel())
                })
            },
        },
        Style {
            format: "go",
            name: "go-struct",
            prelude: "cfg := Config{\n\tEndpoint: \"https://api.example.com\",\n",
            postlude: "}\n",
            decl: |n, v| Some(format!("\t{}: \"{}\",", n.pascal(), esc(v))),
        },
        Style {
            format: "kotlin",
            name: "kotlin-val",
            prelude: "package com.example.config\n\nobject Settings {\n    val retries: Int = 3\n",
            postlude: "}\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!(
                        "    val {}: String = \"\"\"{v}\"\"\".trimIndent()",
                        n.camel()
                    )
                } else {
                    format!("    val {}: String = \"{v}\"", n.camel())
                })
            },
        },
        Style {
            format: "kotlin",
            name: "kotlin-const-val",
            prelude: "package com.example\n\n",
            postlude: "\nfun main() = println(\"ok\")\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!("const val {} = \"\"\"{v}\"\"\"", n.screaming())
                } else {
                    format!("const val {} = \"{v}\"", n.screaming())
                })
            },
        },
        Style {
            format: "swift",
            name: "swift-let",
            prelude: "import Foundation\n\nenum Secrets {\n",
            postlude: "}\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!("    static let {}: String = \"\"\"\n{v}\n\"\"\"", n.camel())
                } else {
                    format!("    static let {}: String = \"{v}\"", n.camel())
                })
            },
        },
        Style {
            format: "swift",
            name: "swift-let-untyped",
            prelude: "import Foundation\n\nfunc configure() {\n",
            postlude: "}\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!("    let {} = #\"\"\"\n{v}\n\"\"\"#", n.camel())
                } else {
                    format!("    let {} = \"{v}\"", n.camel())
                })
            },
        },
        Style {
            format: "java",
            name: "java-static-final",
            prelude: "package com.example;\n\npublic final class Config {\n    private static final int RETRIES = 3;\n",
            postlude: "\n    private Config() {}\n}\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!(
                        "    private static final String {} = \"\"\"\n{v}\n\"\"\";",
                        n.screaming()
                    )
                } else {
                    format!(
                        "    private static final String {} = \"{v}\";",
                        n.screaming()
                    )
                })
            },
        },
        Style {
            format: "java",
            name: "java-concatenated",
            prelude: "public class Keys {\n",
            postlude: "}\n",
            decl: |n, v| {
                if !block(v) {
                    return Some(format!("    static String {} = \"{v}\";", n.camel()));
                }
                let parts: Vec<String> = v.lines().map(|l| format!("\"{l}\\n\"")).collect();
                Some(format!(
                    "    static String {} = {};",
                    n.camel(),
                    parts.join(" +\n        ")
                ))
            },
        },
        Style {
            format: "csharp",
            name: "csharp-const",
            prelude: "namespace Example;\n\npublic static class Settings\n{\n",
            postlude: "}\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!("    public const string {} = @\"{v}\";", n.pascal())
                } else {
                    format!("    public const string {} = \"{v}\";", n.pascal())
                })
            },
        },
        Style {
            format: "python",
            name: "py-assign",
            prelude: "import logging\n\nlog = logging.getLogger(__name__)\nDEBUG = False\n",
            postlude: "\n\ndef main():\n    log.info(\"starting\")\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!("{} = \"\"\"{v}\"\"\"", n.screaming())
                } else {
                    format!("{} = \"{v}\"", n.screaming())
                })
            },
        },
        Style {
            format: "python",
            name: "py-environ-default",
            prelude: "import os\n\n",
            postlude: "\nREGION = os.environ.get(\"AWS_REGION\", \"us-east-1\")\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!(
                        "{} = os.environ.get(\"{}\", \"\"\"{v}\"\"\")",
                        n.screaming(),
                        n.screaming()
                    )
                } else {
                    format!(
                        "{} = os.environ.get(\"{}\", \"{v}\")",
                        n.screaming(),
                        n.screaming()
                    )
                })
            },
        },
        Style {
            format: "python",
            name: "py-dict",
            prelude: "SETTINGS = {\n    \"region\": \"us-east-1\",\n",
            postlude: "    \"retries\": 3,\n}\n",
            decl: |n, v| Some(format!("    \"{}\": \"{}\",", n.snake(), esc(v))),
        },
        Style {
            format: "python",
            name: "py-typed-settings",
            prelude: "from pydantic_settings import BaseSettings\n\n\nclass Settings(BaseSettings):\n    region: str = \"us-east-1\"\n",
            postlude: "\n\nsettings = Settings()\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!("    {}: str = \"\"\"{v}\"\"\"", n.snake())
                } else {
                    format!("    {}: str = \"{v}\"", n.snake())
                })
            },
        },
        Style {
            format: "yaml",
            name: "yaml-mapping",
            prelude: "# Service configuration\nservice:\n  name: billing\n  replicas: 2\n",
            postlude: "  log_level: info\n",
            decl: |n, v| Some(format!("  {}: {}", n.snake(), yaml(v, "    "))),
        },
        Style {
            format: "yaml",
            name: "yaml-k8s-env",
            prelude: "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: example/app:1.4.2\n          env:\n",
            postlude: "          ports:\n            - containerPort: 8080\n",
            decl: |n, v| {
                Some(format!(
                    "            - name: {}\n              value: {}",
                    n.screaming(),
                    yaml(v, "                ")
                ))
            },
        },
        Style {
            format: "yaml",
            name: "yaml-compose-env",
            prelude: "services:\n  web:\n    image: example/web:2\n    environment:\n      - PORT=8080\n",
            postlude: "    ports:\n      - \"8080:8080\"\n",
            decl: |n, v| Some(format!("      - {}={}", n.screaming(), maybe_quoted(v))),
        },
        Style {
            format: "json",
            name: "json-object",
            prelude: "{\n  \"type\": \"service_account\",\n  \"project_id\": \"example-project\",\n",
            postlude: "  \"universe_domain\": \"googleapis.com\"\n}\n",
            decl: |n, v| Some(format!("  \"{}\": \"{}\",", n.snake(), esc(v))),
        },
        Style {
            format: "json",
            name: "json-camel",
            prelude: "{\n  \"name\": \"example\",\n  \"settings\": {\n",
            postlude: "    \"retries\": 3\n  }\n}\n",
            decl: |n, v| Some(format!("    \"{}\": \"{}\",", n.camel(), esc(v))),
        },
        Style {
            format: "json",
            name: "json-name-value",
            prelude: "{\n  \"containerDefinitions\": [{\n    \"environment\": [\n",
            postlude: "      {\"name\": \"PORT\", \"value\": \"8080\"}\n    ]\n  }]\n}\n",
            decl: |n, v| {
                Some(format!(
                    "      {{\"name\": \"{}\", \"value\": \"{}\"}},",
                    n.screaming(),
                    esc(v)
                ))
            },
        },
        Style {
            format: "toml",
            name: "toml",
            prelude: "[service]\nname = \"billing\"\nport = 8080\n\n[credentials]\n",
            postlude: "\n[log]\nlevel = \"info\"\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!("{} = \"\"\"\n{v}\n\"\"\"", n.snake())
                } else {
                    format!("{} = \"{v}\"", n.snake())
                })
            },
        },
        Style {
            format: "dotenv",
            name: "dotenv",
            prelude: "# Local development settings\nNODE_ENV=development\nPORT=3000\n",
            postlude: "LOG_LEVEL=debug\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!("{}=\"{v}\"", n.screaming())
                } else {
                    format!("{}={}", n.screaming(), maybe_quoted(v))
                })
            },
        },
        Style {
            format: "dotenv",
            name: "dotenv-quoted",
            prelude: "APP_NAME=\"billing\"\n",
            postlude: "DEBUG=\"false\"\n",
            decl: |n, v| Some(format!("{}='{}'", n.screaming(), esc(v))),
        },
        Style {
            format: "hcl",
            name: "hcl-attribute",
            prelude: "provider \"aws\" {\n  region = \"us-east-1\"\n}\n\nresource \"example_service\" \"main\" {\n  name = \"billing\"\n",
            postlude: "}\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!("  {} = <<-EOT\n{v}\nEOT", n.snake())
                } else {
                    format!("  {} = \"{v}\"", n.snake())
                })
            },
        },
        Style {
            format: "hcl",
            name: "hcl-variable-default",
            prelude: "terraform {\n  required_version = \">= 1.5\"\n}\n\n",
            postlude: "\noutput \"region\" {\n  value = var.region\n}\n",
            decl: |n, v| {
                let value = if block(v) {
                    format!("<<-EOT\n{v}\nEOT")
                } else {
                    format!("\"{v}\"")
                };
                Some(format!(
                    "variable \"{}\" {{\n  type      = string\n  sensitive = true\n  default   = {value}\n}}\n",
                    n.snake()
                ))
            },
        },
        Style {
            format: "shell",
            name: "shell-export",
            prelude: "#!/usr/bin/env bash\nset -euo pipefail\n\nexport AWS_REGION=us-east-1\n",
            postlude: "\nexec ./bin/server \"$@\"\n",
            decl: |n, v| {
                Some(if block(v) {
                    format!("export {}=\"$(cat <<'EOF'\n{v}\nEOF\n)\"", n.screaming())
                } else if v.contains(' ') {
                    format!("export {}=\"{v}\"", n.screaming())
                } else {
                    format!("export {}={v}", n.screaming())
                })
            },
        },
        Style {
            format: "shell",
            name: "shell-assign-quoted",
            prelude: "#!/bin/sh\n",
            postlude: "curl -fsS https://api.example.com/health\n",
            decl: |n, v| Some(format!("{}='{}'", n.screaming(), esc(v))),
        },
        Style {
            format: "xml",
            name: "xml-element",
            prelude: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<configuration>\n  <region>us-east-1</region>\n",
            postlude: "</configuration>\n",
            decl: |n, v| Some(format!("  <{0}>{v}</{0}>", n.camel())),
        },
        Style {
            format: "xml",
            name: "xml-appsettings",
            prelude: "<?xml version=\"1.0\"?>\n<configuration>\n  <appSettings>\n    <add key=\"Region\" value=\"us-east-1\" />\n",
            postlude: "  </appSettings>\n</configuration>\n",
            decl: |n, v| {
                Some(format!(
                    "    <add key=\"{}\" value=\"{}\" />",
                    n.pascal(),
                    esc(v)
                ))
            },
        },
        Style {
            format: "xml",
            name: "xml-attribute",
            prelude: "<beans>\n  <bean id=\"client\" class=\"com.example.Client\">\n",
            postlude: "  </bean>\n</beans>\n",
            decl: |n, v| Some(format!("    <property {}=\"{}\" />", n.camel(), esc(v))),
        },
        Style {
            format: "xml",
            name: "xml-property-value",
            prelude: "<beans>\n  <bean id=\"ds\" class=\"com.example.DataSource\">\n",
            postlude: "  </bean>\n</beans>\n",
            decl: |n, v| {
                Some(format!(
                    "    <property name=\"{}\" value=\"{}\" />",
                    n.camel(),
                    esc(v)
                ))
            },
        },
        Style {
            format: "dockerfile",
            name: "dockerfile-env",
            prelude: "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\n",
            postlude: "RUN pip install -r requirements.txt\nCMD [\"python\", \"app.py\"]\n",
            decl: |n, v| Some(format!("ENV {}={}", n.screaming(), maybe_quoted(v))),
        },
        Style {
            format: "dockerfile",
            name: "dockerfile-env-space",
            prelude: "FROM node:20-alpine\nWORKDIR /srv\n",
            postlude: "EXPOSE 3000\nCMD [\"node\", \"server.js\"]\n",
            decl: |n, v| Some(format!("ENV {} {}", n.screaming(), maybe_quoted(v))),
        },
        Style {
            format: "dockerfile",
            name: "dockerfile-arg",
            prelude: "FROM golang:1.22 AS build\n",
            postlude: "RUN go build -o /out/app ./cmd/app\n",
            decl: |n, v| Some(format!("ARG {}={}", n.screaming(), maybe_quoted(v))),
        },
        Style {
            format: "properties",
            name: "java-properties",
            prelude: "# Spring Boot\nserver.port=8080\nspring.application.name=billing\n",
            postlude: "logging.level.root=INFO\n",
            decl: |n, v| Some(format!("app.{}={}", n.dotted(), esc(v))),
        },
        Style {
            format: "php",
            name: "php-define",
            prelude: "<?php\n\n",
            postlude: "\nrequire __DIR__ . '/bootstrap.php';\n",
            decl: |n, v| Some(format!("define('{}', '{}');", n.screaming(), esc(v))),
        },
        Style {
            format: "php",
            name: "php-array",
            prelude: "<?php\n\nreturn [\n    'region' => 'eu-west-1',\n",
            postlude: "];\n",
            decl: |n, v| Some(format!("    '{}' => '{}',", n.snake(), esc(v))),
        },
        Style {
            format: "ruby",
            name: "ruby-env-fetch",
            prelude: "# frozen_string_literal: true\n\nRails.application.configure do\n",
            postlude: "end\n",
            decl: |n, v| {
                Some(format!(
                    "  config.x.{} = ENV.fetch(\"{}\", \"{}\")",
                    n.snake(),
                    n.screaming(),
                    esc(v)
                ))
            },
        },
        Style {
            format: "c",
            name: "c-define",
            prelude: "#ifndef CONFIG_H\n#define CONFIG_H\n\n#define TIMEOUT_MS 3000\n",
            postlude: "\n#endif\n",
            decl: |n, v| Some(format!("#define {} \"{}\"", n.screaming(), esc(v))),
        },
        Style {
            format: "multi-line",
            name: "py-triple-quoted-config",
            prelude: "import configparser\n\n",
            postlude: "\nparser = configparser.ConfigParser()\nparser.read_string(CONFIG)\n",
            decl: |n, v| {
                Some(format!(
                    "CONFIG = \"\"\"\n[database]\nhost = db.internal\n{} = {}\n\"\"\"",
                    n.snake(),
                    if block(v) {
                        yaml(v, "    ").replacen("|\n", "\n", 1)
                    } else {
                        v.to_owned()
                    }
                ))
            },
        },
        Style {
            format: "multi-line",
            name: "rust-raw-string-config",
            prelude: "#[test]\nfn parses_the_config() {\n",
            postlude: "    assert!(toml::from_str::<Config>(CONFIG).is_ok());\n}\n",
            decl: |n, v| {
                Some(format!(
                    "    const CONFIG: &str = r#\"\n[auth]\n{} = \"{}\"\n\"#;",
                    n.snake(),
                    esc(v)
                ))
            },
        },
        Style {
            format: "multi-line",
            name: "shell-heredoc",
            prelude: "#!/bin/bash\nmkdir -p /etc/app\n",
            postlude: "chmod 600 /etc/app/env\n",
            decl: |n, v| {
                Some(format!(
                    "cat > /etc/app/env <<'EOF'\nREGION=eu-west-1\n{}={}\nEOF",
                    n.screaming(),
                    if block(v) {
                        format!("\"{v}\"")
                    } else {
                        maybe_quoted(v)
                    }
                ))
            },
        },
        Style {
            format: "multi-line",
            name: "js-template-literal",
            prelude: "const fs = require('fs');\n\n",
            postlude: "fs.writeFileSync('.npmrc', config);\n",
            decl: |n, v| {
                Some(format!(
                    "const config = `\nregistry=https://registry.npmjs.org/\n{}={}\n`;",
                    n.snake(),
                    v
                ))
            },
        },
    ]
}

/// One planted credential in a document.
pub struct Plant {
    pub label: &'static str,
    pub kind: &'static str,
    /// The parts that must not survive.
    pub secret: Vec<String>,
}

/// A generated file.
pub struct Document {
    pub format: &'static str,
    pub style: &'static str,
    pub text: String,
    pub plants: Vec<Plant>,
}

fn document(style: &Style, secrets: &[&Secret]) -> Document {
    let mut text = String::from(style.prelude);
    let mut plants = Vec::new();
    for secret in secrets {
        if let Some(decl) = (style.decl)(&Name(secret.name), &secret.value) {
            text.push_str(&decl);
            text.push('\n');
            plants.push(Plant {
                label: secret.label,
                kind: secret.kind,
                secret: secret.secret.clone(),
            });
        }
    }
    text.push_str(style.postlude);
    Document {
        format: style.format,
        style: style.name,
        text,
        plants,
    }
}

/// One document per style, each with every secret planted.
pub fn documents(seed: u64) -> Vec<Document> {
    let secrets = secrets(seed);
    let all: Vec<&Secret> = secrets.iter().collect();
    styles().iter().map(|style| document(style, &all)).collect()
}

/// One document per (style, secret), each with that secret only.
pub fn single_documents(seed: u64) -> Vec<Document> {
    let secrets = secrets(seed);
    let mut out = Vec::new();
    for style in styles() {
        for secret in &secrets {
            let doc = document(&style, &[secret]);
            if !doc.plants.is_empty() {
                out.push(doc);
            }
        }
    }
    out
}

/// The length of the windows looked for: a secret leaks if any 12
/// consecutive characters of it survive (unless those characters occur
/// elsewhere in the original document too).
pub const WINDOW: usize = 12;

/// The first part of `plant`'s secret that survives in `output`, if any.
pub fn leak<'a>(original: &str, plant: &'a Plant, output: &str) -> Option<&'a str> {
    for part in &plant.secret {
        if part.len() < 8 {
            continue;
        }
        if output.contains(part.as_str()) {
            return Some(part);
        }
        let w = WINDOW.min(part.len());
        for i in 0..=part.len() - w {
            let window = &part[i..i + w];
            if output.contains(window) && original.matches(window).count() <= 1 {
                return Some(window);
            }
        }
    }
    None
}
