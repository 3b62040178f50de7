//! The `log` interface: decided by the policy like every capability (asked
//! once per call), capped in messages and bytes, and stripped of control
//! characters so that a plugin's log line cannot drive a terminal.

use super::{Capability, Gate};
use crate::api::cordon::plugin::log;
use crate::text;

impl log::Host for Gate {
    async fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        if !self.may_log() || self.logged >= self.log_limits.messages {
            self.dropped_logs += 1;
            return Ok(());
        }
        self.logged += 1;
        let text = text::one_line(&message, self.log_limits.message_bytes);
        let plugin = self.ledger.plugin();
        match level {
            log::Level::Trace => tracing::trace!(target: "cordon::plugin", plugin, "{text}"),
            log::Level::Debug => tracing::debug!(target: "cordon::plugin", plugin, "{text}"),
            log::Level::Info => tracing::info!(target: "cordon::plugin", plugin, "{text}"),
            log::Level::Warn => tracing::warn!(target: "cordon::plugin", plugin, "{text}"),
            log::Level::Error => tracing::error!(target: "cordon::plugin", plugin, "{text}"),
        }
        Ok(())
    }
}

impl Gate {
    /// The policy's answer on `log` in this call, if it was asked.
    pub fn log_decision(&self) -> Option<bool> {
        self.log_allowed
    }

    /// Whether the plugin may log (its captured stdout/stderr are logged
    /// only then too). The policy is asked once per call, and a denial is
    /// recorded once, not once per message.
    pub fn may_log(&mut self) -> bool {
        match self.log_allowed {
            Some(allowed) => allowed,
            None => {
                let allowed = self.check(Capability::Log, "").is_ok();
                self.log_allowed = Some(allowed);
                allowed
            }
        }
    }
}
