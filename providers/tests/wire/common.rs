//! Construction and configuration errors, through the public API.

use cordon_providers::{BackendConfig, Provider, ProviderKind, Secret};

use crate::support::config;

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(value: serde_json::Value) -> BackendConfig {
    serde_json::from_value(value).unwrap()
}

#[tokio::test]
async fn missing_anthropic_key_names_the_variable() {
    let c = parse(serde_json::json!({"provider": "anthropic", "model": "claude-sonnet-4-5"}));
    let err = Provider::new_with_env("claude", &c, &no_env)
        .await
        .unwrap_err();
    assert_eq!(err.backend(), "claude");
    assert_eq!(
        err.to_string(),
        "backend `claude`: ANTHROPIC_API_KEY is not set — export it, or set api_key_env to the variable that holds the key"
    );
}

#[tokio::test]
async fn local_is_refused() {
    let c = parse(serde_json::json!({"provider": "local", "model": "ngram"}));
    let err = Provider::new_with_env("local", &c, &no_env)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("served by the host"), "{err}");
}

#[tokio::test]
async fn accessors_describe_the_backend() {
    let c = config(ProviderKind::OpenAi, "llama3.2", "http://127.0.0.1:11434/");
    let p = Provider::new_with_env("ollama", &c, &no_env).await.unwrap();
    assert_eq!(p.name(), "ollama");
    assert_eq!(p.kind(), ProviderKind::OpenAi);
    assert_eq!(p.model(), "llama3.2");
    assert_eq!(p.region(), None);
    assert_eq!(p.endpoint(), "http://127.0.0.1:11434");

    let c = parse(
        serde_json::json!({"provider": "anthropic", "model": "claude-sonnet-4-5", "api_key_env": "MY_KEY"}),
    );
    let key = "sk-ant-api03-secret-secret";
    let env = |v: &str| (v == "MY_KEY").then(|| key.to_owned());
    let p = Provider::new_with_env("claude", &c, &env).await.unwrap();
    assert_eq!(p.endpoint(), "https://api.anthropic.com");
    let debug = format!("{p:?} {p:#?}");
    assert!(debug.contains("claude-sonnet-4-5"), "{debug}");
    assert!(!debug.contains(key), "{debug}");
}

#[test]
fn secret_debug_is_redacted() {
    let s = Secret::new("sk-live-xyz");
    assert_eq!(format!("{s:?}"), "***");
    assert_eq!(s.to_string(), "***");
}

fn assert_send<T: Send + 'static>(value: T) -> T {
    value
}

#[test]
fn futures_and_streams_can_be_spawned() {
    // Type-checks only: every future and the stream are Send + 'static
    // when they own their inputs, so the host can spawn them.
    let _ = |p: cordon_providers::Provider,
             c: cordon_providers::ChatRequest,
             f: cordon_providers::FimRequest| {
        assert_send(async move {
            let _ = p.chat(&c).await;
            let _ = p.fim(&f).await;
            let _ = p.check().await;
            if let Ok(stream) = p.chat_stream(&c).await {
                let _ = assert_send(stream);
            }
        })
    };
}
