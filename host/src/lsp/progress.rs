//! Work-done progress (`$/progress`) for requests that can take a model's
//! time: begin, reports carrying the text streamed so far, and an end that is
//! sent whatever happened, cancellation included.

use std::future::Future;
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

/// Run `work` under the work-done progress that `token` names (no token:
/// just run it). `work` gets a sink when there is a token; text sent to it
/// is reported as the progress message, the whole text so far in each
/// report, so that a client can show an explanation while it is written.
pub async fn run<T, Fut>(
    client: &Client,
    token: Option<ProgressToken>,
    message: &str,
    work: impl FnOnce(Option<TextSink>) -> Fut,
) -> T
where
    Fut: Future<Output = T>,
{
    let Some(token) = token else {
        return work(None).await;
    };
    let progress = Ending(Some(
        client
            .progress(token, "Cordon")
            .with_message(message)
            .begin()
            .await,
    ));
    let (sink, pieces) = mpsc::unbounded_channel();
    // The sink is dropped when `work` ends, which ends the reports.
    let (result, ()) = tokio::join!(work(Some(sink)), report(progress.get(), pieces));
    progress.finish().await;
    result
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
