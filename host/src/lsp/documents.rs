//! The document store: open documents as ropes (incremental sync), their
//! versions, and the per-document slots whose cancellation tokens let a
//! newer request or an edit supersede the one in flight.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use tokio_util::sync::CancellationToken;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

use super::convert::{failed, invalid_params};
use super::encoding::Encoding;
use super::server::{Lsp, lock};
use super::status::State;
use crate::api;
use crate::context;
use crate::document::{Document, PositionError};

/// An in-flight request that a newer one supersedes.
#[derive(Default)]
struct Slot {
    cancel: Option<CancellationToken>,
}

impl Slot {
    /// Cancel what runs here and start a new request.
    fn replace(&mut self) -> CancellationToken {
        if let Some(old) = self.cancel.take() {
            old.cancel();
        }
        let token = CancellationToken::new();
        self.cancel = Some(token.clone());
        token
    }

    fn cancel(&mut self) {
        if let Some(old) = self.cancel.take() {
            old.cancel();
        }
    }
}

/// Which of a document's slots a request runs in: a request supersedes the
/// one before it in the same slot only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlotKind {
    /// `textDocument/inlineCompletion`.
    Inline,
    /// `textDocument/completion`.
    Completion,
}

/// An open document.
struct Open {
    doc: Document,
    version: i32,
    language_id: String,
    /// Workspace-relative path shown to plugins.
    path: String,
    inline: Slot,
    completion: Slot,
}

impl Open {
    /// Cancel the requests in flight for this document.
    fn cancel(&mut self) {
        self.inline.cancel();
        self.completion.cancel();
    }
}

/// A consistent view of a document for one request.
pub(crate) struct Snapshot {
    pub(crate) doc: Document,
    pub(crate) version: i32,
    pub(crate) ctx: api::DocumentContext,
}

/// The open documents, by URI.
#[derive(Default)]
pub(crate) struct Documents(Mutex<HashMap<Uri, Open>>);

impl Documents {
    fn lock(&self) -> MutexGuard<'_, HashMap<Uri, Open>> {
        lock(&self.0)
    }

    /// The version of `uri`, if it is open.
    pub(crate) fn version(&self, uri: &Uri) -> Option<i32> {
        self.lock().get(uri).map(|o| o.version)
    }

    /// How many documents are open.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Start a request in one of the document's slots, cancelling the
    /// request it supersedes.
    pub(crate) fn supersede(&self, uri: &Uri, slot: SlotKind) -> Result<CancellationToken> {
        let mut documents = self.lock();
        let open = documents
            .get_mut(uri)
            .ok_or_else(|| invalid_params(format!("document {} is not open", uri.as_str())))?;
        Ok(match slot {
            SlotKind::Inline => open.inline.replace(),
            SlotKind::Completion => open.completion.replace(),
        })
    }

    /// Forget `uri`, cancelling its requests in flight.
    pub(crate) fn close(&self, uri: &Uri) {
        if let Some(mut open) = self.lock().remove(uri) {
            open.cancel();
        }
    }

    /// Cancel every request in flight (at `shutdown`).
    pub(crate) fn cancel_all(&self) {
        for open in self.lock().values_mut() {
            open.cancel();
        }
    }
}

/// Apply a `didChange`'s edits to `doc` in order, positions in `encoding`;
/// an edit that does not fit the text is skipped and the last such error
/// returned. Public (hidden) for the fuzz targets.
#[doc(hidden)]
pub fn apply_changes(
    doc: &mut Document,
    encoding: Encoding,
    changes: Vec<TextDocumentContentChangeEvent>,
) -> Option<PositionError> {
    let mut lost = None;
    for change in changes {
        match change.range {
            None => *doc = Document::new(&change.text),
            Some(range) => {
                let span = encoding.range_to_api(doc, range).and_then(|r| doc.span(r));
                match span {
                    Ok((start, end)) => doc.replace(start, end, &change.text),
                    Err(err) => lost = Some(err),
                }
            }
        }
    }
    lost
}

