//! Editor-facing settings of the language server.
//!
//! Settings arrive in `initializationOptions` and in
//! `workspace/didChangeConfiguration`, either as `{ "cordon": { ... } }` or
//! as the inner object. A change is applied as a whole or not at all: a bad
//! value is reported (naming the key) and the previous settings stay.

use std::time::Duration;

use serde_json::Value;

use crate::context::Windows;

/// The server's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Quiet time after a keystroke before an inline completion runs.
    pub debounce: Duration,
    /// Context windows cut around the cursor.
    pub windows: Windows,
    /// Explain the item under the cursor on hover (calls a model).
    pub hover_explain: bool,
    /// Answer `textDocument/inlineCompletion`.
    pub inline_completion: bool,
    /// The editor's set-up asks the user for an instruction when a
    /// `cordon.refactor` command carries `needs_instruction` (Cordon's
    /// Neovim set-up does): refactor actions that need one are offered.
    pub ask_instruction: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            debounce: Duration::from_millis(100),
            windows: Windows::default(),
            hover_explain: false,
            inline_completion: true,
            ask_instruction: false,
        }
    }
}

/// The keys a client may set.
const KNOWN: &[&str] = &[
    "debounce_ms",
    "prefix_chars",
    "suffix_chars",
    "hover_explain",
    "inline_completion",
    "ask_instruction",
];

/// A setting that was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting `cordon.{key}`: {problem}")]
pub struct SettingsError {
    pub key: String,
    pub problem: String,
}

fn error(key: &str, problem: impl Into<String>) -> SettingsError {
    SettingsError {
        key: key.to_owned(),
        problem: problem.into(),
    }
}

fn number(key: &str, value: &Value, min: u64, max: u64, unit: &str) -> Result<u64, SettingsError> {
    value
        .as_u64()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            error(
                key,
                format!("expected a whole number of {unit} from {min} to {max}, got {value}"),
            )
        })
}

fn boolean(key: &str, value: &Value) -> Result<bool, SettingsError> {
    value
        .as_bool()
        .ok_or_else(|| error(key, format!("expected true or false, got {value}")))
}

impl Settings {
    /// These settings with the changes in `value` applied. `null` changes
    /// nothing.
    pub fn with(&self, value: &Value) -> Result<Settings, SettingsError> {
        let scoped = value.get("cordon");
        let object = match scoped.unwrap_or(value) {
            Value::Null => return Ok(self.clone()),
            Value::Object(object) => object,
            other => return Err(error("", format!("expected an object, got {other}"))),
        };
        // Some clients (Eglot) send every server's settings to every server:
        // an unscoped object with none of our keys is someone else's.
        if scoped.is_none() && !object.keys().any(|k| KNOWN.contains(&k.as_str())) {
            return Ok(self.clone());
        }
        let mut next = self.clone();
        for (key, value) in object {
            match key.as_str() {
                "debounce_ms" => {
                    next.debounce =
                        Duration::from_millis(number(key, value, 0, 2000, "milliseconds")?)
                }
                "prefix_chars" => {
                    next.windows.prefix_chars =
                        number(key, value, 0, 1 << 20, "characters")? as usize
                }
                "suffix_chars" => {
                    next.windows.suffix_chars =
                        number(key, value, 0, 1 << 20, "characters")? as usize
                }
                "hover_explain" => next.hover_explain = boolean(key, value)?,
                "inline_completion" => next.inline_completion = boolean(key, value)?,
                "ask_instruction" => next.ask_instruction = boolean(key, value)?,
                other => {
                    return Err(error(
                        other,
                        format!("unknown setting (known: {})", KNOWN.join(", ")),
                    ));
                }
            }
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn changes_apply_over_the_current_settings() {
        let base = Settings::default();
        let next = base
            .with(&json!({"cordon": {"debounce_ms": 40, "hover_explain": true}}))
            .unwrap();
        assert_eq!(next.debounce, Duration::from_millis(40));
        assert!(next.hover_explain);
        assert_eq!(next.windows, base.windows);
        assert_eq!(base.with(&Value::Null).unwrap(), base);
        assert_eq!(
            next.with(&json!({"prefix_chars": 100}))
                .unwrap()
                .windows
                .prefix_chars,
            100
        );
    }

    #[test]
    fn bad_values_name_the_key_and_change_nothing() {
        let base = Settings::default();
        let err = base.with(&json!({"debounce_ms": "fast"})).unwrap_err();
        assert_eq!(err.key, "debounce_ms");
        assert!(err.to_string().contains("cordon.debounce_ms"), "{err}");
        let err = base
            .with(&json!({"inline_completion": true, "colour": 1}))
            .unwrap_err();
        assert_eq!(err.key, "colour");
        assert!(base.with(&json!({"debounce_ms": 99999})).is_err());
        assert!(base.with(&json!([1, 2])).is_err());
    }

    #[test]
    fn other_servers_settings_are_ignored() {
        let base = Settings::default();
        assert_eq!(base.with(&json!({"pylsp": {"plugins": {}}})).unwrap(), base);
        let mixed = base
            .with(&json!({"pylsp": {}, "cordon": {"debounce_ms": 10}}))
            .unwrap();
        assert_eq!(mixed.debounce, Duration::from_millis(10));
        assert!(base.with(&json!({"cordon": {"pylsp": 1}})).is_err());
    }
}
