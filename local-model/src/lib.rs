//! Cordon's built-in offline `local` model: a statistical code model built from
//! the workspace's own files.
//!
//! The model counts which token follows each short run of tokens (n-grams,
//! the "naturalness of software" observation that code is repetitive and
//! predictable) and completes code by following the most likely continuation,
//! backing off to shorter contexts when a long one was never seen. It needs no
//! network and no key, indexes tens of thousands of lines in a fraction of a
//! second, answers in microseconds, and keeps its memory under a configured
//! bound. It only ever proposes text it has seen in the workspace, and
//! proposes nothing when it is unsure.
//!
//! ```
//! use cordon_local_model::{CompletionRequest, LocalModel, ModelConfig};
//!
//! let mut model = LocalModel::new(ModelConfig::default());
//! model.update_file("src/a.rs", "fn a() {\n    let mut buf = String::new();\n}\n");
//! model.update_file("src/b.rs", "fn b() {\n    let mut buf = String::new();\n}\n");
//! let done = model.complete(&CompletionRequest {
//!     prefix: "fn c() {\n    let mut buf = ",
//!     suffix: "\n}\n",
//!     max_tokens: 16,
//!     stop: &[],
//!     document: None,
//! });
//! assert_eq!(done.text, "String::new();");
//! ```

#![warn(missing_docs)]

mod candidates;
mod members;
mod model;
mod ngram;
mod predict;
mod tokenize;
mod vocab;
mod walk;
mod watch;

use std::path::PathBuf;

pub use candidates::Candidate;
pub use model::{Exclusion, LocalModel};
pub use watch::{Watcher, watch};

/// Limits and shape of a [`LocalModel`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelConfig {
    /// Files larger than this many bytes are not indexed (generated or
    /// vendored files would swamp the statistics). Default 1 MiB.
    pub max_file_bytes: u64,
    /// At most this many files are indexed. Default 20 000.
    pub max_files: usize,
    /// At most this many n-gram contexts are stored; this bounds the model's
    /// memory (about 50 bytes per context plus the vocabulary, which is capped
    /// at one key per eight contexts). Default 1 000 000.
    pub max_contexts: usize,
    /// The n of the n-grams: predictions use up to `order - 1` previous
    /// tokens. Clamped to 1..=8. Default 4.
    pub order: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            max_file_bytes: 1 << 20,
            max_files: 20_000,
            max_contexts: 1_000_000,
            order: 4,
        }
    }
}

/// A completion (or fill-in-the-middle) request.
#[derive(Clone, Copy, Debug)]
pub struct CompletionRequest<'a> {
    /// Document text before the cursor (only its last few lines are read).
    pub prefix: &'a str,
    /// Document text after the cursor (only its first lines are read).
    pub suffix: &'a str,
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Generation stops before the first occurrence of any of these.
    pub stop: &'a [String],
    /// Workspace-relative path of the document being completed, if it is a
    /// workspace file. Its indexed copy is ignored for this request (it may
    /// hold the unfinished word at the cursor, or the text after it); the
    /// model learns from `prefix` instead. Nothing at or after the cursor
    /// ever teaches the model.
    pub document: Option<&'a str>,
}

/// Why generation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The model finished: end of line or block, reached the text after the
    /// cursor, or was not confident enough to go on (possibly before writing
    /// anything).
    End,
    /// `max_tokens` tokens were generated.
    MaxTokens,
    /// A stop sequence was generated (and cut off).
    StopSequence,
}

/// A completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// Text to insert at the cursor; empty when the model has nothing
    /// confident to say.
    pub text: String,
    /// Tokens generated (those that made it into `text`).
    pub tokens: usize,
    /// Why generation ended.
    pub stopped_by: StopReason,
    /// Tokens of the prefix and suffix the model read (the windows around the
    /// cursor, not the whole document).
    pub input_tokens: usize,
}

/// Size of a model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Files indexed.
    pub files: usize,
    /// Tokens indexed, over all files.
    pub tokens: usize,
    /// N-gram contexts stored (at most [`ModelConfig::max_contexts`]).
    pub contexts: usize,
    /// Approximate heap bytes held by the model.
    pub approx_bytes: usize,
    /// Context occurrences not stored because the table was full (cumulative).
    pub dropped_contexts: usize,
    /// Files passed over for size, encoding or the file limit (cumulative).
    pub skipped_files: usize,
}

/// Errors of indexing and watching.
#[derive(Debug, thiserror::Error)]
pub enum LocalModelError {
    /// The workspace root is missing or not a directory.
    #[error("workspace root {path} is not a readable directory")]
    NotADirectory {
        /// The root given.
        path: PathBuf,
        /// What reading it said.
        #[source]
        source: std::io::Error,
    },
    /// The file watcher could not be set up.
    #[error("cannot watch {path}")]
    Watch {
        /// The directory being watched.
        path: PathBuf,
        /// What the watcher said.
        #[source]
        source: notify::Error,
    },
    /// The background thread applying file changes could not be started.
    #[error("cannot start the file-watch thread")]
    Thread(#[source] std::io::Error),
}
