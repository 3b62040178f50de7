//! Secret redaction: find common secrets in text that is about to leave the
//! machine and replace them with placeholders.
//!
//! # Detectors
//!
//! The checklist is gitleaks' default rule set, restricted to the kinds a
//! code assistant meets in a workspace. Vendor tokens are found by their
//! shape wherever they are; the name-based detectors (`aws-secret-key`,
//! `generic-secret`) find the value after a secret-like name in every
//! common declaration style (see *Declaration styles* below). Some vendors
//! issue tokens with no prefix of their own (a Heroku API key is a UUID, a
//! Datadog key hex): those are found by their shape after a name that
//! starts with the vendor and says it holds a credential (`HEROKU_API_KEY`,
//! `twilio_auth_token`, `VAULT_TOKEN`, but not `HEROKU_APP_ID`), in the
//! same declaration styles.
//!
//! | kind | finds |
//! | --- | --- |
//! | `private-key` | `-----BEGIN … PRIVATE KEY-----` blocks (RSA, EC, DSA, OPENSSH, PKCS#8, ENCRYPTED, PGP `PRIVATE KEY BLOCK`) up to the matching `END` line, also inside JSON strings with `\n` escapes (GCP service-account files) and string concatenations; or to the end of the base64 body when a context window cut the block |
//! | `aws-access-key` | AWS access key ids (`AKIA…`, `ASIA…` and the other 4-letter prefixes, 20 characters) |
//! | `github-token` | `ghp_` (classic), `gho_` (OAuth), `ghu_`/`ghs_` (app), `ghr_` (refresh) tokens and fine-grained `github_pat_` tokens |
//! | `gitlab-token` | `glpat-`, `gldt-`, `glrt-`, `glptt-`, `glcbt-`, `glimt-`, `glagent-`, `gloas-`, `glsoat-`, `glffct-`, `glft-` tokens and `GR1348941…` runner registration tokens |
//! | `slack-token` | `xoxb-`, `xoxp-`, `xoxa-`, `xoxo-`, `xoxr-`, `xoxs-`, `xoxe-` tokens, `xoxe.xox…` configuration tokens and `xapp-` app tokens |
//! | `slack-webhook` | `https://hooks.slack.com/services/…` (and `workflows`, `triggers`) URLs |
//! | `stripe-key` | `sk_live_`, `sk_test_`, `rk_live_`, `rk_test_` (and `_prod_`) keys |
//! | `google-api-key` | Google (GCP, Firebase, Maps) API keys `AIza…` |
//! | `azure-storage-key` | the key in an Azure storage connection string (`AccountKey=…`) and the signature of a SAS URL (`sig=…`) |
//! | `azure-client-secret` | Azure AD (Entra ID) client secrets (`…8Q~…`) |
//! | `anthropic-key` | `sk-ant-…` keys |
//! | `openai-key` | `sk-…` / `sk-proj-…` / `sk-svcacct-…` / `sk-admin-…` keys (mixed case and digits required) |
//! | `npm-token` | npm access tokens `npm_…` |
//! | `pypi-token` | PyPI upload tokens `pypi-AgEIcHlwaS5vcmc…` |
//! | `twilio-key` | Twilio API keys `SK` + 32 hex digits |
//! | `twilio-auth-token` | Twilio auth tokens (32 lower-case hex digits) assigned to a `twilio…` name |
//! | `sendgrid-key` | SendGrid API keys `SG.<22>.<43>` (lengths 16–32 and 16–64 accepted) |
//! | `mailgun-key` | Mailgun private API keys `key-` + 32 hex digits |
//! | `shopify-token` | Shopify `shpat_`, `shpca_`, `shppa_`, `shpss_` tokens |
//! | `huggingface-token` | Hugging Face `hf_…` and `api_org_…` tokens |
//! | `databricks-token` | Databricks `dapi…` tokens |
//! | `digitalocean-token` | DigitalOcean `dop_v1_`, `doo_v1_`, `dor_v1_` tokens |
//! | `atlassian-token` | Atlassian (Jira, Confluence) API tokens `ATATT3…` (192 characters) |
//! | `grafana-token` | Grafana Cloud access policy tokens `glc_…`, service account tokens `glsa_…_<8 hex>` and (legacy) API keys `eyJrIjoi…` |
//! | `vault-token` | HashiCorp Vault `hvs.` (service), `hvb.` (batch) and `hvr.` (recovery) tokens; legacy `s.` + 24 alphanumerics assigned to a `vault…` name |
//! | `terraform-token` | Terraform Cloud/Enterprise API tokens `<14>.atlasv1.<60–70>` |
//! | `sentry-token` | Sentry organization tokens `sntrys_eyJ…_<43>` and user tokens `sntryu_` + 64 hex digits |
//! | `age-secret-key` | age identities `AGE-SECRET-KEY-1…` (58 bech32 characters) |
//! | `postman-token` | Postman API keys `PMAK-<24 hex>-<34 hex>` |
//! | `doppler-token` | Doppler `dp.pt.` (personal), `dp.st.` (service), `dp.sa.`, `dp.ct.`, `dp.scim.`, `dp.audit.` tokens |
//! | `linear-api-key` | Linear API keys `lin_api_` + 40 alphanumerics |
//! | `pulumi-token` | Pulumi access tokens `pul-` + 40 hex digits |
//! | `square-token` | Square access tokens `EAAA…` and `sq0atp-…`, OAuth secrets `sq0csp-…` |
//! | `heroku-api-key` | Heroku API keys: `HRKU-AA…` anywhere, a UUID assigned to a `heroku…` name |
//! | `datadog-key` | Datadog API (32) and application (40) keys assigned to a `datadog…`, `DD_API_KEY` or `DD_APP_KEY` name |
//! | `okta-token` | Okta API tokens (`00` + 40 characters) assigned to an `okta…` name |
//! | `jwt` | JSON Web Tokens (`eyJ….eyJ….…`) |
//! | `aws-secret-key` | 40-character secret keys assigned to `aws_secret_access_key`, `secret_access_key` and similar names |
//! | `bearer-token` | the credential after `Bearer` or in an `Authorization:` header |
//! | `url-credentials` | the password in `scheme://user:password@host` (also with an empty user, `redis://:password@host`) |
//! | `generic-secret` | a value assigned to a name ending in `password`, `passwd`, `pass`, `passphrase`, `pwd`, `secret`, `token`, `creds`, `credential(s)`, `api_key`, `apikey`, `access_key`, `secret_key`, `private_key`, `signing_key`, `encryption_key`, `master_key`, `account_key`, `auth_key`, `secret_key_base` whose characters look random (Shannon entropy threshold, mixed character classes), and passwords in SQL (`IDENTIFIED BY '…'`, `WITH PASSWORD '…'`) |
//!
//! Only the secret itself is replaced (`aws_secret_access_key =
//! [REDACTED:aws-secret-key]`), so the model still sees the shape of the
//! code.
//!
//! # Declaration styles
//!
//! A secret-like NAME (matched case-insensitively, with `_`, `-`, `.` or
//! nothing between words, so `AWS_SECRET_ACCESS_KEY`, `awsSecretAccessKey`
//! and `aws.secret-access-key` all count) is followed by its value in any of
//! these forms:
//!
//! | style | example |
//! | --- | --- |
//! | assignment, YAML, JSON, TOML, HCL, `.env`, shell, properties, dicts | `NAME = "v"`, `NAME: v`, `"name": "v"`, `NAME=v`, `export NAME=v`, `'name' => 'v'`, `NAME := "v"`, `process.env.NAME \|\| "v"` |
//! | typed constants | `pub const NAME: &str = "v";` (Rust), `const NAME: string = "v"` (TS), `val NAME: String = "v"` (Kotlin), `let NAME: String = "v"` (Swift), `NAME: str = "v"` (Python) |
//! | Go typed | `var NAME string = "v"` |
//! | calls and defaults | `NAME = os.environ.get("X", "v")`, `NAME: String::from("v")`, `Some("v")`, `os.Setenv("NAME", "v")`, `define('NAME', 'v')`, `ENV.fetch("NAME", "v")` |
//! | key/value pairs | `<add key="Name" value="v"/>`, `{"name": "NAME", "value": "v"}`, Kubernetes `- name: NAME` / `value: v` |
//! | XML elements | `<name>v</name>`, `<entry key="name">v</entry>` |
//! | HCL variables | `variable "name" { default = "v" }` |
//! | directives | `ENV NAME v`, `ARG NAME=v` (Dockerfile), `#define NAME "v"`, `setenv NAME v` |
//! | string prefixes | raw and prefixed literals: `r#"v"#`, `b"v"`, `f"v"`, `@"v"`, `` `v` `` |
//!
//! Multi-line strings (triple-quoted, raw, heredocs, YAML block scalars,
//! Java text blocks) need nothing special: the detectors look at the text,
//! not the syntax, so a private key or a `password = …` line inside one is
//! found like anywhere else.
//!
//! # What is deliberately not redacted
//!
//! Bare hex or base64 strings are not secrets by themselves: commit ids,
//! `Cargo.lock` checksums, `package-lock.json` integrity hashes, UUIDs and
//! test vectors are everywhere in ordinary code, and redacting them would
//! damage completions. They are redacted only when assigned to a
//! secret-like name (`token = "…"`). Passphrases made only of lowercase
//! words, short passwords (under 8 characters) and values that look like
//! identifiers, words joined by separators, paths, URLs or
//! environment-variable references are not redacted by the generic
//! detector.
//!
//! # Cost
//!
//! Every detector is a `regex` automaton (linear in the text) with a
//! literal prefilter where the shape has a literal prefix; the checks run
//! on matches only. A match rejected by its check is retried one character
//! later, and every match is bounded in length, so the whole pass stays
//! linear. `cargo run --release -p cordon-policy --example
//! redaction_figures` measures throughput, recall on the planted corpus and
//! false positives on real code (see `BENCHMARKS.md`).

