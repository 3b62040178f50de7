//! Anthropic Messages API.

use std::time::{Duration, Instant};

use cordon_providers::{
    BackendConfig, CallMeta, ChatRequest, FimRequest, Message, Provider, ProviderError,
    ProviderKind, StopReason, StreamEvent, Usage,
};
use futures::StreamExt;
use serde_json::json;

use crate::support::*;

const KEY: &str = "sk-ant-test-0123456789abcdef";

fn env(var: &str) -> Option<String> {
    (var == "ANTHROPIC_API_KEY").then(|| KEY.to_owned())
}

async fn provider(server: &Server, tweak: impl FnOnce(&mut BackendConfig)) -> Provider {
    let mut config = config(ProviderKind::Anthropic, "claude-test", &server.url());
    tweak(&mut config);
    Provider::new_with_env("claude", &config, &env)
        .await
        .unwrap()
}

fn request() -> ChatRequest {
    ChatRequest {
        system: "You are terse.".into(),
        messages: vec![
            Message::user("Say hello."),
            Message::assistant("Hello"),
            Message::user("Again."),
        ],
        max_tokens: 64,
        temperature: Some(0.5),
        stop: vec!["\n\nHuman:".into()],
        metadata: Default::default(),
    }
}

fn message_reply() -> Vec<u8> {
    json_response(
        200,
        &[("request-id", "req_01")],
        &json!({
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": " again!"}],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": {"input_tokens": 21, "output_tokens": 4}
        }),
    )
}

/// The events of a real Messages stream, as Anthropic sends them.
fn sse_events() -> Vec<Vec<u8>> {
    [
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-test\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\ndata: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"!\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

const SSE_HEADERS: &[(&str, &str)] = &[
    ("content-type", "text/event-stream; charset=utf-8"),
    ("cache-control", "no-cache"),
];

fn sse_reply(events: &[Vec<u8>]) -> Vec<u8> {
    chunked_response(200, SSE_HEADERS, events)
}

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
async fn chat_sends_the_messages_request_and_reads_the_reply() {
    let server = Server::start(vec![Reply::Raw(message_reply())]).await;
    let p = provider(&server, |_| {}).await;
    let answer = p.chat(&request()).await.unwrap();
    assert_eq!(answer.text, "Hello again!");
    assert_eq!(
        answer.usage,
        Usage {
            input_tokens: 21,
            output_tokens: 4
        }
    );
    assert_eq!(answer.stop_reason, StopReason::End);

    let r = server.only_request();
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/messages");
    assert_eq!(r.header("x-api-key"), Some(KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(
        r.json(),
        json!({
            "model": "claude-test",
            "max_tokens": 64,
            "system": "You are terse.",
            "messages": [
                {"role": "user", "content": "Say hello."},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "Again."}
            ],
            "stop_sequences": ["\n\nHuman:"],
            "temperature": 0.5,
            "stream": false
        })
    );
}

#[tokio::test]
async fn stop_reasons_and_the_max_tokens_cap() {
    let reply = |reason: &str| {
        json_response(
            200,
            &[],
            &json!({
                "type": "message", "role": "assistant", "content": [{"type": "text", "text": "x"}],
                "stop_reason": reason, "stop_sequence": null, "usage": {"input_tokens": 1, "output_tokens": 1}
            }),
        )
    };
    let server = Server::start(vec![
        Reply::Raw(reply("max_tokens")),
        Reply::Raw(reply("stop_sequence")),
    ])
    .await;
    let p = provider(&server, |c| c.max_tokens = Some(16)).await;
    assert_eq!(
        p.chat(&request()).await.unwrap().stop_reason,
        StopReason::MaxTokens
    );
    assert_eq!(
        p.chat(&request()).await.unwrap().stop_reason,
        StopReason::StopSequence
    );
    assert_eq!(server.requests()[0].json()["max_tokens"], 16);
    let mut zero = request();
    zero.max_tokens = 0;
    assert!(matches!(
        p.chat(&zero).await,
        Err(ProviderError::InvalidRequest { .. })
    ));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn stream_yields_text_then_usage() {
    let server = Server::start(vec![Reply::Raw(sse_reply(&sse_events()))]).await;
    let p = provider(&server, |_| {}).await;
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "Hello!");
    assert_eq!(items.len(), 3);
    assert_eq!(
        items.last().unwrap(),
        &Ok(StreamEvent::Done {
            usage: Usage {
                input_tokens: 25,
                output_tokens: 15
            },
            stop_reason: StopReason::End,
            meta: CallMeta {
                request_id: None,
                stop_reason: Some("end_turn".into()),
                inference_geo: None,
            }
        })
    );
    let r = server.only_request();
    assert_eq!(r.json()["stream"], true);
    assert_eq!(r.header("accept"), Some("text/event-stream"));
    assert_eq!(r.header("x-api-key"), Some(KEY));
}

#[tokio::test]
async fn stream_split_at_every_byte_still_parses() {
    // Every byte in its own chunk, with CRLF line endings.
    let body: Vec<u8> = sse_events().concat();
    let body = String::from_utf8(body)
        .unwrap()
        .replace('\n', "\r\n")
        .into_bytes();
    let parts: Vec<Vec<u8>> = body.iter().map(|b| vec![*b]).collect();
    let server = Server::start(vec![Reply::Raw(chunked_response(200, SSE_HEADERS, &parts))]).await;
    let p = provider(&server, |_| {}).await;
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "Hello!");
    assert!(matches!(items.last(), Some(Ok(StreamEvent::Done { .. }))));
}

#[tokio::test]
async fn truncated_stream_is_an_error_and_not_retried_after_text() {
    let events = sse_events();
    // The connection closes in the middle of the chunked body, after text.
    let mut bytes = chunked_head(200, SSE_HEADERS);
    for e in &events[..4] {
        bytes.extend(chunk(e));
    }
    bytes.extend(b"40\r\nevent: content_block_delta\ndata: {\"type\":\"cont");
    let server = Server::start(vec![Reply::Raw(bytes), Reply::Raw(sse_reply(&events))]).await;
    let p = provider(&server, |_| {}).await;
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "Hello");
    let err = items.last().unwrap().clone().unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("backend `claude`: the stream from Anthropic"),
        "{err}"
    );
    assert_eq!(
        server.requests().len(),
        1,
        "no retry once text was delivered"
    );

    // A body that ends cleanly but without message_stop.
    let server = Server::start(vec![Reply::Raw(sse_reply(&events[..5]))]).await;
    let p = provider(&server, |_| {}).await;
    let (_, items) = collect(&p, &request()).await;
    let err = items.last().unwrap().clone().unwrap_err();
    assert!(
        err.to_string().contains("ended before message_stop"),
        "{err}"
    );
}

