//! Glob lists: workspace path patterns and name patterns.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

/// Workspace-relative path patterns (`workspace_read`, `content.exclude`).
///
/// Semantics, close to `.gitignore` and to GitHub Copilot's content
/// exclusion:
/// - paths and patterns use `/`; `*` and `?` never cross a `/`, `**` does;
/// - a pattern without a `/` matches a file or folder name at any depth
///   (`*.pem` is `**/*.pem`, `.env` is `**/.env`);
/// - a pattern with a `/` before its end is anchored at the workspace root
///   (`secrets/**`, `src/*.rs`); a trailing `/` is ignored, so `build/` is
///   `build` and matches a `build` folder at any depth, as in `.gitignore`;
/// - a pattern that matches a folder matches everything below it
///   (`secrets` covers `secrets/a/b.txt`);
/// - `**/x` also matches `x` at the root.
#[derive(Debug, Clone)]
pub(crate) struct PathPatterns {
    sources: Vec<String>,
    set: GlobSet,
}

impl PathPatterns {
    /// Compiles `patterns`; on failure, the index of the bad pattern and why.
    pub(crate) fn compile(patterns: &[String]) -> Result<Self, (usize, String)> {
        let mut builder = GlobSetBuilder::new();
        for (i, pattern) in patterns.iter().enumerate() {
            builder.add(path_glob(pattern).map_err(|reason| (i, reason))?);
        }
        let set = builder.build().map_err(|e| (0, e.to_string()))?;
        Ok(PathPatterns {
            sources: patterns.to_vec(),
            set,
        })
    }

    /// The patterns as written.
    pub(crate) fn sources(&self) -> &[String] {
        &self.sources
    }

    /// The first pattern (as written) that matches `path` or one of its
    /// parent folders. `path` must be normalised (see [`normalise`]).
    pub(crate) fn first_match(&self, path: &str) -> Option<&str> {
        if self.sources.is_empty() {
            return None;
        }
        let mut best: Option<usize> = None;
        let mut consider = |candidate: &str| {
            if let Some(&i) = self.set.matches(candidate).first() {
                best = Some(best.map_or(i, |b: usize| b.min(i)));
            }
        };
        for (i, b) in path.bytes().enumerate() {
            if b == b'/' {
                consider(&path[..i]);
            }
        }
        consider(path);
        best.map(|i| self.sources[i].as_str())
    }
}

/// Checks and compiles one path pattern.
fn path_glob(pattern: &str) -> Result<Glob, String> {
    let trimmed = pattern.strip_prefix("./").unwrap_or(pattern);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err("a pattern must not be empty; write `**` for the whole workspace".into());
    }
    if trimmed.starts_with('/') {
        return Err(
            "patterns are relative to the workspace root; drop the leading `/` (a pattern with a `/` inside is anchored at the root, one without matches at any depth)"
                .into(),
        );
    }
    if trimmed.split('/').any(|c| c == "..") {
        return Err(
            "`..` cannot appear in a pattern; patterns only match inside the workspace".into(),
        );
    }
    let full = if trimmed.contains('/') {
        trimmed.to_owned()
    } else {
        format!("**/{trimmed}")
    };
    GlobBuilder::new(&full)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| format!("{}; check brackets and braces", e.kind()))
}

/// Normalises a workspace-relative path for matching: `/` separators, no
/// leading `./`, no empty or `.` components. Returns `None` for a path that
/// is absolute or contains `..` (the host must resolve those first).
pub(crate) fn normalise(path: &str) -> Option<String> {
    #[cfg(windows)]
    let path = &path.replace('\\', "/");
    if path.starts_with('/') {
        return None;
    }
    let mut out = String::with_capacity(path.len());
    for component in path.split('/') {
        match component {
            "" | "." => {}
            ".." => return None,
            c => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(c);
            }
        }
    }
    Some(out)
}

/// Name patterns (`backends`, `models`, `regions`): `*` matches any run of
/// characters (including `/` and `:`, which model ids and ARNs contain), `?`
/// one character, `[...]` a class, `{a,b}` alternatives. Case-sensitive.
#[derive(Debug, Clone)]
pub(crate) struct NamePatterns {
    sources: Vec<String>,
    set: GlobSet,
}

impl NamePatterns {
    /// Compiles `patterns`; on failure, the index of the bad pattern and why.
    pub(crate) fn compile(patterns: &[String]) -> Result<Self, (usize, String)> {
        let mut builder = GlobSetBuilder::new();
        for (i, pattern) in patterns.iter().enumerate() {
            if pattern.trim().is_empty() {
                return Err((
                    i,
                    "a pattern must not be empty; write `*` to allow any".into(),
                ));
            }
            let glob = GlobBuilder::new(pattern)
                .literal_separator(false)
                .backslash_escape(true)
                .build()
                .map_err(|e| (i, format!("{}; check brackets and braces", e.kind())))?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| (0, e.to_string()))?;
        Ok(NamePatterns {
            sources: patterns.to_vec(),
            set,
        })
    }

    /// The patterns as written.
    pub(crate) fn sources(&self) -> &[String] {
        &self.sources
    }

    /// Whether any pattern matches `name`.
    pub(crate) fn is_match(&self, name: &str) -> bool {
        self.set.is_match(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(p: &[&str]) -> PathPatterns {
        PathPatterns::compile(&p.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn gitignore_like_matching() {
        let p = pats(&["**/.env", "*.pem", "secrets/**", "build/", "src/*.rs"]);
        assert_eq!(p.first_match(".env"), Some("**/.env"));
        assert_eq!(p.first_match("a/b/.env"), Some("**/.env"));
        assert_eq!(p.first_match("a/.envrc"), None);
        assert_eq!(p.first_match("key.pem"), Some("*.pem"));
        assert_eq!(p.first_match("deep/er/key.pem"), Some("*.pem"));
        assert_eq!(p.first_match("secrets/x"), Some("secrets/**"));
        assert_eq!(p.first_match("a/secrets/x"), None);
        assert_eq!(p.first_match("build/out/x.o"), Some("build/"));
        assert_eq!(p.first_match("src/main.rs"), Some("src/*.rs"));
        assert_eq!(p.first_match("src/a/main.rs"), None);
    }

    #[test]
    fn normalise_paths() {
        assert_eq!(normalise("./a//b/./c").as_deref(), Some("a/b/c"));
        assert_eq!(normalise("/etc/passwd"), None);
        assert_eq!(normalise("a/../b"), None);
    }
}
