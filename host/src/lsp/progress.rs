//! Work-done progress (`$/progress`) for requests that can take a model's
//! time: under the client's token or, for requests that carry none, one the
//! server creates when the client supports that; a begin titled in words
//! ("Explaining `restock`…"), reports carrying the line the model is
//! writing (short enough for a status line; the whole text is the
//! request's answer), and an end that is sent whatever happened,
//! cancellation included.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::ProgressToken;
use tower_lsp_server::{NotCancellable, OngoingProgress, Unbounded};

use crate::gate::TextSink;

/// At most one report per interval: a model streams tokens far faster than
/// an editor redraws.
pub const REPORT_INTERVAL: Duration = Duration::from_millis(50);

/// Most characters of the line being written a report carries.
pub const MAX_REPORT_CHARS: usize = 80;

/// Under which token a request reports its progress.
pub enum Token {
    /// The one the client sent with the request.
    Client(ProgressToken),
    /// One the server creates (`window/workDoneProgress/create`): the client
    /// supports that, and the request carries no token of its own.
    Server,
    /// No progress is shown.
    None,
}

impl Token {
    /// The token of a request that may carry `given`, for a client that
    /// does (`server_may_create`) or does not accept server-created ones.
    pub fn choose(given: Option<ProgressToken>, server_may_create: bool) -> Token {
        match given {
            Some(token) => Token::Client(token),
            None if server_may_create => Token::Server,
            None => Token::None,
        }
    }
}

/// Run `work` under the work-done progress of `token` (none: just run it),
/// titled `title`. `work` gets a sink when progress is shown; text sent to
/// it is reported as the progress message, the line being written in each
/// report, so that a client shows the explanation advancing. The work starts at
/// once; a server-created token is asked for meanwhile, and if the work
/// ends before the client has answered, no progress is shown.
pub async fn run<T, Fut>(
    client: &Client,
    token: Token,
    title: &str,
    work: impl FnOnce(Option<TextSink>) -> Fut,
) -> T
where
    Fut: Future<Output = T>,
{
    let (token, create) = match token {
        Token::Client(token) => (token, false),
        Token::Server => (server_token(), true),
        Token::None => return work(None).await,
    };
    let (sink, pieces) = mpsc::unbounded_channel();
    let mut work = std::pin::pin!(work(Some(sink)));
    // The client must have created the token before any report; one that
    // refuses or never answers costs the progress, not the answer.
    if create {
        tokio::select! {
            // The request goes out first, whatever the work does.
            biased;
            created = client.create_work_done_progress(token.clone()) => {
                if created.is_err() {
                    drop(pieces);
                    return work.await;
                }
            }
            result = &mut work => return result,
        }
    }
    let progress = Ending(Some(client.progress(token, title).begin().await));
    // The sink is dropped when `work` ends, which ends the reports.
    let (result, ()) = tokio::join!(work, report(progress.get(), pieces));
    progress.finish().await;
    result
}

/// A token no other request of this server uses.
fn server_token() -> ProgressToken {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    ProgressToken::String(format!("cordon-{}", NEXT.fetch_add(1, Ordering::Relaxed)))
}

/// Report the text arriving on `pieces` until every sender is gone.
async fn report(
    progress: &OngoingProgress<Unbounded, NotCancellable>,
    mut pieces: mpsc::UnboundedReceiver<String>,
) {
    let mut line = Line::default();
    let mut shown = true;
    let mut next_report = Instant::now();
    loop {
        let piece = if !shown {
            // Something new to show: collect more until it may be shown.
            match tokio::time::timeout_at(next_report, pieces.recv()).await {
                Ok(piece) => piece,
                Err(_) => {
                    progress.report(line.shown()).await;
                    shown = true;
                    next_report = Instant::now() + REPORT_INTERVAL;
                    continue;
                }
            }
        } else {
            pieces.recv().await
        };
        let Some(piece) = piece else { break };
        line.push(&piece);
        shown = false;
    }
    if !shown {
        progress.report(line.shown()).await;
    }
}

/// The last line of a streamed text with something on it: what a report
/// shows.
#[derive(Default)]
struct Line {
    /// The text after the last newline.
    current: String,
    /// The last complete line that was not blank.
    previous: String,
}

impl Line {
    fn push(&mut self, piece: &str) {
        let mut parts = piece.split('\n');
        if let Some(first) = parts.next() {
            self.current.push_str(first);
        }
        for part in parts {
            let done = std::mem::replace(&mut self.current, part.to_owned());
            if !done.trim().is_empty() {
                self.previous = done;
            }
        }
        // Only the start of a line is ever shown: a line with no newline
        // must not grow without bound.
        if self.current.len() > 4 * MAX_REPORT_CHARS {
            let mut cut = 4 * MAX_REPORT_CHARS;
            while !self.current.is_char_boundary(cut) {
                cut -= 1;
            }
            self.current.truncate(cut);
        }
    }

    /// The line being written (the last one that had text, while the new
    /// one is blank), cut to [`MAX_REPORT_CHARS`].
    fn shown(&self) -> String {
        let line = if self.current.trim().is_empty() {
            &self.previous
        } else {
            &self.current
        };
        let line = line.trim();
        match line.char_indices().nth(MAX_REPORT_CHARS) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line.to_owned(),
        }
    }
}

/// A begun progress that ends when dropped: a cancelled request drops its
/// future midway, and the editor's spinner must stop anyway.
struct Ending(Option<OngoingProgress<Unbounded, NotCancellable>>);

impl Ending {
    fn get(&self) -> &OngoingProgress<Unbounded, NotCancellable> {
        self.0.as_ref().expect("present until finished")
    }

    async fn finish(mut self) {
        if let Some(progress) = self.0.take() {
            progress.finish().await;
        }
    }
}

impl Drop for Ending {
    fn drop(&mut self) {
        if let Some(progress) = self.0.take() {
            tokio::spawn(progress.finish());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Line, MAX_REPORT_CHARS};

    #[test]
    fn a_report_shows_the_line_being_written() {
        let mut line = Line::default();
        line.push("# Restock\n\nAdds ");
        assert_eq!(line.shown(), "Adds");
        line.push("`amount` units.\n");
        assert_eq!(
            line.shown(),
            "Adds `amount` units.",
            "a blank new line shows the last one"
        );
        line.push("\n- é");
        assert_eq!(line.shown(), "- é");
    }

    #[test]
    fn a_long_line_is_cut_on_a_character_boundary() {
        let mut line = Line::default();
        for _ in 0..100 {
            line.push("é🦀 ");
        }
        let shown = line.shown();
        assert_eq!(shown.chars().count(), MAX_REPORT_CHARS + 1);
        assert!(shown.ends_with('…'));
    }
}
