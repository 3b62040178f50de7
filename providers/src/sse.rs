//! A small, bounded parser for server-sent events (the `text/event-stream`
//! format of the WHATWG HTML standard, §9.2.6), as Anthropic and
//! OpenAI-compatible servers stream.
//!
//! Why not the `eventsource-stream` crate: it keeps the unparsed input in
//! an unbounded `String` and re-parses that buffer from its start on every
//! chunk (quadratic in a long line, unbounded memory for a server that
//! never sends a newline), drops a half-received event at the end of the
//! input without saying so, and brings `nom`. This parser scans each byte
//! once, caps the size of one event, and tells whether input ended inside
//! an event, which is how a truncated stream is told from a complete one.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, or `message` when there was none.
    pub event: String,
    /// The `data:` lines joined by `\n`.
    pub data: String,
}

/// Why the input is not a usable event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseError {
    /// One event (or one line) grew past the cap.
    TooLarge(usize),
    /// A line is not UTF-8.
    NotUtf8,
}

impl std::fmt::Display for SseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SseError::TooLarge(cap) => {
                write!(f, "one server-sent event is larger than {cap} bytes")
            }
            SseError::NotUtf8 => f.write_str("the event stream is not UTF-8"),
        }
    }
}

/// Incremental parser: [`SseParser::push`] bytes as they arrive, then take
/// events with [`SseParser::next_event`] until it returns `None`.
#[derive(Debug)]
pub struct SseParser {
    /// Bytes not yet consumed as whole lines.
    buf: Vec<u8>,
    /// Where in `buf` the search for a line end goes on.
    scan: usize,
    /// The previous line ended with `\r`: a `\n` at the start of the next
    /// input belongs to it.
    skip_lf: bool,
    /// The byte order mark is only looked for at the very start.
    started: bool,
    event: String,
    data: String,
    /// Some field of the current event has been seen (for
    /// [`SseParser::in_event`]).
    pending: bool,
    cap: usize,
}

impl SseParser {
    /// A parser that refuses events (and lines) larger than `cap` bytes.
    pub fn new(cap: usize) -> Self {
        SseParser {
            buf: Vec::new(),
            scan: 0,
            skip_lf: false,
            started: false,
            event: String::new(),
            data: String::new(),
            pending: false,
            cap,
        }
    }

