//! Completion that never goes dark because of a remote backend's set-up:
//! a fill-in-the-middle request whose backend failed to answer
//! (unreachable, refusing, timed out) is answered by the offline `local`
//! model instead, where the policy allows that route; a backend whose
//! configuration is broken, or that failed [`FAILURES_IN_A_ROW`] times in
//! a row, is not asked at all for a while. Chat requests never fall back:
//! the local model cannot chat, and saying why is more use.
//!
//! Each change is told once, as a [`Notice`] a front end takes with
//! [`Services::take_notices`](super::Services::take_notices): the editor
//! sees one message when a backend goes down, not one per keystroke.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::api::PluginError;

/// How long completion stays on the local model after a remote backend
/// failed to answer [`FAILURES_IN_A_ROW`] times, before it is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);

/// Failed answers in a row after which a backend is not asked for a while
/// (one failure is often a blip: that request alone falls back).
pub const FAILURES_IN_A_ROW: u32 = 3;

/// A change in which model completes, for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Completion from `backend` falls back to the local model: `message`
    /// says why and what to do; `broken`: its configuration is (and was
    /// reported when it was loaded).
    Down {
        backend: String,
        message: String,
        broken: bool,
    },
    /// `backend` answers again.
    Back { backend: String },
}

/// Which remote backends completion avoids now, and the notices not yet
/// taken.
#[derive(Debug, Default)]
pub struct Fallbacks {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Backend name to the moment it may be tried again (`None`: its
    /// configuration is broken, tried again never).
    down: HashMap<String, Option<Instant>>,
    /// Failed answers in a row, by backend name.
    failures: HashMap<String, u32>,
    /// Backends the user was told about and not told are back.
    announced: HashSet<String>,
    notices: Vec<Notice>,
}

impl State {
    /// Tell the user, unless they know, that `backend` cannot be used now.
    fn announce(&mut self, backend: &str, reason: &str, broken: bool) {
        if !self.announced.insert(backend.to_owned()) {
            return;
        }
        let until = if broken {
            "until it is fixed"
        } else {
            "until it answers again"
        };
        self.notices.push(Notice::Down {
            backend: backend.to_owned(),
            message: format!(
                "backend `{backend}` cannot be used ({reason}); completing from the offline `local` model {until}"
            ),
            broken,
        });
    }
}

/// Whether a failed request is one the local model should take over: the
/// backend could not be reached or used. A denial, a rate limit or a bad
/// request is the plugin's or the policy's answer and stands.
pub fn backend_down(err: &PluginError) -> bool {
    matches!(err, PluginError::Unavailable(_) | PluginError::Timeout(_))
}

impl Fallbacks {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether completion should avoid `backend` at `now`.
    pub fn avoids(&self, backend: &str, now: Instant) -> bool {
        self.lock()
            .down
            .get(backend)
            .is_some_and(|until| until.is_none_or(|until| now < until))
    }

    /// `backend`'s configuration is broken: completion avoids it, and the
    /// user is told once.
    pub fn broken(&self, backend: &str, reason: &str) {
        let mut state = self.lock();
        state.down.insert(backend.to_owned(), None);
        state.announce(backend, reason, true);
    }

    /// `backend` failed to answer at `now`, and the local model answers
    /// instead (the user is told once); after [`FAILURES_IN_A_ROW`] such
    /// failures completion avoids it for [`RETRY_AFTER`].
    pub fn failed(&self, backend: &str, reason: &str, now: Instant) {
        let mut state = self.lock();
        let failures = {
            let count = state.failures.entry(backend.to_owned()).or_default();
            *count += 1;
            *count
        };
        if failures >= FAILURES_IN_A_ROW {
            state
                .down
                .insert(backend.to_owned(), Some(now + RETRY_AFTER));
        }
        state.announce(backend, reason, false);
    }

    /// `backend` answered: completion uses it again.
    pub fn answered(&self, backend: &str) {
        let mut state = self.lock();
        state.failures.remove(backend);
        state.down.remove(backend);
        if state.announced.remove(backend) {
            state.notices.push(Notice::Back {
                backend: backend.to_owned(),
            });
        }
    }

    /// The notices since the last call.
    pub fn take_notices(&self) -> Vec<Notice> {
        std::mem::take(&mut self.lock().notices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backend_failing_again_and_again_is_avoided_for_a_while_and_told_once() {
        let fallbacks = Fallbacks::default();
        let now = Instant::now();
        for _ in 1..FAILURES_IN_A_ROW {
            fallbacks.failed("claude", "connection refused", now);
        }
        // A blip falls back for that request only (and is said once).
        assert!(
            !fallbacks.avoids("claude", now),
            "one blip is not an outage"
        );
        fallbacks.failed("claude", "connection refused", now);
        fallbacks.failed("claude", "connection refused", now);
        assert!(fallbacks.avoids("claude", now + Duration::from_secs(1)));
        assert!(!fallbacks.avoids("claude", now + RETRY_AFTER));
        let notices = fallbacks.take_notices();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(
            matches!(&notices[0], Notice::Down { message, broken: false, .. } if message.contains("connection refused") && message.contains("offline `local` model")),
            "{notices:?}"
        );
        fallbacks.answered("claude");
        assert_eq!(
            fallbacks.take_notices(),
            [Notice::Back {
                backend: "claude".into()
            }]
        );
        fallbacks.answered("claude");
        assert!(fallbacks.take_notices().is_empty());
    }

    #[test]
    fn an_answer_between_failures_resets_the_count() {
        let fallbacks = Fallbacks::default();
        let now = Instant::now();
        for _ in 0..5 {
            for _ in 1..FAILURES_IN_A_ROW {
                fallbacks.failed("claude", "reset", now);
            }
            fallbacks.answered("claude");
        }
        assert!(!fallbacks.avoids("claude", now));
    }

    #[test]
    fn a_broken_configuration_is_avoided_until_it_is_fixed() {
        let fallbacks = Fallbacks::default();
        let now = Instant::now();
        fallbacks.broken("claude", "ANTHROPIC_API_KEY is not set");
        assert!(fallbacks.avoids("claude", now + RETRY_AFTER * 100));
    }

    #[test]
    fn only_an_unreachable_backend_falls_back() {
        assert!(backend_down(&PluginError::Unavailable("down".into())));
        assert!(backend_down(&PluginError::Timeout("slow".into())));
        assert!(!backend_down(&PluginError::Denied("policy".into())));
        assert!(!backend_down(&PluginError::RateLimited("later".into())));
    }
}
