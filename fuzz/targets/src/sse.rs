//! `sse`: the server-sent events parser of `cordon-providers` (Anthropic
//! and OpenAI-compatible streams).
//!
//! Input: a cap selector byte, a chunking seed, then the stream. Checks:
//! the events do not depend on how the bytes were split into chunks (a
//! line longer than the cap may be refused earlier when it arrives in
//! pieces, so after an error only the events before it must agree); no
//! event is larger than the cap.

use cordon_providers::{SseError, SseEvent, SseParser};

/// The fuzz target.
pub fn sse(data: &[u8]) {
    let [cap, seed, stream @ ..] = data else {
        return;
    };
    let cap = 16 + usize::from(*cap) * 16;
    let whole = parse(stream, cap, &mut std::iter::repeat(usize::MAX));
    let mut sizes = Chunks(u32::from(*seed) | 1);
    let chunked = parse(stream, cap, &mut std::iter::from_fn(|| Some(sizes.next())));
    let bytewise = parse(stream, cap, &mut std::iter::repeat(1));
    agree(&whole, &chunked, "chunking");
    agree(&whole, &bytewise, "byte-by-byte input");
}

fn agree(a: &Outcome, b: &Outcome, how: &str) {
    if a.1.is_none() && b.1.is_none() {
        assert_eq!(a, b, "{how} changed the events");
    } else {
        let n = a.0.len().min(b.0.len());
        assert_eq!(
            a.0[..n],
            b.0[..n],
            "{how} changed the events before an error"
        );
        if a.0.len() != b.0.len() {
            let shorter = if a.0.len() < b.0.len() { a } else { b };
            assert!(
                shorter.1.is_some(),
                "{how}: the stream that stopped early has no error"
            );
        }
    }
}

/// Chunk sizes from a small xorshift generator.
struct Chunks(u32);

impl Chunks {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        (self.0 % 9) as usize + 1
    }
}

/// The events, the first error, and whether input ended inside an event.
type Outcome = (Vec<SseEvent>, Option<SseError>, bool);

fn parse(stream: &[u8], cap: usize, sizes: &mut dyn Iterator<Item = usize>) -> Outcome {
    let mut parser = SseParser::new(cap);
    let mut events = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(1).min(rest.len());
        parser.push(&rest[..n]);
        rest = &rest[n..];
        loop {
            match parser.next_event() {
                Ok(Some(event)) => {
                    // `message` is the name given to an event without one.
                    let name = if event.event == "message" {
                        0
                    } else {
                        event.event.len()
                    };
                    assert!(
                        event.data.len() + name <= cap,
                        "an event of {} bytes passed a cap of {cap}: {event:?}",
                        event.data.len() + name
                    );
                    events.push(event);
                }
                Ok(None) => break,
                Err(e) => return (events, Some(e), true),
            }
        }
    }
    (events, None, parser.in_event())
}
