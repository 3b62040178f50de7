//! The stdio transport: LSP base-protocol framing around tower-lsp.
//!
//! tower-lsp-server stops reading after the first message it cannot decode.
//! An editor (or a broken plugin of one) sending one bad message must not
//! take the server down, so every frame is checked here first: a body that
//! is not UTF-8 JSON gets a parse error, JSON that is not a JSON-RPC message
//! gets an invalid-request error, and the server keeps serving. Outgoing
//! frames from tower-lsp and these error replies are written whole, one at a
//! time, so they never interleave.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// Requests (and notifications) served at once. tower-lsp-server's default
/// is 4: four slow plugin calls in flight and nothing else is read, not even
/// `$/cancelRequest` or the edit that would supersede them. Every plugin call
/// is bounded in time and third-party calls are bounded in number (see
/// `fanout::Lanes`), so requests beyond that are cheap; this bound is only
/// a backstop against a client flooding the server.
const MAX_CONCURRENT_REQUESTS: usize = 1024;

/// Largest message accepted; a bigger one is refused and skipped.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// One frame: headers and body.
fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

fn error_reply(id: Value, code: i64, message: &str) -> Vec<u8> {
    let reply =
        json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } });
    frame(reply.to_string().as_bytes())
}

/// What to do with one incoming body.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// A JSON-RPC message: pass it on.
    Forward,
    /// Not one: send this reply instead.
    Reply(Vec<u8>),
}

/// Check that `body` is a message tower-lsp can decode.
fn check(body: &[u8]) -> Verdict {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Verdict::Reply(error_reply(
            Value::Null,
            -32700,
            "Parse error: the body is not UTF-8 JSON",
        ));
    };
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    // A message that is both a request and a response is neither: tower-lsp
    // would take it as a response and never answer the request.
    // Decoded from the bytes, as tower-lsp decodes them: a `Value` would
    // hide a duplicated key, which tower-lsp refuses without the id.
    let is_request = value.get("method").is_some()
        && value.get("result").is_none()
        && value.get("error").is_none()
        && serde_json::from_slice::<tower_lsp_server::jsonrpc::Request>(body).is_ok();
    let is_response = value.get("method").is_none()
        && serde_json::from_slice::<tower_lsp_server::jsonrpc::Response>(body).is_ok();
    if is_request || is_response {
        return Verdict::Forward;
    }
    let id = match id {
        Value::Number(_) | Value::String(_) => id,
        _ => Value::Null,
    };
    Verdict::Reply(error_reply(
        id,
        -32600,
        "Invalid request: expected a JSON-RPC 2.0 request, notification or response",
    ))
}

/// Read one frame's body. `Ok(None)` at end of input; `Err(reply)` for a
/// frame with unusable headers (its body, if any, is skipped).
async fn read_frame<R: AsyncRead + Unpin>(
    input: &mut BufReader<R>,
) -> std::io::Result<Option<Result<Vec<u8>, Vec<u8>>>> {
    let mut length: Option<usize> = None;
    let mut bad_header = false;
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            if length.is_none() && !bad_header {
                // Stray blank line between messages.
                continue;
            }
            break;
        }
        match header.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("content-length") => {
                match value.trim().parse::<usize>() {
                    Ok(n) => length = Some(n),
                    Err(_) => bad_header = true,
                }
            }
            Some(_) => {} // Content-Type and unknown headers are ignored.
            None => bad_header = true,
        }
    }
    let Some(length) = length.filter(|_| !bad_header) else {
        return Ok(Some(Err(error_reply(
            Value::Null,
            -32700,
            "Parse error: missing or invalid Content-Length header",
        ))));
    };
    if length > MAX_BODY {
        let mut skip = (&mut *input).take(length as u64);
        tokio::io::copy(&mut skip, &mut tokio::io::sink()).await?;
        return Ok(Some(Err(error_reply(
            Value::Null,
            -32600,
            "Invalid request: the message is larger than 64 MiB",
        ))));
    }
    let mut body = vec![0; length];
    input.read_exact(&mut body).await?;
    Ok(Some(Ok(body)))
}

/// Copy checked frames from `input` to `to_server`; send replies for bad
/// ones to `replies`.
async fn filter_input<R, W>(input: R, mut to_server: W, replies: mpsc::UnboundedSender<Vec<u8>>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut input = BufReader::new(input);
    loop {
        let body = match read_frame(&mut input).await {
            Ok(Some(Ok(body))) => body,
            Ok(Some(Err(reply))) => {
                let _ = replies.send(reply);
                continue;
            }
            // End of input or a broken pipe: the client is gone.
            Ok(None) | Err(_) => break,
        };
        match check(&body) {
            Verdict::Forward => {
                if to_server.write_all(&frame(&body)).await.is_err() {
                    break;
                }
            }
            Verdict::Reply(reply) => {
                tracing::warn!("refused a malformed message from the client");
                let _ = replies.send(reply);
            }
        }
    }
    let _ = to_server.shutdown().await;
}

