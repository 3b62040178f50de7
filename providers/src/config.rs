//! One `[backends.NAME]` table of `cordon.toml`, and its validation.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::error::ConfigError;
use crate::secret::Secret;

/// Default for `timeout_ms`.
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
/// Default for `max_retries`.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Default API root of the `anthropic` provider.
pub const ANTHROPIC_DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// Default API root of the `openai` provider.
pub const OPENAI_DEFAULT_BASE_URL: &str = "https://api.openai.com";
/// Default key variable of the `anthropic` provider.
pub const ANTHROPIC_DEFAULT_KEY_ENV: &str = "ANTHROPIC_API_KEY";
/// Default key variable of the `openai` provider.
pub const OPENAI_DEFAULT_KEY_ENV: &str = "OPENAI_API_KEY";

/// One `[backends.NAME]` table of `cordon.toml`. The key names are part of
/// the user contract:
///
/// ```toml
/// [backends.claude]
/// provider = "anthropic"          # anthropic | bedrock | openai | local
/// model = "claude-sonnet-4-5"
/// base_url = "https://api.anthropic.com"   # API root; Bedrock: endpoint override
/// api_key_env = "ANTHROPIC_API_KEY"        # default per provider
/// region = "us-east-1"            # bedrock only
/// timeout_ms = 30000
/// max_retries = 2
/// ```
///
/// Residency and compliance keys:
///
/// ```toml
/// [backends.claude-us]
/// provider = "anthropic"
/// model = "claude-opus-4-6"
/// inference_geo = "us"             # anthropic only: "us" | "global"
///
/// [backends.bedrock-us]
/// provider = "bedrock"
/// model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
/// region = "us-east-1"
/// profile = "team"                 # bedrock only: AWS profile
/// use_fips = true                  # bedrock only: FIPS endpoint
/// # bedrock only: the guardrail sent with every Converse / ConverseStream call
/// guardrail = { id = "gr-abc123", version = "1", trace = "disabled", stream_processing = "sync" }
/// ```
///
/// Unknown keys are an error, so a typo never silently means a default.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    /// Which wire protocol: `anthropic`, `bedrock`, `openai` (any
    /// OpenAI-compatible server: OpenAI, Ollama, vLLM, llama.cpp, gateways)
    /// or `local` (the host's built-in model; [`crate::Provider::new`]
    /// refuses it).
    pub provider: ProviderKind,
    /// Model id, e.g. `claude-sonnet-4-5`, `anthropic.claude-3-5-sonnet-20240620-v1:0`,
    /// an inference profile `us.anthropic.claude-…`, `qwen2.5-coder:7b`.
    pub model: String,
    /// API root (`https://api.anthropic.com`, `http://127.0.0.1:11434`);
    /// request paths such as `/v1/messages` are appended. A trailing `/v1`
    /// is accepted and dropped, as OpenAI SDKs spell the root that way.
    /// Bedrock: endpoint override for gateways, VPC endpoints and tests
    /// (used as given, path included).
    pub base_url: Option<String>,
    /// Name of the environment variable holding the API key. Default
    /// `ANTHROPIC_API_KEY` (required) or `OPENAI_API_KEY` (optional: no key,
    /// no `Authorization` header, as local servers want). Not for Bedrock,
    /// which uses the AWS credential chain.
    pub api_key_env: Option<String>,
    /// AWS region, Bedrock only. Default: the AWS chain (`AWS_REGION`,
    /// profile).
    pub region: Option<String>,
    /// Named AWS profile, Bedrock only. Default: the AWS chain
    /// (`AWS_PROFILE`, else `default`).
    pub profile: Option<String>,
    /// Bound on one request in milliseconds, default 30000: connect, send
    /// and the whole reply; for streams, the time to the first byte and
    /// every gap between chunks. Each retry gets its own bound.
    pub timeout_ms: Option<u64>,
    /// Retries after a 429, a 5xx or a connection failure, default 2. Never
    /// after another 4xx, a timeout, or once a stream has delivered text.
    pub max_retries: Option<u32>,
    /// Fill-in-the-middle endpoint, `openai` only: `completions` (default,
    /// `/v1/completions` with `suffix`: vLLM, llama.cpp), `ollama` (Ollama's
    /// `/api/generate` with `suffix`) or `none`.
    pub fim: Option<FimMode>,
    /// Cap on `max_tokens` applied to every request.
    pub max_tokens: Option<u32>,
    /// Bedrock only: the guardrail applied to every call, sent as the
    /// Converse `guardrailConfig` (ConverseStream: with its stream
    /// processing mode). An intervention is reported as
    /// [`crate::ProviderError::GuardrailIntervened`], never as an answer.
    #[serde(default)]
    pub guardrail: Option<GuardrailConfig>,
    /// Bedrock only: use the FIPS endpoint
    /// (`https://bedrock-runtime-fips.REGION.amazonaws.com`). Default: the
    /// AWS chain (`AWS_USE_FIPS_ENDPOINT`, `use_fips_endpoint` in the
    /// profile), else off. Cannot be combined with an endpoint override.
    #[serde(default)]
    pub use_fips: Option<bool>,
    /// Anthropic only: where the model may run, sent as the Messages
    /// `inference_geo`: `"us"` (US-only inference) or `"global"` (the
    /// API's default). Not set: not sent. Supported by recent models only
    /// (others answer 400).
    #[serde(default)]
    pub inference_geo: Option<String>,
}