impl Lsp {
    /// `textDocument/didOpen`.
    pub(crate) fn open_document(&self, params: DidOpenTextDocumentParams) {
        let item = params.text_document;
        let path = item.uri.to_file_path().and_then(|p| {
            self.session
                .get()
                .and_then(|s| s.runtime.services().workspace())
                .and_then(|ws| ws.relative(&p))
        });
        let path = path.unwrap_or_else(|| {
            item.uri
                .path()
                .as_str()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        });
        let open = Open {
            doc: Document::new(&item.text),
            version: item.version,
            language_id: item.language_id,
            path,
            inline: Slot::default(),
            completion: Slot::default(),
        };
        self.documents.lock().insert(item.uri, open);
    }

    /// Tell the client when the document just opened is excluded by policy
    /// (no plugin will see it), and when one that is not follows it.
    pub(crate) async fn show_opened_status(&self, uri: &Uri) {
        let Ok(session) = self.session() else {
            return;
        };
        let Some(path) = self.documents.lock().get(uri).map(|o| o.path.clone()) else {
            return;
        };
        match session.runtime.services().policy().excluded(&path) {
            Some(excluded) => {
                let message = format!(
                    "Cordon: {path} is excluded by policy ({}); no plugin sees it",
                    excluded.reason
                );
                self.show_status(State::Excluded, &message, Some(uri)).await;
            }
            None => self.show_ready().await,
        }
    }

    /// `textDocument/didChange`: apply the edits and cancel the answers in
    /// flight; an edit that does not fit the text is reported.
    pub(crate) async fn change_document(&self, params: DidChangeTextDocumentParams) {
        let Some(encoding) = self.session.get().map(|s| s.encoding) else {
            return;
        };
        let uri = params.text_document.uri;
        let lost;
        {
            let mut documents = self.documents.lock();
            let Some(open) = documents.get_mut(&uri) else {
                tracing::warn!("change to a document that is not open: {}", uri.as_str());
                return;
            };
            lost = apply_changes(&mut open.doc, encoding, params.content_changes);
            open.version = params.text_document.version;
            // Answers in flight were computed for the old text.
            open.cancel();
        }
        if let Some(err) = lost {
            // The editor and Cordon no longer agree on the text; answers
            // would land in the wrong place until the file is reopened.
            tracing::error!("change outside {}: {err}", uri.as_str());
            self.client
                .show_message(
                    MessageType::WARNING,
                    format!(
                        "Cordon: an edit to {} did not fit the text it knows ({err}); close and reopen the file",
                        uri.as_str()
                    ),
                )
                .await;
        }
    }

    /// A snapshot of `uri` with the context for `position` (and `selection`).
    pub(crate) fn snapshot(
        &self,
        uri: &Uri,
        position: Position,
        selection: Option<Range>,
    ) -> Result<Snapshot> {
        let encoding = self.session()?.encoding;
        let windows = self.settings().windows;
        let documents = self.documents.lock();
        let open = documents
            .get(uri)
            .ok_or_else(|| invalid_params(format!("document {} is not open", uri.as_str())))?;
        // A document the policy excludes is never shown to any plugin.
        if let Some(excluded) = self
            .session()?
            .runtime
            .services()
            .policy()
            .excluded(&open.path)
        {
            return Err(failed(
                format!("{} is excluded by policy: {}", open.path, excluded.reason),
                "excluded",
            ));
        }
        let doc = open.doc.clone();
        let cursor = encoding.to_api(&doc, position).map_err(|e| {
            invalid_params(format!(
                "position {}:{}: {e}",
                position.line, position.character
            ))
        })?;
        let selection = match selection {
            Some(range) if range.start != range.end => Some(
                encoding
                    .range_to_api(&doc, range)
                    .map_err(|e| invalid_params(format!("range: {e}")))?,
            ),
            _ => None,
        };
        let request = context::Request {
            path: &open.path,
            language_id: &open.language_id,
            cursor,
            selection,
            diagnostics: &[],
        };
        let ctx =
            context::build(&doc, &request, windows).map_err(|e| invalid_params(e.to_string()))?;
        Ok(Snapshot {
            version: open.version,
            doc,
            ctx,
        })
    }

    /// The version of `uri` now, to compare with a snapshot's.
    pub(crate) fn version(&self, uri: &Uri) -> Option<i32> {
        self.documents.version(uri)
    }
}
