//! The persisted position of one export: how far a log has been shipped to
//! one destination.
//!
//! A cursor is a small JSON file in Cordon's data folder
//! (`$XDG_DATA_HOME/cordon/export/`), one per log and destination, named by
//! the sha256 of both. It holds the byte offset just past the last line the
//! collector accepted, that line's number, where it starts and the sha256 of
//! its bytes. It is written (to a temporary file, then renamed) only after
//! the collector answered with success, so a crash or a refused request
//! costs a resend, never a record: delivery is at least once. Before
//! resuming, the line under the cursor is read again and hashed: a log that
//! was rotated or rewritten is reported instead of being shipped from the
//! middle of another file.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ExportError;

/// How far a log has been shipped to one destination.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The log file (as configured).
    pub log: PathBuf,
    /// The destination's endpoint.
    pub endpoint: String,
    /// Byte offset just past the last shipped line (and its newline).
    pub offset: u64,
    /// 1-based number of the last shipped line (0: nothing shipped yet).
    pub line: u64,
    /// Byte offset where the last shipped line starts.
    pub start: u64,
    /// sha256 (hex) of the last shipped line's bytes, without its newline.
    pub hash: Option<String>,
}

/// The folder holding the cursors: `$XDG_DATA_HOME/cordon/export`.
pub fn folder() -> Option<PathBuf> {
    dirs::data_dir().map(|d| d.join("cordon").join("export"))
}

/// The cursor file for `log` shipped to `endpoint`.
pub fn path_for(log: &Path, endpoint: &str) -> Option<PathBuf> {
    let log = log.canonicalize().unwrap_or_else(|_| log.to_owned());
    let mut hasher = Sha256::new();
    hasher.update(log.as_os_str().as_encoded_bytes());
    hasher.update(b"\n");
    hasher.update(endpoint.as_bytes());
    Some(folder()?.join(format!("{}.json", hex::encode(hasher.finalize()))))
}

impl Cursor {
    /// The cursor saved at `path`, or a fresh one (nothing shipped).
    pub fn load(path: &Path, log: &Path, endpoint: &str) -> Result<Cursor, ExportError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ExportError::Cursor {
                path: path.to_owned(),
                reason: format!("it is not a cursor ({e})"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Cursor {
                log: log.to_owned(),
                endpoint: endpoint.to_owned(),
                ..Cursor::default()
            }),
            Err(e) => Err(ExportError::Cursor {
                path: path.to_owned(),
                reason: e.to_string(),
            }),
        }
    }

    /// Writes the cursor to `path` atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), ExportError> {
        let err = |e: std::io::Error| ExportError::Cursor {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(err)?;
        }
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let body = serde_json::to_vec_pretty(self).map_err(std::io::Error::other);
        std::fs::write(&tmp, body.map_err(err)?).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }

    /// Checks that the log still holds the last shipped line where the
    /// cursor says; `Err(LogChanged)` if it was truncated or rewritten.
    pub fn check(&self, file: &mut std::fs::File) -> Result<(), ExportError> {
        use std::io::{Read, Seek, SeekFrom};
        let Some(hash) = &self.hash else {
            return Ok(());
        };
        let changed = || ExportError::LogChanged {
            log: self.log.clone(),
            line: self.line,
        };
        let len = file
            .metadata()
            .map_err(|e| ExportError::log(&self.log, e))?
            .len();
        if self.offset > len || self.start >= self.offset {
            return Err(changed());
        }
        let mut line = vec![0; (self.offset - self.start) as usize];
        file.seek(SeekFrom::Start(self.start))
            .and_then(|_| file.read_exact(&mut line))
            .map_err(|e| ExportError::log(&self.log, e))?;
        let content = line.strip_suffix(b"\n").ok_or_else(changed)?;
        if hex::encode(Sha256::digest(content)) == *hash {
            Ok(())
        } else {
            Err(changed())
        }
    }
}