/// The `guardrail` table of a Bedrock backend: an Amazon Bedrock
/// Guardrail applied to every call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardrailConfig {
    /// The guardrail identifier (`abcd1234efgh`) or its ARN
    /// (`arn:aws:bedrock:REGION:ACCOUNT:guardrail/ID`).
    pub id: String,
    /// The guardrail version: a number (`"1"`) or `"DRAFT"`.
    pub version: String,
    /// Whether Bedrock returns the guardrail's trace: `disabled` (default),
    /// `enabled` or `enabled_full`.
    #[serde(default)]
    pub trace: GuardrailTrace,
    /// ConverseStream only: `sync` (default: text is released only after
    /// the guardrail checked it) or `async` (text is streamed while the
    /// guardrail checks it, so blocked text may already have been shown
    /// when the intervention arrives).
    #[serde(default)]
    pub stream_processing: GuardrailStreamProcessing,
}

/// The `trace` of a [`GuardrailConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardrailTrace {
    /// No trace (default).
    #[default]
    Disabled,
    /// The guardrail's assessment is returned in the reply's trace.
    Enabled,
    /// The full assessment, including content that passed.
    EnabledFull,
}

impl GuardrailTrace {
    /// The wire name: `disabled`, `enabled`, `enabled_full`.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardrailTrace::Disabled => "disabled",
            GuardrailTrace::Enabled => "enabled",
            GuardrailTrace::EnabledFull => "enabled_full",
        }
    }
}

/// The `stream_processing` of a [`GuardrailConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardrailStreamProcessing {
    /// Text is held until the guardrail has checked it (default).
    #[default]
    Sync,
    /// Text streams while the guardrail checks it.
    Async,
}

impl GuardrailStreamProcessing {
    /// The wire name: `sync`, `async`.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardrailStreamProcessing::Sync => "sync",
            GuardrailStreamProcessing::Async => "async",
        }
    }
}

/// The wire protocol of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Anthropic Messages API.
    Anthropic,
    /// Amazon Bedrock Converse / ConverseStream, through the AWS SDK.
    Bedrock,
    /// OpenAI-compatible chat and completions API.
    #[serde(rename = "openai")]
    OpenAi,
    /// The host's built-in offline model; not served by this crate.
    Local,
}

