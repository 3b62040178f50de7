//! Completion fan-out: every completion plugin runs concurrently; built-in
//! ones are always waited for, third-party ones get a short grace once an
//! answer is in (none once they were late three times in a row, see
//! [`Stragglers`](super::stragglers::Stragglers)), and answers are cached by exact context.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio_util::task::AbortOnDropHandle;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::MessageType;

use super::cache;
use super::convert::call_failed;
use super::documents::Snapshot;
use super::init::Session;
use super::server::{Lsp, lock};
use crate::api;
use crate::runtime::{CallError, Feature, Origin, Plugin};

/// How long other completion plugins may take once one has answered.
const STRAGGLER_GRACE: std::time::Duration = std::time::Duration::from_millis(5);

/// A third-party plugin's completion call in its own task, so that a plugin
/// busy between two epoch yields never delays the other plugins' answers.
/// Dropped before it finishes (the request was answered or cancelled), it
/// aborts the call at once: the epoch is advanced so that the plugin yields
/// now rather than at the next tick, and the aborted task ends there.
struct Spawned {
    call: AbortOnDropHandle<std::result::Result<Vec<api::CompletionItem>, CallError>>,
    engine: wasmtime::Engine,
}

impl Spawned {
    async fn complete(
        session: &Arc<Session>,
        plugin: &Arc<Plugin>,
        snap: &Snapshot,
    ) -> std::result::Result<Vec<api::CompletionItem>, CallError> {
        let task = {
            let (session, plugin) = (Arc::clone(session), Arc::clone(plugin));
            let (doc, ctx) = (snap.doc.clone(), snap.ctx.clone());
            tokio::spawn(async move { session.runtime.complete(&plugin, &doc, &ctx).await })
        };
        let mut spawned = Spawned {
            call: AbortOnDropHandle::new(task),
            engine: session.runtime.engine().clone(),
        };
        match (&mut spawned.call).await {
            Ok(result) => result,
            Err(err) => Err(CallError::Trap {
                plugin: plugin.name().to_owned(),
                message: format!("the call's task failed: {err}"),
            }),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if !self.call.is_finished() {
            self.call.abort();
            self.engine.increment_epoch();
        }
    }
}

impl Lsp {
    /// Completion items from every completion plugin (answers are cached), or
    /// the error if none could answer. Plugins run concurrently; once an
    /// answer is in and every built-in plugin has finished, the others get
    /// [`STRAGGLER_GRACE`] more and are then dropped, so a slow or spinning
    /// third-party plugin never holds up the answer (and one that is late
    /// too often is benched, see [`Stragglers`](super::stragglers::Stragglers)).
    pub(crate) async fn complete(
        &self,
        session: &Arc<Session>,
        snap: &Snapshot,
    ) -> Result<Vec<api::CompletionItem>> {
        let now = std::time::Instant::now();
        let (called, benched): (Vec<&Arc<Plugin>>, Vec<_>) = session
            .catalog
            .providers(Feature::Completion)
            .partition(|plugin| {
                plugin.origin == Origin::Builtin || !self.stragglers.benched(plugin.name(), now)
            });
        self.stats
            .benched_skips
            .fetch_add(benched.len() as u64, Ordering::Relaxed);
        let mut pending: FuturesUnordered<_> = called
            .iter()
            .map(|&plugin| async move {
                let key = cache::key(
                    plugin.name(),
                    session.runtime.services().policy().generation(),
                    &snap.ctx,
                );
                let cached = lock(&self.cache).get(key);
                let result = match cached {
                    Some(hit) => {
                        self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                        Ok(hit)
                    }
                    None if plugin.origin == Origin::Builtin => {
                        self.stats.plugin_calls.fetch_add(1, Ordering::Relaxed);
                        session.runtime.complete(plugin, &snap.doc, &snap.ctx).await
                    }
                    None => {
                        self.stats.plugin_calls.fetch_add(1, Ordering::Relaxed);
                        Spawned::complete(session, plugin, snap).await
                    }
                };
                (key, plugin.name(), plugin.origin == Origin::Builtin, result)
            })
            .collect();
        // Third-party plugins still working.
        let mut others: Vec<&str> = called
            .iter()
            .filter(|p| p.origin != Origin::Builtin)
            .map(|p| p.name())
            .collect();
        // Cordon's own plugins are always waited for; other plugins get the
        // grace once an answer is in and no built-in plugin is still working.
        let mut builtins_left = session
            .catalog
            .providers(Feature::Completion)
            .filter(|p| p.origin == Origin::Builtin)
            .count();
        let mut items = Vec::new();
        let mut first_error = None;
        let mut answered = false;
        let mut grace_started = false;
        let grace = tokio::time::sleep(STRAGGLER_GRACE);
        tokio::pin!(grace);
        loop {
            if answered && builtins_left == 0 && !self.stragglers.any_waited_for(&others) {
                break;
            }
            if answered && builtins_left == 0 && !grace_started {
                grace_started = true;
                grace
                    .as_mut()
                    .reset(tokio::time::Instant::now() + STRAGGLER_GRACE);
            }
            let next = if grace_started {
                tokio::select! {
                    next = pending.next() => next,
                    _ = &mut grace => None,
                }
            } else {
                pending.next().await
            };
            let Some((key, name, builtin, result)) = next else {
                break;
            };
            if builtin {
                builtins_left -= 1;
            } else {
                others.retain(|other| *other != name);
                self.stragglers.on_time(name);
            }
            match result {
                Ok(found) => {
                    answered = true;
                    lock(&self.cache).put(key, found.clone());
                    items.extend(found);
                }
                Err(err) => {
                    tracing::warn!("{err}");
                    first_error.get_or_insert(err);
                }
            }
        }
        if !others.is_empty() {
            tracing::debug!(
                "completion plugin(s) too slow, answering without them: {}",
                others.join(", ")
            );
            self.stats
                .stragglers_dropped
                .fetch_add(others.len() as u64, Ordering::Relaxed);
            // In the editor's log, not a pop-up: the user can do nothing
            // about it but read why that plugin's items went away.
            for message in self.stragglers.late(&others, std::time::Instant::now()) {
                tracing::warn!("{message}");
                self.client.log_message(MessageType::WARNING, message).await;
            }
        }
        match first_error {
            Some(err) if !answered => Err(call_failed(&err)),
            _ => Ok(items),
        }
    }
}
