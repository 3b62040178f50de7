//! Amazon Bedrock Converse / ConverseStream through the AWS SDK, against a
//! loopback server speaking restJson1 and the event-stream binary framing.

use std::time::{Duration, Instant};

use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use cordon_providers::aws::{self, BehaviorVersion, Credentials};
use cordon_providers::{
    BackendConfig, CallMeta, ChatRequest, FimRequest, GuardrailConfig, GuardrailStreamProcessing,
    GuardrailTrace, Message, Provider, ProviderError, ProviderKind, StopReason, StreamEvent, Usage,
};
use futures::StreamExt;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::support::*;

const MODEL: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";
const MODEL_IN_PATH: &str = "anthropic.claude-3-5-sonnet-20240620-v1%3A0";
const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

fn loader() -> aws::ConfigLoader {
    aws::defaults(BehaviorVersion::latest())
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET, None, None, "test"))
}

fn bedrock_config(server: &Server) -> BackendConfig {
    let mut config = config(ProviderKind::Bedrock, MODEL, &server.url());
    config.region = Some("us-east-1".into());
    config
}

async fn provider(server: &Server, tweak: impl FnOnce(&mut BackendConfig)) -> Provider {
    let mut config = bedrock_config(server);
    tweak(&mut config);
    Provider::new_with_aws_loader("bedrock", &config, loader())
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

fn converse_reply() -> Vec<u8> {
    json_response(
        200,
        &[("x-amzn-requestid", "5b4e1c8e-0000-4000-8000-000000000000")],
        &json!({
            "metrics": {"latencyMs": 310},
            "output": {"message": {"content": [{"text": "Hello"}, {"text": " again!"}], "role": "assistant"}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 21, "outputTokens": 4, "totalTokens": 25}
        }),
    )
}

fn error_reply(status: u16, error_type: &str, message: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let kind = format!("{error_type}:http://internal.amazon.com/coral/com.amazon.bedrock/");
    let mut headers = vec![
        ("x-amzn-errortype", kind.as_str()),
        ("x-amzn-requestid", "00000000-0000-4000-8000-000000000000"),
    ];
    headers.extend_from_slice(extra);
    json_response(status, &headers, &json!({"message": message}))
}

// ---- AWS event-stream framing, by hand -------------------------------------

/// One event-stream message: prelude (total length, headers length, CRC32
/// of those 8 bytes), headers (name length, name, type 7 = string, value
/// length, value), payload, CRC32 of everything before it.
fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut header_bytes = Vec::new();
    for (name, value) in headers {
        header_bytes.push(name.len() as u8);
        header_bytes.extend_from_slice(name.as_bytes());
        header_bytes.push(7);
        header_bytes.extend_from_slice(&(value.len() as u16).to_be_bytes());
        header_bytes.extend_from_slice(value.as_bytes());
    }
    let total = 12 + header_bytes.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(header_bytes.len() as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&header_bytes);
    out.extend_from_slice(payload);
    let message_crc = crc32fast::hash(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    out
}

fn event(event_type: &str, payload: serde_json::Value) -> Vec<u8> {
    frame(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

fn exception(exception_type: &str, message: &str) -> Vec<u8> {
    frame(
        &[
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        json!({"message": message}).to_string().as_bytes(),
    )
}

fn stream_events() -> Vec<Vec<u8>> {
    vec![
        event(
            "messageStart",
            json!({"p": "abcdefghijk", "role": "assistant"}),
        ),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "Hello"}, "p": "abcd"}),
        ),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "!"}, "p": "abcdefgh"}),
        ),
        event(
            "contentBlockStop",
            json!({"contentBlockIndex": 0, "p": "abcdefghijklmnopqrs"}),
        ),
        event(
            "messageStop",
            json!({"p": "abcdefghijklmnopqrstuvwxyzABCDEFGH", "stopReason": "end_turn"}),
        ),
        event(
            "metadata",
            json!({"metrics": {"latencyMs": 402}, "p": "abc", "usage": {"inputTokens": 25, "outputTokens": 15, "totalTokens": 40}}),
        ),
    ]
}

const STREAM_HEADERS: &[(&str, &str)] = &[
    ("content-type", "application/vnd.amazon.eventstream"),
    ("x-amzn-requestid", "5b4e1c8e-0000-4000-8000-000000000001"),
];