impl ProviderKind {
    /// The name used in `cordon.toml`: `anthropic`, `bedrock`, `openai`, `local`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::OpenAi => "openai",
            ProviderKind::Local => "local",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an `openai` backend serves fill-in-the-middle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FimMode {
    /// `POST /v1/completions` with `prompt` and `suffix` (vLLM, llama.cpp
    /// server, and other OpenAI-compatible servers with FIM models).
    #[default]
    Completions,
    /// Ollama's native `POST /api/generate` with `prompt` and `suffix`.
    Ollama,
    /// No fill-in-the-middle: `fim` fails with [`crate::ProviderError::Unsupported`].
    None,
}

/// A validated configuration, with defaults filled in and the key read.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub name: String,
    pub kind: ProviderKind,
    pub model: String,
    /// API root without a trailing slash (or `/v1`); `None` for Bedrock
    /// without an endpoint override.
    pub base_url: Option<String>,
    /// The variable the key was read from (named in error messages).
    pub key_env: Option<String>,
    pub key: Option<Secret>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub timeout: Duration,
    pub max_retries: u32,
    pub fim: FimMode,
    pub max_tokens: Option<u32>,
    pub guardrail: Option<GuardrailConfig>,
    pub use_fips: Option<bool>,
    pub inference_geo: Option<String>,
    /// `AWS_PROFILE` as `env` gave it (Bedrock; reported, not applied: the
    /// SDK reads it itself).
    pub env_profile: Option<String>,
}

impl Settings {
    /// Settings of backend `name` of `kind` at `base_url`, no key, for
    /// unit tests of request bodies.
    #[cfg(test)]
    pub fn for_test(name: &str, kind: ProviderKind, model: &str, base_url: &str) -> Self {
        Settings {
            name: name.into(),
            kind,
            model: model.into(),
            base_url: Some(base_url.into()),
            key_env: None,
            key: None,
            region: None,
            profile: None,
            timeout: Duration::from_secs(1),
            max_retries: 0,
            fim: FimMode::default(),
            max_tokens: None,
            guardrail: None,
            use_fips: None,
            inference_geo: None,
            env_profile: None,
        }
    }

