//! CPU-time accounting for one plugin call.
//!
//! Only time spent running the plugin's own code counts. While the plugin
//! waits on a host call (a model request above all) the meter is paused:
//! waiting on a model is bounded by the backend timeout and by cancellation,
//! not by the plugin's CPU budget.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counts the time a call spends in plugin code.
#[derive(Debug)]
pub struct CpuMeter {
    budget: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    used: Duration,
    running_since: Option<Instant>,
}

impl State {
    fn fold(&mut self, now: Instant) {
        if let Some(since) = self.running_since {
            self.used += now.saturating_duration_since(since);
            self.running_since = Some(now);
        }
    }
}

/// The budget was used up.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("used {used:?} of CPU time, more than the {budget:?} allowed per call")]
pub struct CpuExceeded {
    pub used: Duration,
    pub budget: Duration,
}

/// Resumes the meter when dropped.
#[must_use]
pub struct Paused(Arc<CpuMeter>);

impl Drop for Paused {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(|e| e.into_inner());
        state.running_since = Some(Instant::now());
    }
}

impl CpuMeter {
    /// A stopped meter allowing `budget` of plugin time.
    pub fn new(budget: Duration) -> Arc<Self> {
        Arc::new(CpuMeter {
            budget,
            state: Mutex::new(State::default()),
        })
    }

    /// Start counting (when the plugin starts running).
    pub fn start(&self) {
        let mut state = self.lock();
        state.running_since = Some(Instant::now());
    }

    /// Stop counting until the returned guard is dropped (host call).
    pub fn pause(self: &Arc<Self>) -> Paused {
        let mut state = self.lock();
        state.fold(Instant::now());
        state.running_since = None;
        drop(state);
        Paused(Arc::clone(self))
    }

    /// Add the time since the last check, and fail once over budget.
    pub fn charge(&self) -> Result<(), CpuExceeded> {
        let mut state = self.lock();
        state.fold(Instant::now());
        if state.used > self.budget {
            return Err(CpuExceeded {
                used: state.used,
                budget: self.budget,
            });
        }
        Ok(())
    }

    /// Plugin time counted so far.
    pub fn used(&self) -> Duration {
        let mut state = self.lock();
        state.fold(Instant::now());
        state.used
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paused_time_is_not_charged() {
        let meter = CpuMeter::new(Duration::from_millis(20));
        meter.start();
        {
            let _paused = meter.pause();
            std::thread::sleep(Duration::from_millis(40));
        }
        assert!(meter.charge().is_ok(), "time in a host call was charged");
        assert!(meter.used() < Duration::from_millis(20));
        std::thread::sleep(Duration::from_millis(25));
        assert!(meter.charge().is_err(), "running time was not charged");
    }
}
