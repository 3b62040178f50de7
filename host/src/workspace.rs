//! Read-only access to the files of one workspace.
//!
//! Every path is resolved (`..` and symlinks) before it is used, and must
//! stay under the workspace root. Plugins reach this module only through the
//! gate; the gate decides *whether* a read is allowed, this module makes sure
//! a read can only ever see the workspace.

use std::path::{Component, Path, PathBuf};

/// Files a workspace root is recognised by, nearest first.
const ROOT_MARKERS: &[&str] = &[
    ".cordon",
    ".git",
    "Cargo.toml",
    "package.json",
    "pyproject.toml",
    "go.mod",
];

/// Largest file `read` returns.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A workspace: a root folder.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

/// Why a workspace read failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("`{0}` is outside the workspace")]
    Outside(String),
    #[error("`{0}` is not a workspace-relative path")]
    NotRelative(String),
    #[error("`{path}` not found")]
    NotFound { path: String },
    #[error("`{path}` is {bytes} bytes, more than the {max}-byte limit")]
    TooLarge { path: String, bytes: u64, max: u64 },
    #[error("`{0}` is not UTF-8 text")]
    NotText(String),
    #[error("`{0}` is not a valid glob: {1}")]
    BadGlob(String, String),
    #[error("reading `{path}`: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl Workspace {
    /// The workspace rooted at `root` (which must exist).
    pub fn new(root: &Path) -> std::io::Result<Self> {
        Ok(Workspace {
            root: root.canonicalize()?,
        })
    }

    /// The canonical root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The workspace-relative, `/`-separated path of `path`, if it is inside.
    /// A path that does not exist (an unsaved editor buffer) is resolved
    /// through its nearest existing folder, so that exclusion rules match
    /// it by where it would be saved.
    pub fn relative(&self, path: &Path) -> Option<String> {
        let canonical = match path.canonicalize() {
            Ok(canonical) => canonical,
            Err(_) => {
                let mut missing = Vec::new();
                let mut existing = path;
                loop {
                    if std::fs::symlink_metadata(existing).is_ok() {
                        break;
                    }
                    missing.push(existing.file_name()?);
                    existing = existing.parent()?;
                }
                let mut canonical = existing.canonicalize().ok()?;
                for name in missing.iter().rev() {
                    if *name == ".." {
                        return None;
                    }
                    canonical.push(name);
                }
                canonical
            }
        };
        let rel = canonical.strip_prefix(&self.root).ok()?;
        Some(to_slash(rel))
    }

    /// Resolve a plugin-supplied relative path to a file inside the root.
    pub fn resolve(&self, rel: &str) -> Result<PathBuf, WorkspaceError> {
        let candidate = Path::new(rel);
        if rel.is_empty()
            || candidate
                .components()
                .any(|c| matches!(c, Component::RootDir | Component::Prefix(_)))
        {
            return Err(WorkspaceError::NotRelative(rel.to_owned()));
        }
        let joined = self.root.join(candidate);
        let resolved = match joined.canonicalize() {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Do not reveal whether something exists outside the root:
                // a path through a link that does not resolve is denied
                // whatever the link points at.
                return Err(
                    if lexically_inside(candidate) && !through_link(&self.root, candidate) {
                        WorkspaceError::NotFound {
                            path: rel.to_owned(),
                        }
                    } else {
                        WorkspaceError::Outside(rel.to_owned())
                    },
                );
            }
            Err(source) => {
                return Err(WorkspaceError::Io {
                    path: rel.to_owned(),
                    source,
                });
            }
        };
        if !resolved.starts_with(&self.root) {
            return Err(WorkspaceError::Outside(rel.to_owned()));
        }
        Ok(resolved)
    }

    /// The UTF-8 contents of the file at `rel`.
    pub fn read(&self, rel: &str) -> Result<String, WorkspaceError> {
        let path = self.resolve(rel)?;
        let io = |source| WorkspaceError::Io {
            path: rel.to_owned(),
            source,
        };
        let meta = std::fs::metadata(&path).map_err(io)?;
        if !meta.is_file() {
            return Err(WorkspaceError::NotFound {
                path: rel.to_owned(),
            });
        }
        if meta.len() > MAX_FILE_BYTES {
            return Err(WorkspaceError::TooLarge {
                path: rel.to_owned(),
                bytes: meta.len(),
                max: MAX_FILE_BYTES,
            });
        }
        let bytes = std::fs::read(&path).map_err(io)?;
        String::from_utf8(bytes).map_err(|_| WorkspaceError::NotText(rel.to_owned()))
    }

    /// Sorted relative paths of the files matching `glob`, at most `limit`.
    /// Ignored (`.gitignore`) and hidden files are left out.
    pub fn list(&self, glob: &str, limit: usize) -> Result<Vec<String>, WorkspaceError> {
        // A plugin's glob is untrusted: bound it before the matcher compiles
        // it (a glob of many thousand stars exhausts globset).
        let wildcards = glob
            .bytes()
            .filter(|b| matches!(b, b'*' | b'?' | b'[' | b'{'))
            .count();
        if glob.len() > MAX_GLOB_BYTES || wildcards > MAX_GLOB_WILDCARDS {
            return Err(WorkspaceError::BadGlob(
                format!("{}…", glob.chars().take(40).collect::<String>()),
                format!(
                    "a glob may have at most {MAX_GLOB_BYTES} bytes and {MAX_GLOB_WILDCARDS} wildcards"
                ),
            ));
        }
        let matcher = globset::GlobBuilder::new(glob)
            .literal_separator(true)
            .build()
            .map_err(|e| WorkspaceError::BadGlob(glob.to_owned(), e.kind().to_string()))?
            .compile_matcher();
        let mut found = Vec::new();
        // Symlinks are not followed: a link may point outside the root.
        for entry in ignore::WalkBuilder::new(&self.root)
            .follow_links(false)
            .build()
        {
            let Ok(entry) = entry else { continue };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            let Ok(rel) = entry.path().strip_prefix(&self.root) else {
                continue;
            };
            let rel = to_slash(rel);
            if matcher.is_match(&rel) {
                found.push(rel);
            }
        }
        found.sort();
        found.truncate(limit);
        Ok(found)
    }
}