fn stream_reply(frames: &[Vec<u8>]) -> Vec<u8> {
    chunked_response(200, STREAM_HEADERS, frames)
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

// ---- SigV4, recomputed ------------------------------------------------------

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Check that `r` carries a well-formed SigV4 `Authorization` header for
/// service `bedrock` in us-east-1, and that its signature is the one the
/// test secret gives for exactly the bytes the server received.
fn assert_sigv4(r: &Recorded) {
    let auth = r.header("authorization").expect("Authorization header");
    let amz_date = r.header("x-amz-date").expect("x-amz-date header");
    assert_eq!(amz_date.len(), 16, "{amz_date}");
    assert!(
        amz_date.ends_with('Z') && amz_date.as_bytes()[8] == b'T',
        "{amz_date}"
    );
    let date = &amz_date[..8];

    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 Credential=")
        .unwrap_or_else(|| panic!("{auth}"));
    let (credential, rest) = rest
        .split_once(", SignedHeaders=")
        .unwrap_or_else(|| panic!("{auth}"));
    let (signed_headers, signature) = rest
        .split_once(", Signature=")
        .unwrap_or_else(|| panic!("{auth}"));
    assert_eq!(
        credential,
        format!("{ACCESS_KEY}/{date}/us-east-1/bedrock/aws4_request")
    );
    assert_eq!(signature.len(), 64, "{signature}");
    assert!(
        signature
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{signature}"
    );
    let names: Vec<&str> = signed_headers.split(';').collect();
    assert!(
        names.contains(&"host") && names.contains(&"x-amz-date"),
        "{signed_headers}"
    );
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "signed headers are sorted");

    // Canonical request (non-S3 services encode each path segment twice).
    let (path, query) = r.path.split_once('?').unwrap_or((&r.path, ""));
    let canonical_uri = path.replace('%', "%25");
    let canonical_headers: String = names
        .iter()
        .map(|n| {
            format!(
                "{n}:{}\n",
                r.header(n)
                    .unwrap_or_else(|| panic!("signed header {n} missing"))
                    .trim()
            )
        })
        .collect();
    let payload_hash = r
        .header("x-amz-content-sha256")
        .map(str::to_owned)
        .unwrap_or_else(|| hex::encode(Sha256::digest(&r.body)));
    let canonical_request = format!(
        "{}\n{canonical_uri}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}",
        r.method
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{date}/us-east-1/bedrock/aws4_request\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let k_date = hmac(format!("AWS4{SECRET}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, b"us-east-1");
    let k_service = hmac(&k_region, b"bedrock");
    let k_signing = hmac(&k_service, b"aws4_request");
    let expected = hex::encode(hmac(&k_signing, string_to_sign.as_bytes()));
    assert_eq!(
        signature, expected,
        "signature does not match the request received:\n{canonical_request}"
    );
}

// ---- tests -------------------------------------------------------------------

#[test]
fn hand_built_frames_match_the_sdk_encoder() {
    use aws_smithy_types::event_stream::{Header, HeaderValue, Message as EsMessage};
    let payload =
        json!({"contentBlockIndex": 0, "delta": {"text": "Hello"}, "p": "abcd"}).to_string();
    let message = EsMessage::new(payload.clone().into_bytes())
        .add_header(Header::new(
            ":event-type",
            HeaderValue::String("contentBlockDelta".into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String("event".into()),
        ));
    let mut sdk = Vec::new();
    aws_smithy_eventstream::frame::write_message_to(&message, &mut sdk).unwrap();
    assert_eq!(
        event("contentBlockDelta", serde_json::from_str(&payload).unwrap()),
        sdk
    );
}

#[tokio::test]
async fn converse_is_signed_and_has_the_converse_shape() {
    let server = Server::start(vec![Reply::Raw(converse_reply())]).await;
    let p = provider(&server, |_| {}).await;
    assert_eq!(p.region(), Some("us-east-1"));
    assert_eq!(p.endpoint(), server.url());
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
    assert_eq!(r.path, format!("/model/{MODEL_IN_PATH}/converse"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_sigv4(&r);
    assert_eq!(
        r.json(),
        json!({
            "messages": [
                {"role": "user", "content": [{"text": "Say hello."}]},
                {"role": "assistant", "content": [{"text": "Hello"}]},
                {"role": "user", "content": [{"text": "Again."}]}
            ],
            "system": [{"text": "You are terse."}],
            "inferenceConfig": {"maxTokens": 64, "temperature": 0.5, "stopSequences": ["\n\nHuman:"]}
        })
    );
}

#[tokio::test]
async fn converse_stream_reads_event_stream_frames() {
    let server = Server::start(vec![Reply::Raw(stream_reply(&stream_events()))]).await;
    let p = provider(&server, |_| {}).await;
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "Hello!");
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(
        items.last().unwrap(),
        &Ok(StreamEvent::Done {
            usage: Usage {
                input_tokens: 25,
                output_tokens: 15
            },
            stop_reason: StopReason::End,
            meta: CallMeta {
                request_id: Some("5b4e1c8e-0000-4000-8000-000000000001".into()),
                stop_reason: Some("end_turn".into()),
                inference_geo: None,
            }
        })
    );
    let r = server.only_request();
    assert_eq!(r.path, format!("/model/{MODEL_IN_PATH}/converse-stream"));
    assert_sigv4(&r);
    assert_eq!(r.json()["inferenceConfig"]["maxTokens"], 64);
}

#[tokio::test]
async fn frames_split_at_every_byte_still_parse() {
    let bytes: Vec<u8> = stream_events().concat();
    let parts: Vec<Vec<u8>> = bytes.iter().map(|b| vec![*b]).collect();
    let server = Server::start(vec![Reply::Raw(stream_reply(&parts))]).await;
    let p = provider(&server, |_| {}).await;
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "Hello!");
    assert!(
        matches!(items.last(), Some(Ok(StreamEvent::Done { .. }))),
        "{items:?}"
    );
}

#[tokio::test]
async fn truncated_streams_are_errors_and_not_retried_after_text() {
    let events = stream_events();
    // Cut in the middle of a frame, connection closed.
    let mut bytes = chunked_head(200, STREAM_HEADERS);
    bytes.extend(chunk(&events[..2].concat()));
    bytes.extend(chunk(&events[2][..10]));
    bytes.extend_from_slice(LAST_CHUNK);
    let server = Server::start(vec![Reply::Raw(bytes), Reply::Raw(stream_reply(&events))]).await;
    let p = provider(&server, |_| {}).await;
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "Hello");
    let err = items.last().unwrap().clone().unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("backend `bedrock`: the stream from Bedrock"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 1);

    // Cut at a frame boundary before messageStop.
    let server = Server::start(vec![Reply::Raw(stream_reply(&events[..3]))]).await;
    let p = provider(&server, |_| {}).await;
    let (_, items) = collect(&p, &request()).await;
    let err = items.last().unwrap().clone().unwrap_err();
    assert!(
        err.to_string().contains("ended before messageStop"),
        "{err}"
    );

    // Connection dropped inside a chunk.
    let mut bytes = chunked_head(200, STREAM_HEADERS);
    bytes.extend(chunk(&events[..2].concat()));
    bytes.extend(b"400\r\n");
    bytes.extend(&events[2][..10]);
    let server = Server::start(vec![Reply::Raw(bytes)]).await;
    let p = provider(&server, |_| {}).await;
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "Hello");
    assert!(
        matches!(items.last(), Some(Err(ProviderError::Unavailable { .. }))),
        "{items:?}"
    );
}

#[tokio::test]
async fn stream_exception_before_text_is_retried() {
    let events = stream_events();
    let server = Server::start(vec![
        Reply::Raw(stream_reply(&[
            events[0].clone(),
            exception("modelStreamErrorException", "Model stream error"),
        ])),
        Reply::Raw(stream_reply(&events)),
        Reply::Raw(stream_reply(&[
            events[0].clone(),
            events[1].clone(),
            exception("throttlingException", "slow down"),
        ])),
    ])
    .await;
    let p = provider(&server, |_| {}).await;
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "Hello!");
    assert!(matches!(items.last(), Some(Ok(StreamEvent::Done { .. }))));
    assert_eq!(server.requests().len(), 2);

    // After text, an exception ends the stream.
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "Hello");
    let err = items.last().unwrap().clone().unwrap_err();
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("rate limited by Bedrock (ThrottlingException: slow down)"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn malformed_replies() {
    let events = stream_events();
    let mut bad_crc = events[1].clone();
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 0xff;
    let server = Server::start(vec![
        Reply::Raw(response(
            200,
            &[("content-type", "application/json")],
            b"{\"output\": {\"message\": ",
        )),
        Reply::Raw(stream_reply(&[events[0].clone(), bad_crc])),
        Reply::Raw(stream_reply(&[
            events[0].clone(),
            event("contentBlockDelta", json!({"delta": 5})),
        ])),
    ])
    .await;
    let p = provider(&server, |_| {}).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Malformed { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("backend `bedrock`: unreadable reply from Bedrock"),
        "{err}"
    );
    for _ in 0..2 {
        let (_, items) = collect(&p, &request()).await;
        assert!(
            matches!(items.last(), Some(Err(ProviderError::Malformed { .. }))),
            "{items:?}"
        );
    }
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn access_denied_and_bad_token_are_auth_errors() {
    let server = Server::start(vec![
        Reply::Raw(error_reply(
            403,
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
            &[],
        )),
        Reply::Raw(error_reply(
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
            &[],
        )),
        Reply::Raw(json_response(401, &[], &json!({"message": "Unauthorized"}))),
    ])
    .await;
    let p = provider(&server, |_| {}).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "backend `bedrock`: 403 from Bedrock (AccessDeniedException: You don't have access to the model with the specified model ID.) — check the AWS credentials (AWS_PROFILE, `aws sso login`, AWS_BEARER_TOKEN_BEDROCK) and that access to this model is granted in us-east-1"
    );
    let err = p.chat_stream(&request()).await.err().unwrap();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    let err = p.chat(&request()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    assert_eq!(server.requests().len(), 3, "auth errors are not retried");
}

#[tokio::test]
async fn validation_errors_are_not_retried() {
    let server = Server::start(vec![
        Reply::Raw(error_reply(
            400,
            "ValidationException",
            "The provided model identifier is invalid.",
            &[],
        )),
        Reply::Raw(error_reply(
            404,
            "ResourceNotFoundException",
            "Model not found.",
            &[],
        )),
    ])
    .await;
    let p = provider(&server, |_| {}).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::InvalidRequest { .. }),
        "{err:?}"
    );
    let err = p.chat(&request()).await.unwrap_err();
    assert!(
        err.to_string().contains("check model (a Bedrock model id"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn throttling_honours_retry_after_then_succeeds() {
    let server = Server::start(vec![
        Reply::Raw(error_reply(
            429,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
            &[("retry-after", "1")],
        )),
        Reply::Raw(converse_reply()),
    ])
    .await;
    let p = provider(&server, |_| {}).await;
    assert_eq!(p.chat(&request()).await.unwrap().text, "Hello again!");
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_sigv4(&requests[1]);

    let server = Server::start(vec![Reply::Raw(error_reply(
        429,
        "ThrottlingException",
        "Too many requests",
        &[("retry-after", "600")],
    ))])
    .await;
    let p = provider(&server, |_| {}).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(600)));
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn server_error_then_success() {
    let server = Server::start(vec![
        Reply::Raw(error_reply(
            500,
            "InternalServerException",
            "Internal server error",
            &[],
        )),
        Reply::Raw(error_reply(
            503,
            "ServiceUnavailableException",
            "Service unavailable",
            &[],
        )),
        Reply::Raw(converse_reply()),
        Reply::Raw(error_reply(
            500,
            "InternalServerException",
            "Internal server error",
            &[],
        )),
        Reply::Raw(stream_reply(&stream_events())),
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
async fn a_server_that_never_answers_times_out() {
    let server = Server::start(vec![Reply::Hang]).await;
    let p = provider(&server, |c| c.timeout_ms = Some(300)).await;
    let started = Instant::now();
    let err = p.chat(&request()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Timeout { .. }), "{err:?}");
    assert!(err.to_string().contains("within 300 ms"), "{err}");
    assert!(started.elapsed() < SOON);
    assert_eq!(server.requests().len(), 1);
    server.wait_for(Seen::Disconnected(0)).await;

    // The stream starts, then stalls.
    let pieces = vec![
        (Duration::ZERO, chunked_head(200, STREAM_HEADERS)),
        (Duration::ZERO, chunk(&stream_events()[0])),
    ];
    let server = Server::start(vec![Reply::Pieces { pieces, hold: true }]).await;
    let p = provider(&server, |c| c.timeout_ms = Some(1000)).await;
    let (_, items) = collect(&p, &request()).await;
    let err = items.last().unwrap().clone().unwrap_err();
    assert!(
        err.to_string().contains("stalled for more than 1000 ms"),
        "{err}"
    );
    server.wait_for(Seen::Disconnected(0)).await;
}

#[tokio::test]
async fn dropping_the_stream_closes_the_connection() {
    let events = stream_events();
    let pieces = vec![
        (Duration::ZERO, chunked_head(200, STREAM_HEADERS)),
        (Duration::ZERO, chunk(&events[0])),
        (Duration::ZERO, chunk(&events[1])),
    ];
    let server = Server::start(vec![Reply::Pieces { pieces, hold: true }, Reply::Hang]).await;
    let p = provider(&server, |_| {}).await;
    let mut stream = p.chat_stream(&request()).await.unwrap();
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        StreamEvent::Text("Hello".into())
    );
    drop(stream);
    server.wait_for(Seen::Disconnected(0)).await;

    // Dropping the future of a pending Converse call.
    let task = tokio::spawn({
        let p = p.clone();
        async move { p.chat(&request()).await }
    });
    server.wait_for(Seen::Request(1)).await;
    task.abort();
    server.wait_for(Seen::Disconnected(1)).await;
}

#[derive(Debug)]
struct NoCredentials;

impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
            "no profile, no SSO session, no env",
        )))
    }
}

