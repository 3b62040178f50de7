//! Per-plugin model budgets: requests per minute and tokens per day.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use thiserror::Error;

use crate::Limits;

const MINUTE: Duration = Duration::from_secs(60);
/// The tokens window: 24 hours, kept as one bucket per minute.
const DAY_MINUTES: u64 = 24 * 60;

/// Why a model request was refused by a budget.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BudgetError {
    /// `requests_per_minute` requests were already made in the last 60 s.
    #[error(
        "plugin `{plugin}` reached its limit of {limit} model requests per minute; {}",
        retry_hint(*retry_after, "requests_per_minute")
    )]
    RequestsPerMinute {
        /// The plugin.
        plugin: String,
        /// The limit in force.
        limit: u64,
        /// When a request will be accepted again; `None` if never (limit 0).
        retry_after: Option<Duration>,
    },
    /// `tokens_per_day` tokens were already used in the last 24 hours.
    #[error(
        "plugin `{plugin}` used {used} of its {limit} model tokens in the last 24 hours; {}",
        retry_hint(*retry_after, "tokens_per_day")
    )]
    TokensPerDay {
        /// The plugin.
        plugin: String,
        /// Tokens used in the window.
        used: u64,
        /// The limit in force.
        limit: u64,
        /// When the oldest tokens leave the window; `None` if never (limit 0).
        retry_after: Option<Duration>,
    },
}

impl BudgetError {
    /// How long until a request may be accepted again, if ever.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            BudgetError::RequestsPerMinute { retry_after, .. }
            | BudgetError::TokensPerDay { retry_after, .. } => *retry_after,
        }
    }
}

fn retry_hint(retry_after: Option<Duration>, key: &str) -> String {
    match retry_after {
        Some(d) => format!(
            "try again in {} s, or ask the policy's owner to raise `{key}`",
            d.as_secs() + u64::from(d.subsec_nanos() > 0)
        ),
        None => format!(
            "the policy sets `{key}` = 0, so no model request is allowed; ask its owner to raise it"
        ),
    }
}

#[derive(Debug, Default)]
struct Usage {
    /// Time of the latest call seen, so that a clock stepping back does not
    /// reopen a window.
    latest: Duration,
    /// Accepted requests in the last minute, oldest first.
    requests: VecDeque<Duration>,
    /// Tokens per minute bucket (minute index since the epoch), oldest first.
    tokens: VecDeque<(u64, u64)>,
    /// Sum of `tokens`.
    tokens_total: u64,
}

impl Usage {
    /// Moves the clock to `now` (never backwards) and drops what left the
    /// windows.
    fn advance(&mut self, now: SystemTime) -> Duration {
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .max(self.latest);
        self.latest = now;
        while self.requests.front().is_some_and(|&t| t + MINUTE <= now) {
            self.requests.pop_front();
        }
        let minute = now.as_secs() / 60;
        while let Some(&(m, tokens)) = self.tokens.front() {
            if m + DAY_MINUTES > minute {
                break;
            }
            self.tokens_total -= tokens;
            self.tokens.pop_front();
        }
        now
    }
}

/// Enforces `requests_per_minute` (a sliding 60-second window) and
/// `tokens_per_day` (a sliding 24-hour window, counted per minute) for
/// every plugin. Thread-safe; share it behind an `Arc`.
///
/// Time is passed in, so tests are deterministic; pass `SystemTime::now()`.
/// A clock that steps back is treated as standing still. Counts live in
/// memory only: they start from zero when the host starts.
///
/// Tokens are known only after a response, so [`Budgets::record_tokens`]
/// counts them afterwards and a request may overshoot the daily budget by
/// its own size; cap `max_tokens` with [`Budgets::remaining_tokens`] to
/// bound that.
#[derive(Debug, Default)]
pub struct Budgets {
    usage: Mutex<HashMap<String, Usage>>,
}

impl Budgets {
    /// No usage recorded yet.
    pub fn new() -> Self {
        Budgets::default()
    }

    fn with<R>(&self, plugin: &str, f: impl FnOnce(&mut Usage) -> R) -> R {
        let mut map = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        if !map.contains_key(plugin) {
            map.insert(plugin.to_owned(), Usage::default());
        }
        f(map.get_mut(plugin).expect("inserted above"))
    }

    /// Takes one model request from `plugin`'s budget at `now`, or says why
    /// not. `limits` are the plugin's current limits
    /// ([`Effective::limits`](crate::Effective::limits)), passed on each call
    /// so that a policy reload applies to the next request. A refused
    /// request is not counted.
    pub fn try_acquire(
        &self,
        plugin: &str,
        limits: &Limits,
        now: SystemTime,
    ) -> Result<(), BudgetError> {
        self.with(plugin, |usage| {
            let now = usage.advance(now);
            if let Some(limit) = limits.tokens_per_day
                && usage.tokens_total >= limit
            {
                let retry_after = (limit > 0).then(|| {
                    let oldest = usage.tokens.front().map_or(0, |&(m, _)| m);
                    Duration::from_secs((oldest + DAY_MINUTES) * 60).saturating_sub(now)
                });
                return Err(BudgetError::TokensPerDay {
                    plugin: plugin.to_owned(),
                    used: usage.tokens_total,
                    limit,
                    retry_after,
                });
            }
            match limits.requests_per_minute {
                Some(limit) => {
                    if usage.requests.len() as u64 >= limit {
                        let retry_after = (limit > 0).then(|| {
                            // The request that must leave the window before
                            // one more fits.
                            let index = usage.requests.len() - limit as usize;
                            (usage.requests[index] + MINUTE).saturating_sub(now)
                        });
                        return Err(BudgetError::RequestsPerMinute {
                            plugin: plugin.to_owned(),
                            limit,
                            retry_after,
                        });
                    }
                    usage.requests.push_back(now);
                }
                None => usage.requests.clear(),
            }
            Ok(())
        })
    }

    /// Counts `tokens` (input plus output) used by `plugin` at `now`.
    pub fn record_tokens(&self, plugin: &str, tokens: u64, now: SystemTime) {
        if tokens == 0 {
            return;
        }
        self.with(plugin, |usage| {
            let now = usage.advance(now);
            let minute = now.as_secs() / 60;
            match usage.tokens.back_mut() {
                Some((m, count)) if *m == minute => *count = count.saturating_add(tokens),
                _ => usage.tokens.push_back((minute, tokens)),
            }
            usage.tokens_total = usage.tokens_total.saturating_add(tokens);
        })
    }

    /// Tokens `plugin` used in the 24 hours before `now`.
    pub fn tokens_used(&self, plugin: &str, now: SystemTime) -> u64 {
        self.with(plugin, |usage| {
            usage.advance(now);
            usage.tokens_total
        })
    }

    /// Tokens `plugin` may still use today under `limits`, or `None` when
    /// `tokens_per_day` is not limited. Use it to cap a request's
    /// `max_tokens`.
    pub fn remaining_tokens(&self, plugin: &str, limits: &Limits, now: SystemTime) -> Option<u64> {
        let limit = limits.tokens_per_day?;
        Some(limit.saturating_sub(self.tokens_used(plugin, now)))
    }
}