/// Longest glob `list` accepts.
const MAX_GLOB_BYTES: usize = 1024;
/// Most wildcards (`*`, `?`, `[`, `{`) in one glob.
const MAX_GLOB_WILDCARDS: usize = 64;

/// True when `rel` never climbs above its starting folder.
fn lexically_inside(rel: &Path) -> bool {
    let mut depth = 0usize;
    for c in rel.components() {
        match c {
            Component::ParentDir => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
            }
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    true
}

fn to_slash(rel: &Path) -> String {
    rel.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The workspace root for `file`: the nearest ancestor folder holding one of
/// the usual root markers, else the file's own folder.
pub fn find_root(file: &Path) -> PathBuf {
    let start = file.parent().unwrap_or(Path::new("."));
    for dir in start.ancestors() {
        if ROOT_MARKERS.iter().any(|m| dir.join(m).exists()) {
            return dir.to_path_buf();
        }
    }
    start.to_path_buf()
}

/// Whether an existing prefix of `rel` under `root` is a symbolic link.
fn through_link(root: &Path, rel: &Path) -> bool {
    let mut at = root.to_owned();
    for part in rel.components() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("ws/src")).unwrap();
        std::fs::write(dir.path().join("ws/src/lib.rs"), "pub fn a() {}\n").unwrap();
        std::fs::write(dir.path().join("ws/src/bin.dat"), [0xff, 0xfe]).unwrap();
        std::fs::write(dir.path().join("secret.txt"), "outside").unwrap();
        let ws = Workspace::new(&dir.path().join("ws")).unwrap();
        (dir, ws)
    }

    #[test]
    fn reads_files_inside_the_root() {
        let (_dir, ws) = fixture();
        assert_eq!(ws.read("src/lib.rs").unwrap(), "pub fn a() {}\n");
        assert!(matches!(
            ws.read("src/bin.dat"),
            Err(WorkspaceError::NotText(_))
        ));
        assert!(matches!(
            ws.read("src/none.rs"),
            Err(WorkspaceError::NotFound { .. })
        ));
    }

    #[test]
    fn traversal_and_absolute_paths_are_refused() {
        let (_dir, ws) = fixture();
        assert!(matches!(
            ws.read("../secret.txt"),
            Err(WorkspaceError::Outside(_))
        ));
        assert!(matches!(
            ws.read("src/../../secret.txt"),
            Err(WorkspaceError::Outside(_))
        ));
        assert!(matches!(
            ws.read("../nothing"),
            Err(WorkspaceError::Outside(_))
        ));
        assert!(matches!(
            ws.read("/etc/passwd"),
            Err(WorkspaceError::NotRelative(_))
        ));
        assert!(matches!(ws.read(""), Err(WorkspaceError::NotRelative(_))));
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_of_the_root_are_refused() {
        let (dir, ws) = fixture();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), dir.path().join("ws/link"))
            .unwrap();
        assert!(matches!(ws.read("link"), Err(WorkspaceError::Outside(_))));
        assert!(!ws.list("**", 100).unwrap().contains(&"link".to_owned()));
    }

    #[cfg(unix)]
    #[test]
    fn a_link_answers_the_same_for_existing_and_missing_files_outside() {
        let (dir, ws) = fixture();
        let outside = dir.path().join("secret.txt");
        std::os::unix::fs::symlink(&outside, dir.path().join("ws/there")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("missing.txt"), dir.path().join("ws/absent"))
            .unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("ws/up")).unwrap();
        let message = |rel: &str| match ws.read(rel) {
            Err(e @ WorkspaceError::Outside(_)) => e.to_string().replace(rel, "X"),
            other => panic!("{rel}: {other:?}"),
        };
        assert_eq!(message("there"), message("absent"));
        assert_eq!(message("up/secret.txt"), message("up/missing.txt"));
    }

    #[test]
    fn an_unsaved_file_is_placed_where_it_would_be_saved() {
        let (dir, ws) = fixture();
        assert_eq!(
            ws.relative(&dir.path().join("ws/src/secrets/new.rs"))
                .as_deref(),
            Some("src/secrets/new.rs")
        );
        assert_eq!(ws.relative(&dir.path().join("elsewhere/new.rs")), None);
    }

    #[test]
    fn lists_by_glob() {
        let (_dir, ws) = fixture();
        assert_eq!(
            ws.list("src/*.rs", 10).unwrap(),
            vec!["src/lib.rs".to_owned()]
        );
        assert_eq!(ws.list("**", 1).unwrap().len(), 1);
        assert!(matches!(
            ws.list("src/[", 10),
            Err(WorkspaceError::BadGlob(..))
        ));
        // A hostile glob is refused before it is compiled.
        for glob in ["*".repeat(100_000), "a".repeat(5000), "{a,b}".repeat(100)] {
            match ws.list(&glob, 10) {
                Err(e @ WorkspaceError::BadGlob(..)) => {
                    assert!(e.to_string().len() < 300, "{e}")
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn root_is_the_nearest_marked_folder() {
        let (dir, _ws) = fixture();
        std::fs::write(dir.path().join("ws/Cargo.toml"), "").unwrap();
        assert_eq!(
            find_root(&dir.path().join("ws/src/lib.rs")),
            dir.path().join("ws")
        );
    }
}