#[tokio::test]
async fn missing_credentials_are_an_auth_error_and_nothing_is_sent() {
    let server = Server::start(vec![]).await;
    let loader = aws::defaults(BehaviorVersion::latest()).credentials_provider(NoCredentials);
    let p = Provider::new_with_aws_loader("bedrock", &bedrock_config(&server), loader)
        .await
        .unwrap();
    let err = p.chat(&request()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("backend `bedrock`: no usable AWS credentials"),
        "{text}"
    );
    assert!(text.contains("aws sso login"), "{text}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn connection_refused_says_so() {
    let url = refused_url().await;
    let mut config = config(ProviderKind::Bedrock, MODEL, &url);
    config.region = Some("us-east-1".into());
    config.max_retries = Some(0);
    let p = Provider::new_with_aws_loader("bedrock", &config, loader())
        .await
        .unwrap();
    let err = p.chat(&request()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("backend `bedrock`: connection refused at {url} — is the server running?")
    );
}

#[tokio::test]
async fn fim_and_check_are_converse_calls() {
    let fim_reply = json_response(
        200,
        &[],
        &json!({
            "output": {"message": {"content": [{"text": "<completion>a + b"}], "role": "assistant"}},
            "stopReason": "stop_sequence",
            "usage": {"inputTokens": 90, "outputTokens": 6, "totalTokens": 96}, "metrics": {"latencyMs": 1}
        }),
    );
    let check_reply = json_response(
        200,
        &[],
        &json!({
            "output": {"message": {"content": [{"text": "P"}], "role": "assistant"}},
            "stopReason": "max_tokens",
            "usage": {"inputTokens": 8, "outputTokens": 1, "totalTokens": 9}, "metrics": {"latencyMs": 1}
        }),
    );
    let server = Server::start(vec![Reply::Raw(fim_reply), Reply::Raw(check_reply)]).await;
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
    let body = server.requests()[0].json();
    assert_eq!(
        body["inferenceConfig"],
        json!({"maxTokens": 40, "temperature": 0.0, "stopSequences": ["</completion>"]})
    );
    assert!(
        body["messages"][0]["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("<prefix>fn add")
    );
    assert!(
        body["system"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Answer with only the code that goes at the cursor")
    );

    let summary = p.check().await.unwrap();
    assert_eq!(
        summary,
        format!(
            "Bedrock in us-east-1 at {}: credentials accepted, model `{MODEL}` answered (8 input + 1 output tokens)",
            server.url()
        )
    );
    assert_eq!(
        server.requests()[1].json()["inferenceConfig"],
        json!({"maxTokens": 1})
    );
}

#[tokio::test]
async fn the_secret_key_never_leaks() {
    let logs = LogCapture::default();
    let _guard = tracing::subscriber::set_default(logs.clone());
    let server = Server::start(vec![
        Reply::Raw(error_reply(500, "InternalServerException", "boom", &[])),
        Reply::Raw(error_reply(
            403,
            "InvalidSignatureException",
            "The request signature we calculated does not match",
            &[],
        )),
    ])
    .await;
    let p = provider(&server, |_| {}).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth { .. }), "{err:?}");
    for text in [
        err.to_string(),
        format!("{err:?}"),
        format!("{p:?}"),
        logs.text(),
    ] {
        assert!(!text.contains(SECRET), "secret leaked: {text}");
    }
    for r in server.requests() {
        assert!(
            !r.raw_text().contains(SECRET),
            "the secret itself is never sent"
        );
    }
    assert!(
        logs.text().contains("retrying model request"),
        "{}",
        logs.text()
    );
}

// ---- guardrails, request metadata, request ids, endpoints -------------------

fn guardrail(stream_processing: GuardrailStreamProcessing) -> GuardrailConfig {
    GuardrailConfig {
        id: "gr-abc123".into(),
        version: "1".into(),
        trace: GuardrailTrace::Enabled,
        stream_processing,
    }
}

fn intervened_reply() -> Vec<u8> {
    json_response(
        200,
        &[("x-amzn-requestid", "7a1c0000-0000-4000-8000-00000000beef")],
        &json!({
            "metrics": {"latencyMs": 120},
            "output": {"message": {"content": [{"text": "Sorry, the model cannot answer this question."}], "role": "assistant"}},
            "stopReason": "guardrail_intervened",
            "usage": {"inputTokens": 30, "outputTokens": 0, "totalTokens": 30}
        }),
    )
}

fn intervened_stream() -> Vec<Vec<u8>> {
    vec![
        event("messageStart", json!({"p": "abc", "role": "assistant"})),
        event(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "The password is"}, "p": "ab"}),
        ),
        event(
            "messageStop",
            json!({"p": "abcdef", "stopReason": "guardrail_intervened"}),
        ),
        event(
            "metadata",
            json!({"metrics": {"latencyMs": 99}, "p": "a", "usage": {"inputTokens": 25, "outputTokens": 4, "totalTokens": 29}}),
        ),
    ]
}

