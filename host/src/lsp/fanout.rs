//! Fan-out of plugin calls, so that no third-party plugin holds back a
//! built-in answer or another request.
//!
//! Every third-party plugin call runs in its own task ([`Lsp::third_party`]),
//! with a bounded number in flight per plugin and in all (a plugin that
//! sleeps or spins on every call cannot take every instance slot of the
//! pool, and the built-in plugins always find one). Completion
//! ([`Lsp::complete`]) and code actions ([`Lsp::offer_actions`]) run their
//! plugins concurrently: built-in ones are always waited for; third-party
//! ones get a short grace once the built-in ones are done (none once they
//! were late three times in a row, see
//! [`Stragglers`](super::stragglers::Stragglers)) and are then dropped, with
//! one line in the editor's log naming the plugin. Completion answers are
//! cached by exact context.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::task::AbortOnDropHandle;
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::MessageType;

use super::cache;
use super::convert::call_failed;
use super::documents::Snapshot;
use super::init::Session;
use super::server::{Lsp, lock};
use super::stragglers::Stragglers;
use crate::api;
use crate::catalog::Catalog;
use crate::runtime::{CallError, Feature, Origin, Plugin};

/// How long other completion plugins may take once one has answered.
const STRAGGLER_GRACE: Duration = Duration::from_millis(5);

/// How long other completion plugins may take from the request's start,
/// however quickly the built-in ones answered: an answer from the cache
/// takes microseconds, while a third-party plugin's call (a fresh instance,
/// on a loaded machine) takes a few milliseconds.
const STRAGGLER_FLOOR: Duration = Duration::from_millis(25);

/// How long third-party refactor plugins may take to offer their actions
/// once the built-in ones have (code actions are asked for on every cursor
/// move, and the editor shows none until the answer is in).
const ACTIONS_GRACE: Duration = Duration::from_millis(50);

/// Calls of one third-party plugin in flight at once; more are refused at
/// once rather than queued.
pub(crate) const CALLS_PER_PLUGIN: usize = 8;

/// Third-party calls in flight at once, all plugins together: well under
/// the pooling allocator's 64 instance slots, so that the built-in plugins
/// always find one.
const THIRD_PARTY_CALLS: usize = 40;

/// The in-flight bounds of third-party plugin calls.
pub(crate) struct Lanes {
    all: Arc<Semaphore>,
    per_plugin: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Default for Lanes {
    fn default() -> Self {
        Lanes {
            all: Arc::new(Semaphore::new(THIRD_PARTY_CALLS)),
            per_plugin: Mutex::default(),
        }
    }
}

impl Lanes {
    /// Room for one more call of `plugin`, or the error that call gets.
    fn enter(
        &self,
        plugin: &str,
    ) -> std::result::Result<(OwnedSemaphorePermit, OwnedSemaphorePermit), CallError> {
        let own = Arc::clone(
            lock(&self.per_plugin)
                .entry(plugin.to_owned())
                .or_insert_with(|| Arc::new(Semaphore::new(CALLS_PER_PLUGIN))),
        );
        let busy = |what: String| CallError::Plugin {
            plugin: plugin.to_owned(),
            error: api::PluginError::RateLimited(what),
        };
        let own = own.try_acquire_owned().map_err(|_| {
            busy(format!(
                "{CALLS_PER_PLUGIN} of its calls are still running; this one was not made (retry once they finish, or ask the plugin's author why it is slow)"
            ))
        })?;
        let all = Arc::clone(&self.all).try_acquire_owned().map_err(|_| {
            busy(format!(
                "{THIRD_PARTY_CALLS} third-party plugin calls are still running; this one was not made"
            ))
        })?;
        Ok((own, all))
    }
}

/// A third-party plugin call in its own task, so that a plugin busy between
/// two epoch yields never delays the other plugins' answers. Dropped before
/// it finishes (the request was answered or cancelled), it aborts the call
/// at once: the epoch is advanced so that the plugin yields now rather than
/// at the next tick, and the aborted task ends there.
struct Spawned<T> {
    call: AbortOnDropHandle<std::result::Result<T, CallError>>,
    engine: wasmtime::Engine,
}

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        if !self.call.is_finished() {
            self.call.abort();
            self.engine.increment_epoch();
        }
    }
}

