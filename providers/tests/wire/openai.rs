//! OpenAI-compatible servers: chat completions, FIM, Ollama's generate.

use std::time::{Duration, Instant};

use cordon_providers::{
    BackendConfig, CallMeta, ChatRequest, FimMode, FimRequest, Message, Provider, ProviderError,
    ProviderKind, StopReason, StreamEvent, Usage,
};
use futures::StreamExt;
use serde_json::json;

use crate::support::*;

const KEY: &str = "sk-proj-test-abcdefghijklmnop";

fn with_key(var: &str) -> Option<String> {
    (var == "OPENAI_API_KEY").then(|| KEY.to_owned())
}

fn no_key(_: &str) -> Option<String> {
    None
}

async fn provider(server: &Server, key: bool, tweak: impl FnOnce(&mut BackendConfig)) -> Provider {
    let mut config = config(ProviderKind::OpenAi, "qwen2.5-coder:7b", &server.url());
    if key {
        // OPENAI_API_KEY goes to a server other than api.openai.com only
        // when named explicitly.
        config.api_key_env = Some("OPENAI_API_KEY".into());
    }
    tweak(&mut config);
    let env: &(dyn Fn(&str) -> Option<String> + Sync) = if key { &with_key } else { &no_key };
    Provider::new_with_env("gpt", &config, env).await.unwrap()
}

fn request() -> ChatRequest {
    ChatRequest {
        system: "You are terse.".into(),
        messages: vec![Message::user("Say hello.")],
        max_tokens: 50,
        temperature: Some(0.25),
        stop: vec!["###".into()],
        metadata: Default::default(),
    }
}

fn chat_reply() -> Vec<u8> {
    json_response(
        200,
        &[],
        &json!({
            "id": "chatcmpl-123",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "qwen2.5-coder:7b",
            "system_fingerprint": "fp_ollama",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there!"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 19, "completion_tokens": 4, "total_tokens": 23}
        }),
    )
}

fn chunk_event(json: serde_json::Value) -> Vec<u8> {
    format!("data: {json}\n\n").into_bytes()
}

fn delta(content: &str) -> Vec<u8> {
    chunk_event(
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}]}),
    )
}

fn sse_events() -> Vec<Vec<u8>> {
    vec![
        chunk_event(
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "m",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}),
        ),
        delta("Hello"),
        delta(" there"),
        chunk_event(
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "m",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}),
        ),
        chunk_event(
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "m",
            "choices": [], "usage": {"prompt_tokens": 19, "completion_tokens": 2, "total_tokens": 21}}),
        ),
        b"data: [DONE]\n\n".to_vec(),
    ]
}

const SSE_HEADERS: &[(&str, &str)] = &[("content-type", "text/event-stream")];

async fn collect(
    provider: &Provider,
    req: &ChatRequest,
) -> (String, Vec<Result<StreamEvent, ProviderError>>) {
    let mut stream = provider.chat_stream(req).await.unwrap();
    let mut text = String::new();
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        if let Ok(StreamEvent::Text(t)) = &item {
            text.push_str(t);
        }
        items.push(item);
    }
    (text, items)
}

#[tokio::test]
async fn chat_with_a_key_sends_bearer_auth() {
    let server = Server::start(vec![Reply::Raw(chat_reply())]).await;
    let p = provider(&server, true, |_| {}).await;
    let answer = p.chat(&request()).await.unwrap();
    assert_eq!(answer.text, "Hello there!");
    assert_eq!(
        answer.usage,
        Usage {
            input_tokens: 19,
            output_tokens: 4
        }
    );
    assert_eq!(answer.stop_reason, StopReason::End);
    let r = server.only_request();
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({
            "model": "qwen2.5-coder:7b",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Say hello."}
            ],
            "max_tokens": 50,
            "stop": ["###"],
            "temperature": 0.25,
            "stream": false
        })
    );
}