#[tokio::test]
async fn stream_failing_before_text_is_retried() {
    let events = sse_events();
    let error_event = b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n".to_vec();
    let server = Server::start(vec![
        Reply::Raw(sse_reply(&[events[0].clone(), error_event])),
        Reply::Raw(sse_reply(&events)),
    ])
    .await;
    let p = provider(&server, |_| {}).await;
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "Hello!");
    assert!(matches!(items.last(), Some(Ok(StreamEvent::Done { .. }))));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn error_event_after_text_ends_the_stream() {
    let events = sse_events();
    let error_event = b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n".to_vec();
    let server = Server::start(vec![Reply::Raw(sse_reply(&[
        events[0].clone(),
        events[3].clone(),
        error_event,
    ]))])
    .await;
    let p = provider(&server, |_| {}).await;
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "Hello");
    let err = items.last().unwrap().clone().unwrap_err();
    assert_eq!(
        err.to_string(),
        "backend `claude`: Anthropic reported an error in the stream (overloaded_error: Overloaded) — the service is failing or overloaded; try again later"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn malformed_json_and_sse_are_malformed_errors() {
    let server = Server::start(vec![
        Reply::Raw(response(
            200,
            &[("content-type", "application/json")],
            b"{\"content\": [ oops",
        )),
        Reply::Raw(sse_reply(&[
            b"event: message_start\ndata: {not json}\n\n".to_vec()
        ])),
        Reply::Raw(sse_reply(&[b"data: \xff\xfe\n\n".to_vec()])),
    ])
    .await;
    let p = provider(&server, |_| {}).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Malformed { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("backend `claude`: unreadable reply from Anthropic"),
        "{err}"
    );
    for _ in 0..2 {
        let (_, items) = collect(&p, &request()).await;
        assert!(
            matches!(items.last(), Some(Err(ProviderError::Malformed { .. }))),
            "{items:?}"
        );
    }
    assert_eq!(
        server.requests().len(),
        3,
        "malformed replies are not retried"
    );
}

#[tokio::test]
async fn unauthorized_says_which_variable_to_check() {
    let body = json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}});
    let server = Server::start(vec![Reply::Raw(json_response(401, &[], &body))]).await;
    let p = provider(&server, |_| {}).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }));
    assert_eq!(
        err.to_string(),
        "backend `claude`: 401 from Anthropic (authentication_error: invalid x-api-key) — check ANTHROPIC_API_KEY"
    );
    assert_eq!(server.requests().len(), 1, "401 is not retried");
}