/// What a fan-out over plugins produced: each plugin's result, in the
/// order they came in, and the third-party plugins dropped as too slow.
struct Gathered<T> {
    results: Vec<(Arc<Plugin>, std::result::Result<T, CallError>)>,
    late: Vec<String>,
}

impl Lsp {
    /// Run `call` for `plugin`: in place for a built-in plugin, in its own
    /// task (bounded in flight, see [`Lanes`]) for any other.
    pub(crate) async fn third_party<T, F, Fut>(
        &self,
        session: &Arc<Session>,
        plugin: &Arc<Plugin>,
        call: F,
    ) -> std::result::Result<T, CallError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Session>, Arc<Plugin>) -> Fut,
        Fut: Future<Output = std::result::Result<T, CallError>> + Send + 'static,
    {
        if plugin.origin == Origin::Builtin {
            return call(Arc::clone(session), Arc::clone(plugin)).await;
        }
        let permits = self.lanes.enter(plugin.name())?;
        let work = call(Arc::clone(session), Arc::clone(plugin));
        let task = tokio::spawn(async move {
            let _permits = permits;
            work.await
        });
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

    /// Run `call` for every plugin of `called` concurrently. Built-in ones
    /// are always waited for; once they are done, the others get `grace`
    /// more (none for plugins late too often, see [`Stragglers`]) and are
    /// then dropped.
    async fn gather<T, F, Fut>(
        &self,
        session: &Arc<Session>,
        called: &[Arc<Plugin>],
        stragglers: &Stragglers,
        grace: Duration,
        call: F,
    ) -> Gathered<T>
    where
        T: Send + 'static,
        F: Fn(Arc<Session>, Arc<Plugin>) -> Fut,
        Fut: Future<Output = std::result::Result<T, CallError>> + Send + 'static,
    {
        let call = &call;
        let mut pending: FuturesUnordered<_> = called
            .iter()
            .map(|plugin| async move {
                let result = self.third_party(session, plugin, call).await;
                (Arc::clone(plugin), result)
            })
            .collect();
        let mut others: Vec<&str> = called
            .iter()
            .filter(|p| p.origin != Origin::Builtin)
            .map(|p| p.name())
            .collect();
        let mut builtins_left = called.len() - others.len();
        let mut results = Vec::new();
        let timer = tokio::time::sleep(grace);
        tokio::pin!(timer);
        let mut grace_started = false;
        loop {
            if builtins_left == 0 && !stragglers.any_waited_for(&others) {
                break;
            }
            if builtins_left == 0 && !grace_started {
                grace_started = true;
                timer.as_mut().reset(tokio::time::Instant::now() + grace);
            }
            let next = if grace_started {
                tokio::select! {
                    next = pending.next() => next,
                    _ = &mut timer => None,
                }
            } else {
                pending.next().await
            };
            let Some((plugin, result)) = next else {
                break;
            };
            if plugin.origin == Origin::Builtin {
                builtins_left -= 1;
            } else {
                others.retain(|other| *other != plugin.name());
                stragglers.on_time(plugin.name());
            }
            results.push((plugin, result));
        }
        Gathered {
            results,
            late: others.into_iter().map(str::to_owned).collect(),
        }
    }

    /// Say which plugins were dropped as too slow: one line in the log for
    /// each, and one in the editor's log when one is benched.
    async fn report_late(&self, stragglers: &Stragglers, feature: Feature, late: &[String]) {
        if late.is_empty() {
            return;
        }
        tracing::info!(
            "{feature} plugin(s) too slow, answering without them: {}",
            late.join(", ")
        );
        let late: Vec<&str> = late.iter().map(String::as_str).collect();
        // In the editor's log, not a pop-up: the user can do nothing
        // about it but read why that plugin's answers went away.
        for message in stragglers.late(&late, Instant::now()) {
            tracing::warn!("{message}");
            self.client.log_message(MessageType::WARNING, message).await;
        }
    }

    /// The plugins of `catalog` providing `feature` that are called now
    /// (built-in ones always; others unless benched), counting the others.
    fn callable(
        &self,
        catalog: &Catalog,
        feature: Feature,
        stragglers: &Stragglers,
    ) -> Vec<Arc<Plugin>> {
        let now = Instant::now();
        let (called, benched): (Vec<&Arc<Plugin>>, Vec<_>) =
            catalog.providers(feature).partition(|plugin| {
                plugin.origin == Origin::Builtin || !stragglers.benched(plugin.name(), now)
            });
        self.stats
            .benched_skips
            .fetch_add(benched.len() as u64, Ordering::Relaxed);
        called.into_iter().cloned().collect()
    }

    /// The refactor actions every refactor plugin offers for `snap`, by
    /// plugin. Plugins run concurrently; the built-in ones are always
    /// waited for, the others get [`ACTIONS_GRACE`] more and are then
    /// dropped (and benched when late too often), so that a slow
    /// third-party plugin never holds back the built-in actions.
    pub(crate) async fn offer_actions(
        &self,
        session: &Arc<Session>,
        snap: &Snapshot,
    ) -> Vec<(Arc<Plugin>, Vec<api::Action>)> {
        let catalog = session.catalog();
        let called = self.callable(&catalog, Feature::Refactor, &self.late_actions);
        let ctx = &snap.ctx;
        let gathered = self
            .gather(
                session,
                &called,
                &self.late_actions,
                ACTIONS_GRACE,
                |session, plugin| {
                    let ctx = ctx.clone();
                    async move { session.runtime.actions(&plugin, &ctx).await }
                },
            )
            .await;
        self.stats
            .late_actions
            .fetch_add(gathered.late.len() as u64, Ordering::Relaxed);
        self.report_late(&self.late_actions, Feature::Refactor, &gathered.late)
            .await;
        let mut offered = Vec::new();
        for (plugin, result) in gathered.results {
            match result {
                Ok(actions) => offered.push((plugin, actions)),
                Err(err) => tracing::warn!("{err}"),
            }
        }
        // The most trusted plugins' actions first, whichever answered first.
        offered.sort_by_key(|(plugin, _)| {
            catalog
                .plugins
                .iter()
                .position(|p| Arc::ptr_eq(p, plugin))
                .unwrap_or(usize::MAX)
        });
        offered
    }

    /// Completion items from every completion plugin (answers are cached), or
    /// the error if none could answer. Plugins run concurrently; once an
    /// answer is in and every built-in plugin has finished, the others get
    /// [`STRAGGLER_GRACE`] more (and at least [`STRAGGLER_FLOOR`] in all)
    /// and are then dropped, so a slow or spinning
    /// third-party plugin never holds up the answer (and one that is late
    /// too often is benched, see [`Stragglers`](super::stragglers::Stragglers)).
    pub(crate) async fn complete(
        &self,
        session: &Arc<Session>,
        snap: &Snapshot,
    ) -> Result<Vec<api::CompletionItem>> {
        let started = tokio::time::Instant::now();
        let catalog = session.catalog();
        let called = self.callable(&catalog, Feature::Completion, &self.stragglers);
        let mut pending: FuturesUnordered<_> = called
            .iter()
            .map(|plugin| async move {
                let key = cache::key(
                    plugin.name(),
                    plugin.digest(),
                    session.runtime.services().policy().generation(),
                    &snap.ctx,
                );
                let cached = lock(&self.cache).get(key);
                let result = match cached {
                    Some(hit) => {
                        self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                        Ok(hit)
                    }
                    None => {
                        self.stats.plugin_calls.fetch_add(1, Ordering::Relaxed);
                        let (doc, ctx) = (snap.doc.clone(), snap.ctx.clone());
                        self.third_party(session, plugin, |session, plugin| async move {
                            session.runtime.complete(&plugin, &doc, &ctx).await
                        })
                        .await
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
        let mut builtins_left = called
            .iter()
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
                let until =
                    (tokio::time::Instant::now() + STRAGGLER_GRACE).max(started + STRAGGLER_FLOOR);
                grace.as_mut().reset(until);
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
        self.stats
            .stragglers_dropped
            .fetch_add(others.len() as u64, Ordering::Relaxed);
        let late: Vec<String> = others.into_iter().map(str::to_owned).collect();
        self.report_late(&self.stragglers, Feature::Completion, &late)
            .await;
        self.report_notices(session).await;
        match first_error {
            Some(err) if !answered => Err(call_failed(&err)),
            _ => Ok(items),
        }
    }
}
