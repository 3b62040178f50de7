//! Secret redaction. The fake secrets are assembled at run time so that no
//! secret-shaped literal sits in the source.

use cordon_policy::redact;
use cordon_policy::redact::{KINDS, placeholder};

fn cat(parts: &[&str]) -> String {
    parts.concat()
}

struct Case {
    kind: &'static str,
    text: String,
    secret: String,
}

fn cases() -> Vec<Case> {
    let body = "MIIEowIBAAKCAQEA7bq3R4Zf9Jq2Xw1k5T0yQ8vN3mL6pH2sD4fG7hJ9kL1zX3cV5bN7mQ9wE1rT3yU5iO7pA9sD1fG3hJ5kL7zX9cV1bN3mQ5wE7rT9yU1iO3pA5sD7fG9hJ1kL3zX5cV7bN9mQ1wE3rT5yU7iO9pA1sD3fG5hJ7kL9";
    let pem = format!(
        "-----BEGIN {}PRIVATE KEY-----\n{}\n{}\n-----END {}PRIVATE KEY-----",
        "RSA ",
        &body[..64],
        &body[64..],
        "RSA "
    );
    let akia = cat(&["AKIA", "Q3ZKX7P2M9TLW4RB"]);
    let asia = cat(&["ASIA", "J5R8WQ2NX6ZK3LPM"]);
    let aws_secret = cat(&["wJalrXUtnFEMI/K7MDENG/", "bPxRfiCY9XAMPLEKEY"]);
    let ghp = cat(&["ghp_", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"]);
    let pat = cat(&[
        "github_pat_",
        "11ABCDEFG0aBcDeFgHiJkL_MnOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOpQrStUvWxYz01234",
    ]);
    let slack = cat(&[
        "xoxb-",
        "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    ]);
    let hook = cat(&[
        "https://hooks.slack.com/services/",
        "T0A1B2C3D/B4E5F6G7H/aBcDeFgHiJkLmNoPqRsTuVwX",
    ]);
    let ant = cat(&[
        "sk-ant-",
        "api03-",
        "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe9Dc8Ba7-_Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe9Dc8Ba7AA",
    ]);
    let oai = cat(&[
        "sk-",
        "proj-",
        "Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56Qr78St90Uv12Wx34Yz56",
    ]);
    let oai_legacy = cat(&["sk-", "T9xQ2mL7vB4nK8pR3sW6yZ1aC5dF0gH2jJ4kM7nP9qS3tV5w"]);
    let jwt = cat(&[
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkZha2UifQ",
        ".dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ]);
    let bearer = cat(&["Zm9vYmFy", "MTIzNDU2", "Nzg5MGFi"]);
    let basic = cat(&["dXNlcjpw", "YXNzd29y", "ZDEyMw=="]);
    let db_pass = cat(&["S3cr3t", "Passw0rd"]);
    let pw = cat(&["P@ss", "w0rd!2024xyz"]);
    let hexkey = cat(&["9f8e7d6c5b4a3928", "1706f5e4d3c2b1a0"]);
    let yaml_secret = cat(&["Zx81kQ2p", "Lm93NbV7"]);
    let json_token = cat(&["c2VjcmV0LXRva2Vu", "LXZhbHVlLTEyMzQ="]);
    let glpat = cat(&["glpat-", "Xk9_2mQw7Lp4Rt8Vn3Zb"]);
    let stripe = cat(&["sk_live_", "51Hq2mXk9Lp4Rt8Vn3ZbQw7Jc"]);
    let google = cat(&["AIza", "SyD3xk9_2mQw7Lp4Rt8Vn3ZbJc5Hq1Ty6Ue"]);
    let account_key = cat(&[
        "Xk9m2Qw7Lp4Rt8Vn3ZbJc5Hq1Ty6Ue0Wo+Ia/Sd4Fg7Hj2Kl5Zx8Cv3Bn6Mq9Wr1Et4Yu7Io0Pa",
        "3Sd6Fg9Hj2K==",
    ]);
    let azure_ad = cat(&["Ab1", "8Q~", "Xk9m2Qw7Lp4Rt8Vn3ZbJc5Hq1Ty6Ue0W.I"]);
    let npm = cat(&["npm_", "Xk9m2Qw7Lp4Rt8Vn3ZbJc5Hq1Ty6Ue0WoIaS"]);
    let pypi = cat(&[
        "pypi-",
        "AgEIcHlwaS5vcmc",
        "CJDk5ZTc0ZTNmLWQ3YzUtNGM2Yi04YjJhLTk5ZTQ0NjFkMmE2MQACKlsz",
    ]);
    let twilio = cat(&["SK", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"]);
    let sendgrid = cat(&[
        "SG.",
        "Xk9m2Qw7Lp4Rt8Vn3ZbJc5",
        ".",
        "Hq1Ty6Ue0WoIaSd4Fg7Hj2Kl5Zx8Cv3Bn6Mq9Wr1Et4",
    ]);
    let mailgun = cat(&["key-", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"]);
    let shopify = cat(&["shpat_", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"]);
    let hf = cat(&["hf_", "XkmQwLpRtVnZbJcHqTyUeWoIaSdFgHjKlZ"]);
    let databricks = cat(&["dapi", "0a1b2c3d4e5f60718293a4b5c6d7e8f9"]);
    let digitalocean = cat(&[
        "dop_v1_",
        "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
    ]);
    // gitleaks' vendors added later: fake values from repeated patterns.
    let fake = "Xk9m2Qw7Lp4Rt8Vn3ZbJc5Hq1Ty6Ue0W";
    let hex = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
    let uuid = cat(&["0a1b2c3d", "-4e5f-6071-8293-", "a4b5c6d7e8f9"]);
    let hrku = cat(&["HRKU-", "AA", fake, "_", &fake[..25]]);
    let atlassian = cat(&["ATATT3", &fake.repeat(6)[..177], "=", "0A1B2C3D"]);
    let glc = cat(&["glc_", "eyJvIjoi", fake, "In0="]);
    let glsa = cat(&["glsa_", fake, "_", &hex[..8]]);
    let grafana = cat(&["eyJrIjoi", fake, fake, "IiwibiI6ImV4YW1wbGUifQ=="]);
    let hvs = cat(&["hvs.", "CAESI", fake, fake, fake]);
    let vault_legacy = cat(&["s.", &fake[..24]]);
    let tfe = cat(&[&fake[..14], ".atlasv1.", fake, fake, "Zx"]);
    let sntryu = cat(&["sntryu_", hex, hex]);
    let sntrys = cat(&[
        "sntrys_",
        "eyJpYXQiOjE3MDAwMDAwMDB9",
        "LCJyZWdpb25fdXJsIjoiaHR0cHM6Ly91cy5zZW50cnkuaW8ifQ",
        "_",
        &fake.repeat(2)[..43],
    ]);
    let age = cat(&[
        "AGE-SECRET-KEY-",
        "1",
        &"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L".repeat(2)[..58],
    ]);
    let pmak = cat(&["PMAK-", &hex[..24], "-", hex, "ab"]);
    let doppler = cat(&["dp.pt.", fake, &fake[..11]]);
    let linear = cat(&["lin_api_", fake, &fake[..8]]);
    let pulumi = cat(&["pul-", hex, &hex[..8]]);
    let square = cat(&["EAAA", fake, &fake[..28]]);
    let sq0csp = cat(&["sq0csp-", fake, &fake[..11]]);
    let okta = cat(&["00", fake, &fake[..8]]);
    let dd_app = cat(&[hex, "01234567"]);
    let sas_sig = cat(&["Xk9m2Qw7Lp4Rt8Vn3ZbJc5Hq1Ty6Ue0W", "%2BIaSd4Fg7Hj%3D"]);
    vec![
        Case {
            kind: "heroku-api-key",
            text: format!("HEROKU_API_KEY={uuid}\n"),
            secret: uuid,
        },
        Case {
            kind: "heroku-api-key",
            text: format!("heroku auth:token # {hrku}"),
            secret: hrku,
        },
        Case {
            kind: "atlassian-token",
            text: format!("curl -u me@example.com:{atlassian} https://x.atlassian.net"),
            secret: atlassian,
        },
        Case {
            kind: "grafana-token",
            text: format!("GRAFANA_CLOUD_TOKEN = \"{glc}\""),
            secret: glc,
        },
        Case {
            kind: "grafana-token",
            text: format!("-H 'Authorization: Bearer {glsa}'"),
            secret: glsa,
        },
        Case {
            kind: "grafana-token",
            text: format!("grafana:\n  key: {grafana}\n"),
            secret: grafana,
        },
        Case {
            kind: "vault-token",
            text: format!("export VAULT_TOKEN={hvs}"),
            secret: hvs,
        },
        Case {
            kind: "vault-token",
            text: format!("vault_token = \"{vault_legacy}\""),
            secret: vault_legacy,
        },
        Case {
            kind: "terraform-token",
            text: format!("credentials \"app.terraform.io\" {{\n  token = \"{tfe}\"\n}}"),
            secret: tfe,
        },
        Case {
            kind: "sentry-token",
            text: format!("SENTRY_AUTH_TOKEN={sntryu}"),
            secret: sntryu,
        },
        Case {
            kind: "sentry-token",
            text: format!("auth.token={sntrys}\n"),
            secret: sntrys,
        },
        Case {
            kind: "age-secret-key",
            text: format!("# created: 2024-01-01\n{age}\n"),
            secret: age,
        },
        Case {
            kind: "postman-token",
            text: format!("x-api-key: {pmak}"),
            secret: pmak,
        },
        Case {
            kind: "doppler-token",
            text: format!("doppler configure set token {doppler}"),
            secret: doppler,
        },
        Case {
            kind: "linear-api-key",
            text: format!("new LinearClient({{ apiKey: \"{linear}\" }})"),
            secret: linear,
        },
        Case {
            kind: "pulumi-token",
            text: format!("PULUMI_ACCESS_TOKEN={pulumi}"),
            secret: pulumi,
        },
        Case {
            kind: "square-token",
            text: format!("client = Client(access_token='{square}')"),
            secret: square,
        },
        Case {
            kind: "square-token",
            text: format!("square.oauth_secret: {sq0csp}"),
            secret: sq0csp,
        },
        Case {
            kind: "okta-token",
            text: format!("OKTA_API_TOKEN: \"{okta}\""),
            secret: okta,
        },
        Case {
            kind: "datadog-key",
            text: format!("DD_APP_KEY={dd_app}"),
            secret: dd_app.clone(),
        },
        Case {
            kind: "datadog-key",
            text: format!("datadog_api_key = \"{hex}\""),
            secret: hex.to_owned(),
        },
        Case {
            kind: "twilio-auth-token",
            text: format!("TWILIO_AUTH_TOKEN = '{hex}'"),
            secret: hex.to_owned(),
        },
        Case {
            kind: "azure-storage-key",
            text: format!(
                "https://acct.blob.core.windows.net/c/f?sv=2022-11-02&sp=r&sig={sas_sig}"
            ),
            secret: sas_sig,
        },
        Case {
            kind: "gitlab-token",
            text: format!("GITLAB_TOKEN={glpat}\n"),
            secret: glpat,
        },
        Case {
            kind: "stripe-key",
            text: format!("Stripe.api_key = '{stripe}'"),
            secret: stripe,
        },
        Case {
            kind: "google-api-key",
            text: format!("<string name=\"maps_key\">{google}</string>"),
            secret: google,
        },
        Case {
            kind: "azure-storage-key",
            text: format!(
                "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={account_key};EndpointSuffix=core.windows.net"
            ),
            secret: account_key,
        },
        Case {
            kind: "azure-client-secret",
            text: format!("AZURE_CLIENT_SECRET={azure_ad}\n"),
            secret: azure_ad,
        },
        Case {
            kind: "npm-token",
            text: format!("//registry.npmjs.org/:_authToken={npm}\n"),
            secret: npm,
        },
        Case {
            kind: "pypi-token",
            text: format!("[pypi]\nusername = __token__\npassword = {pypi}\n"),
            secret: pypi,
        },
        Case {
            kind: "twilio-key",
            text: format!("client = Client(\"{twilio}\", secret)"),
            secret: twilio,
        },
        Case {
            kind: "sendgrid-key",
            text: format!("sg = SendGridAPIClient('{sendgrid}')"),
            secret: sendgrid,
        },
        Case {
            kind: "mailgun-key",
            text: format!("auth=(\"api\", \"{mailgun}\")"),
            secret: mailgun,
        },
        Case {
            kind: "shopify-token",
            text: format!("X-Shopify-Access-Token: {shopify}"),
            secret: shopify,
        },
        Case {
            kind: "huggingface-token",
            text: format!("login(\"{hf}\")"),
            secret: hf,
        },
        Case {
            kind: "databricks-token",
            text: format!("host = x\ntoken = {databricks}\n"),
            secret: databricks,
        },
        Case {
            kind: "digitalocean-token",
            text: format!("export DIGITALOCEAN_ACCESS_TOKEN={digitalocean}"),
            secret: digitalocean,
        },
        Case {
            kind: "aws-secret-key",
            // The issue's case: a typed constant.
            text: format!("pub const SECRET_ACCESS_KEY: &str = \"{aws_secret}\";"),
            secret: aws_secret.clone(),
        },
        Case {
            kind: "private-key",
            text: format!("key:\n{pem}\nend"),
            secret: body[..64].to_owned(),
        },
        Case {
            kind: "private-key",
            text: format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n{}",
                &body[..64],
                &body[64..]
            ),
            secret: body[64..].to_owned(),
        },
        Case {
            kind: "private-key",
            text: format!("const KEY: &str = \"{}\";", pem.replace('\n', "\\n")),
            secret: body[..64].to_owned(),
        },
        Case {
            kind: "private-key",
            text: format!(
                "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
                &body[..70]
            ),
            secret: body[..70].to_owned(),
        },
        Case {
            kind: "aws-access-key",
            text: format!("aws_access_key_id = {akia}\n"),
            secret: akia.clone(),
        },
        Case {
            kind: "aws-access-key",
            text: format!("let id = \"{asia}\";"),
            secret: asia,
        },
        Case {
            kind: "aws-secret-key",
            text: format!("aws_secret_access_key = {aws_secret}\n"),
            secret: aws_secret.clone(),
        },
        Case {
            kind: "aws-secret-key",
            text: format!("{{\"AWS_SECRET_ACCESS_KEY\": \"{aws_secret}\"}}"),
            secret: aws_secret.clone(),
        },
        Case {
            kind: "github-token",
            text: format!("GITHUB_TOKEN={ghp}"),
            secret: ghp,
        },
        Case {
            kind: "github-token",
            text: format!("git clone https://x:{pat}@github.com/o/r"),
            secret: pat,
        },
        Case {
            kind: "slack-token",
            text: format!("client = WebClient(token=\"{slack}\")"),
            secret: slack,
        },
        Case {
            kind: "slack-webhook",
            text: format!("curl -X POST {hook}"),
            secret: hook,
        },
        Case {
            kind: "anthropic-key",
            text: format!("ANTHROPIC_API_KEY={ant}"),
            secret: ant,
        },
        Case {
            kind: "openai-key",
            text: format!("openai.api_key = \"{oai}\""),
            secret: oai,
        },
        Case {
            kind: "openai-key",
            text: format!("key: {oai_legacy}"),
            secret: oai_legacy,
        },
        Case {
            kind: "jwt",
            text: format!("const t = '{jwt}';"),
            secret: jwt.clone(),
        },
        Case {
            kind: "jwt",
            text: format!("Authorization: Bearer {jwt}"),
            secret: jwt,
        },
        Case {
            kind: "bearer-token",
            text: format!("curl -H 'Authorization: Bearer {bearer}' https://api"),
            secret: bearer.clone(),
        },
        Case {
            kind: "bearer-token",
            text: format!("Authorization: Basic {basic}"),
            secret: basic,
        },
        Case {
            kind: "url-credentials",
            text: format!("DATABASE_URL=postgres://app:{db_pass}@db.internal:5432/app"),
            secret: db_pass,
        },
        Case {
            kind: "generic-secret",
            text: format!("password = \"{pw}\""),
            secret: pw,
        },
        Case {
            kind: "generic-secret",
            text: format!("API_KEY={hexkey}\n"),
            secret: hexkey,
        },
        Case {
            kind: "generic-secret",
            text: format!("oauth:\n  client_secret: {yaml_secret}\n"),
            secret: yaml_secret,
        },
        Case {
            kind: "generic-secret",
            text: format!("{{\"token\": \"{json_token}\"}}"),
            secret: json_token,
        },
    ]
}

#[test]
fn every_detector_finds_its_secret() {
    let mut seen = std::collections::BTreeSet::new();
    for case in cases() {
        let r = redact(&case.text);
        assert!(
            !r.text.contains(&case.secret),
            "{} leaked: {}",
            case.kind,
            r.text
        );
        assert!(
            r.text.contains(&placeholder(case.kind)),
            "{}: {}",
            case.kind,
            r.text
        );
        assert_eq!(r.count, 1, "{}: {:?}", case.kind, r);
        assert_eq!(
            r.kinds.get(case.kind),
            Some(&1),
            "{}: {:?}",
            case.kind,
            r.kinds
        );
        seen.insert(case.kind);
    }
    assert_eq!(seen.len(), KINDS.len(), "a case for every detector");
}

#[test]
fn only_the_secret_is_replaced() {
    let aws_secret = cat(&["wJalrXUtnFEMI/K7MDENG/", "bPxRfiCY9XAMPLEKEY"]);
    let r = redact(&format!(
        "[default]\naws_secret_access_key = {aws_secret}\nregion = us-east-1\n"
    ));
    assert_eq!(
        r.text,
        "[default]\naws_secret_access_key = [REDACTED:aws-secret-key]\nregion = us-east-1\n"
    );
    let r = redact(&format!(
        "password = \"{}\"; // ok",
        cat(&["P@ss", "w0rd!2024xyz"])
    ));
    assert_eq!(r.text, "password = \"[REDACTED:generic-secret]\"; // ok");
}

#[test]
fn counts_add_up_over_a_file_with_many_secrets() {
    let all: Vec<Case> = cases();
    let text: String = all.iter().map(|c| format!("{}\n\n", c.text)).collect();
    let r = redact(&text);
    assert_eq!(r.count, all.len(), "{}", r.text);
    for case in &all {
        assert!(!r.text.contains(&case.secret), "{} leaked", case.kind);
    }
    let total: usize = r.kinds.values().sum();
    assert_eq!(total, r.count);
    assert_eq!(r.kinds["private-key"], 4);
    assert_eq!(r.kinds["aws-secret-key"], 3);
    assert_eq!(r.kinds["jwt"], 2);
    // Idempotent: placeholders are not secrets.
    let again = redact(&r.text);
    assert_eq!(again.count, 0, "{:?}", again.kinds);
    assert_eq!(again.text, r.text);
}

#[test]
fn overlapping_findings_are_merged() {
    let ant = cat(&[
        "sk-ant-",
        "api03-",
        "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe9Dc8Ba7",
    ]);
    let r = redact(&format!("api_key = \"{ant}\""));
    assert_eq!(r.count, 1);
    assert_eq!(r.text, "api_key = \"[REDACTED:anthropic-key]\"");
}

/// Ordinary code, lock files, CI files and prose: nothing here is a secret.
const ORDINARY: &str = r#"
use std::collections::HashMap;

/// Splits source text into tokens.
pub struct Lexer<'a> {
    tokens: Vec<Token>,
    source: &'a str,
}

impl<'a> Lexer<'a> {
    pub fn next_token(&mut self) -> Option<Token> {
        let token = self.tokens.pop()?;
        let max_tokens = 4096;
        let tokens_per_day = 200000;
        let password_hash = argon2::hash_encoded(password.as_bytes(), &salt, &config)?;
        let secret = std::env::var("APP_SECRET").expect("set APP_SECRET");
        let api_key = config.api_key.clone();
        let auth = format!("Bearer {}", token);
        headers.insert("Authorization", format!("Bearer {token}"));
        let secret_key: SecretKey = SecretKey::from_bytes(&bytes)?;
        Some(token)
    }
}

fn check(password: &str, token: Option<String>) -> bool {
    password.len() >= 12
}

const TOKEN_KIND_IDENT: u8 = 3;
let digest = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
let commit = "3f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39";
let id = "550e8400-e29b-41d4-a716-446655440000";
assert_eq!(base64::encode(b"hello world, this is a test"), "aGVsbG8gd29ybGQsIHRoaXMgaXMgYSB0ZXN0");

[[package]]
name = "aho-corasick"
version = "1.1.3"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "8e60d3430d3a69478ad0993f19238d2df97c507009a52b3c10addcd7f6bcb916"
dependencies = [
 "memchr",
]

"node_modules/typescript": {
  "version": "5.4.5",
  "resolved": "https://registry.npmjs.org/typescript/-/typescript-5.4.5.tgz",
  "integrity": "sha512-vcI4UpRgg81oIRUFwR0WSIHKt11nJ7SAVlYNIu+QpqeyXP+gpQJy/Z4+F0aGxSE4MqwjyXvW/TzgkLAx2AGHwQ==",
}

github.com/google/uuid v1.6.0 h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=

def login(username, password):
    token = session.post(url, data={"password": password}).json()["token"]
    if not token:
        raise AuthError("missing token")
    secret_name = "prod/db/password"
    api_key = os.getenv("OPENAI_API_KEY", "")
    self.token = token_from_header(request.headers["Authorization"])

const jwt = require('jsonwebtoken');
const token = jwt.sign({ sub: user.id }, process.env.JWT_SECRET, { expiresIn: '1h' });
fetch(url, { headers: { Authorization: `Bearer ${token}` } });
const apiKey = process.env.API_KEY;
const tokenizer = "cl100k_base";

env:
  GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}
  NPM_TOKEN: ${{ secrets.NPM_TOKEN }}
  password: ${DB_PASSWORD}
  secret: <your-secret-here>

API_KEY=your-api-key-here
SECRET_KEY=changeme
DB_PASSWORD=
AWS_ACCESS_KEY_ID=
token = "ANTHROPIC_API_KEY"
credentials = "/run/secrets/db_credentials"

.button { color: #ff00ff; background: url("data:image/png;base64,iVBORw0KGgo="); }
commit 9fceb02d0ae598e95dc970b74767f19372d61af8
Set the token in your password manager: it should be at least 16 characters.
Use `Authorization: Bearer <token>` with the token from the dashboard.
-----BEGIN PRIVATE KEY-----
"#;

#[test]
fn no_false_positives_on_ordinary_code() {
    let r = redact(ORDINARY);
    assert_eq!(r.count, 0, "{:?}\n{}", r.kinds, r.text);
    assert_eq!(r.text, ORDINARY);
}

#[test]
fn empty_and_plain_text() {
    assert_eq!(redact("").count, 0);
    let r = redact("fn main() { println!(\"hello\"); }");
    assert_eq!(r.count, 0);
    assert!(r.kinds.is_empty());
}

#[test]
fn generic_detector_thresholds_are_as_documented() {
    // Redacted: random-looking values under secret-like keys.
    for text in [
        "db_password: 'Tr0ub4dor&3xq'",
        "SESSION_TOKEN=4f9c2a7e1b8d3f6a0c5e",
        "client_secret => \"k9Qw2Zx7Lp4Rt8Vn\"",
        "my_api-key := `Qm9vbGVhbjEyMzQ1Njc4`",
    ] {
        let r = redact(text);
        assert_eq!(
            r.kinds.get("generic-secret"),
            Some(&1),
            "{text}: {}",
            r.text
        );
    }
    // Not redacted: short, single-class, templated, referenced or code values.
    for text in [
        "password = \"hunter2\"",
        "password = \"correcthorsebatterystaple\"",
        "token = \"{{ vault_token }}\"",
        "secret = \"${SECRET}\"",
        "api_key = settings.openai.api_key2",
        "token: get_token(request)",
        "tokens_per_day = 200000",
        "tokenizer = \"cl100k_base\"",
        "password_hint = \"N0t-a-s3cret!\"",
    ] {
        assert_eq!(redact(text).count, 0, "{text}");
    }
}

#[test]
fn a_truncated_key_block_is_redacted_to_its_end_only() {
    let body = "MIIBVgIBADANBgkqhkiG9w0BAQEFAASCAUAwggE8AgEAAkEAq7BFUpkGp3+XQ";
    let text = format!("-----BEGIN PRIVATE KEY-----\n{body}\n{body}\n\nfn main() {{}}\n");
    let r = redact(&text);
    assert_eq!(r.text, "[REDACTED:private-key]\n\nfn main() {}\n");
}

/// Shapes of real code that were redacted before the false-positive scan
/// (`examples/redaction_figures.rs`) found them; none is a secret.
#[test]
fn false_positives_found_in_real_code_stay_fixed() {
    for text in [
        // AWS SigV4 credential scopes and the algorithm in the header.
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host",
        "X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z",
        // Identifiers, generic types, header names, HTML entities.
        "generate_private_key: x25519_generate_private_key,",
        "let raw_private_key: Curve25519SeedBin<'_> = private_key",
        "const X_AWS_EC2_METADATA_TOKEN: &str = \"x-aws-ec2-metadata-token\";",
        "let input = r#\"<XmlBodyInput token=\"&quot;&apos;&amp;\">\"#;",
        "authorization = base64.decodebytes(authorization).decode('ascii')",
        "d(\"google-api-key\", \"{B}AIza[0-9A-Za-z_-]{35}\", whole_token),",
        // URL parsers' test inputs and placeholders.
        "Url::parse(\"redis://foo:bar@somehost:6379/0\")",
        "\"input\": \"http://&a:foo(b]c@d:2/\"",
        "(\"ftp://\u{1f605}:\u{1f642}@\u{1f642}.com\", \"ftp://\u{1f642}.com\")",
        "postgres://user:password@localhost/db",
    ] {
        let r = redact(text);
        assert_eq!(r.count, 0, "{text}\n{}", r.text);
    }
}

/// The declaration styles of the issue, one line each (the corpus has
/// them all with every kind; this is the short list to read).
#[test]
fn a_value_after_a_secret_name_is_found_in_every_declaration_style() {
    let v = cat(&["Zx81kQ2p", "Lm93NbV7", "Qw4Rt8Yu"]);
    for template in [
        "pub const API_SECRET: &str = \"%\";",
        "const apiSecret: string = \"%\";",
        "var apiSecret string = \"%\"",
        "apiSecret := \"%\"",
        "const val API_SECRET = \"%\"",
        "val apiSecret: String = \"%\"",
        "let apiSecret: String = \"%\"",
        "private static final String API_SECRET = \"%\";",
        "export API_SECRET=%",
        "API_SECRET=%",
        "ENV API_SECRET=%",
        "ENV API_SECRET %",
        "ARG API_SECRET=%",
        "<apiSecret>%</apiSecret>",
        "<add key=\"ApiSecret\" value=\"%\" />",
        "api_secret = \"%\"",
        "API_SECRET = os.environ.get(\"API_SECRET\", \"%\")",
        "{\"password\": \"%\"}",
        "api_secret: %",
        "- name: API_SECRET\n  value: %",
        "variable \"api_secret\" {\n  default = \"%\"\n}",
        "#define API_SECRET \"%\"",
        "CONFIG = \"\"\"\n[db]\npassword = %\n\"\"\"",
    ] {
        let text = template.replace('%', &v);
        let r = redact(&text);
        assert!(!r.text.contains(&v), "{template}: {}", r.text);
        assert_eq!(
            r.kinds.get("generic-secret"),
            Some(&1),
            "{template}: {}",
            r.text
        );
    }
}
