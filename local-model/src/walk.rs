//! Which files make up the workspace's code, for the indexer and the watcher
//! alike: the `ignore` crate's walk (`.gitignore`, `.ignore`, hidden entries),
//! minus build and dependency directories, keeping source-like text files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use ignore::{Match, WalkBuilder};

/// Directories of build output or third-party code, skipped even when no
/// ignore file mentions them: indexing them would teach the model someone
/// else's code, or generated code, instead of the workspace's.
const SKIP_DIRS: &[&str] = &["target", "node_modules", "__pycache__", "venv", "dist"];

/// Extensions of files worth learning from.
const EXTENSIONS: &[&str] = &[
    "rs", "py", "pyi", "js", "mjs", "cjs", "ts", "mts", "cts", "tsx", "jsx", "go", "java", "c",
    "h", "cpp", "hpp", "cc", "hh", "cxx", "hxx", "cs", "fs", "rb", "php", "swift", "kt", "kts",
    "scala", "lua", "sh", "bash", "zsh", "fish", "ps1", "toml", "json", "jsonc", "yaml", "yml",
    "md", "rst", "zig", "ex", "exs", "erl", "hrl", "hs", "ml", "mli", "sql", "html", "htm", "css",
    "scss", "sass", "less", "vue", "svelte", "dart", "r", "jl", "nim", "v", "sv", "vhd", "proto",
    "graphql", "gql", "wit", "wat", "tf", "nix", "clj", "cljs", "elm", "gradle", "groovy", "pl",
    "pm", "m", "mm", "d", "cmake", "xml", "ini", "cfg", "tex",
];

/// Extension-less names that are code.
const NAMES: &[&str] = &[
    "Makefile",
    "makefile",
    "GNUmakefile",
    "Dockerfile",
    "Justfile",
    "justfile",
    "Rakefile",
    "Gemfile",
];

/// Generated files with a code extension.
const SKIP_NAMES: &[&str] = &["package-lock.json", "pnpm-lock.yaml", "npm-shrinkwrap.json"];

/// Whether a file with this name is indexed (before size and encoding checks).
pub(crate) fn is_source_name(name: &str) -> bool {
    if NAMES.contains(&name) {
        return true;
    }
    if SKIP_NAMES.contains(&name) || name.ends_with(".min.js") || name.ends_with(".min.css") {
        return false;
    }
    name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty() && EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
    })
}

/// What the walk found.
pub(crate) enum Found<'a> {
    /// A directory that is part of the workspace (the start included).
    Dir(&'a Path),
    /// A source-like file (by name): its path relative to the root
    /// (`/`-separated) and its path. Reading it is up to the caller, which
    /// may not want the text (see [`read_source`]).
    File(&'a str, &'a Path),
}

/// Walks `start` (the root or a directory under it), calling `f` for every
/// directory and source-like file the model should know about.
pub(crate) fn walk(root: &Path, start: &Path, mut f: impl FnMut(Found<'_>)) {
    let mut builder = WalkBuilder::new(start);
    builder
        .hidden(true)
        .ignore(true)
        .git_ignore(true)
        .git_exclude(true)
        // The user's global excludes and ignore files above the root vary by
        // machine; leaving them out keeps the walk and the watcher's rules
        // (see `IgnoreRules`) the same everywhere.
        .git_global(false)
        .parents(false)
        // Respect .gitignore even in a workspace that is not a git checkout.
        .require_git(false)
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(|entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            !(is_dir
                && entry.depth() > 0
                && entry
                    .file_name()
                    .to_str()
                    .is_some_and(|n| SKIP_DIRS.contains(&n)))
        });
    for entry in builder.build().flatten() {
        let Some(file_type) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if file_type.is_dir() {
            f(Found::Dir(path));
            continue;
        }
        if !file_type.is_file() || !entry.file_name().to_str().is_some_and(is_source_name) {
            continue;
        }
        if let Some(rel) = rel_path(root, path) {
            f(Found::File(&rel, path));
        }
    }
}

/// The text of a source file, or `None` if it is over `max_bytes`, not UTF-8,
/// binary-looking (contains NUL) or unreadable.
pub(crate) fn read_source(path: &Path, max_bytes: u64) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > max_bytes {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() as u64 > max_bytes || bytes.contains(&0) {
        return None;
    }
    String::from_utf8(bytes).ok()
}

/// `path` relative to `root`, `/`-separated; `None` outside the root or for a
/// non-UTF-8 name.
pub(crate) fn rel_path(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let mut out = String::new();
    for part in rel.components() {
        let name = part.as_os_str().to_str()?;
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(name);
    }
    (!out.is_empty()).then_some(out)
}

