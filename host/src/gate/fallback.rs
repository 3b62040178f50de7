//! Completion that never goes dark because of a remote backend's set-up:
//! when the backend routed to a plugin cannot be used (its configuration
//! is broken, or it just failed to answer: unreachable, refusing, timed
//! out), fill-in-the-middle requests go to the offline `local` model for a
//! while, where the policy allows that route. Chat requests never fall
//! back: the local model cannot chat, and saying why is more use.
//!
//! Each change is told once, as a [`Notice`] a front end takes with
//! [`Services::take_notices`](super::Services::take_notices): the editor
//! sees one message when a backend goes down, not one per keystroke.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::api::PluginError;

/// How long completion stays on the local model after a remote backend
/// failed to answer, before the backend is tried again.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);

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
    notices: Vec<Notice>,
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

    /// `backend` cannot be used (`broken`: its configuration; otherwise it
    /// failed to answer): completion avoids it, and the user is told once.
    pub fn went_down(&self, backend: &str, reason: &str, broken: bool, now: Instant) {
        let mut state = self.lock();
        let known = state.down.contains_key(backend);
        let until = if broken {
            None
        } else {
            Some(now + RETRY_AFTER)
        };
        state.down.insert(backend.to_owned(), until);
        if !known {
            let retry = if broken {
                String::new()
            } else {
                format!(" It is tried again in {} s.", RETRY_AFTER.as_secs())
            };
            state.notices.push(Notice::Down {
                backend: backend.to_owned(),
                message: format!(
                    "backend `{backend}` cannot be used ({reason}); completing from the offline `local` model until it can.{retry}"
                ),
                broken,
            });
        }
    }

    /// `backend` answered: completion uses it again.
    pub fn answered(&self, backend: &str) {
        let mut state = self.lock();
        if state.down.remove(backend).is_some() {
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
    fn a_backend_that_fails_is_avoided_for_a_while_and_told_once() {
        let fallbacks = Fallbacks::default();
        let now = Instant::now();
        fallbacks.went_down("claude", "connection refused", false, now);
        fallbacks.went_down("claude", "connection refused", false, now);
        assert!(fallbacks.avoids("claude", now + Duration::from_secs(1)));
        assert!(!fallbacks.avoids("claude", now + RETRY_AFTER));
        let notices = fallbacks.take_notices();
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(
            matches!(&notices[0], Notice::Down { message, .. } if message.contains("connection refused") && message.contains("offline `local` model")),
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
    fn a_broken_configuration_is_avoided_until_it_is_fixed() {
        let fallbacks = Fallbacks::default();
        let now = Instant::now();
        fallbacks.went_down("claude", "ANTHROPIC_API_KEY is not set", true, now);
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
