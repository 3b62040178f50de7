//! The status an editor shows in its status line: the `cordon/status`
//! notification (as Copilot's language server sends its own). One state
//! and one sentence; sent only when it changes, so a status line follows
//! Cordon without a message per keystroke.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tower_lsp_server::Client;
use tower_lsp_server::ls_types::notification::Notification;
use tower_lsp_server::ls_types::{MessageType, Uri};

use super::init::Session;
use super::server::{Lsp, lock};
use crate::gate::Notice;

/// What Cordon is doing, as a status line shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum State {
    /// Ready to complete, explain and refactor.
    Ready,
    /// A command (an explanation, a refactor) is running.
    Working,
    /// The document is excluded by policy: no plugin sees it.
    Excluded,
    /// A model backend cannot be used; completion comes from the offline
    /// model where the policy allows it.
    Unavailable,
    /// A plugin could not be loaded, or its call failed.
    Failed,
}

/// The notification's parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StatusParams {
    pub state: State,
    /// One sentence: what happened and, when something is wrong, what to do.
    pub message: String,
    /// The document the state is about (`excluded`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<Uri>,
}

/// `cordon/status`, server to client.
pub(crate) enum StatusNotification {}

impl Notification for StatusNotification {
    type Params = StatusParams;
    const METHOD: &'static str = "cordon/status";
}

/// The last status sent (shared with the tasks that load plugins).
#[derive(Clone, Default)]
pub(crate) struct Status {
    last: Arc<Mutex<Option<StatusParams>>>,
    /// Backends whose going down was shown as a message: once a session;
    /// the status line follows them after that.
    told: Arc<Mutex<HashSet<String>>>,
}

impl Status {
    /// Tell `client` Cordon's status, unless it already shows this one.
    pub(crate) async fn show(
        &self,
        client: &Client,
        state: State,
        message: &str,
        uri: Option<&Uri>,
    ) {
        let params = StatusParams {
            state,
            message: message.to_owned(),
            uri: uri.cloned(),
        };
        {
            let mut last = lock(&self.last);
            if last.as_ref() == Some(&params) {
                return;
            }
            *last = Some(params.clone());
        }
        client.send_notification::<StatusNotification>(params).await;
    }

    /// Whether the user is yet to be told, in a message, that `backend`
    /// went down.
    fn first_time_down(&self, backend: &str) -> bool {
        lock(&self.told).insert(backend.to_owned())
    }

    fn is(&self, state: State) -> bool {
        lock(&self.last).as_ref().is_some_and(|s| s.state == state)
    }
}

impl Lsp {
    /// Tell the client Cordon's status, unless it already shows this one.
    pub(crate) async fn show_status(&self, state: State, message: &str, uri: Option<&Uri>) {
        self.status.show(&self.client, state, message, uri).await;
    }

    /// Back to `ready` after work or another document, unless something
    /// is wrong that the user still has to fix (a backend that cannot be
    /// used).
    pub(crate) async fn show_ready(&self) {
        if !self.status.is(State::Unavailable) {
            self.show_status(State::Ready, "Cordon is ready", None)
                .await;
        }
    }

    /// Tell the user, once, when completion moved to the offline model
    /// because a backend cannot be used, and when it came back.
    pub(crate) async fn report_notices(&self, session: &Session) {
        for notice in session.runtime.services().take_notices() {
            match notice {
                Notice::Down {
                    backend,
                    message,
                    broken,
                } => {
                    let message = format!("Cordon: {message}");
                    tracing::warn!("{message}");
                    // A broken configuration was reported when it was
                    // loaded; a flaky backend pops up once.
                    if !broken && self.status.first_time_down(&backend) {
                        self.client
                            .show_message(MessageType::WARNING, &message)
                            .await;
                    }
                    self.show_status(State::Unavailable, &message, None).await;
                }
                Notice::Back { backend } => {
                    let message = format!("Cordon is ready: backend `{backend}` answers again");
                    tracing::info!("{message}");
                    self.show_status(State::Ready, &message, None).await;
                }
            }
        }
    }
}
