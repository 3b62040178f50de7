//! Work-done progress (`$/progress`) for requests that can take a model's
//! time: under the client's token or, for requests that carry none, one the
//! server creates when the client supports that; begin, reports carrying the
//! text streamed so far, and an end that is sent whatever happened,
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
/// an editor redraws, and every report carries the whole text so far.
pub const REPORT_INTERVAL: Duration = Duration::from_millis(50);

/// Most bytes of streamed text a report carries; past it the preview stops
/// growing (the result itself is not affected).
pub const MAX_PREVIEW_BYTES: usize = 64 * 1024;

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

/// Run `work` under the work-done progress of `token` (none: just run it).
/// `work` gets a sink when progress is shown; text sent to it is reported as
/// the progress message, the whole text so far in each report, so that a
/// client can show an explanation while it is written. The work starts at
/// once; a server-created token is asked for meanwhile, and if the work
/// ends before the client has answered, no progress is shown.
pub async fn run<T, Fut>(
    client: &Client,
    token: Token,
    message: &str,
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
    let progress = Ending(Some(
        client
            .progress(token, "Cordon")
            .with_message(message)
            .begin()
            .await,
    ));
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
    let mut text = String::new();
    let mut shown = 0;
    let mut next_report = Instant::now();
    loop {
        let piece = if text.len() > shown {
            // Something new to show: collect more until it may be shown.
            match tokio::time::timeout_at(next_report, pieces.recv()).await {
                Ok(piece) => piece,
                Err(_) => {
                    progress.report(text.as_str()).await;
                    shown = text.len();
                    next_report = Instant::now() + REPORT_INTERVAL;
                    continue;
                }
            }
        } else {
            pieces.recv().await
        };
        let Some(piece) = piece else { break };
        push_bounded(&mut text, &piece, MAX_PREVIEW_BYTES);
    }
    if text.len() > shown {
        progress.report(text).await;
    }
}

/// Append as much of `piece` to `text` as keeps it within `max` bytes,
/// cutting at a character boundary.
fn push_bounded(text: &mut String, piece: &str, max: usize) {
    let room = max.saturating_sub(text.len());
    let mut cut = room.min(piece.len());
    while !piece.is_char_boundary(cut) {
        cut -= 1;
    }
    text.push_str(&piece[..cut]);
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
    use super::push_bounded;

    #[test]
    fn previews_stop_growing_at_the_bound_on_a_character_boundary() {
        let mut text = String::new();
        push_bounded(&mut text, "ab", 5);
        push_bounded(&mut text, "cé", 5);
        assert_eq!(text, "abcé");
        push_bounded(&mut text, "🦀", 5);
        assert_eq!(text, "abcé", "no half character");
        let mut text = "abc".to_owned();
        push_bounded(&mut text, "defg", 5);
        assert_eq!(text, "abcde");
    }
}