#[tokio::test]
async fn chat_without_a_key_sends_no_authorization() {
    let server = Server::start(vec![Reply::Raw(chat_reply())]).await;
    let p = provider(&server, false, |c| {
        c.base_url = Some(format!("{}/v1/", c.base_url.clone().unwrap()))
    })
    .await;
    let mut req = request();
    req.system.clear();
    req.stop.clear();
    req.temperature = None;
    p.chat(&req).await.unwrap();
    let r = server.only_request();
    assert_eq!(
        r.path, "/v1/chat/completions",
        "a base_url ending in /v1 is accepted"
    );
    assert_eq!(r.header("authorization"), None);
    assert_eq!(
        r.json(),
        json!({"model": "qwen2.5-coder:7b", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 50, "stream": false})
    );
}

#[tokio::test]
async fn stream_yields_text_then_usage() {
    let server = Server::start(vec![Reply::Raw(chunked_response(
        200,
        SSE_HEADERS,
        &sse_events(),
    ))])
    .await;
    let p = provider(&server, true, |_| {}).await;
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "Hello there");
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(
        items.last().unwrap(),
        &Ok(StreamEvent::Done {
            usage: Usage {
                input_tokens: 19,
                output_tokens: 2
            },
            stop_reason: StopReason::MaxTokens,
            meta: CallMeta {
                request_id: None,
                stop_reason: Some("length".into()),
                inference_geo: None,
            }
        })
    );
    let body = server.only_request().json();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
}

#[tokio::test]
async fn stream_without_done_marker_but_finished_is_complete() {
    // Some servers close after the finish_reason chunk without `[DONE]`.
    let events = sse_events();
    let server = Server::start(vec![Reply::Raw(chunked_response(
        200,
        SSE_HEADERS,
        &events[..4],
    ))])
    .await;
    let p = provider(&server, false, |_| {}).await;
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "Hello there");
    assert!(matches!(
        items.last(),
        Some(Ok(StreamEvent::Done {
            stop_reason: StopReason::MaxTokens,
            ..
        }))
    ));
}

#[tokio::test]
async fn truncated_stream_is_an_error_after_text() {
    let events = sse_events();
    // Clean end of body, but no finish_reason and no [DONE].
    let server = Server::start(vec![Reply::Raw(chunked_response(
        200,
        SSE_HEADERS,
        &events[..3],
    ))])
    .await;
    let p = provider(&server, false, |_| {}).await;
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "Hello there");
    let err = items.last().unwrap().clone().unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("ended before [DONE]"), "{err}");
    assert_eq!(server.requests().len(), 1);

    // Connection cut inside a chunk.
    let mut bytes = chunked_head(200, SSE_HEADERS);
    bytes.extend(chunk(&events[1]));
    bytes.extend(b"100\r\ndata: {\"id\":");
    let server = Server::start(vec![Reply::Raw(bytes)]).await;
    let p = provider(&server, false, |_| {}).await;
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "Hello");
    assert!(
        matches!(items.last(), Some(Err(ProviderError::Unavailable { .. }))),
        "{items:?}"
    );
}

