//! `add-doc-comment`: a doc comment above the item at the cursor (a
//! docstring in Python), in the language's style; an existing one is
//! rewritten in place.

use cordon_plugin_sdk::fence::{code_blocks, has_unclosed_fence, language_tag};
use cordon_plugin_sdk::item::{Family, Item, enclosing_item};
use cordon_plugin_sdk::text::{
    Window, dedent, head_at_line_boundary, indentation, with_line_ending,
};
use cordon_plugin_sdk::{DocumentContext, Error, Range, TextEdit};

use super::{MAX_CONTEXT_BYTES, Plan, PlanKind, family, request, unavailable_cut};

/// Validates the input of `add-doc-comment` and builds its request.
pub(super) fn plan<'a>(ctx: &'a DocumentContext) -> Result<Plan<'a>, Error> {
    let window = Window::new(ctx);
    let item = enclosing_item(&window, family(ctx)).ok_or_else(|| {
        Error::InvalidRequest(
            "`add-doc-comment` needs the cursor inside a function, type or other item".into(),
        )
    })?;
    let target = doc_target(ctx, &window, &item).ok_or_else(|| {
                    Error::InvalidRequest(format!(
                        "the start of the {} is outside the text Cordon sent to the plugin; move the cursor to its first line",
                        item.describe()
                    ))
                })?;
    let tag = language_tag(&ctx.language_id, &ctx.path);
    let mut code = item.text(&window);
    let mut cut = "";
    if code.len() > MAX_CONTEXT_BYTES {
        code = head_at_line_boundary(code, MAX_CONTEXT_BYTES);
        cut = "\n(The item continues; only its beginning is shown.)\n";
    }
    let current = match &target.existing {
        Some(existing) => format!(
            "\nIts current documentation is below; rewrite it, keeping what is still accurate:\n```{tag}\n{}\n```\n",
            dedent(existing.trim_end_matches(['\n', '\r']))
        ),
        None => String::new(),
    };
    let prompt = format!(
        "Write the documentation comment for the {} below, from `{}` (language: {}).\n\n```{tag}\n{}\n```\n{cut}{current}\n\
                     Say what it does, its parameters and result, and errors, panics or side effects worth knowing, \
                     briefly, following {}. Reply with only the comment, exactly as it should appear in the source \
                     above the item, in one fenced code block; do not repeat the code.",
        item.describe(),
        ctx.path,
        ctx.language_id,
        dedent(code),
        target.style.convention(),
    );
    Ok(Plan {
        request: request(prompt, 600),
        ctx,
        kind: PlanKind::Doc(target),
    })
}

/// The edits of `add-doc-comment` for the model's `reply`.
pub(super) fn edits(target: &DocTarget, reply: &str, eol: &str) -> Result<Vec<TextEdit>, Error> {
    let raw = match code_blocks(reply).first() {
        Some(block) => block.code,
        None if has_unclosed_fence(reply) => return Err(unavailable_cut()),
        None => reply,
    };
    let prose = doc_text(raw);
    if prose.is_empty() {
        return Err(Error::Unavailable(
            "the model's reply held no documentation text; nothing was changed".into(),
        ));
    }
    let comment = target.style.render(&prose, &target.indent);
    Ok(vec![TextEdit::replace(
        target.range,
        with_line_ending(&comment, eol),
    )])
}

/// Where and how the doc comment of an item goes.
#[derive(Debug, Clone)]
pub(super) struct DocTarget {
    /// The range replaced: empty to insert a new comment, or the whole
    /// lines of the existing one.
    pub(super) range: Range,
    /// Indentation of the comment's lines.
    pub(super) indent: String,
    /// Comment syntax.
    pub(super) style: DocStyle,
    /// The existing comment, when it is rewritten.
    pub(super) existing: Option<String>,
}

