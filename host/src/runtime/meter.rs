//! Time accounting for one plugin call: the plugin's own code, and the
//! work it makes the host do.
//!
//! Two clocks, switched by the store's call hook (the one place every
//! host call passes, WASI included), so that no import can forget them:
//! - **plugin time** runs while the plugin's code runs, and is charged at
//!   every epoch tick against the CPU budget;
//! - **host work** runs while the host serves one of the plugin's calls
//!   (policy decisions, redaction, audit records, the local model, file
//!   reads), and is checked when the host call returns, against a budget
//!   of its own. Waiting on a remote model is neither: it is bounded by the
//!   backend timeout, the call's wall-clock limit and cancellation.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counts the time a call spends in plugin code and in host work.
#[derive(Debug)]
pub struct CpuMeter {
    budget: Duration,
    host_budget: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    plugin: Clock,
    host: Clock,
}

#[derive(Debug, Default)]
struct Clock {
    used: Duration,
    running_since: Option<Instant>,
}

impl Clock {
    fn fold(&mut self, now: Instant) {
        if let Some(since) = self.running_since {
            self.used += now.saturating_duration_since(since);
            self.running_since = Some(now);
        }
    }

    fn start(&mut self, now: Instant) {
        self.running_since = Some(now);
    }

    fn stop(&mut self, now: Instant) {
        self.fold(now);
        self.running_since = None;
    }
}

/// A budget was used up.
#[derive(Debug, Clone, Copy, thiserror::Error)]
pub enum CpuExceeded {
    #[error("used {used:?} of CPU time, more than the {budget:?} allowed per call")]
    Plugin { used: Duration, budget: Duration },
    #[error(
        "kept the host busy for {used:?} (policy checks, file reads, the local model, \
         sleeping), more than the {budget:?} allowed per call"
    )]
    HostWork { used: Duration, budget: Duration },
}

/// Resumes host work when dropped.
#[must_use]
pub struct Waiting(Arc<CpuMeter>);

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.host.start(Instant::now());
    }
}

impl CpuMeter {
    /// A stopped meter allowing `budget` of plugin time and `host_budget`
    /// of host work.
    pub fn new(budget: Duration, host_budget: Duration) -> Arc<Self> {
        Arc::new(CpuMeter {
            budget,
            host_budget,
            state: Mutex::new(State::default()),
        })
    }

    /// Start counting (when the plugin starts running).
    pub fn start(&self) {
        self.lock().plugin.start(Instant::now());
    }

    /// The plugin called the host: plugin time stops, host work starts.
    pub fn enter_host(&self) {
        let now = Instant::now();
        let mut state = self.lock();
        state.plugin.stop(now);
        state.host.start(now);
    }

    /// The host call returned: host work stops (and fails the call once
    /// over its budget), plugin time runs again.
    pub fn leave_host(&self) -> Result<(), CpuExceeded> {
        let now = Instant::now();
        let mut state = self.lock();
        state.host.stop(now);
        state.plugin.start(now);
        if state.host.used > self.host_budget {
            return Err(CpuExceeded::HostWork {
                used: state.host.used,
                budget: self.host_budget,
            });
        }
        Ok(())
    }

    /// Stop counting host work until the returned guard is dropped: the
    /// host is waiting on a remote model, not working.
    pub fn waiting(self: &Arc<Self>) -> Waiting {
        self.lock().host.stop(Instant::now());
        Waiting(Arc::clone(self))
    }

    /// Add the plugin time since the last check, and fail once over budget.
    pub fn charge(&self) -> Result<(), CpuExceeded> {
        let mut state = self.lock();
        state.plugin.fold(Instant::now());
        if state.plugin.used > self.budget {
            return Err(CpuExceeded::Plugin {
                used: state.plugin.used,
                budget: self.budget,
            });
        }
        Ok(())
    }

    /// Plugin time counted so far.
    pub fn used(&self) -> Duration {
        let mut state = self.lock();
        state.plugin.fold(Instant::now());
        state.plugin.used
    }

    /// Host work counted so far.
    pub fn host_used(&self) -> Duration {
        let mut state = self.lock();
        state.host.fold(Instant::now());
        state.host.used
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
    fn host_time_is_host_work_not_plugin_time() {
        let meter = CpuMeter::new(Duration::from_millis(20), Duration::from_millis(30));
        meter.start();
        meter.enter_host();
        std::thread::sleep(Duration::from_millis(25));
        assert!(meter.leave_host().is_ok(), "under the host budget");
        assert!(
            meter.charge().is_ok(),
            "host work was charged as plugin time"
        );
        assert!(meter.used() < Duration::from_millis(20));
        assert!(meter.host_used() >= Duration::from_millis(25));
        meter.enter_host();
        std::thread::sleep(Duration::from_millis(10));
        assert!(
            matches!(meter.leave_host(), Err(CpuExceeded::HostWork { .. })),
            "host work over its budget fails the call"
        );
        std::thread::sleep(Duration::from_millis(25));
        assert!(
            matches!(meter.charge(), Err(CpuExceeded::Plugin { .. })),
            "running time was not charged"
        );
    }

    #[test]
    fn waiting_on_a_remote_model_is_neither() {
        let meter = CpuMeter::new(Duration::from_millis(20), Duration::from_millis(20));
        meter.start();
        meter.enter_host();
        {
            let _waiting = meter.waiting();
            std::thread::sleep(Duration::from_millis(40));
        }
        assert!(meter.leave_host().is_ok());
        assert!(meter.charge().is_ok());
        assert!(meter.host_used() < Duration::from_millis(20));
    }
}
