//! The clock that drives CPU deadlines: a thread that advances the engine's
//! epoch every [`TICK`] while some call's plugin code has been running for
//! that long.
//!
//! It is woken by a kernel timer (a `timerfd` on Linux), armed when the first
//! call starts and disarmed when the last one ends: a call shorter than a
//! tick — most of them — wakes no thread at all, and an idle server none.
//! A call waiting on the host (a model request) is not counted: when every
//! call in flight is waiting, the next expiry still advances the epoch (so
//! the plugin time before the wait is charged on return) and disarms the
//! timer, and the first call to return to its plugin code arms it again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use wasmtime::Engine;

/// How often the epoch advances: the granularity of CPU deadlines.
pub const TICK: Duration = Duration::from_millis(2);

/// Advances the engine's epoch while plugin code runs (see the module doc).
pub struct EpochTicker {
    shared: Arc<Shared>,
}

struct Shared {
    stop: AtomicBool,
    calls: Mutex<Calls>,
    alarm: alarm::Alarm,
}

/// The calls in flight; the alarm is armed only while one is alive.
#[derive(Default)]
struct Calls {
    /// Calls whose store exists.
    alive: usize,
    /// Of those, calls running plugin code (not waiting on the host).
    running: usize,
    armed: bool,
}

impl Shared {
    fn calls(&self) -> MutexGuard<'_, Calls> {
        // The counters stay consistent whatever panicked while holding them.
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn arm(&self, calls: &mut Calls) {
        if !calls.armed {
            self.alarm.arm(TICK);
            calls.armed = true;
        }
    }

    fn disarm(&self, calls: &mut Calls) {
        if calls.armed {
            self.alarm.disarm();
            calls.armed = false;
        }
    }
}

/// One plugin call's claim on the ticker, held for the call's life. The
/// store's call hook pauses it while the plugin waits on a host call.
pub struct Ticking {
    shared: Arc<Shared>,
    running: bool,
}

impl Ticking {
    /// The plugin called the host: its code is not running.
    pub fn pause(&mut self) {
        if std::mem::replace(&mut self.running, false) {
            self.shared.calls().running -= 1;
        }
    }

    /// The host returned to the plugin: its code runs again.
    pub fn resume(&mut self) {
        if !std::mem::replace(&mut self.running, true) {
            let mut calls = self.shared.calls();
            calls.running += 1;
            self.shared.arm(&mut calls);
        }
    }
}

impl Drop for Ticking {
    fn drop(&mut self) {
        let mut calls = self.shared.calls();
        if self.running {
            calls.running -= 1;
        }
        calls.alive -= 1;
        if calls.alive == 0 {
            self.shared.disarm(&mut calls);
        }
    }
}

impl EpochTicker {
    /// Start the ticker thread for `engine`; fails when the system refuses
    /// the timer or the thread.
    pub fn start(engine: &Engine) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            calls: Mutex::default(),
            alarm: alarm::Alarm::new()?,
        });
        let ticker = Arc::clone(&shared);
        let engine = engine.clone();
        std::thread::Builder::new()
            .name("cordon-epoch".into())
            .spawn(move || {
                loop {
                    ticker.alarm.wait();
                    if ticker.stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let mut calls = ticker.calls();
                    if calls.running == 0 {
                        // Every call in flight waits on the host.
                        ticker.disarm(&mut calls);
                    }
                    drop(calls);
                    // Advanced even then: a plugin back from the host
                    // meets its deadline at once and is charged for the
                    // code it ran before, so one that times a host call to
                    // straddle every expiry cannot dodge its CPU budget.
                    engine.increment_epoch();
                }
            })?;
        Ok(EpochTicker { shared })
    }

    /// A claim for one call, running plugin code from now on.
    pub fn tick(&self) -> Ticking {
        let mut calls = self.shared.calls();
        calls.alive += 1;
        calls.running += 1;
        self.shared.arm(&mut calls);
        Ticking {
            shared: Arc::clone(&self.shared),
            running: true,
        }
    }

    #[cfg(test)]
    fn counts(&self) -> (usize, usize, bool) {
        let calls = self.shared.calls();
        (calls.alive, calls.running, calls.armed)
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.alarm.wake_now();
    }
}

#[cfg(target_os = "linux")]
mod alarm {
    //! A `timerfd`: arming and disarming are system calls that wake nobody.