mod assign;
mod detectors;
mod pem;

use std::collections::BTreeMap;
use std::ops::Range;

use detectors::DETECTORS;

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

/// Every kind of secret [`redact`] detects, in priority order: when two
/// detectors find overlapping spans, the merged span takes the kind of the
/// one that starts first, or of the earlier kind here when both start at
/// the same byte.
pub const KINDS: [&str; 41] = [
    "private-key",
    "aws-access-key",
    "github-token",
    "gitlab-token",
    "slack-token",
    "slack-webhook",
    "stripe-key",
    "google-api-key",
    "azure-storage-key",
    "azure-client-secret",
    "anthropic-key",
    "openai-key",
    "npm-token",
    "pypi-token",
    "twilio-key",
    "twilio-auth-token",
    "sendgrid-key",
    "mailgun-key",
    "shopify-token",
    "huggingface-token",
    "databricks-token",
    "digitalocean-token",
    "atlassian-token",
    "grafana-token",
    "vault-token",
    "terraform-token",
    "sentry-token",
    "age-secret-key",
    "postman-token",
    "doppler-token",
    "linear-api-key",
    "pulumi-token",
    "square-token",
    "heroku-api-key",
    "datadog-key",
    "okta-token",
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

/// The priority of `kind`: its index in [`KINDS`].
fn priority(kind: &str) -> usize {
    KINDS
        .iter()
        .position(|k| *k == kind)
        .expect("every detector's kind is in KINDS")
}

/// Finds the secrets in `text` and replaces each with
/// `[REDACTED:<kind>]` ([`placeholder`]).
///
/// The host calls this on everything it sends to a remote backend (when
/// [`Effective::redact_secrets`](crate::Effective::redact_secrets) is on)
/// and records `count`/`kinds` in the audit log; the secrets themselves are
/// never logged. Overlapping findings are merged, so no part of a secret
/// survives because two detectors disagreed on its bounds.
pub fn redact(text: &str) -> Redacted {
    let spans = spans(text);
    if spans.is_empty() {
        return Redacted {
            text: text.to_owned(),
            ..Redacted::default()
        };
    }
    let mut out = String::with_capacity(text.len());
    let mut kinds = BTreeMap::new();
    let mut at = 0;
    for (range, kind) in &spans {
        out.push_str(&text[at..range.start]);
        out.push_str(&placeholder(kind));
        at = range.end;
        *kinds.entry(*kind).or_insert(0) += 1;
    }
    out.push_str(&text[at..]);
    Redacted {
        text: out,
        count: spans.len(),
        kinds,
    }
}

/// The byte range and kind of every secret [`redact`] replaces in `text`,
/// in order, not overlapping (for tools that show where a secret was).
pub fn spans(text: &str) -> Vec<(Range<usize>, &'static str)> {
    // (range, priority) of every finding.
    let mut found: Vec<(Range<usize>, usize)> = Vec::new();
    for detector in DETECTORS.iter() {
        detector.find(text, |range, kind| found.push((range, priority(kind))));
    }
    found.sort_by_key(|(r, p)| (r.start, *p));
    // Merge overlaps; the merged span keeps the kind of its first finding.
    let mut merged: Vec<(Range<usize>, &'static str)> = Vec::with_capacity(found.len());
    for (range, priority) in found {
        match merged.last_mut() {
            Some((last, _)) if range.start < last.end => last.end = last.end.max(range.end),
            _ => merged.push((range, KINDS[priority])),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::assign::entropy;
    use super::*;

    #[test]
    fn kinds_match_detectors() {
        let found: BTreeSet<&str> = DETECTORS
            .iter()
            .flat_map(|d| d.kinds.iter().copied())
            .collect();
        let all: BTreeSet<&str> = KINDS.into_iter().collect();
        assert_eq!(found, all, "a detector for every kind, every kind in KINDS");
        assert_eq!(all.len(), KINDS.len(), "each kind once in KINDS");
    }

    #[test]
    fn entropy_of_simple_strings() {
        assert_eq!(entropy(""), 0.0);
        assert_eq!(entropy("aaaa"), 0.0);
        assert!((entropy("abcd") - 2.0).abs() < 1e-9);
    }
}