#[tokio::test]
async fn other_4xx_is_not_retried() {
    let body = json!({"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too large"}});
    let server = Server::start(vec![Reply::Raw(json_response(400, &[], &body))]).await;
    let p = provider(&server, |_| {}).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::InvalidRequest { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("invalid_request_error: max_tokens: too large"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn rate_limit_honours_retry_after_then_succeeds() {
    let body = json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your per-minute rate limit"}});
    let server = Server::start(vec![
        Reply::Raw(json_response(429, &[("retry-after", "1")], &body)),
        Reply::Raw(message_reply()),
    ])
    .await;
    let p = provider(&server, |_| {}).await;
    let answer = p.chat(&request()).await.unwrap();
    assert_eq!(answer.text, "Hello again!");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn rate_limit_with_a_long_wait_returns_at_once() {
    let body =
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}});
    let server = Server::start(vec![Reply::Raw(json_response(
        429,
        &[("retry-after", "3600")],
        &body,
    ))])
    .await;
    let p = provider(&server, |_| {}).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(
        err.to_string(),
        "backend `claude`: 429 rate limited by Anthropic, asked to wait 3600s (rate_limit_error: slow down) — wait and try again, or lower the request rate"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn server_error_then_success() {
    let body = json!({"type": "error", "error": {"type": "api_error", "message": "Internal server error"}});
    let overloaded =
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}});
    let server = Server::start(vec![
        Reply::Raw(json_response(500, &[], &body)),
        Reply::Raw(json_response(529, &[], &overloaded)),
        Reply::Raw(message_reply()),
        Reply::Raw(json_response(500, &[], &body)),
        Reply::Raw(sse_reply(&sse_events())),
    ])
    .await;
    let p = provider(&server, |_| {}).await;
    assert_eq!(p.chat(&request()).await.unwrap().text, "Hello again!");
    assert_eq!(server.requests().len(), 3);
    let (text, _) = collect(&p, &request()).await;
    assert_eq!(text, "Hello!");
    assert_eq!(server.requests().len(), 5);
}

#[tokio::test]
async fn retries_are_bounded() {
    let body = json!({"type": "error", "error": {"type": "api_error", "message": "Internal server error"}});
    let replies = (0..5)
        .map(|_| Reply::Raw(json_response(503, &[], &body)))
        .collect();
    let server = Server::start(replies).await;
    let p = provider(&server, |c| c.max_retries = Some(1)).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }));
    assert!(err.to_string().contains("503 from Anthropic"), "{err}");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = Server::start(vec![Reply::Hang, Reply::Hang, Reply::Hang]).await;
    let p = provider(&server, |c| c.timeout_ms = Some(300)).await;
    let started = Instant::now();
    let err = p.chat(&request()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    assert!(
        err.to_string().contains("within 300 ms — raise timeout_ms"),
        "{err}"
    );
    assert!(started.elapsed() < SOON);
    assert_eq!(server.requests().len(), 1, "timeouts are not retried");
    server.wait_for(Seen::Disconnected(0)).await;

    // Streaming: the head arrives, then the stream stalls.
    let mut pieces = vec![(Duration::ZERO, chunked_head(200, SSE_HEADERS))];
    pieces.push((Duration::ZERO, chunk(&sse_events()[0])));
    let server = Server::start(vec![Reply::Pieces { pieces, hold: true }]).await;
    let p = provider(&server, |c| c.timeout_ms = Some(1000)).await;
    let (_, items) = collect(&p, &request()).await;
    let err = items.last().unwrap().clone().unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    assert!(
        err.to_string().contains("stalled for more than 1000 ms"),
        "{err}"
    );
    server.wait_for(Seen::Disconnected(0)).await;
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let events = sse_events();
    let mut pieces = vec![(Duration::ZERO, chunked_head(200, SSE_HEADERS))];
    for e in &events[..4] {
        pieces.push((Duration::ZERO, chunk(e)));
    }
    let server = Server::start(vec![Reply::Pieces { pieces, hold: true }]).await;
    let p = provider(&server, |_| {}).await;
    let mut stream = p.chat_stream(&request()).await.unwrap();
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        StreamEvent::Text("Hello".into())
    );
    drop(stream);
    server.wait_for(Seen::Disconnected(0)).await;
}

