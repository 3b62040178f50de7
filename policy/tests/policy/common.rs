use std::path::{Path, PathBuf};

use cordon_policy::{Effective, Layer, LayerPolicy, PolicyError, Problem, parse_layer};

/// Where a test layer pretends to live.
pub fn path_of(layer: Layer) -> PathBuf {
    PathBuf::from(format!("/test/{layer}/policy.toml"))
}

/// Parses a layer that must be valid.
pub fn layer(layer: Layer, text: &str) -> LayerPolicy {
    match parse_layer(layer, &path_of(layer), text) {
        Ok(l) => l,
        Err(e) => panic!("test policy does not parse:\n{e}\n---\n{text}"),
    }
}

/// The effective policy of valid layers.
pub fn effective(layers: &[(Layer, &str)]) -> Effective {
    Effective::from_layers(layers.iter().map(|(l, t)| layer(*l, t)).collect())
}

/// The errors of a layer that must be invalid.
pub fn errors(text: &str) -> Vec<PolicyError> {
    match parse_layer(Layer::Workspace, Path::new("/w/.cordon/policy.toml"), text) {
        Ok(_) => panic!("policy unexpectedly valid:\n{text}"),
        Err(e) => e.into_iter().collect(),
    }
}

/// The single error of an invalid layer: (line, column, problem, message).
pub fn one_error(text: &str) -> (usize, usize, Problem, String) {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "expected one error, got: {errs:#?}");
    let e = &errs[0];
    let (line, col) = e.position().expect("position");
    (
        line,
        col,
        e.problem().expect("problem").clone(),
        e.to_string(),
    )
}

/// The policy of the brief.
pub const EXAMPLE: &str = r#"
[plugins."*"]                      # default for every plugin, incl. unknown ones
capabilities = ["model", "log"]    # model | workspace.read | log
providers = ["bedrock", "local"]   # anthropic | bedrock | openai | local
backends = ["claude-bedrock", "local"]   # configured backend names (globs)
models = ["anthropic.claude-*", "local"] # model ids (globs)
regions = ["us-east-1", "us-west-2"]
requests_per_minute = 60
tokens_per_day = 200000
max_output_tokens = 1024

[plugins.completion]
capabilities = ["model", "workspace.read", "log"]
workspace_read = ["src/**"]        # globs, workspace-relative
memory_mib = 64
cpu_ms = 100
output_kib = 256
sha256 = ["0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"]

[content]
exclude = ["**/.env", "**/*.pem", "secrets/**"]
redact_secrets = true

[audit]
path = "audit.jsonl"               # relative to the layer's folder
prompts = false                    # never prompt text by default
"#;

pub const DIGEST: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
pub const OTHER_DIGEST: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
