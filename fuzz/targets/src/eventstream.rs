//! `eventstream`: the AWS event-stream binary framing that carries
//! Bedrock's ConverseStream, as `aws-smithy-eventstream`'s
//! `MessageFrameDecoder` reads it for the SDK (Cordon's own handling of the
//! decoded events is fuzzed end to end by `model_replies`).
//!
//! Input: a chunking seed, then the bytes. Checks: the messages decoded do
//! not depend on chunking; a decoded message re-encodes to the very bytes
//! it was read from.

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder, write_message_to};
use aws_smithy_types::event_stream::Message;
use bytes::{Buf, BytesMut};

/// The fuzz target.
pub fn eventstream(data: &[u8]) {
    let [seed, stream @ ..] = data else {
        return;
    };
    let whole = decode(stream, usize::MAX);
    let chunked = decode(stream, usize::from(*seed % 16) + 1);
    let n = whole.0.len().min(chunked.0.len());
    assert_eq!(
        whole.0[..n],
        chunked.0[..n],
        "chunking changed the messages"
    );
    if !whole.1 && !chunked.1 {
        assert_eq!(
            whole.0.len(),
            chunked.0.len(),
            "chunking changed the messages"
        );
    }
    // Frames that decoded are well-formed: encoding them again gives the
    // bytes they came from.
    let mut offset = 0;
    for message in &whole.0 {
        let mut out = Vec::new();
        write_message_to(message, &mut out).expect("a decoded message encodes");
        assert_eq!(
            out,
            stream[offset..offset + out.len()],
            "a message did not re-encode to its bytes"
        );
        offset += out.len();
    }
}

/// The messages, and whether decoding stopped at an error.
fn decode(stream: &[u8], chunk: usize) -> (Vec<Message>, bool) {
    let mut decoder = MessageFrameDecoder::new();
    let mut buf = BytesMut::new();
    let mut messages = Vec::new();
    for piece in stream.chunks(chunk.min(stream.len().max(1))) {
        buf.extend_from_slice(piece);
        loop {
            let before = buf.remaining();
            match decoder.decode_frame(&mut buf) {
                Ok(DecodedFrame::Complete(message)) => messages.push(message),
                Ok(DecodedFrame::Incomplete) => {
                    assert!(buf.remaining() <= before, "the decoder grew its input");
                    break;
                }
                Err(_) => return (messages, true),
            }
        }
    }
    (messages, false)
}