#[tokio::test]
async fn dropping_the_future_closes_the_connection() {
    let server = Server::start(vec![Reply::Hang]).await;
    let p = provider(&server, |_| {}).await;
    let task = tokio::spawn({
        let p = p.clone();
        async move { p.chat(&request()).await }
    });
    server.wait_for(Seen::Request(0)).await;
    task.abort();
    server.wait_for(Seen::Disconnected(0)).await;
}

#[tokio::test]
async fn connection_refused_says_so() {
    let url = refused_url().await;
    let mut config = config(ProviderKind::Anthropic, "claude-test", &url);
    config.max_retries = Some(1);
    let p = Provider::new_with_env("claude", &config, &env)
        .await
        .unwrap();
    let err = p.chat(&request()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "backend `claude`: connection refused at {url}/v1/messages — is the server running?"
        )
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn oversized_replies_are_refused() {
    let big = vec![b' '; 9 << 20];
    let server = Server::start(vec![
        Reply::Raw(response(200, &[("content-type", "application/json")], &big)),
        // An event stream that never ends a line.
        Reply::Raw(chunked_response(
            200,
            SSE_HEADERS,
            &[b"data: ".to_vec(), vec![b'x'; 2 << 20]],
        )),
    ])
    .await;
    let p = provider(&server, |_| {}).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("larger than 8 MiB"), "{err}");
    let (_, items) = collect(&p, &request()).await;
    let err = items.last().unwrap().clone().unwrap_err();
    assert!(
        err.to_string().contains("larger than 1048576 bytes"),
        "{err}"
    );
}

#[tokio::test]
async fn fim_is_a_chat_prompt_with_tags() {
    let reply = json_response(
        200,
        &[],
        &json!({
            "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": "<completion>a + b"}],
            "stop_reason": "stop_sequence", "stop_sequence": "</completion>",
            "usage": {"input_tokens": 80, "output_tokens": 5}
        }),
    );
    let server = Server::start(vec![Reply::Raw(reply)]).await;
    let p = provider(&server, |_| {}).await;
    let fim = FimRequest {
        prefix: "fn add(a: i32, b: i32) -> i32 {\n    ".into(),
        suffix: "\n}\n".into(),
        language_id: "rust".into(),
        max_tokens: 32,
        stop: vec![],
        metadata: Default::default(),
    };
    let answer = p.fim(&fim).await.unwrap();
    assert_eq!(answer.text, "a + b");
    assert_eq!(answer.stop_reason, StopReason::End);
    assert_eq!(
        answer.usage,
        Usage {
            input_tokens: 80,
            output_tokens: 5
        }
    );
    let body = server.only_request().json();
    assert_eq!(body["stop_sequences"], json!(["</completion>"]));
    assert_eq!(body["temperature"], 0.0);
    assert_eq!(body["max_tokens"], 40);
    assert!(
        body["system"]
            .as_str()
            .unwrap()
            .contains("Answer with only the code that goes at the cursor")
    );
    let user = body["messages"][0]["content"].as_str().unwrap();
    assert!(
        user.starts_with(
            "<prefix>fn add(a: i32, b: i32) -> i32 {\n    </prefix><suffix>\n}\n</suffix>"
        ),
        "{user}"
    );
}

#[tokio::test]
async fn check_gets_the_model() {
    let server = Server::start(vec![Reply::Raw(json_response(200, &[], &json!({
        "type": "model", "id": "claude-test-20250101", "display_name": "Claude Test", "created_at": "2025-01-01T00:00:00Z"
    })))])
    .await;
    let p = provider(&server, |_| {}).await;
    let summary = p.check().await.unwrap();
    assert_eq!(
        summary,
        format!(
            "Anthropic at {}: key accepted, model `claude-test-20250101` (Claude Test) available",
            server.url()
        )
    );
    let r = server.only_request();
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, "/v1/models/claude-test");
    assert_eq!(r.header("x-api-key"), Some(KEY));
    assert_eq!(r.header("anthropic-version"), Some("2023-06-01"));
}