#[tokio::test]
async fn malformed_replies() {
    let server = Server::start(vec![
        Reply::Raw(response(
            200,
            &[("content-type", "application/json")],
            b"<html>hello</html>",
        )),
        Reply::Raw(json_response(
            200,
            &[],
            &json!({"object": "chat.completion", "choices": []}),
        )),
        Reply::Raw(chunked_response(
            200,
            SSE_HEADERS,
            &[b"data: {\"choices\": [{\"delta\": \n\n".to_vec()],
        )),
        // JSON where an event stream was asked for.
        Reply::Raw(chat_reply()),
    ])
    .await;
    let p = provider(&server, false, |_| {}).await;
    for _ in 0..2 {
        let err = p.chat(&request()).await.unwrap_err();
        assert!(matches!(err, ProviderError::Malformed { .. }), "{err:?}");
    }
    let (_, items) = collect(&p, &request()).await;
    assert!(
        matches!(items.last(), Some(Err(ProviderError::Malformed { .. }))),
        "{items:?}"
    );
    let err = p.chat_stream(&request()).await.err().unwrap();
    assert!(
        err.to_string()
            .contains("answered with JSON instead of an event stream"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn unauthorized_names_the_variable() {
    let body = json!({"error": {"message": format!("Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com/account/api-keys."), "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}});
    let server = Server::start(vec![
        Reply::Raw(json_response(401, &[], &body)),
        Reply::Raw(json_response(401, &[], &json!({"error": "unauthorized"}))),
    ])
    .await;
    let p = provider(&server, true, |_| {}).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }));
    let text = err.to_string();
    assert!(text.starts_with("backend `gpt`: 401 from the OpenAI-compatible server (invalid_request_error: Incorrect API key provided: ***."), "{text}");
    assert!(text.ends_with("— check OPENAI_API_KEY"), "{text}");
    assert!(!text.contains(KEY));
    let p = provider(&server, false, |_| {}).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "backend `gpt`: 401 from the OpenAI-compatible server (unauthorized) — it needs an API key: set api_key_env to the environment variable that holds it"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn rate_limit_then_success_and_server_error_then_success() {
    let limited = json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}});
    let server = Server::start(vec![
        Reply::Raw(json_response(
            429,
            &[("retry-after-ms", "50"), ("retry-after", "1")],
            &limited,
        )),
        Reply::Raw(chat_reply()),
        Reply::Raw(json_response(502, &[], &json!({"error": "bad gateway"}))),
        Reply::Raw(chunked_response(200, SSE_HEADERS, &sse_events())),
        Reply::Raw(response(503, &[], b"upstream unavailable")),
        Reply::Raw(chat_reply()),
    ])
    .await;
    let p = provider(&server, false, |_| {}).await;
    assert_eq!(p.chat(&request()).await.unwrap().text, "Hello there!");
    assert_eq!(server.requests().len(), 2);
    let (text, _) = collect(&p, &request()).await;
    assert_eq!(text, "Hello there");
    assert_eq!(server.requests().len(), 4);
    assert_eq!(p.chat(&request()).await.unwrap().text, "Hello there!");
    assert_eq!(server.requests().len(), 6);
}

#[tokio::test]
async fn error_inside_the_stream() {
    let error = chunk_event(json!({"error": {"message": "model crashed", "type": "server_error"}}));
    let server = Server::start(vec![Reply::Raw(chunked_response(
        200,
        SSE_HEADERS,
        &[delta("Hi"), error],
    ))])
    .await;
    let p = provider(&server, false, |_| {}).await;
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "Hi");
    let err = items.last().unwrap().clone().unwrap_err();
    assert_eq!(
        err.to_string(),
        "backend `gpt`: the OpenAI-compatible server reported an error in the stream (server_error: model crashed) — try again"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = Server::start(vec![Reply::Hang]).await;
    let p = provider(&server, false, |c| c.timeout_ms = Some(250)).await;
    let started = Instant::now();
    let err = p.chat_stream(&request()).await.err().unwrap();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < SOON);
    assert_eq!(server.requests().len(), 1);
    server.wait_for(Seen::Disconnected(0)).await;
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let pieces = vec![
        (Duration::ZERO, chunked_head(200, SSE_HEADERS)),
        (Duration::ZERO, chunk(&delta("Hel"))),
        (Duration::from_millis(20), chunk(&delta("lo"))),
    ];
    let server = Server::start(vec![Reply::Pieces { pieces, hold: true }]).await;
    let p = provider(&server, false, |_| {}).await;
    let mut stream = p.chat_stream(&request()).await.unwrap();
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        StreamEvent::Text("Hel".into())
    );
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        StreamEvent::Text("lo".into())
    );
    drop(stream);
    server.wait_for(Seen::Disconnected(0)).await;
}