#[tokio::test]
async fn guardrail_config_and_request_metadata_are_on_the_wire() {
    let server = Server::start(vec![
        Reply::Raw(converse_reply()),
        Reply::Raw(stream_reply(&stream_events())),
    ])
    .await;
    let p = provider(&server, |c| {
        c.guardrail = Some(guardrail(GuardrailStreamProcessing::Async));
    })
    .await;
    assert_eq!(p.guardrail().map(|g| g.id.as_str()), Some("gr-abc123"));
    let mut req = request();
    req.metadata = [
        ("plugin", "acme/complete"),
        ("feature", "inline"),
        ("session", "ab12 cd34"),
        ("file", "src/main.rs#L1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let answer = p.chat(&req).await.unwrap();
    assert_eq!(answer.text, "Hello again!");
    assert_eq!(
        answer.meta,
        CallMeta {
            request_id: Some("5b4e1c8e-0000-4000-8000-000000000000".into()),
            stop_reason: Some("end_turn".into()),
            inference_geo: None,
        }
    );
    let (text, _) = collect(&p, &req).await;
    assert_eq!(text, "Hello!");

    let requests = server.requests();
    let converse = requests[0].json();
    assert_eq!(
        converse["guardrailConfig"],
        json!({"guardrailIdentifier": "gr-abc123", "guardrailVersion": "1", "trace": "enabled"})
    );
    let metadata = json!({
        "plugin": "acme/complete",
        "feature": "inline",
        "session": "ab12 cd34",
        // `#` is not allowed by Bedrock: replaced, not dropped.
        "file": "src/main.rs_L1"
    });
    assert_eq!(converse["requestMetadata"], metadata);
    let stream = requests[1].json();
    assert_eq!(
        stream["guardrailConfig"],
        json!({"guardrailIdentifier": "gr-abc123", "guardrailVersion": "1", "trace": "enabled", "streamProcessingMode": "async"})
    );
    assert_eq!(stream["requestMetadata"], metadata);
    assert_sigv4(&requests[1]);
}

#[tokio::test]
async fn without_guardrail_or_metadata_nothing_extra_is_sent() {
    let server = Server::start(vec![Reply::Raw(converse_reply())]).await;
    let p = provider(&server, |_| {}).await;
    p.chat(&request()).await.unwrap();
    let body = server.only_request().json();
    assert!(body.get("guardrailConfig").is_none(), "{body}");
    assert!(body.get("requestMetadata").is_none(), "{body}");
}

#[tokio::test]
async fn request_metadata_is_cut_to_what_bedrock_accepts() {
    let server = Server::start(vec![Reply::Raw(converse_reply())]).await;
    let p = provider(&server, |_| {}).await;
    let mut req = request();
    // 20 entries, one key and one value too long, one key that cleans to
    // the same key as another.
    for i in 0..18 {
        req.metadata.insert(format!("k{i:02}"), format!("v{i}"));
    }
    req.metadata.insert("k00!".into(), "dup".into());
    req.metadata.insert("k00?".into(), "dup too".into());
    req.metadata.insert("k01".into(), "x".repeat(300));
    p.chat(&req).await.unwrap();
    let sent = server.only_request().json()["requestMetadata"].clone();
    let sent = sent.as_object().unwrap();
    assert_eq!(sent.len(), 16, "{sent:?}");
    assert_eq!(sent["k00"], "v0");
    assert_eq!(
        sent["k00_"], "dup",
        "the first of two keys that clean alike wins"
    );
    assert_eq!(sent["k01"].as_str().unwrap().len(), 256);
    assert!(
        sent.contains_key("k14") && !sent.contains_key("k15"),
        "{sent:?}"
    );
}

#[tokio::test]
async fn fim_through_chat_carries_the_metadata() {
    let server = Server::start(vec![Reply::Raw(json_response(
        200,
        &[("x-amzn-requestid", "f1f1f1f1-0000-4000-8000-000000000000")],
        &json!({
            "output": {"message": {"content": [{"text": "<completion>a + b"}], "role": "assistant"}},
            "stopReason": "stop_sequence",
            "usage": {"inputTokens": 9, "outputTokens": 3, "totalTokens": 12}, "metrics": {"latencyMs": 1}
        }),
    ))])
    .await;
    let p = provider(&server, |_| {}).await;
    let fim = FimRequest {
        prefix: "fn add(a: i32, b: i32) -> i32 {\n    ".into(),
        suffix: "\n}\n".into(),
        language_id: "rust".into(),
        max_tokens: 16,
        stop: vec![],
        metadata: [("feature".to_owned(), "complete".to_owned())].into(),
    };
    let answer = p.fim(&fim).await.unwrap();
    assert_eq!(answer.text, "a + b");
    assert_eq!(
        answer.meta.request_id.as_deref(),
        Some("f1f1f1f1-0000-4000-8000-000000000000")
    );
    assert_eq!(answer.meta.stop_reason.as_deref(), Some("stop_sequence"));
    assert_eq!(
        server.only_request().json()["requestMetadata"],
        json!({"feature": "complete"})
    );
}

#[tokio::test]
async fn a_guardrail_intervention_is_an_error_not_an_answer() {
    let server = Server::start(vec![
        Reply::Raw(intervened_reply()),
        Reply::Raw(stream_reply(&intervened_stream())),
        Reply::Raw(intervened_reply()),
    ])
    .await;
    let p = provider(&server, |c| {
        c.guardrail = Some(guardrail(GuardrailStreamProcessing::Sync));
    })
    .await;
    let err = p.chat(&request()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "backend `bedrock`: guardrail `gr-abc123` (version 1) intervened; the answer was blocked"
    );
    assert!(
        matches!(&err, ProviderError::GuardrailIntervened { guardrail: Some(g), version: Some(v), .. } if g == "gr-abc123" && v == "1"),
        "{err:?}"
    );
    assert_eq!(
        err.request_id(),
        Some("7a1c0000-0000-4000-8000-00000000beef")
    );
    assert!(!err.is_retryable());

    // Streamed: the text already shown is followed by the error, not Done.
    let (text, items) = collect(&p, &request()).await;
    assert_eq!(text, "The password is");
    assert_eq!(items.len(), 2, "{items:?}");
    let err = items.last().unwrap().clone().unwrap_err();
    assert!(
        matches!(err, ProviderError::GuardrailIntervened { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("intervened; the answer was blocked")
    );
    assert_eq!(
        err.request_id(),
        Some("5b4e1c8e-0000-4000-8000-000000000001")
    );

    // Fill-in-the-middle goes through chat: blocked the same way.
    let err = p
        .fim(&FimRequest {
            prefix: "x".into(),
            max_tokens: 4,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::GuardrailIntervened { .. }),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 3, "interventions are not retried");
}

#[tokio::test]
async fn an_enforced_guardrail_the_backend_does_not_name_still_blocks() {
    let server = Server::start(vec![Reply::Raw(intervened_reply())]).await;
    let p = provider(&server, |_| {}).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert!(
        matches!(
            err,
            ProviderError::GuardrailIntervened {
                guardrail: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "backend `bedrock`: a guardrail enforced on the AWS account or organization intervened; the answer was blocked"
    );
}

#[tokio::test]
async fn access_denied_by_an_enforced_guardrail_says_so() {
    let denied = "User: arn:aws:sts::123456789012:assumed-role/dev/me is not authorized to perform: bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0 with an explicit deny in an identity-based policy (condition bedrock:GuardrailIdentifier)";
    let server = Server::start(vec![
        Reply::Raw(error_reply(403, "AccessDeniedException", denied, &[])),
        Reply::Raw(error_reply(403, "AccessDeniedException", denied, &[])),
        Reply::Raw(error_reply(403, "AccessDeniedException", denied, &[])),
    ])
    .await;
    let p = provider(&server, |_| {}).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::GuardrailRequired { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.ends_with("— denied by an enforced guardrail policy: configure `guardrail` on this backend with the identifier your administrator requires"),
        "{text}"
    );
    // Bedrock's own words are quoted (cut to 300 characters).
    assert!(
        text.contains("(AccessDeniedException: User: arn:aws:sts::"),
        "{text}"
    );
    assert!(!text.contains("credentials"), "{text}");
    assert_eq!(
        err.request_id(),
        Some("00000000-0000-4000-8000-000000000000")
    );

    let err = p.chat_stream(&request()).await.err().unwrap();
    assert!(
        matches!(err, ProviderError::GuardrailRequired { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.request_id(),
        Some("00000000-0000-4000-8000-000000000000")
    );

    // With a guardrail that is not the required one.
    let p = provider(&server, |c| {
        c.guardrail = Some(guardrail(GuardrailStreamProcessing::Sync));
    })
    .await;
    let err = p.chat(&request()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("the guardrail sent (`gr-abc123` version 1) is not the one required"),
        "{err}"
    );
    assert_eq!(server.requests().len(), 3, "not retried");
}

#[tokio::test]
async fn request_ids_reach_errors() {
    let server = Server::start(vec![
        Reply::Raw(error_reply(
            400,
            "ValidationException",
            "The provided model identifier is invalid.",
            &[],
        )),
        Reply::Raw(stream_reply(&[
            stream_events()[0].clone(),
            stream_events()[1].clone(),
            exception("throttlingException", "slow down"),
        ])),
    ])
    .await;
    let p = provider(&server, |_| {}).await;
    let err = p.chat(&request()).await.unwrap_err();
    assert_eq!(
        err.request_id(),
        Some("00000000-0000-4000-8000-000000000000")
    );
    // An exception inside the stream carries the stream's request id.
    let (_, items) = collect(&p, &request()).await;
    let err = items.last().unwrap().clone().unwrap_err();
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
    assert_eq!(
        err.request_id(),
        Some("5b4e1c8e-0000-4000-8000-000000000001")
    );
}

async fn no_server_provider(
    tweak: impl FnOnce(&mut BackendConfig),
    loader: aws::ConfigLoader,
) -> Result<Provider, cordon_providers::ConfigError> {
    let mut config = config(ProviderKind::Bedrock, MODEL, "http://unused");
    config.base_url = None;
    config.region = Some("us-east-1".into());
    tweak(&mut config);
    Provider::new_with_aws_loader("bedrock", &config, loader).await
}

#[tokio::test]
async fn the_endpoint_is_the_one_the_sdk_resolves() {
    let p = no_server_provider(|c| c.use_fips = Some(false), loader())
        .await
        .unwrap();
    assert_eq!(
        p.endpoint(),
        "https://bedrock-runtime.us-east-1.amazonaws.com"
    );
    assert_eq!(p.endpoint_host(), "bedrock-runtime.us-east-1.amazonaws.com");
    assert!(!p.uses_fips());
    assert_eq!(p.auth_kind(), "sigv4");

    let p = no_server_provider(|c| c.use_fips = Some(true), loader())
        .await
        .unwrap();
    assert_eq!(
        p.endpoint(),
        "https://bedrock-runtime-fips.us-east-1.amazonaws.com"
    );
    assert_eq!(
        p.endpoint_host(),
        "bedrock-runtime-fips.us-east-1.amazonaws.com"
    );
    assert!(p.uses_fips());

    // Settings of the loader count too, and the partition's domain.
    let p = no_server_provider(
        |c| {
            c.use_fips = Some(false);
            c.region = Some("cn-north-1".into());
        },
        loader().use_dual_stack(true),
    )
    .await
    .unwrap();
    assert_eq!(
        p.endpoint(),
        "https://bedrock-runtime.cn-north-1.api.amazonwebservices.com.cn"
    );

    // The backend's base_url wins, as given.
    let p = no_server_provider(
        |c| {
            c.use_fips = Some(false);
            c.base_url = Some(
                "https://vpce-0abc-fips.bedrock-runtime.us-east-1.vpce.amazonaws.com:8443/".into(),
            );
        },
        loader().endpoint_url("https://ignored.example"),
    )
    .await
    .unwrap();
    assert_eq!(
        p.endpoint(),
        "https://vpce-0abc-fips.bedrock-runtime.us-east-1.vpce.amazonaws.com:8443"
    );
    assert_eq!(
        p.endpoint_host(),
        "vpce-0abc-fips.bedrock-runtime.us-east-1.vpce.amazonaws.com:8443"
    );
    assert!(p.uses_fips(), "a -fips host is a FIPS endpoint");

    // FIPS and an override cannot go together: the SDK would refuse every
    // request, so the backend is refused at once.
    let err = no_server_provider(
        |c| {
            c.use_fips = Some(true);
            c.base_url = Some("https://gw.example".into());
        },
        loader(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().starts_with(
            "backend `bedrock`: the AWS SDK cannot use a FIPS endpoint together with an endpoint override"
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_preferred_bedrock_api_key_is_bearer_auth_on_the_wire() {
    use aws_smithy_runtime_api::client::auth::http::HTTP_BEARER_AUTH_SCHEME_ID;
    let token = aws_credential_types::Token::new("bedrock-api-key-test", None);
    let server = Server::start(vec![
        Reply::Raw(converse_reply()),
        Reply::Raw(converse_reply()),
    ])
    .await;
    let mut config = bedrock_config(&server);
    config.profile = Some("team".into());
    let p = Provider::new_with_aws_loader(
        "bedrock",
        &config,
        loader()
            .token_provider(token.clone())
            .auth_scheme_preference([HTTP_BEARER_AUTH_SCHEME_ID]),
    )
    .await
    .unwrap();
    assert_eq!(p.auth_kind(), "bearer");
    assert_eq!(p.aws_profile().as_deref(), Some("team"));
    p.chat(&request()).await.unwrap();
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Bearer bedrock-api-key-test")
    );

    // A token without the preference: the SDK keeps SigV4, and so do we.
    let p = Provider::new_with_aws_loader(
        "bedrock",
        &bedrock_config(&server),
        loader().token_provider(token),
    )
    .await
    .unwrap();
    assert_eq!(p.auth_kind(), "sigv4");
    p.chat(&request()).await.unwrap();
    assert_sigv4(&server.requests()[1]);
}
