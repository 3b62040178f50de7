//! Streams that reconnect on retryable failures until the first text.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};

use crate::error::ProviderError;
use crate::retry::{delay_before_retry, with_retries};
use crate::types::{ChunkStream, StreamEvent};

/// The events of one connection: `Text`s then `Done`, or an error.
pub(crate) type Events = Pin<Box<dyn Stream<Item = Result<StreamEvent, ProviderError>> + Send>>;
/// A boxed future that can be sent between threads.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
/// Opens one connection (one attempt, no retries of its own).
pub(crate) type Connect = Arc<dyn Fn() -> BoxFuture<Result<Events, ProviderError>> + Send + Sync>;

/// Turn a `next()`-style decoder into [`Events`]: `next` is called until it
/// returns `None`.
pub(crate) fn events<S, F, Fut>(state: S, next: F) -> Events
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + 'static,
    Fut: Future<Output = Option<(Result<StreamEvent, ProviderError>, S)>> + Send + 'static,
{
    Box::pin(futures::stream::unfold(state, next))
}

/// Open a stream with `connect`, retrying failures to connect as
/// configured, and reconnecting when the stream fails in a retryable way
/// before it has delivered any text. All attempts share one budget of
/// `max_retries`. Once text has been delivered, an error ends the stream.
pub(crate) async fn open(
    backend: String,
    max_retries: u32,
    connect: Connect,
) -> Result<ChunkStream, ProviderError> {
    let mut used = 0;
    let first = with_retries(&backend, max_retries, |attempt| {
        used = attempt;
        connect()
    })
    .await?;
    let state = Retrying {
        backend,
        max_retries,
        used,
        connect,
        events: Some(first),
        text_seen: false,
        finished: false,
    };
    Ok(Box::pin(futures::stream::unfold(
        state,
        |mut state| async move {
            let item = state.step().await?;
            Some((item, state))
        },
    )))
}

struct Retrying {
    backend: String,
    max_retries: u32,
    /// Retries made so far.
    used: u32,
    connect: Connect,
    events: Option<Events>,
    text_seen: bool,
    finished: bool,
}

impl Retrying {
    async fn step(&mut self) -> Option<Result<StreamEvent, ProviderError>> {
        if self.finished {
            return None;
        }
        loop {
            let item = match self.events.as_mut() {
                Some(events) => events.next().await,
                None => None,
            };
            match item {
                None => {
                    self.finished = true;
                    self.events = None;
                    return None;
                }
                Some(Ok(event)) => {
                    match &event {
                        StreamEvent::Text(_) => self.text_seen = true,
                        StreamEvent::Done { .. } => {
                            self.finished = true;
                            self.events = None;
                        }
                    }
                    return Some(Ok(event));
                }
                Some(Err(error)) => match self.recover(error).await {
                    Ok(()) => continue,
                    Err(error) => {
                        self.finished = true;
                        self.events = None;
                        return Some(Err(error));
                    }
                },
            }
        }
    }

    /// Reconnect after `error` if it may be retried; the error to report
    /// otherwise.
    async fn recover(&mut self, mut error: ProviderError) -> Result<(), ProviderError> {
        loop {
            if self.text_seen || self.used >= self.max_retries {
                return Err(error);
            }
            let Some(delay) = delay_before_retry(&error, self.used) else {
                return Err(error);
            };
            // Close the failed connection before waiting.
            self.events = None;
            tracing::debug!(
                backend = %self.backend,
                retry = self.used + 1,
                max_retries = self.max_retries,
                delay_ms = delay.as_millis() as u64,
                error = %error,
                "reconnecting model stream"
            );
            tokio::time::sleep(delay).await;
            self.used += 1;
            match (self.connect)().await {
                Ok(events) => {
                    self.events = Some(events);
                    return Ok(());
                }
                Err(e) => error = e,
            }
        }
    }
}
