//! Capped capture of a plugin's stdout and stderr.
//!
//! What a plugin prints goes to Cordon's log after the call. Past the cap,
//! output is counted and dropped, never an error: a chatty plugin must not
//! trap because of `println!`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// A bounded in-memory sink. Clones share the same buffer.
#[derive(Debug, Clone)]
pub struct CappedPipe {
    inner: Arc<Mutex<Captured>>,
}

/// What a pipe captured.
#[derive(Debug, Default, Clone)]
pub struct Captured {
    pub bytes: Vec<u8>,
    pub dropped: usize,
    cap: usize,
}

impl Captured {
    fn push(&mut self, data: &[u8]) {
        let room = self.cap.saturating_sub(self.bytes.len());
        let take = room.min(data.len());
        self.bytes.extend_from_slice(&data[..take]);
        self.dropped += data.len() - take;
    }
}

impl CappedPipe {
    /// A pipe keeping at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        CappedPipe {
            inner: Arc::new(Mutex::new(Captured {
                cap,
                ..Captured::default()
            })),
        }
    }

    /// Take what was captured so far.
    pub fn take(&self) -> Captured {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let cap = inner.cap;
        std::mem::replace(
            &mut *inner,
            Captured {
                cap,
                ..Captured::default()
            },
        )
    }

    /// A copy of what was kept so far.
    pub fn contents(&self) -> Vec<u8> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.bytes.clone()
    }

    /// Whether anything was written (kept or dropped).
    pub fn has_output(&self) -> bool {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        !inner.bytes.is_empty() || inner.dropped > 0
    }

    fn push(&self, data: &[u8]) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(data);
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedPipe {
    async fn ready(&mut self) {}
}

impl OutputStream for CappedPipe {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always accept: excess is dropped and counted in `push`.
        Ok(64 * 1024)
    }
}

impl tokio::io::AsyncWrite for CappedPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for CappedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

/// What a plugin that crashed said last on stderr, as one line: a Rust
/// panic's message with its location, a Python exception's last line, or
/// else the last line written. The trap itself only says `unreachable`.
pub fn last_words(stderr: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .collect();
    // Rust: "thread '…' panicked at src/lib.rs:5:9:" then the message.
    if let Some(at) = lines.iter().rposition(|l| l.contains("panicked at ")) {
        let header = lines[at];
        let location = header[header.find("panicked at ")? + "panicked at ".len()..]
            .trim_end_matches(':')
            .trim();
        let message = lines[at + 1..].join(" ");
        let said = if message.is_empty() {
            format!("panicked at {location}")
        } else {
            format!("panicked at {location}: {message}")
        };
        return Some(crate::text::one_line(&said, crate::text::MAX_MESSAGE_BYTES));
    }
    lines
        .last()
        .map(|last| crate::text::one_line(last.trim(), crate::text::MAX_MESSAGE_BYTES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_is_told_by_its_last_words() {
        let rust = b"\nthread '<unnamed>' panicked at src/lib.rs:12:5:\nno item here\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n";
        assert_eq!(
            last_words(rust).as_deref(),
            Some("panicked at src/lib.rs:12:5: no item here")
        );
        let python = b"Traceback (most recent call last):\n  File \"app.py\", line 3, in actions\nValueError: no TODO here\n";
        assert_eq!(
            last_words(python).as_deref(),
            Some("ValueError: no TODO here")
        );
        assert_eq!(
            last_words(b"\x1b[31mboom\x1b[0m\n").as_deref(),
            Some(" [31mboom [0m")
        );
        assert_eq!(last_words(b"\n \n"), None);
    }

    #[test]
    fn keeps_up_to_the_cap_and_counts_the_rest() {
        let mut pipe = CappedPipe::new(4);
        pipe.write(Bytes::from_static(b"abc")).unwrap();
        pipe.write(Bytes::from_static(b"defg")).unwrap();
        let captured = pipe.take();
        assert_eq!(captured.bytes, b"abcd");
        assert_eq!(captured.dropped, 3);
        assert!(pipe.take().bytes.is_empty());
    }
}