/// The walk's rules applied to one path at a time, for the watcher: an event
/// names a single path, and re-walking the tree to judge it would be far too
/// slow. Ignore files are read per directory and cached.
pub(crate) struct IgnoreRules {
    root: PathBuf,
    cache: HashMap<PathBuf, Option<Gitignore>>,
}

impl IgnoreRules {
    /// Rules for the workspace at `root`.
    pub(crate) fn new(root: &Path) -> Self {
        IgnoreRules {
            root: root.to_path_buf(),
            cache: HashMap::new(),
        }
    }

    /// Forgets the cached ignore files of `dir` (one of them changed).
    pub(crate) fn invalidate(&mut self, dir: &Path) {
        self.cache.remove(dir);
    }

    /// Whether the walk would leave out `path` (a directory if `is_dir`, else
    /// a file, judged by name as well).
    pub(crate) fn is_ignored(&mut self, path: &Path, is_dir: bool) -> bool {
        let Ok(rel) = path.strip_prefix(&self.root) else {
            return true;
        };
        let parts: Vec<&str> = match rel.components().map(|c| c.as_os_str().to_str()).collect() {
            Some(parts) => parts,
            None => return true,
        };
        for (i, name) in parts.iter().enumerate() {
            let names_dir = i + 1 < parts.len() || is_dir;
            if name.starts_with('.') || (names_dir && SKIP_DIRS.contains(name)) {
                return true;
            }
        }
        if !is_dir && !parts.last().is_some_and(|n| is_source_name(n)) {
            return true;
        }
        // Deepest ignore file first: it overrides its parents, as in git.
        let mut dir = path.parent();
        while let Some(d) = dir {
            if !d.starts_with(&self.root) {
                break;
            }
            if let (Some(matcher), Ok(below)) = (self.matcher(d), path.strip_prefix(d)) {
                match matcher.matched_path_or_any_parents(below, is_dir) {
                    Match::Ignore(_) => return true,
                    Match::Whitelist(_) => return false,
                    Match::None => {}
                }
            }
            dir = d.parent();
        }
        false
    }

    fn matcher(&mut self, dir: &Path) -> Option<&Gitignore> {
        let root = &self.root;
        self.cache
            .entry(dir.to_path_buf())
            .or_insert_with(|| {
                let mut builder = GitignoreBuilder::new(dir);
                // Later files take precedence, as in the walk: exclude, then
                // .gitignore, then .ignore.
                let mut files = Vec::new();
                if dir == root {
                    files.push(dir.join(".git/info/exclude"));
                }
                files.push(dir.join(".gitignore"));
                files.push(dir.join(".ignore"));
                let mut any = false;
                for file in files.iter().filter(|f| f.is_file()) {
                    any |= builder.add(file).is_none();
                }
                if !any {
                    return None;
                }
                builder.build().ok().filter(|g| !g.is_empty())
            })
            .as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names() {
        assert!(is_source_name("main.rs"));
        assert!(is_source_name("Lib.PY"));
        assert!(is_source_name("Makefile"));
        assert!(!is_source_name("image.png"));
        assert!(!is_source_name("Cargo.lock"));
        assert!(!is_source_name("app.min.js"));
        assert!(!is_source_name("package-lock.json"));
        assert!(!is_source_name(".rs"));
    }

    #[test]
    fn rules_match_the_walk() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join(".gitignore"), "gen/\n*.tmp.rs\n").unwrap();
        std::fs::create_dir_all(root.join("src/gen")).unwrap();
        std::fs::create_dir_all(root.join("gen")).unwrap();
        std::fs::create_dir_all(root.join("target")).unwrap();
        std::fs::create_dir_all(root.join(".hidden")).unwrap();
        for f in [
            "src/a.rs",
            "src/b.tmp.rs",
            "src/gen/c.rs",
            "gen/d.rs",
            "target/e.rs",
            ".hidden/f.rs",
            "g.png",
        ] {
            std::fs::write(root.join(f), "fn x() {}\n").unwrap();
        }
        let mut walked = Vec::new();
        walk(root, root, |found| {
            if let Found::File(rel, _) = found {
                walked.push(rel.to_owned());
            }
        });
        assert_eq!(walked, ["src/a.rs"]);
        let mut rules = IgnoreRules::new(root);
        for f in [
            "src/a.rs",
            "src/b.tmp.rs",
            "src/gen/c.rs",
            "gen/d.rs",
            "target/e.rs",
            ".hidden/f.rs",
            "g.png",
        ] {
            let ignored = rules.is_ignored(&root.join(f), false);
            assert_eq!(!ignored, walked.iter().any(|w| w == f), "{f}");
        }
        assert!(rules.is_ignored(&root.join("gen"), true));
        assert!(!rules.is_ignored(&root.join("src"), true));
    }
}