/// The doc comment target of `item`, or `None` when the place it goes is
/// not (safely) inside the window.
pub(super) fn doc_target(
    ctx: &DocumentContext,
    window: &Window<'_>,
    item: &Item,
) -> Option<DocTarget> {
    let style = DocStyle::for_language(&ctx.language_id, family(ctx));
    let insert = |offset: usize, indent: String, style: DocStyle| {
        let at = window.position(offset)?;
        Some(DocTarget {
            range: Range::empty(at),
            indent,
            style,
            existing: None,
        })
    };
    if item.has_doc {
        // Rewrite the existing comment, in place.
        let (start, end) = item.doc?;
        if window.line_start(start) != start || !window.line_start_known(start) {
            return None;
        }
        let existing = &window.text()[start..end];
        let indent = if style == DocStyle::Docstring {
            indentation(existing)
        } else {
            item.indent.as_str()
        };
        return Some(DocTarget {
            range: window.range(start, end)?,
            indent: indent.to_owned(),
            style,
            existing: Some(existing.to_owned()),
        });
    }
    if style == DocStyle::Docstring {
        if let (Some(body), true) = (
            item.body_line_start,
            item.complete || item.body_indent.is_some(),
        ) {
            let indent = item.body_indent.clone().unwrap_or_else(|| {
                let unit = if item.indent.contains('\t') {
                    "\t"
                } else {
                    "    "
                };
                format!("{}{unit}", item.indent)
            });
            return insert(body, indent, DocStyle::Docstring);
        }
        // A one-line `def`: comment lines above it instead.
        if !item.starts_line() || !window.line_start_known(item.line_start) {
            return None;
        }
        return insert(item.line_start, item.indent.clone(), DocStyle::Hash);
    }
    if !item.starts_line() || !window.line_start_known(item.line_start) {
        return None;
    }
    insert(item.line_start, item.indent.clone(), style)
}

/// A language's documentation comment syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocStyle {
    /// `/// text` (Rust, Swift, Dart).
    TripleSlash,
    /// `/// <summary>` XML documentation (C#).
    XmlDoc,
    /// `// Name does ...` (Go).
    DoubleSlash,
    /// `/** ... */` (JavaScript, TypeScript, Java, Kotlin, C, C++, PHP, ...).
    Block,
    /// A `"""docstring"""` as the body's first statement (Python).
    Docstring,
    /// `# text` (Ruby, shell, R, Perl, Python one-liners).
    Hash,
    /// `--- text` (Lua).
    TripleDash,
    /// `-- | text` (Haskell).
    Haddock,
}

impl DocStyle {
    /// The style used for `language_id`.
    pub fn for_language(language_id: &str, family: Family) -> DocStyle {
        match language_id {
            "rust" | "swift" | "dart" => DocStyle::TripleSlash,
            "csharp" | "fsharp" => DocStyle::XmlDoc,
            "go" => DocStyle::DoubleSlash,
            "python" => DocStyle::Docstring,
            "ruby" | "shellscript" | "perl" | "r" | "elixir" | "julia" | "powershell"
            | "coffeescript" | "nim" | "crystal" | "makefile" | "dockerfile" | "yaml" | "toml" => {
                DocStyle::Hash
            }
            "lua" => DocStyle::TripleDash,
            "haskell" | "elm" | "purescript" => DocStyle::Haddock,
            _ => match family {
                Family::Rust => DocStyle::TripleSlash,
                Family::Go => DocStyle::DoubleSlash,
                Family::Python => DocStyle::Docstring,
                Family::JavaScript | Family::CLike => DocStyle::Block,
            },
        }
    }

