//! Errors of loading and validating policy files.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::Layer;

/// Why one policy file was rejected.
///
/// A policy that cannot be read or does not validate is never ignored: the
/// caller must fail closed (keep the last valid policy, or refuse what is
/// not granted) and show this message to the user.
#[derive(Debug, Error)]
pub enum PolicyError {
    /// The file exists but could not be read.
    #[error(
        "{}: cannot read the {layer} policy file: {source}; fix its permissions or remove it (a policy file that cannot be read is never ignored)",
        path.display()
    )]
    Read {
        /// The layer the file belongs to.
        layer: Layer,
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The file was read but is not a valid policy.
    #[error("{}:{line}:{column}: {problem}", path.display())]
    Invalid {
        /// The layer the file belongs to.
        layer: Layer,
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending key or value.
        line: usize,
        /// 1-based column (in characters) of the offending key or value.
        column: usize,
        /// What is wrong and how to fix it.
        problem: Problem,
    },
    /// The installation requires an organisation policy and there is none.
    #[error(
        "{}: this installation requires an organisation policy ({why}) and the file does not exist; install the team's policy there, or ask your administrator (until then every capability is denied)",
        path.display()
    )]
    Missing {
        /// Where the organisation policy should be.
        path: PathBuf,
        /// What declared it required.
        why: String,
    },
}

impl PolicyError {
    /// The layer of the rejected file.
    pub fn layer(&self) -> Layer {
        match self {
            PolicyError::Read { layer, .. } | PolicyError::Invalid { layer, .. } => *layer,
            PolicyError::Missing { .. } => Layer::Organisation,
        }
    }

    /// The rejected file.
    pub fn path(&self) -> &Path {
        match self {
            PolicyError::Read { path, .. }
            | PolicyError::Invalid { path, .. }
            | PolicyError::Missing { path, .. } => path,
        }
    }

    /// `(line, column)`, both 1-based, when the error is inside the file.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            PolicyError::Read { .. } | PolicyError::Missing { .. } => None,
            PolicyError::Invalid { line, column, .. } => Some((*line, *column)),
        }
    }

    /// What is wrong with the content, when the file could be read.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            PolicyError::Read { .. } | PolicyError::Missing { .. } => None,
            PolicyError::Invalid { problem, .. } => Some(problem),
        }
    }
}

/// What is wrong inside a policy file. Every message names the key and says
/// what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Problem {
    /// The file is not valid TOML.
    #[error("invalid TOML: {message}; fix the syntax (see https://toml.io)")]
    Syntax {
        /// The parser's message.
        message: String,
    },
    /// A key that policy files do not have (often a typo).
    #[error("unknown key `{key}` in {table}; expected one of: {expected}")]
    UnknownKey {
        /// The full dotted key, e.g. `plugins.completion.memroy_mib`.
        key: String,
        /// The table it appears in, e.g. `[plugins.completion]`.
        table: String,
        /// The keys that table accepts.
        expected: String,
    },
    /// A value of the wrong TOML type.
    #[error("`{key}` must be {expected}, not {found}")]
    WrongType {
        /// The full dotted key.
        key: String,
        /// What the key takes, e.g. `an array of strings`.
        expected: &'static str,
        /// The TOML type that was found.
        found: &'static str,
    },
    /// A word outside the fixed set a key takes.
    #[error("`{key}`: `{value}` is not allowed here; use one of: {expected}")]
    UnknownWord {
        /// The full dotted key.
        key: String,
        /// The value as written.
        value: String,
        /// The words the key takes.
        expected: String,
    },
    /// A path that must stay inside a folder and does not.
    #[error("`{key}`: {hint}")]
    Confined {
        /// The full dotted key.
        key: String,
        /// Where it must be and how to write it.
        hint: &'static str,
    },
    /// A capability name outside the fixed set.
    #[error("`{key}`: `{value}` is not a capability; use one of: model, workspace.read, log")]
    UnknownCapability {
        /// The full dotted key.
        key: String,
        /// The rejected name.
        value: String,
    },
    /// A provider name outside the fixed set.
    #[error("`{key}`: `{value}` is not a provider; use one of: anthropic, bedrock, openai, local")]
    UnknownProvider {
        /// The full dotted key.
        key: String,
        /// The rejected name.
        value: String,
    },
    /// A glob that does not compile, or a path glob that leaves the workspace.
    #[error("`{key}`: `{pattern}` is not a valid pattern: {reason}")]
    BadGlob {
        /// The full dotted key.
        key: String,
        /// The rejected pattern.
        pattern: String,
        /// Why, and what to write instead.
        reason: String,
    },
    /// A pin that is not a sha256 digest.
    #[error(
        "`{key}`: `{value}` is not a sha256 digest; write the 64 lowercase hex characters that `cordon plugins list` shows"
    )]
    BadDigest {
        /// The full dotted key.
        key: String,
        /// The rejected value.
        value: String,
    },
    /// A number outside its sane range.
    #[error("`{key}` = {value} is out of range; use a whole number from {min} to {max}")]
    OutOfRange {
        /// The full dotted key.
        key: String,
        /// The rejected value as written.
        value: String,
        /// Smallest accepted value.
        min: u64,
        /// Largest accepted value.
        max: u64,
    },
    /// A string that must not be empty.
    #[error("`{key}` must not be empty; {hint}")]
    Empty {
        /// The full dotted key.
        key: String,
        /// What to write instead.
        hint: &'static str,
    },
    /// A plugin table whose name cannot be a plugin name.
    #[error(
        "`plugins.{name}`: `{name}` is not a plugin name; use the name `cordon plugins list` shows (1-64 lowercase letters, digits and `-`), or \"*\" for the default rule"
    )]
    BadPluginName {
        /// The rejected name.
        name: String,
    },
    /// A required key is missing.
    #[error("{table} needs `{key}`; {hint}")]
    MissingKey {
        /// The missing key.
        key: &'static str,
        /// The table that needs it.
        table: &'static str,
        /// What to write.
        hint: &'static str,
    },
}

impl Problem {
    /// The full dotted key the problem is about, when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Problem::Syntax { .. } | Problem::BadPluginName { .. } => None,
            Problem::MissingKey { key, .. } => Some(key),
            Problem::UnknownKey { key, .. }
            | Problem::WrongType { key, .. }
            | Problem::UnknownCapability { key, .. }
            | Problem::UnknownProvider { key, .. }
            | Problem::BadGlob { key, .. }
            | Problem::BadDigest { key, .. }
            | Problem::OutOfRange { key, .. }
            | Problem::Empty { key, .. }
            | Problem::UnknownWord { key, .. }
            | Problem::Confined { key, .. } => Some(key),
        }
    }
}

/// Every error found while loading the policy layers (all files are checked,
/// so `cordon policy check` can show every problem at once).
#[derive(Debug, Default)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl PolicyErrors {
    /// The errors, in file order and then position order.
    pub fn iter(&self) -> std::slice::Iter<'_, PolicyError> {
        self.0.iter()
    }

    /// How many errors there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (a `PolicyErrors` returned as an error never is).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.len() {
            0 => f.write_str("no policy errors"),
            1 => write!(f, "{}", self.0[0]),
            n => {
                write!(
                    f,
                    "{n} policy errors; Cordon refuses whatever is not granted until they are fixed:"
                )?;
                for e in &self.0 {
                    write!(f, "\n  {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for PolicyErrors {}

impl IntoIterator for PolicyErrors {
    type Item = PolicyError;
    type IntoIter = std::vec::IntoIter<PolicyError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a PolicyErrors {
    type Item = &'a PolicyError;
    type IntoIter = std::slice::Iter<'a, PolicyError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}