    /// Validate `config` for backend `name`, reading the key from the
    /// environment through `env` (a parameter so tests need not touch the
    /// process environment).
    pub fn from_config(
        name: &str,
        config: &BackendConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let err = |what: String| ConfigError::new(name, what);
        let kind = config.provider;
        if kind == ProviderKind::Local {
            return Err(err(
                "provider \"local\" is the built-in offline model, served by the host itself, not by an HTTP client".into(),
            ));
        }
        let model = config.model.trim();
        if model.is_empty() {
            return Err(err(format!(
                "model is empty — set model to the {kind} model id"
            )));
        }
        if config.region.is_some() && kind != ProviderKind::Bedrock {
            return Err(err(format!(
                "region is only for provider = \"bedrock\" — remove it from this {kind} backend"
            )));
        }
        if config.profile.is_some() && kind != ProviderKind::Bedrock {
            return Err(err(format!(
                "profile (an AWS profile) is only for provider = \"bedrock\" — remove it from this {kind} backend"
            )));
        }
        if config.fim.is_some() && kind != ProviderKind::OpenAi {
            return Err(err(format!(
                "fim is only for provider = \"openai\"; {kind} serves fill-in-the-middle through a chat prompt — remove it"
            )));
        }
        if config.api_key_env.is_some() && kind == ProviderKind::Bedrock {
            return Err(err(
                "api_key_env does not apply to bedrock, which takes credentials from the AWS chain (env, profile, SSO) — remove it, and set profile or AWS_PROFILE instead".into(),
            ));
        }
        if let Some(env_name) = &config.api_key_env
            && env_name.trim().is_empty()
        {
            return Err(err(
                "api_key_env is empty — set it to the name of the variable that holds the key"
                    .into(),
            ));
        }
        if let Some(guardrail) = &config.guardrail {
            if kind != ProviderKind::Bedrock {
                return Err(err(format!(
                    "guardrail (an Amazon Bedrock Guardrail) is only for provider = \"bedrock\" — remove it from this {kind} backend"
                )));
            }
            check_guardrail(guardrail).map_err(err)?;
        }
        if config.use_fips.is_some() && kind != ProviderKind::Bedrock {
            return Err(err(format!(
                "use_fips (the AWS FIPS endpoint) is only for provider = \"bedrock\" — remove it from this {kind} backend, and point base_url at a FIPS endpoint instead if there is one"
            )));
        }
        if let Some(geo) = &config.inference_geo {
            if kind != ProviderKind::Anthropic {
                let instead = if kind == ProviderKind::Bedrock {
                    "; on Bedrock the region and the inference profile (`us.` …) decide where a request runs"
                } else {
                    ""
                };
                return Err(err(format!(
                    "inference_geo is only for provider = \"anthropic\" — remove it from this {kind} backend{instead}"
                )));
            }
            if !matches!(geo.as_str(), "us" | "global") {
                return Err(err(format!(
                    "inference_geo `{geo}` is not one the Claude API knows — use \"us\" (US-only inference) or \"global\""
                )));
            }
        }
        if config.timeout_ms == Some(0) {
            return Err(err(
                "timeout_ms = 0 would fail every request — remove it for the default of 30000, or give a positive number".into(),
            ));
        }
        if config.max_tokens == Some(0) {
            return Err(err(
                "max_tokens = 0 would allow no output — remove it, or give a positive cap".into(),
            ));
        }
        if let Some(region) = &config.region
            && (region.is_empty()
                || !region
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-'))
        {
            return Err(err(format!(
                "region `{region}` is not an AWS region name — use e.g. \"us-east-1\""
            )));
        }

        let default_base = match kind {
            ProviderKind::Anthropic => Some(ANTHROPIC_DEFAULT_BASE_URL),
            ProviderKind::OpenAi => Some(OPENAI_DEFAULT_BASE_URL),
            _ => None,
        };
        let base_url = match config.base_url.as_deref() {
            Some(url) => Some(normalize_base_url(url, kind != ProviderKind::Bedrock).map_err(err)?),
            None => default_base.map(str::to_owned),
        };

        let (key_env, key) = match kind {
            ProviderKind::Anthropic | ProviderKind::OpenAi => {
                let explicit = config.api_key_env.is_some();
                let var = config.api_key_env.clone().unwrap_or_else(|| {
                    if kind == ProviderKind::Anthropic {
                        ANTHROPIC_DEFAULT_KEY_ENV.to_owned()
                    } else {
                        OPENAI_DEFAULT_KEY_ENV.to_owned()
                    }
                });
                // OPENAI_API_KEY belongs to api.openai.com: an OpenAI-compatible
                // server elsewhere gets a key only when api_key_env names one,
                // so a local or third-party server never receives it by default.
                let sends_default_key = kind == ProviderKind::Anthropic
                    || explicit
                    || base_url.as_deref() == Some(OPENAI_DEFAULT_BASE_URL);
                let key = env(&var)
                    .filter(|_| sends_default_key)
                    .map(|k| k.trim().to_owned())
                    .filter(|k| !k.is_empty())
                    .map(Secret::new);
                let required = kind == ProviderKind::Anthropic
                    || explicit
                    || base_url.as_deref() == Some(OPENAI_DEFAULT_BASE_URL);
                if let Some(key) = &key
                    && !key.expose().bytes().all(|b| b.is_ascii_graphic())
                {
                    return Err(err(format!(
                        "{var} contains spaces or characters that cannot be sent in an HTTP header — check its value"
                    )));
                }
                if key.is_none() && required {
                    let hint = if explicit {
                        "export it, or fix api_key_env"
                    } else {
                        "export it, or set api_key_env to the variable that holds the key"
                    };
                    return Err(err(format!("{var} is not set — {hint}")));
                }
                (Some(var), key)
            }
            _ => (None, None),
        };

        Ok(Settings {
            name: name.to_owned(),
            kind,
            model: model.to_owned(),
            base_url,
            key_env,
            key,
            region: config.region.clone(),
            profile: config.profile.clone(),
            timeout: Duration::from_millis(config.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS)),
            max_retries: config.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
            fim: config.fim.unwrap_or_default(),
            max_tokens: config.max_tokens,
            guardrail: config.guardrail.clone().map(|mut g| {
                g.id = g.id.trim().to_owned();
                g.version = g.version.trim().to_owned();
                g
            }),
            use_fips: config.use_fips,
            inference_geo: config.inference_geo.clone(),
            env_profile: if kind == ProviderKind::Bedrock {
                env("AWS_PROFILE").filter(|p| !p.trim().is_empty())
            } else {
                None
            },
        })
    }
}