#[tokio::test]
async fn fim_through_completions_with_suffix() {
    let reply = json_response(
        200,
        &[],
        &json!({
            "id": "cmpl-1", "object": "text_completion", "created": 1, "model": "qwen2.5-coder:7b",
            "choices": [{"index": 0, "text": "a + b", "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
        }),
    );
    let server = Server::start(vec![Reply::Raw(reply)]).await;
    let p = provider(&server, false, |c| c.max_tokens = Some(20)).await;
    let req = FimRequest {
        prefix: "fn add(a: i32, b: i32) -> i32 {\n    ".into(),
        suffix: "\n}\n".into(),
        language_id: "rust".into(),
        max_tokens: 64,
        stop: vec!["\n\n".into()],
        metadata: Default::default(),
    };
    let answer = p.fim(&req).await.unwrap();
    assert_eq!(answer.text, "a + b");
    assert_eq!(
        answer.usage,
        Usage {
            input_tokens: 12,
            output_tokens: 3
        }
    );
    let r = server.only_request();
    assert_eq!(r.path, "/v1/completions");
    assert_eq!(
        r.json(),
        json!({
            "model": "qwen2.5-coder:7b",
            "prompt": "fn add(a: i32, b: i32) -> i32 {\n    ",
            "suffix": "\n}\n",
            "max_tokens": 20,
            "stop": ["\n\n"],
            "stream": false
        })
    );
}

#[tokio::test]
async fn fim_through_ollama_generate() {
    let reply = json_response(
        200,
        &[],
        &json!({
            "model": "qwen2.5-coder:7b", "created_at": "2025-01-01T00:00:00.000000Z",
            "response": "a + b", "done": true, "done_reason": "length",
            "context": [1, 2, 3], "total_duration": 1, "load_duration": 1,
            "prompt_eval_count": 30, "prompt_eval_duration": 1, "eval_count": 4, "eval_duration": 1
        }),
    );
    let server = Server::start(vec![
        Reply::Raw(reply),
        Reply::Raw(json_response(
            404,
            &[],
            &json!({"error": "model \"nope\" not found, try pulling it first"}),
        )),
    ])
    .await;
    let p = provider(&server, false, |c| c.fim = Some(FimMode::Ollama)).await;
    let req = FimRequest {
        prefix: "def add(a, b):\n    ".into(),
        suffix: "\n".into(),
        language_id: "python".into(),
        max_tokens: 16,
        stop: vec![],
        metadata: Default::default(),
    };
    let answer = p.fim(&req).await.unwrap();
    assert_eq!(answer.text, "a + b");
    assert_eq!(answer.stop_reason, StopReason::MaxTokens);
    assert_eq!(
        answer.usage,
        Usage {
            input_tokens: 30,
            output_tokens: 4
        }
    );
    let r = &server.requests()[0];
    assert_eq!(r.path, "/api/generate");
    assert_eq!(
        r.json(),
        json!({"model": "qwen2.5-coder:7b", "prompt": "def add(a, b):\n    ", "suffix": "\n", "stream": false, "options": {"num_predict": 16}})
    );
    let err = p.fim(&req).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest { .. }));
    assert!(
        err.to_string().contains(
            "(model \"nope\" not found, try pulling it first) — check base_url and model"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn fim_none_is_unsupported_and_sends_nothing() {
    let server = Server::start(vec![]).await;
    let p = provider(&server, false, |c| c.fim = Some(FimMode::None)).await;
    let req = FimRequest {
        prefix: "x".into(),
        max_tokens: 4,
        ..Default::default()
    };
    let err = p.fim(&req).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unsupported { .. }));
    assert!(
        err.to_string()
            .starts_with("backend `gpt`: fill-in-the-middle is turned off"),
        "{err}"
    );
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn check_lists_models() {
    let list = json!({"object": "list", "data": [
        {"id": "llama3.2", "object": "model", "created": 1, "owned_by": "library"},
        {"id": "qwen2.5-coder:7b", "object": "model", "created": 1, "owned_by": "library"}
    ]});
    let server = Server::start(vec![
        Reply::Raw(json_response(200, &[], &list)),
        Reply::Raw(json_response(200, &[], &list)),
    ])
    .await;
    let p = provider(&server, false, |_| {}).await;
    assert_eq!(
        p.check().await.unwrap(),
        format!(
            "The OpenAI-compatible server at {}: reachable, no key sent, model `qwen2.5-coder:7b` listed",
            server.url()
        )
    );
    let r = server.only_request();
    assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/v1/models"));
    let p = provider(&server, true, |c| c.model = "gpt-4o".into()).await;
    let summary = p.check().await.unwrap();
    assert!(
        summary.contains("key accepted, model `gpt-4o` is not among its 2 listed models"),
        "{summary}"
    );
    assert_eq!(
        server.requests()[1].header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
}

#[tokio::test]
async fn connection_refused_says_so() {
    let url = refused_url().await;
    let mut config = config(ProviderKind::OpenAi, "m", &url);
    config.max_retries = Some(0);
    let p = Provider::new_with_env("gpt", &config, &no_key)
        .await
        .unwrap();
    let err = p.chat(&request()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "backend `gpt`: connection refused at {url}/v1/chat/completions — is the server running?"
        )
    );
    let err = p.chat_stream(&request()).await.err().unwrap();
    assert!(matches!(err, ProviderError::Unavailable { .. }));
}

#[tokio::test]
async fn the_key_never_leaks() {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    let server = Server::start(vec![
        Reply::Raw(json_response(
            503,
            &[],
            &json!({"error": {"message": format!("bad key {KEY}")}}),
        )),
        Reply::Raw(chunked_response(
            200,
            SSE_HEADERS,
            &[chunk_event(
                json!({"error": {"message": format!("still {KEY}")}}),
            )],
        )),
    ])
    .await;
    let p = provider(&server, true, |c| c.max_retries = Some(1)).await;
    let (_, items) = collect(&p, &request()).await;
    let err = items.last().unwrap().clone().unwrap_err();
    assert!(err.to_string().contains("still ***"), "{err}");
    for text in [
        err.to_string(),
        format!("{err:?}"),
        format!("{p:?}"),
        logs.text(),
    ] {
        assert!(!text.contains(KEY), "key leaked: {text}");
    }
    assert!(
        logs.text().contains("reconnecting model stream")
            || logs.text().contains("retrying model request"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn request_ids_are_read_and_metadata_is_not_sent() {
    let reply = {
        let mut r = chat_reply();
        // Same reply, with the id header.
        let at = r.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        r.splice(at..at, b"\r\nx-request-id: req_oai_1".iter().copied());
        r
    };
    let server = Server::start(vec![
        Reply::Raw(reply),
        Reply::Raw(json_response(
            400,
            &[("x-request-id", "req_oai_2")],
            &json!({"error": {"message": "bad model", "type": "invalid_request_error"}}),
        )),
    ])
    .await;
    let p = provider(&server, true, |_| {}).await;
    assert_eq!(p.auth_kind(), "api-key");
    let mut req = request();
    req.metadata.insert("user_id".into(), "u-1".into());
    req.metadata.insert("plugin".into(), "acme".into());
    let answer = p.chat(&req).await.unwrap();
    assert_eq!(
        answer.meta,
        CallMeta {
            request_id: Some("req_oai_1".into()),
            stop_reason: Some("stop".into()),
            inference_geo: None,
        }
    );
    let body = server.requests()[0].json();
    for key in ["user", "metadata", "user_id"] {
        assert!(body.get(key).is_none(), "{key} sent: {body}");
    }
    let err = p.chat(&req).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::InvalidRequest { .. }),
        "{err:?}"
    );
    assert_eq!(err.request_id(), Some("req_oai_2"));

    let p = provider(&server, false, |_| {}).await;
    assert_eq!(p.auth_kind(), "none");
    assert!(!p.uses_fips());
    assert_eq!(p.aws_profile(), None);
    assert_eq!(p.guardrail(), None);
    assert_eq!(p.endpoint_host(), server.addr.to_string());
}