    use std::os::fd::OwnedFd;
    use std::time::Duration;

    use rustix::time::{
        Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags, Timespec, timerfd_create,
        timerfd_settime,
    };

    pub struct Alarm {
        fd: OwnedFd,
    }

    fn spec(first: Duration, every: Duration) -> Itimerspec {
        let ts = |d: Duration| Timespec {
            tv_sec: d.as_secs() as _,
            tv_nsec: d.subsec_nanos() as _,
        };
        Itimerspec {
            it_interval: ts(every),
            it_value: ts(first),
        }
    }

    impl Alarm {
        pub fn new() -> std::io::Result<Self> {
            let fd = timerfd_create(TimerfdClockId::Monotonic, TimerfdFlags::CLOEXEC)?;
            Ok(Alarm { fd })
        }

        fn set(&self, first: Duration, every: Duration) {
            // Fails only on arguments this module never passes.
            timerfd_settime(&self.fd, TimerfdTimerFlags::empty(), &spec(first, every))
                .expect("setting the epoch timer");
        }

        /// Expire after `every`, then every `every`.
        pub fn arm(&self, every: Duration) {
            self.set(every, every);
        }

        pub fn disarm(&self) {
            self.set(Duration::ZERO, Duration::ZERO);
        }

        /// Expire at once (to let the thread see that it must stop).
        pub fn wake_now(&self) {
            self.set(Duration::from_nanos(1), Duration::ZERO);
        }

        /// Block until the timer expires (at least once).
        pub fn wait(&self) {
            let mut expirations = [0u8; 8];
            // EINTR or a disarm between expiry and read: the loop asks again.
            let _ = rustix::io::read(&self.fd, &mut expirations);
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod alarm {
    //! Elsewhere: a condition variable wakes the thread when armed, and it
    //! sleeps a tick before each expiry.

    use std::sync::{Condvar, Mutex, PoisonError};
    use std::time::Duration;

    pub struct Alarm {
        every: Mutex<Option<Duration>>,
        armed: Condvar,
    }

    impl Alarm {
        pub fn new() -> std::io::Result<Self> {
            Ok(Alarm {
                every: Mutex::new(None),
                armed: Condvar::new(),
            })
        }

        pub fn arm(&self, every: Duration) {
            *self.every.lock().unwrap_or_else(PoisonError::into_inner) = Some(every);
            self.armed.notify_one();
        }

        pub fn disarm(&self) {
            *self.every.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }

        pub fn wake_now(&self) {
            self.arm(Duration::ZERO);
        }

        pub fn wait(&self) {
            let guard = self.every.lock().unwrap_or_else(PoisonError::into_inner);
            let guard = self
                .armed
                .wait_while(guard, |every| every.is_none())
                .unwrap_or_else(PoisonError::into_inner);
            let every = guard.unwrap_or_default();
            drop(guard);
            std::thread::sleep(every);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_calls_running_plugin_code_keep_the_alarm_armed() {
        let ticker = EpochTicker::start(&Engine::default()).expect("ticker");
        assert_eq!(ticker.counts(), (0, 0, false));
        let mut waiting = ticker.tick();
        let running = ticker.tick();
        assert_eq!(ticker.counts(), (2, 2, true));

        // Entering the host twice (a nested WASI call) counts once.
        waiting.pause();
        waiting.pause();
        assert_eq!(ticker.counts(), (2, 1, true));
        waiting.resume();
        waiting.resume();
        assert_eq!(ticker.counts(), (2, 2, true));

        // A call dropped while paused is not released twice.
        waiting.pause();
        drop(waiting);
        assert_eq!(ticker.counts(), (1, 1, true));
        drop(running);
        assert_eq!(ticker.counts(), (0, 0, false));
    }

    #[test]
    fn a_call_that_only_waits_on_the_host_disarms_the_alarm_at_the_next_expiry() {
        let ticker = EpochTicker::start(&Engine::default()).expect("ticker");
        let mut call = ticker.tick();
        call.pause();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while ticker.counts().2 && std::time::Instant::now() < deadline {
            std::thread::sleep(TICK);
        }
        assert_eq!(ticker.counts(), (1, 0, false));
        call.resume();
        assert_eq!(ticker.counts(), (1, 1, true));
    }
}