/// Check a guardrail's identifier and version against the forms Bedrock
/// accepts (an identifier or an ARN, at most 2048 characters; a version
/// number 1–99999999 or `DRAFT`), so a typo is a configuration error and
/// not a refusal of every request.
fn check_guardrail(g: &GuardrailConfig) -> Result<(), String> {
    let id = g.id.trim();
    if id.is_empty() {
        return Err(
            "guardrail.id is empty — set it to the guardrail identifier or ARN (Bedrock console → Guardrails)".into(),
        );
    }
    if id.len() > 2048
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_:/.".contains(&b))
    {
        return Err(format!(
            "guardrail.id `{}` is not a guardrail identifier or ARN — use e.g. \"abcd1234efgh\" or \"arn:aws:bedrock:us-east-1:123456789012:guardrail/abcd1234efgh\"",
            id.chars().take(80).collect::<String>()
        ));
    }
    let version = g.version.trim();
    let numeric = !version.is_empty()
        && version.len() <= 8
        && version.bytes().all(|b| b.is_ascii_digit())
        && !version.starts_with('0');
    if !(numeric || version == "DRAFT") {
        return Err(format!(
            "guardrail.version `{version}` is not a guardrail version — use a version number such as \"1\", or \"DRAFT\""
        ));
    }
    Ok(())
}