/// The input side of [`serve`] alone, for the fuzz targets: reads `input`
/// as an editor's bytes and returns what reaches tower-lsp (re-framed) and
/// the error replies, in order.
#[doc(hidden)]
pub async fn filter_client_bytes(input: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut forwarded = Vec::new();
    filter_input(input, &mut forwarded, tx).await;
    let mut replies = Vec::new();
    while let Ok(reply) = rx.try_recv() {
        replies.push(reply);
    }
    (forwarded, replies)
}

/// Write whole frames from the server and the replies to `output`.
async fn merge_output<R, W>(
    from_server: R,
    mut replies: mpsc::UnboundedReceiver<Vec<u8>>,
    mut output: W,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut from_server = BufReader::new(from_server);
    loop {
        let frame_bytes = tokio::select! {
            biased;
            read = read_frame(&mut from_server) => match read {
                Ok(Some(Ok(body))) => frame(&body),
                // tower-lsp only writes well-formed frames.
                Ok(Some(Err(_))) => continue,
                Ok(None) | Err(_) => break,
            },
            Some(reply) = replies.recv() => reply,
        };
        if output.write_all(&frame_bytes).await.is_err() || output.flush().await.is_err() {
            break;
        }
    }
    // Replies queued before the server ended still go out.
    while let Ok(reply) = replies.try_recv() {
        let _ = output.write_all(&reply).await;
    }
    let _ = output.flush().await;
}

/// Serve `service` over `input`/`output` until the client exits.
pub async fn serve<L, I, O>(
    service: tower_lsp_server::LspService<L>,
    socket: tower_lsp_server::ClientSocket,
    input: I,
    output: O,
) where
    L: tower_lsp_server::LanguageServer,
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite + Unpin + Send + 'static,
{
    let (server_in, client_side_in) = tokio::io::duplex(1 << 20);
    let (server_out, client_side_out) = tokio::io::duplex(1 << 20);
    let (replies_tx, replies_rx) = mpsc::unbounded_channel();
    let reader = tokio::spawn(filter_input(input, client_side_in, replies_tx));
    let writer = tokio::spawn(merge_output(client_side_out, replies_rx, output));
    tower_lsp_server::Server::new(server_in, server_out, socket)
        .concurrency_level(MAX_CONCURRENT_REQUESTS)
        .serve(service)
        .await;
    reader.abort();
    let _ = writer.await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_rpc_messages_are_forwarded() {
        assert_eq!(
            check(br#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#),
            Verdict::Forward
        );
        assert_eq!(
            check(br#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#),
            Verdict::Forward
        );
        assert_eq!(
            check(br#"{"jsonrpc":"2.0","id":3,"result":null}"#),
            Verdict::Forward
        );
        let Verdict::Reply(reply) = check(b"{not json") else {
            panic!("malformed JSON was forwarded")
        };
        assert!(String::from_utf8_lossy(&reply).contains("-32700"));
        let Verdict::Reply(reply) = check(br#"{"id":7,"hello":"world"}"#) else {
            panic!("a non-message was forwarded")
        };
        let text = String::from_utf8_lossy(&reply);
        assert!(
            text.contains("-32600") && text.contains("\"id\":7"),
            "{text}"
        );
        assert!(matches!(check(&[0xff, 0xfe]), Verdict::Reply(_)));
        // Found by fuzzing (lsp_transport): a key given twice, and a
        // request carrying a result.
        let Verdict::Reply(reply) =
            check(br#"{"jsonrpc":"2.0","id":10,"method":"shutdownx","method":"shutdown"}"#)
        else {
            panic!("a request with a duplicated key was forwarded")
        };
        let text = String::from_utf8_lossy(&reply);
        assert!(
            text.contains("-32600") && text.contains("\"id\":10"),
            "{text}"
        );
        let Verdict::Reply(reply) = check(
            br#"{"jsonrpc":"2.0","id":3,"method":"textDocument/inlineCompletion","result":{}}"#,
        ) else {
            panic!("a request with a result was forwarded")
        };
        let text = String::from_utf8_lossy(&reply);
        assert!(
            text.contains("-32600") && text.contains("\"id\":3"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn bad_frames_are_answered_and_reading_goes_on() {
        let input =
            b"Content-Length: 5\r\n\r\n{bad}Content-Length: x\r\n\r\nContent-Length: 2\r\n\r\n{}"
                .to_vec();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut forwarded = Vec::new();
        filter_input(&input[..], &mut forwarded, tx).await;
        let mut replies = Vec::new();
        while let Ok(r) = rx.try_recv() {
            replies.push(String::from_utf8(r).unwrap());
        }
        assert_eq!(replies.len(), 3, "{replies:?}");
        assert!(forwarded.is_empty());
    }
}