#[tokio::test]
async fn the_key_never_leaks() {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    // A hostile or careless server echoing the key in its error.
    let body = json!({"type": "error", "error": {"type": "authentication_error", "message": format!("invalid x-api-key {KEY}")}});
    let server = Server::start(vec![
        Reply::Raw(json_response(
            500,
            &[],
            &json!({"error": {"type": "api_error", "message": KEY}}),
        )),
        Reply::Raw(json_response(401, &[], &body)),
    ])
    .await;
    let p = provider(&server, |_| {}).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert!(err.to_string().contains("invalid x-api-key ***"), "{err}");
    for text in [
        err.to_string(),
        format!("{err:?}"),
        format!("{p:?}"),
        logs.text(),
    ] {
        assert!(!text.contains(KEY), "key leaked: {text}");
        assert!(!text.contains("0123456789abcdef"), "key leaked: {text}");
    }
    assert!(
        logs.text().contains("retrying model request"),
        "{}",
        logs.text()
    );
    // It was sent where it belongs, once per request.
    assert!(
        server
            .requests()
            .iter()
            .all(|r| r.header("x-api-key") == Some(KEY))
    );
}

#[tokio::test]
async fn inference_geo_is_sent_and_where_it_ran_is_read_back() {
    let reply = json_response(
        200,
        &[("request-id", "req_011CSHoEeqs5C35K2UUqR7Fy")],
        &json!({
            "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-test",
            "content": [{"type": "text", "text": "Hi"}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 5, "output_tokens": 1, "inference_geo": "us"}
        }),
    );
    let mut events = sse_events();
    events[0] = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_2\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-test\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,\"output_tokens\":1,\"inference_geo\":\"us\"}}}\n\n".as_bytes().to_vec();
    let mut headers = SSE_HEADERS.to_vec();
    headers.push(("request-id", "req_stream_1"));
    let server = Server::start(vec![
        Reply::Raw(reply),
        Reply::Raw(chunked_response(200, &headers, &events)),
    ])
    .await;
    let p = provider(&server, |c| c.inference_geo = Some("us".into())).await;
    assert_eq!(p.inference_geo(), Some("us"));
    assert_eq!(p.auth_kind(), "api-key");
    let answer = p.chat(&request()).await.unwrap();
    assert_eq!(answer.text, "Hi");
    assert_eq!(
        answer.meta,
        CallMeta {
            request_id: Some("req_011CSHoEeqs5C35K2UUqR7Fy".into()),
            stop_reason: Some("end_turn".into()),
            inference_geo: Some("us".into()),
        }
    );
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "Hello!");
    let Some(Ok(StreamEvent::Done { meta, .. })) = items.last() else {
        panic!("{items:?}")
    };
    assert_eq!(
        meta,
        &CallMeta {
            request_id: Some("req_stream_1".into()),
            stop_reason: Some("end_turn".into()),
            inference_geo: Some("us".into()),
        }
    );
    let requests = server.requests();
    assert_eq!(requests[0].json()["inference_geo"], "us");
    assert_eq!(requests[1].json()["inference_geo"], "us");
    assert_eq!(requests[1].json()["stream"], true);
}

#[tokio::test]
async fn without_inference_geo_nothing_is_sent_and_only_user_id_metadata_goes() {
    let server = Server::start(vec![
        Reply::Raw(message_reply()),
        Reply::Raw(message_reply()),
    ])
    .await;
    let p = provider(&server, |_| {}).await;
    assert_eq!(p.inference_geo(), None);
    let mut req = request();
    req.metadata.insert("plugin".into(), "acme/explain".into());
    p.chat(&req).await.unwrap();
    req.metadata.insert("user_id".into(), "6f1e2b7c".into());
    let answer = p.chat(&req).await.unwrap();
    assert_eq!(answer.meta.request_id.as_deref(), Some("req_01"));
    assert_eq!(answer.meta.inference_geo, None);
    let requests = server.requests();
    let first = requests[0].json();
    assert!(first.get("inference_geo").is_none(), "{first}");
    assert!(first.get("metadata").is_none(), "{first}");
    assert_eq!(
        requests[1].json()["metadata"],
        json!({"user_id": "6f1e2b7c"})
    );
}

#[tokio::test]
async fn request_ids_reach_errors() {
    let server = Server::start(vec![Reply::Raw(json_response(
        400,
        &[("request-id", "req_bad_geo")],
        &json!({"type": "error", "error": {"type": "invalid_request_error", "message": "inference_geo is not supported for this model"}}),
    ))])
    .await;
    let p = provider(&server, |c| c.inference_geo = Some("us".into())).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::InvalidRequest { .. }),
        "{err:?}"
    );
    assert_eq!(err.request_id(), Some("req_bad_geo"));
    assert!(
        err.to_string().contains("inference_geo is not supported"),
        "{err}"
    );
}