/// Check that `url` is an http(s) URL and drop a trailing `/` and, when
/// `strip_v1` (the request paths of the provider start with `/v1`), `/v1`.
fn normalize_base_url(url: &str, strip_v1: bool) -> Result<String, String> {
    let trimmed = url.trim();
    let parsed = reqwest::Url::parse(trimmed).map_err(|e| {
        format!("base_url `{trimmed}` is not a URL ({e}) — use e.g. \"http://127.0.0.1:11434\"")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!(
            "base_url `{trimmed}` is not an http(s) URL — use e.g. \"https://api.example.com\""
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "base_url `{trimmed}` has a query or fragment — give only the API root"
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(
            "base_url contains credentials — remove them and use api_key_env instead".to_owned(),
        );
    }
    let mut root = trimmed.trim_end_matches('/').to_owned();
    if strip_v1 && let Some(stripped) = root.strip_suffix("/v1") {
        root = stripped.trim_end_matches('/').to_owned();
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> BackendConfig {
        // A tiny TOML subset is enough here: key = value lines.
        let mut map = serde_json::Map::new();
        for line in toml_text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (k, v) = line.split_once('=').unwrap();
            let v = v.trim();
            let value = if let Some(s) = v.strip_prefix('"') {
                serde_json::Value::String(s.trim_end_matches('"').to_owned())
            } else {
                serde_json::Value::Number(v.parse::<u64>().unwrap().into())
            };
            map.insert(k.trim().to_owned(), value);
        }
        serde_json::from_value(serde_json::Value::Object(map)).unwrap()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn deserializes_the_contract_keys() {
        let c = parse(
            r#"provider = "anthropic"
               model = "claude-sonnet-4-5"
               base_url = "https://api.anthropic.com"
               api_key_env = "ANTHROPIC_API_KEY"
               timeout_ms = 30000
               max_retries = 2
               max_tokens = 512"#,
        );
        assert_eq!(c.provider, ProviderKind::Anthropic);
        assert_eq!(c.timeout_ms, Some(30000));
        let c = parse(
            r#"provider = "openai"
                         model = "m"
                         fim = "ollama""#,
        );
        assert_eq!(c.fim, Some(FimMode::Ollama));
        let c = parse(
            r#"provider = "bedrock"
                         model = "m"
                         region = "us-east-1""#,
        );
        assert_eq!(c.provider, ProviderKind::Bedrock);
    }

    #[test]
    fn unknown_keys_and_kinds_are_errors() {
        let v = serde_json::json!({"provider": "anthropic", "model": "m", "base_uri": "x"});
        let e = serde_json::from_value::<BackendConfig>(v)
            .unwrap_err()
            .to_string();
        assert!(e.contains("base_uri"), "{e}");
        let v = serde_json::json!({"provider": "azure", "model": "m"});
        assert!(serde_json::from_value::<BackendConfig>(v).is_err());
        let v = serde_json::json!({"provider": "openai", "model": "m", "fim": "infill"});
        assert!(serde_json::from_value::<BackendConfig>(v).is_err());
    }

    #[test]
    fn anthropic_key_is_required_and_named() {
        let c = parse("provider = \"anthropic\"\nmodel = \"m\"");
        let e = Settings::from_config("claude", &c, &no_env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "backend `claude`: ANTHROPIC_API_KEY is not set — export it, or set api_key_env to the variable that holds the key"
        );
        let c = parse("provider = \"anthropic\"\nmodel = \"m\"\napi_key_env = \"TEAM_KEY\"");
        let e = Settings::from_config("claude", &c, &no_env).unwrap_err();
        assert!(e.to_string().contains("TEAM_KEY is not set"), "{e}");
        let env = |v: &str| (v == "TEAM_KEY").then(|| "sk-1".to_owned());
        let s = Settings::from_config("claude", &c, &env).unwrap();
        assert_eq!(s.key.unwrap().expose(), "sk-1");
        assert_eq!(s.base_url.as_deref(), Some(ANTHROPIC_DEFAULT_BASE_URL));
        assert_eq!(s.timeout, Duration::from_secs(30));
        assert_eq!(s.max_retries, 2);
    }

    #[test]
    fn a_key_that_cannot_be_a_header_is_refused_without_printing_it() {
        let c = parse("provider = \"anthropic\"\nmodel = \"m\"");
        let env = |_: &str| Some("sk-ant-abc\u{7f}def".to_owned());
        let e = Settings::from_config("claude", &c, &env)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ANTHROPIC_API_KEY contains spaces or characters"),
            "{e}"
        );
        assert!(!e.contains("sk-ant"), "{e}");
    }

    #[test]
    fn openai_key_is_optional_for_other_servers() {
        let c = parse(
            "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://127.0.0.1:11434/v1/\"",
        );
        let s = Settings::from_config("ollama", &c, &no_env).unwrap();
        assert!(s.key.is_none());
        assert_eq!(s.base_url.as_deref(), Some("http://127.0.0.1:11434"));
        assert_eq!(s.fim, FimMode::Completions);
        // api.openai.com itself needs a key.
        let c = parse("provider = \"openai\"\nmodel = \"m\"");
        let e = Settings::from_config("gpt", &c, &no_env).unwrap_err();
        assert!(e.to_string().contains("OPENAI_API_KEY is not set"), "{e}");
    }

    #[test]
    fn the_default_openai_key_is_not_sent_to_other_servers() {
        let env = |v: &str| (v == "OPENAI_API_KEY").then(|| "sk-real-openai-key".to_owned());
        let elsewhere =
            parse("provider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://127.0.0.1:8000\"");
        assert!(
            Settings::from_config("local-vllm", &elsewhere, &env)
                .unwrap()
                .key
                .is_none()
        );
        let named = parse(
            "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://127.0.0.1:8000\"\napi_key_env = \"OPENAI_API_KEY\"",
        );
        assert!(
            Settings::from_config("gateway", &named, &env)
                .unwrap()
                .key
                .is_some()
        );
        let official = parse("provider = \"openai\"\nmodel = \"m\"");
        assert!(
            Settings::from_config("gpt", &official, &env)
                .unwrap()
                .key
                .is_some()
        );
    }

    #[test]
    fn bedrock_endpoint_is_kept_as_given() {
        let c = parse(
            "provider = \"bedrock\"\nmodel = \"m\"\nbase_url = \"https://gw.example/bedrock/v1/\"",
        );
        let s = Settings::from_config("b", &c, &no_env).unwrap();
        assert_eq!(s.base_url.as_deref(), Some("https://gw.example/bedrock/v1"));
        assert!(s.key.is_none() && s.key_env.is_none());
    }

    #[test]
    fn residency_keys_deserialize_and_are_checked() {
        let v = serde_json::json!({
            "provider": "bedrock", "model": "m", "region": "us-east-1", "use_fips": true,
            "guardrail": {"id": "gr-abc123", "version": "1", "trace": "enabled_full", "stream_processing": "async"}
        });
        let c: BackendConfig = serde_json::from_value(v).unwrap();
        assert_eq!(c.use_fips, Some(true));
        let g = c.guardrail.clone().unwrap();
        assert_eq!(g.trace, GuardrailTrace::EnabledFull);
        assert_eq!(g.stream_processing, GuardrailStreamProcessing::Async);
        let s = Settings::from_config("b", &c, &no_env).unwrap();
        assert_eq!(s.guardrail.unwrap().id, "gr-abc123");
        // Defaults.
        let v = serde_json::json!({"provider": "bedrock", "model": "m",
            "guardrail": {"id": " arn:aws:bedrock:us-east-1:123456789012:guardrail/abcd1234efgh ", "version": "DRAFT"}});
        let c: BackendConfig = serde_json::from_value(v).unwrap();
        let env = |v: &str| (v == "AWS_PROFILE").then(|| "team".to_owned());
        let s = Settings::from_config("b", &c, &env).unwrap();
        let g = s.guardrail.unwrap();
        assert_eq!(
            (g.id.as_str(), g.trace, g.stream_processing),
            (
                "arn:aws:bedrock:us-east-1:123456789012:guardrail/abcd1234efgh",
                GuardrailTrace::Disabled,
                GuardrailStreamProcessing::Sync
            )
        );
        assert_eq!(s.env_profile.as_deref(), Some("team"));
        // Unknown keys and values inside the table.
        for bad in [
            serde_json::json!({"id": "g", "version": "1", "mode": "sync"}),
            serde_json::json!({"id": "g", "version": "1", "trace": "on"}),
            serde_json::json!({"id": "g", "version": "1", "stream_processing": "later"}),
            serde_json::json!({"id": "g"}),
        ] {
            let v = serde_json::json!({"provider": "bedrock", "model": "m", "guardrail": bad});
            assert!(serde_json::from_value::<BackendConfig>(v).is_err());
        }
        let v = serde_json::json!({"provider": "anthropic", "model": "m", "inference_geo": "us"});
        let c: BackendConfig = serde_json::from_value(v).unwrap();
        let env = |_: &str| Some("k".to_owned());
        let s = Settings::from_config("claude", &c, &env).unwrap();
        assert_eq!(s.inference_geo.as_deref(), Some("us"));
        assert_eq!(s.env_profile, None);
    }

    #[test]
    fn residency_keys_in_the_wrong_place_are_errors() {
        let key = |_: &str| Some("k".to_owned());
        let cases = [
            (
                serde_json::json!({"provider": "anthropic", "model": "m", "guardrail": {"id": "g", "version": "1"}}),
                "guardrail (an Amazon Bedrock Guardrail) is only for provider = \"bedrock\"",
            ),
            (
                serde_json::json!({"provider": "openai", "model": "m", "use_fips": true}),
                "use_fips (the AWS FIPS endpoint) is only for provider = \"bedrock\"",
            ),
            (
                serde_json::json!({"provider": "bedrock", "model": "m", "inference_geo": "us"}),
                "inference_geo is only for provider = \"anthropic\" — remove it from this bedrock backend; on Bedrock the region",
            ),
            (
                serde_json::json!({"provider": "anthropic", "model": "m", "inference_geo": "eu"}),
                "inference_geo `eu` is not one the Claude API knows — use \"us\"",
            ),
            (
                serde_json::json!({"provider": "bedrock", "model": "m", "guardrail": {"id": " ", "version": "1"}}),
                "guardrail.id is empty",
            ),
            (
                serde_json::json!({"provider": "bedrock", "model": "m", "guardrail": {"id": "my guardrail", "version": "1"}}),
                "guardrail.id `my guardrail` is not a guardrail identifier",
            ),
            (
                serde_json::json!({"provider": "bedrock", "model": "m", "guardrail": {"id": "g", "version": "draft"}}),
                "guardrail.version `draft` is not a guardrail version",
            ),
            (
                serde_json::json!({"provider": "bedrock", "model": "m", "guardrail": {"id": "g", "version": "01"}}),
                "guardrail.version `01`",
            ),
        ];
        for (value, needle) in cases {
            let c: BackendConfig = serde_json::from_value(value.clone()).unwrap();
            let e = Settings::from_config("b", &c, &key)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("backend `b`: "), "{e}");
            assert!(e.contains(needle), "{value}: {e}");
        }
    }

    #[test]
    fn misplaced_keys_are_errors() {
        let cases = [
            ("provider = \"local\"\nmodel = \"m\"", "served by the host"),
            ("provider = \"anthropic\"\nmodel = \" \"", "model is empty"),
            (
                "provider = \"openai\"\nmodel = \"m\"\nregion = \"us-east-1\"",
                "region is only",
            ),
            (
                "provider = \"openai\"\nmodel = \"m\"\nprofile = \"dev\"",
                "profile",
            ),
            (
                "provider = \"bedrock\"\nmodel = \"m\"\nfim = \"ollama\"",
                "fim is only",
            ),
            (
                "provider = \"bedrock\"\nmodel = \"m\"\napi_key_env = \"X\"",
                "AWS chain",
            ),
            (
                "provider = \"openai\"\nmodel = \"m\"\ntimeout_ms = 0",
                "timeout_ms = 0",
            ),
            (
                "provider = \"openai\"\nmodel = \"m\"\nmax_tokens = 0",
                "max_tokens = 0",
            ),
            (
                "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"ftp://x\"",
                "not an http(s) URL",
            ),
            (
                "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"localhost:8080\"",
                "not an http(s) URL",
            ),
            (
                "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"nonsense\"",
                "not a URL",
            ),
            (
                "provider = \"openai\"\nmodel = \"m\"\nbase_url = \"http://u:p@h\"",
                "credentials",
            ),
            (
                "provider = \"bedrock\"\nmodel = \"m\"\nregion = \"us east\"",
                "not an AWS region",
            ),
        ];
        for (text, needle) in cases {
            let c = parse(text);
            let e = Settings::from_config("b", &c, &no_env)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("backend `b`: "), "{e}");
            assert!(e.contains(needle), "{text}: {e}");
        }
    }
}
