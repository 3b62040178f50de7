//! Explanations that stay: each is written to a Markdown file of its own
//! (private to the user) that the editor opens, and named for what it
//! explains.

use std::io::Write;
use std::path::{Path, PathBuf};

use tower_lsp_server::ls_types::Uri;

/// Most bytes of a name in a title or a file name.
const MAX_NAME: usize = 48;

/// Keywords after which the declared name is what a selection is about.
const DECLARING: &[&str] = &[
    "fn",
    "struct",
    "enum",
    "trait",
    "impl",
    "mod",
    "type",
    "const",
    "static",
    "let",
    "class",
    "def",
    "function",
    "func",
    "interface",
    "var",
];

/// Words before a declaration's keyword.
const MODIFIERS: &[&str] = &[
    "pub", "async", "unsafe", "export", "default", "extern", "static",
];

/// The identifier a request is about: with a selection (`selected`,
/// `text` its text), the name it declares or its first identifier;
/// otherwise the identifier touching column `at` (in characters) of `line`.
pub(crate) fn subject(line: &str, at: usize, text: &str, selected: bool) -> Option<String> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let name = if selected {
        let words: Vec<&str> = text
            .split(|c: char| !is_ident(c))
            .filter(|w| !w.is_empty())
            .collect();
        words
            .windows(2)
            .find(|pair| DECLARING.contains(&pair[0]))
            .map(|pair| pair[1])
            .or_else(|| {
                words
                    .iter()
                    .copied()
                    .find(|w| !DECLARING.contains(w) && !MODIFIERS.contains(w))
            })?
            .to_owned()
    } else {
        let chars: Vec<char> = line.chars().collect();
        let at = at.min(chars.len());
        let mut start = at;
        while start > 0 && is_ident(chars[start - 1]) {
            start -= 1;
        }
        let mut end = at;
        while end < chars.len() && is_ident(chars[end]) {
            end += 1;
        }
        if start == end {
            // In the indentation or between words: what the line declares.
            return subject("", 0, line, true);
        }
        let word: String = chars[start..end].iter().collect();
        if DECLARING.contains(&word.as_str()) || MODIFIERS.contains(&word.as_str()) {
            // On `pub fn clear`: what the line declares.
            let rest: String = chars[start..].iter().collect();
            return subject("", 0, &rest, true);
        }
        word
    };
    let mut cut = name.len().min(MAX_NAME);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    Some(name[..cut].to_owned())
}

/// Where explanations are written: Cordon's folder in the user's cache.
fn folder() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("cordon")
        .join("explanations")
}

/// Write the explanation `markdown` of line `line` (0-based) of the
/// workspace file `path` (about `name`) to its own file; the file's URI.
pub(crate) fn write(
    path: &str,
    line: u32,
    name: Option<&str>,
    markdown: &str,
) -> std::io::Result<Uri> {
    write_in(&folder(), path, line, name, markdown)
}

fn write_in(
    folder: &Path,
    path: &str,
    line: u32,
    name: Option<&str>,
    markdown: &str,
) -> std::io::Result<Uri> {
    let stem = path.rsplit('/').next().unwrap_or(path);
    let line = line + 1;
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '_' || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    let file = match name {
        Some(name) => format!("{}-{}-{line}.md", safe(stem), safe(name)),
        None => format!("{}-{line}.md", safe(stem)),
    };
    create_private_dir(folder)?;
    let target = folder.join(file);
    let heading = match name {
        Some(name) => format!("# `{name}` ({path}:{line})\n\n"),
        None => format!("# {path}:{line}\n\n"),
    };
    let mut out = open_private(&target)?;
    out.write_all(heading.as_bytes())?;
    out.write_all(markdown.as_bytes())?;
    if !markdown.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    Uri::from_file_path(&target)
        .ok_or_else(|| std::io::Error::other(format!("{} has no file URI", target.display())))
}

/// The folder, readable by the user only (explanations quote their code).
fn create_private_dir(folder: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(folder)
}

fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_is_the_word_at_the_cursor_or_what_a_selection_declares() {
        assert_eq!(
            subject("    pub fn restock(&mut self)", 14, "", false).as_deref(),
            Some("restock")
        );
        assert_eq!(subject("    + -", 5, "", false), None);
        assert_eq!(
            subject("    pub fn in_stock(&self) -> bool {", 0, "", false).as_deref(),
            Some("in_stock"),
            "in the indentation"
        );
        assert_eq!(
            subject("    pub fn clear(&mut self) {", 8, "", false).as_deref(),
            Some("clear")
        );
        assert_eq!(
            subject("", 0, "pub fn total_cents(&self) -> u64 {", true).as_deref(),
            Some("total_cents")
        );
        assert_eq!(
            subject("", 0, "self.line_items\n    .iter()", true).as_deref(),
            Some("self")
        );
    }

    #[test]
    fn an_explanation_is_a_private_markdown_file_named_for_its_subject() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_in(
            dir.path(),
            "src/cart.rs",
            11,
            Some("restock"),
            "Adds stock.",
        )
        .unwrap();
        let path = written.to_file_path().unwrap().into_owned();
        assert_eq!(path, dir.path().join("cart.rs-restock-12.md"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "# `restock` (src/cart.rs:12)\n\nAdds stock.\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by the user only: {mode:o}");
        }
    }
}
