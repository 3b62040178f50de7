//! How third-party plugins have been keeping up with one feature
//! (completion, code actions), and which ones to stop calling for a while.
//!
//! Once the built-in plugins have answered, other plugins get a short grace
//! and are then dropped. A plugin dropped this way [`LATE_LIMIT`] times in a
//! row is benched: not called for [`BENCHED_FOR`], so that a plugin that
//! spins on every call stops costing every request the grace and a core.
//! After that, one call probes it without being waited for; an answer in
//! time puts it back in good standing, another late one benches it again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Late calls in a row that bench a plugin.
pub const LATE_LIMIT: u32 = 3;
/// How long a benched plugin is not called.
pub const BENCHED_FOR: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Lateness {
    /// Calls in a row dropped as stragglers.
    streak: u32,
    /// Not called until then.
    benched_until: Option<Instant>,
}

/// The standing of every third-party plugin for one feature, by name.
pub struct Stragglers {
    /// What the plugins are late with, for messages: `completion`, …
    feature: &'static str,
    plugins: Mutex<HashMap<String, Lateness>>,
}

impl Stragglers {
    /// Standings for `feature` (named in messages), everyone in good standing.
    pub fn new(feature: &'static str) -> Self {
        Stragglers {
            feature,
            plugins: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Lateness>> {
        self.plugins.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `plugin` is benched at `now` (then it is not called).
    pub fn benched(&self, plugin: &str, now: Instant) -> bool {
        self.lock()
            .get(plugin)
            .and_then(|l| l.benched_until)
            .is_some_and(|until| now < until)
    }

    /// Whether any of `pending` deserves the grace: probed plugins (late
    /// too often before) are not waited for.
    pub fn any_waited_for(&self, pending: &[&str]) -> bool {
        let plugins = self.lock();
        pending
            .iter()
            .any(|name| plugins.get(*name).map_or(0, |l| l.streak) < LATE_LIMIT)
    }

    /// `plugin` answered (or failed) in time: good standing again.
    pub fn on_time(&self, plugin: &str) {
        self.lock().remove(plugin);
    }

    /// `plugins` were dropped as stragglers at `now`. Returns a message for
    /// each one this benches.
    pub fn late(&self, plugins: &[&str], now: Instant) -> Vec<String> {
        let mut standing = self.lock();
        let mut benched = Vec::new();
        for name in plugins {
            let lateness = standing.entry((*name).to_owned()).or_default();
            lateness.streak += 1;
            if lateness.streak >= LATE_LIMIT {
                lateness.benched_until = Some(now + BENCHED_FOR);
                benched.push(format!(
                    "{} plugin `{name}` was too slow {} times in a row; \
                     Cordon does not call it for {} s",
                    self.feature,
                    lateness.streak,
                    BENCHED_FOR.as_secs()
                ));
            }
        }
        benched
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_three_times_in_a_row_benches_then_a_probe_decides() {
        let s = Stragglers::new("completion");
        let t0 = Instant::now();
        for _ in 1..LATE_LIMIT {
            assert!(s.late(&["slow"], t0).is_empty());
            assert!(!s.benched("slow", t0));
            assert!(s.any_waited_for(&["slow"]));
        }
        let messages = s.late(&["slow"], t0);
        assert_eq!(messages.len(), 1);
        assert!(
            messages[0].starts_with("completion plugin `slow`") && messages[0].contains("30 s"),
            "{}",
            messages[0]
        );
        assert!(s.benched("slow", t0 + BENCHED_FOR / 2));
        assert!(!s.benched("other", t0));

        // After the bench: called again, but not waited for.
        let later = t0 + BENCHED_FOR;
        assert!(!s.benched("slow", later));
        assert!(!s.any_waited_for(&["slow"]));
        assert!(s.any_waited_for(&["slow", "other"]));
        // Late once more: benched again at once.
        assert_eq!(s.late(&["slow"], later).len(), 1);
        assert!(s.benched("slow", later));
        // In time: good standing.
        s.on_time("slow");
        assert!(!s.benched("slow", later));
        assert!(s.any_waited_for(&["slow"]));
    }

    #[test]
    fn being_in_time_breaks_the_streak() {
        let s = Stragglers::new("completion");
        let t0 = Instant::now();
        for _ in 0..5 {
            s.late(&["flaky"], t0);
            s.on_time("flaky");
        }
        assert!(!s.benched("flaky", t0));
        assert!(s.any_waited_for(&["flaky"]));
    }
}