    /// Append received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event, if the input so far holds one.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, SseError> {
        if !self.started {
            if self.buf.len() < 3 && b"\xEF\xBB\xBF".starts_with(&self.buf) {
                return Ok(None);
            }
            if self.buf.starts_with(b"\xEF\xBB\xBF") {
                self.buf.drain(..3);
            }
            self.started = true;
        }
        let mut start = 0;
        let result = loop {
            if self.skip_lf && start < self.buf.len() {
                if self.buf[start] == b'\n' {
                    start += 1;
                }
                self.skip_lf = false;
                self.scan = self.scan.max(start);
            }
            let from = self.scan.max(start);
            let Some(offset) = self.buf[from..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
            else {
                self.scan = self.buf.len();
                break Ok(None);
            };
            let end = from + offset;
            if self.buf[end] == b'\r' {
                self.skip_lf = true;
            }
            let line_start = start;
            start = end + 1;
            self.scan = start;
            let line = match std::str::from_utf8(&self.buf[line_start..end]) {
                Ok(line) => line,
                Err(_) => break Err(SseError::NotUtf8),
            };
            if line.is_empty() {
                if let Some(event) = self.dispatch() {
                    break Ok(Some(event));
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                None => (line, ""),
            };
            match field {
                "event" => {
                    self.event.clear();
                    self.event.push_str(value);
                    self.pending = true;
                }
                "data" => {
                    self.data.push_str(value);
                    self.data.push('\n');
                    self.pending = true;
                }
                // `id` and `retry` only matter to a reconnecting browser.
                _ => {}
            }
            if self.data.len() + self.event.len() > self.cap {
                break Err(SseError::TooLarge(self.cap));
            }
        };
        // Forget consumed lines.
        if start > 0 {
            self.buf.drain(..start);
            self.scan -= start;
        }
        if result == Ok(None) && self.buf.len() + self.data.len() > self.cap {
            return Err(SseError::TooLarge(self.cap));
        }
        result
    }

    /// Whether input stopped inside an event: some field or part of a line
    /// has been received but no blank line ended it. At the end of the
    /// input this means the stream was cut.
    pub fn in_event(&self) -> bool {
        self.pending || !self.buf.is_empty()
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        self.pending = false;
        let event = std::mem::take(&mut self.event);
        if self.data.is_empty() {
            return None;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop();
        Some(SseEvent {
            event: if event.is_empty() {
                "message".to_owned()
            } else {
                event
            },
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(parser: &mut SseParser) -> Vec<SseEvent> {
        let mut out = Vec::new();
        while let Some(e) = parser.next_event().unwrap() {
            out.push(e);
        }
        out
    }

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.to_owned(),
            data: data.to_owned(),
        }
    }

    #[test]
    fn parses_named_events_and_comments() {
        let mut p = SseParser::new(1 << 20);
        p.push(
            b": keep-alive\n\nevent: message_start\ndata: {\"a\":1}\n\nevent: ping\ndata: {}\n\n",
        );
        assert_eq!(
            all(&mut p),
            vec![ev("message_start", "{\"a\":1}"), ev("ping", "{}")]
        );
        assert!(!p.in_event());
    }

    #[test]
    fn joins_data_lines_and_defaults_the_name() {
        let mut p = SseParser::new(1 << 20);
        p.push(b"data: one\ndata:two\ndata\n\n");
        assert_eq!(all(&mut p), vec![ev("message", "one\ntwo\n")]);
    }

    #[test]
    fn every_split_point_and_line_ending_gives_the_same_events() {
        for ending in ["\n", "\r\n", "\r"] {
            let text = format!(
                "\u{feff}event: a{e}data: x y{e}{e}id: 7{e}data: [DONE]{e}{e}data: ünï{e}{e}",
                e = ending
            );
            let bytes = text.as_bytes();
            let want = vec![
                ev("a", "x y"),
                ev("message", "[DONE]"),
                ev("message", "ünï"),
            ];
            for split in 0..=bytes.len() {
                for split2 in split..=bytes.len() {
                    let mut p = SseParser::new(1 << 20);
                    let mut got = Vec::new();
                    for part in [&bytes[..split], &bytes[split..split2], &bytes[split2..]] {
                        p.push(part);
                        got.extend(all(&mut p));
                    }
                    assert_eq!(got, want, "ending {ending:?} split {split}/{split2}");
                    assert!(!p.in_event());
                }
            }
        }
    }

    #[test]
    fn reports_a_cut_event() {
        let mut p = SseParser::new(1 << 20);
        p.push(b"data: {\"a\":1}\n\ndata: {\"b\"");
        assert_eq!(all(&mut p), vec![ev("message", "{\"a\":1}")]);
        assert!(p.in_event());
        let mut p = SseParser::new(1 << 20);
        p.push(b"event: x\ndata: y\n");
        assert_eq!(all(&mut p), vec![]);
        assert!(p.in_event());
    }

    #[test]
    fn caps_a_line_without_end_and_a_huge_event() {
        let mut p = SseParser::new(1000);
        let mut result = Ok(None);
        for _ in 0..100 {
            p.push(&[b'x'; 100]);
            result = p.next_event();
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err(SseError::TooLarge(1000)));
        let mut p = SseParser::new(1000);
        for _ in 0..20 {
            p.push(
                b"data: 0123456789012345678901234567890123456789012345678901234567890123456789\n",
            );
        }
        assert_eq!(p.next_event(), Err(SseError::TooLarge(1000)));
    }

    #[test]
    fn rejects_invalid_utf8() {
        let mut p = SseParser::new(1000);
        p.push(b"data: \xff\xfe\n\n");
        assert_eq!(p.next_event(), Err(SseError::NotUtf8));
    }
}