    /// How the prompt names the convention.
    fn convention(self) -> &'static str {
        match self {
            DocStyle::TripleSlash => {
                "the language's `///` doc comment conventions (Markdown, sections such as `# Errors` where they apply)"
            }
            DocStyle::XmlDoc => {
                "C# XML documentation comments (`/// <summary>`, `<param>`, `<returns>`)"
            }
            DocStyle::DoubleSlash => {
                "Go doc comment conventions (`//` lines starting with the name)"
            }
            DocStyle::Block => {
                "the language's `/** ... */` documentation conventions (JSDoc, Javadoc, Doxygen: `@param`, `@returns`)"
            }
            DocStyle::Docstring => {
                "PEP 257 docstring conventions (a summary line, then details); reply with the docstring"
            }
            DocStyle::Hash => "the language's `#` comment conventions",
            DocStyle::TripleDash => "LuaDoc `---` comment conventions",
            DocStyle::Haddock => "Haddock `-- |` comment conventions",
        }
    }

    /// The comment for documentation lines `prose`, each line indented
    /// with `indent`, ending with a line break.
    pub fn render(self, prose: &[String], indent: &str) -> String {
        let mut lines: Vec<String> = Vec::new();
        let prefixed = |marker: &str, l: &String| {
            if l.is_empty() {
                marker.to_owned()
            } else {
                format!("{marker} {l}")
            }
        };
        match self {
            DocStyle::TripleSlash => lines.extend(prose.iter().map(|l| prefixed("///", l))),
            DocStyle::DoubleSlash => lines.extend(prose.iter().map(|l| prefixed("//", l))),
            DocStyle::Hash => lines.extend(prose.iter().map(|l| prefixed("#", l))),
            DocStyle::TripleDash => lines.extend(prose.iter().map(|l| prefixed("---", l))),
            DocStyle::Haddock => lines.extend(
                prose
                    .iter()
                    .enumerate()
                    .map(|(i, l)| prefixed(if i == 0 { "-- |" } else { "--" }, l)),
            ),
            DocStyle::XmlDoc => {
                let tagged = prose.iter().any(|l| l.trim_start().starts_with('<'));
                if !tagged {
                    lines.push("/// <summary>".to_owned());
                }
                lines.extend(prose.iter().map(|l| prefixed("///", l)));
                if !tagged {
                    lines.push("/// </summary>".to_owned());
                }
            }
            DocStyle::Block => {
                lines.push("/**".to_owned());
                lines.extend(prose.iter().map(|l| prefixed(" *", l)));
                lines.push(" */".to_owned());
            }
            DocStyle::Docstring => {
                let escaped: Vec<String> = prose
                    .iter()
                    .map(|l| l.replace("\"\"\"", "\\\"\\\"\\\""))
                    .collect();
                if escaped.len() == 1 {
                    lines.push(format!("\"\"\"{}\"\"\"", escaped[0]));
                } else {
                    lines.push(format!("\"\"\"{}", escaped[0]));
                    lines.extend(escaped[1..].iter().cloned());
                    lines.push("\"\"\"".to_owned());
                }
            }
        }
        let mut out = String::new();
        for line in lines {
            if !line.is_empty() {
                out.push_str(indent);
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    }
}

/// The documentation text in a model's comment: comment markers and
/// docstring quotes removed, code after the comment dropped, blank lines
/// at either end removed.
pub fn doc_text(raw: &str) -> Vec<String> {
    let raw = raw.replace("\r\n", "\n");
    let raw = raw.trim_matches('\n');
    // A docstring: its contents.
    for quotes in ["\"\"\"", "'''"] {
        if let Some(start) = raw.find(quotes) {
            let body = &raw[start + 3..];
            let body = body.find(quotes).map_or(body, |end| &body[..end]);
            return trim_blank_ends(dedent_after_first(body));
        }
    }
    let mut out: Vec<String> = Vec::new();
    let mut saw_comment = false;
    for line in raw.lines() {
        let t = line.trim();
        let stripped = strip_comment_marker(t);
        match stripped {
            Some(text) => {
                saw_comment = true;
                if !matches!(text, "<summary>" | "</summary>") {
                    out.push(text.to_owned());
                }
            }
            // Code after the comment: the model repeated the item.
            None if saw_comment && !t.is_empty() => break,
            None => out.push(t.to_owned()),
        }
    }
    trim_blank_ends(out)
}

fn dedent_after_first(body: &str) -> Vec<String> {
    let mut lines = body.lines();
    let first = lines.next().unwrap_or("").trim().to_owned();
    let rest: Vec<&str> = lines.collect();
    let rest = dedent(&rest.join("\n"));
    std::iter::once(first)
        .chain(rest.lines().map(|l| l.trim_end().to_owned()))
        .collect()
}

fn trim_blank_ends(mut lines: Vec<String>) -> Vec<String> {
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    let lead = lines.iter().take_while(|l| l.trim().is_empty()).count();
    lines.drain(..lead);
    lines
}

/// The text of a comment line without its marker, or `None` when the
/// line is not a comment.
fn strip_comment_marker(t: &str) -> Option<&str> {
    if t == "/**" || t == "/*" || t == "*/" || t == "**/" {
        return Some("");
    }
    let t = t.strip_suffix("*/").map_or(t, str::trim_end);
    for marker in [
        "/**", "/*", "///", "//!", "//", "-- |", "---", "--", "#", "*",
    ] {
        if let Some(rest) = t.strip_prefix(marker) {
            if marker == "*" && rest.starts_with('/') {
                return Some("");
            }
            return Some(rest.strip_prefix(' ').unwrap_or(rest).trim_end());
        }
    }
    None
}
