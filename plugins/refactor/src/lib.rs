//! Cordon's first-party refactor plugin.
//!
//! [`logic`] lists the refactorings available at the cursor (cheaply, never
//! calling a model) and computes the edits of the one the user picked. It is
//! plain Rust over the kit's types, so it runs natively as well. The
//! `component` module, compiled for `wasm32` only, binds it to the
//! `refactor-plugin` world of `cordon:plugin@0.1.0`.

pub mod logic {
    //! Refactor logic: listing actions, prompts, and turning replies into
    //! edits.
    //!
    //! | id | offered when | edit |
    //! | --- | --- | --- |
    //! | `rewrite-selection` | a non-empty selection | the selection, rewritten as instructed |
    //! | `extract-function` | a non-empty selection | the selection becomes a call; the new function goes just above the enclosing item |
    //! | `add-doc-comment` | the cursor in an undocumented item | a doc comment above the item (a docstring in Python) |

    use cordon_plugin_kit::fence::{code_blocks, has_unclosed_fence, language_tag};
    use cordon_plugin_kit::item::{Family, Item, enclosing_item, header_kind};
    use cordon_plugin_kit::text::{
        Selection, Window, dedent, indentation, is_blank, line_ending, reindent, selection,
        with_line_ending,
    };
    use cordon_plugin_kit::{
        Action, ChatRequest, DocumentContext, Error, Message, Model, Position, Purpose, Range,
        TextEdit,
    };

    /// Id of the action rewriting the selection as the user instructs.
    pub const REWRITE_SELECTION: &str = "rewrite-selection";
    /// Id of the action extracting the selection into a new function.
    pub const EXTRACT_FUNCTION: &str = "extract-function";
    /// Id of the action documenting the item at the cursor.
    pub const ADD_DOC_COMMENT: &str = "add-doc-comment";
    /// Largest selection sent to a model, in bytes.
    pub const MAX_SELECTION_BYTES: usize = 32 * 1024;
    /// Most bytes of surrounding item sent along as context.
    pub const MAX_CONTEXT_BYTES: usize = 12 * 1024;
    /// Sampling temperature of refactor requests.
    pub const TEMPERATURE: f32 = 0.2;

    /// System prompt of every refactor request.
    pub const SYSTEM_PROMPT: &str = "You are a careful refactoring tool inside a code editor. You receive code and a \
task and reply with only the resulting code in fenced code blocks (```<language> ... ```), exactly as many blocks as \
the task asks for: no explanation, no text before or after the blocks, no placeholders or elisions such as `...`. \
Keep the code's behaviour unless the task says otherwise, follow the style, naming and indentation of the \
surrounding code, and write valid code for the language.";

    /// Actions available for the cursor or selection of `ctx`. Cheap: never
    /// calls a model.
    pub fn actions(ctx: &DocumentContext) -> Vec<Action> {
        let mut out = Vec::new();
        if let Selection::Complete { text, .. } = selection(ctx)
            && !is_blank(&text)
        {
            out.push(action(
                REWRITE_SELECTION,
                "Rewrite selection…",
                "refactor.rewrite",
                true,
            ));
            out.push(action(
                EXTRACT_FUNCTION,
                "Extract function",
                "refactor.extract",
                false,
            ));
        }
        let window = Window::new(ctx);
        if let Some(item) = enclosing_item(&window, family(ctx))
            && let Some(target) = doc_target(ctx, &window, &item)
        {
            let title = if target.existing.is_some() {
                "Rewrite doc comment"
            } else {
                "Add doc comment"
            };
            out.push(action(ADD_DOC_COMMENT, title, "refactor.rewrite", false));
        }
        out
    }

    fn action(id: &str, title: &str, kind: &str, needs_instruction: bool) -> Action {
        Action {
            id: id.to_owned(),
            title: title.to_owned(),
            kind: kind.to_owned(),
            needs_instruction,
        }
    }

    fn family(ctx: &DocumentContext) -> Family {
        Family::detect(&ctx.language_id, &ctx.path)
    }

    /// The edits of action `id` for `ctx`, asking `model` once.
    ///
    /// Errors: `invalid-request` for an unknown id, a missing instruction or
    /// selection, or no item at the cursor; `unavailable` when the reply has
    /// no usable code; the model's own errors unchanged.
    pub fn apply(
        ctx: &DocumentContext,
        id: &str,
        instruction: Option<&str>,
        model: &mut impl Model,
    ) -> Result<Vec<TextEdit>, Error> {
        let plan = plan(ctx, id, instruction)?;
        let reply = model.chat(&plan.request)?;
        plan.edits(&reply.text)
    }

    /// A prepared refactoring: the request to send and how to read the reply.
    #[derive(Debug, Clone)]
    pub struct Plan<'a> {
        /// The chat request for the model.
        pub request: ChatRequest,
        ctx: &'a DocumentContext,
        kind: PlanKind,
    }

    #[derive(Debug, Clone)]
    enum PlanKind {
        Rewrite {
            range: Range,
            selected: String,
        },
        Extract {
            range: Range,
            selected: String,
            insert_before: Option<(Position, String)>,
        },
        Doc(DocTarget),
    }

    /// Prepares action `id` for `ctx`: validates the input and builds the
    /// request.
    pub fn plan<'a>(
        ctx: &'a DocumentContext,
        id: &str,
        instruction: Option<&str>,
    ) -> Result<Plan<'a>, Error> {
        let instruction = instruction.map(str::trim).filter(|s| !s.is_empty());
        match id {
            REWRITE_SELECTION => {
                let instruction = instruction.ok_or_else(|| {
                    Error::InvalidRequest("`rewrite-selection` needs an instruction saying how to rewrite the selection".into())
                })?;
                let (range, selected) = selected(ctx, id)?;
                let window = Window::new(ctx);
                let context = enclosing_item(&window, family(ctx))
                    .map(|item| (item.describe(), item.text(&window).to_owned()));
                let tag = language_tag(&ctx.language_id, &ctx.path);
                let mut prompt = format!(
                    "Rewrite the selected code from `{}` (language: {}).\n\nInstruction: {instruction}\n\nSelected code:\n```{tag}\n{selected}\n```\n",
                    ctx.path, ctx.language_id
                );
                push_context(&mut prompt, context, &selected, &tag);
                prompt.push_str(
                    "\nReply with the rewritten code only, in one fenced code block. It replaces the selection exactly, \
                     so leave out any code outside the selection.",
                );
                Ok(Plan {
                    request: request(prompt, max_tokens_for(&selected)),
                    ctx,
                    kind: PlanKind::Rewrite { range, selected },
                })
            }
            EXTRACT_FUNCTION => {
                let (range, selected) = selected(ctx, id)?;
                let window = Window::new(ctx);
                let item = enclosing_item(&window, family(ctx));
                let sel_offset = window.offset(range.start);
                let insert_before = item.as_ref().and_then(|item| {
                    let at = window.position(item.line_start)?;
                    (item.starts_line() && sel_offset? >= item.line_start)
                        .then(|| (at, item.indent.clone()))
                });
                let context = item
                    .as_ref()
                    .map(|item| (item.describe(), item.text(&window).to_owned()));
                let tag = language_tag(&ctx.language_id, &ctx.path);
                let mut prompt = format!(
                    "Extract the selected code from `{}` (language: {}) into a new function.\n\nSelected code:\n```{tag}\n{selected}\n```\n",
                    ctx.path, ctx.language_id
                );
                if let Some(instruction) = instruction {
                    prompt.push_str(&format!("\nThe user adds: {instruction}\n"));
                }
                push_context(&mut prompt, context, &selected, &tag);
                prompt.push_str(
                    "\nReply with exactly two fenced code blocks and nothing else:\n\
                     1. the code that replaces the selection: a call to the new function, with any assignments of its results;\n\
                     2. the complete definition of the new function, with a short doc comment.\n\
                     Pass what the selected code reads as parameters and return what the code after it uses, so that \
                     behaviour stays the same.",
                );
                let budget = max_tokens_for(&selected).saturating_mul(2).min(8192);
                Ok(Plan {
                    request: request(prompt, budget),
                    ctx,
                    kind: PlanKind::Extract {
                        range,
                        selected,
                        insert_before,
                    },
                })
            }
            ADD_DOC_COMMENT => {
                let window = Window::new(ctx);
                let item = enclosing_item(&window, family(ctx)).ok_or_else(|| {
                    Error::InvalidRequest(
                        "`add-doc-comment` needs the cursor inside a function, type or other item"
                            .into(),
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
                    code = cordon_plugin_kit::text::head_at_line_boundary(code, MAX_CONTEXT_BYTES);
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
            other => Err(Error::InvalidRequest(format!(
                "unknown refactor action `{other}`; this plugin offers `{REWRITE_SELECTION}`, `{EXTRACT_FUNCTION}` and `{ADD_DOC_COMMENT}`"
            ))),
        }
    }

    impl Plan<'_> {
        /// The edits for the model's `reply`, sorted by position and not
        /// overlapping.
        pub fn edits(&self, reply: &str) -> Result<Vec<TextEdit>, Error> {
            let eol = line_ending(&[&self.ctx.prefix, &self.ctx.suffix]);
            match &self.kind {
                PlanKind::Rewrite { range, selected } => {
                    let code = code_block(reply, 0)?;
                    Ok(vec![TextEdit::replace(
                        *range,
                        with_line_ending(&fit(self.ctx, *range, selected, code), eol),
                    )])
                }
                PlanKind::Extract {
                    range,
                    selected,
                    insert_before,
                } => {
                    let blocks = code_blocks(reply);
                    if blocks.len() < 2 {
                        // One block: the model put everything together.
                        let code = code_block(reply, 0)?;
                        return Ok(vec![TextEdit::replace(
                            *range,
                            with_line_ending(&fit(self.ctx, *range, selected, code), eol),
                        )]);
                    }
                    let family = family(self.ctx);
                    let (mut call, mut definition) = (blocks[0].code, blocks[1].code);
                    if header_kind(family, call).is_some()
                        && header_kind(family, definition).is_none()
                    {
                        std::mem::swap(&mut call, &mut definition);
                    }
                    if is_blank(call) || is_blank(definition) {
                        return Err(unavailable_empty());
                    }
                    match insert_before {
                        Some((at, indent)) => {
                            let definition = format!(
                                "{}\n\n",
                                reindent(definition.trim_matches('\n'), indent, true)
                            );
                            Ok(vec![
                                TextEdit::insert(*at, with_line_ending(&definition, eol)),
                                TextEdit::replace(
                                    *range,
                                    with_line_ending(&fit(self.ctx, *range, selected, call), eol),
                                ),
                            ])
                        }
                        None => {
                            let both = format!(
                                "{}\n\n{}",
                                dedent(definition).trim_matches('\n'),
                                dedent(call).trim_matches('\n')
                            );
                            Ok(vec![TextEdit::replace(
                                *range,
                                with_line_ending(&fit(self.ctx, *range, selected, &both), eol),
                            )])
                        }
                    }
                }
                PlanKind::Doc(target) => {
                    let raw = match code_blocks(reply).first() {
                        Some(block) => block.code,
                        None if has_unclosed_fence(reply) => return Err(unavailable_cut()),
                        None => reply,
                    };
                    let prose = doc_text(raw);
                    if prose.is_empty() {
                        return Err(Error::Unavailable(
                            "the model's reply held no documentation text; nothing was changed"
                                .into(),
                        ));
                    }
                    let comment = target.style.render(&prose, &target.indent);
                    Ok(vec![TextEdit::replace(
                        target.range,
                        with_line_ending(&comment, eol),
                    )])
                }
            }
        }
    }

    fn request(prompt: String, max_tokens: u32) -> ChatRequest {
        ChatRequest {
            purpose: Purpose::Refactor,
            system: SYSTEM_PROMPT.to_owned(),
            messages: vec![Message::user(prompt)],
            max_tokens,
            temperature: Some(TEMPERATURE),
            stop: Vec::new(),
        }
    }

    /// Room for the rewritten code: about twice the selection's tokens.
    fn max_tokens_for(code: &str) -> u32 {
        let tokens = u32::try_from(code.len() / 3).unwrap_or(u32::MAX);
        tokens
            .saturating_mul(2)
            .saturating_add(256)
            .clamp(512, 4096)
    }

    fn push_context(
        prompt: &mut String,
        context: Option<(String, String)>,
        selected: &str,
        tag: &str,
    ) {
        if let Some((what, text)) = context
            && text.len() <= MAX_CONTEXT_BYTES
            && text.trim() != selected.trim()
        {
            prompt.push_str(&format!(
                "\nThe selection is part of this {what}, shown for context only:\n```{tag}\n{}\n```\n",
                dedent(&text)
            ));
        }
    }

    /// The complete, non-blank selection of `ctx`, or why action `id` cannot
    /// run.
    fn selected(ctx: &DocumentContext, id: &str) -> Result<(Range, String), Error> {
        match selection(ctx) {
            Selection::Complete { range, text } if !is_blank(&text) => {
                if text.len() > MAX_SELECTION_BYTES {
                    return Err(Error::InvalidRequest(format!(
                        "the selection is too large to refactor at once ({} KiB; at most {} KiB)",
                        text.len() / 1024,
                        MAX_SELECTION_BYTES / 1024
                    )));
                }
                Ok((range, text.into_owned()))
            }
            Selection::Complete { .. } | Selection::None => Err(Error::InvalidRequest(format!(
                "`{id}` needs a selection of code"
            ))),
            Selection::Incomplete { .. } => Err(Error::InvalidRequest(
                "the selection is larger than the text Cordon sends to plugins; select less code"
                    .into(),
            )),
        }
    }

    fn unavailable_cut() -> Error {
        Error::Unavailable(
            "the model's reply was cut off before its code block ended; nothing was changed (try a smaller selection)"
                .into(),
        )
    }

    fn unavailable_empty() -> Error {
        Error::Unavailable("the model's reply had an empty code block; nothing was changed".into())
    }

    /// The `index`th fenced code block of `reply`, or an `unavailable` error
    /// saying what was wrong with the reply.
    fn code_block(reply: &str, index: usize) -> Result<&str, Error> {
        match code_blocks(reply).get(index) {
            Some(block) if !is_blank(block.code) => Ok(block.code),
            Some(_) => Err(unavailable_empty()),
            None if has_unclosed_fence(reply) => Err(unavailable_cut()),
            None => Err(Error::Unavailable(
                "the model's reply contained no code block; nothing was changed".into(),
            )),
        }
    }

    /// `code` indented to replace the selection `range` (whose text is
    /// `selected`): the selection's indentation, its line-start status and
    /// its trailing line break are kept.
    fn fit(ctx: &DocumentContext, range: Range, selected: &str, code: &str) -> String {
        let code = code.trim_matches(['\n', '\r']);
        let window = Window::new(ctx);
        // Text of the selection's first line before the selection.
        let lead = window
            .offset(range.start)
            .map(|o| &window.text()[window.line_start(o)..o])
            .unwrap_or("");
        let mut out = if range.start.character == 0 {
            let base = selected
                .lines()
                .find(|l| !is_blank(l))
                .map_or("", indentation);
            reindent(code, base, true)
        } else if is_blank(lead) {
            reindent(code, lead, false)
        } else if !code.contains('\n') {
            code.trim().to_owned()
        } else {
            reindent(code, indentation(lead), false)
        };
        if selected.ends_with('\n') {
            out.push('\n');
        }
        out
    }

    /// Where and how the doc comment of an item goes.
    #[derive(Debug, Clone)]
    struct DocTarget {
        /// The range replaced: empty to insert a new comment, or the whole
        /// lines of the existing one.
        range: Range,
        /// Indentation of the comment's lines.
        indent: String,
        /// Comment syntax.
        style: DocStyle,
        /// The existing comment, when it is rewritten.
        existing: Option<String>,
    }

    /// The doc comment target of `item`, or `None` when the place it goes is
    /// not (safely) inside the window.
    fn doc_target(ctx: &DocumentContext, window: &Window<'_>, item: &Item) -> Option<DocTarget> {
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
                | "coffeescript" | "nim" | "crystal" | "makefile" | "dockerfile" | "yaml"
                | "toml" => DocStyle::Hash,
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

    #[cfg(test)]
    mod tests {
        use super::*;
        use cordon_plugin_kit::testing::{CannedModel, marked_context};

        fn ids(actions: &[Action]) -> Vec<&str> {
            actions.iter().map(|a| a.id.as_str()).collect()
        }

        const RUST: &str = "use std::io;\n\nfn total(items: &[u32]) -> u32 {\n    let mut sum = 0;\n    $0for i in items {\n        sum += i;\n    }\n$0    sum\n}\n";

        #[test]
        fn actions_follow_selection_and_item() {
            let ctx = marked_context(RUST, "rust", "src/lib.rs");
            let listed = actions(&ctx);
            assert_eq!(
                ids(&listed),
                [REWRITE_SELECTION, EXTRACT_FUNCTION, ADD_DOC_COMMENT]
            );
            assert_eq!(listed[0].title, "Rewrite selection…");
            assert_eq!(listed[0].kind, "refactor.rewrite");
            assert!(listed[0].needs_instruction);
            assert_eq!(
                (listed[1].title.as_str(), listed[1].kind.as_str()),
                ("Extract function", "refactor.extract")
            );
            assert!(!listed[1].needs_instruction);
            assert_eq!(
                (listed[2].title.as_str(), listed[2].kind.as_str()),
                ("Add doc comment", "refactor.rewrite")
            );
            // No selection, outside any item: nothing.
            let ctx = marked_context("use std::io;\n$0\nfn f() {}\n", "rust", "src/lib.rs");
            assert!(actions(&ctx).is_empty());
            // Documented items are offered a rewrite of their comment.
            let ctx = marked_context("/// Adds.\nfn add() {\n    $0\n}\n", "rust", "src/lib.rs");
            let listed = actions(&ctx);
            assert_eq!(ids(&listed), [ADD_DOC_COMMENT]);
            assert_eq!(listed[0].title, "Rewrite doc comment");
            // A blank selection is not offered a rewrite.
            let ctx = marked_context("fn f() {\n$0    \n$0}\n", "rust", "src/lib.rs");
            assert_eq!(ids(&actions(&ctx)), [ADD_DOC_COMMENT]);
        }

        #[test]
        fn rewrite_prompt_and_edit() {
            let ctx = marked_context(RUST, "rust", "src/lib.rs");
            let mut model =
                CannedModel::answering("Sure:\n```rust\nsum = items.iter().sum();\n```\n");
            let edits = apply(
                &ctx,
                REWRITE_SELECTION,
                Some("  use an iterator "),
                &mut model,
            )
            .unwrap();
            let req = &model.chat_requests[0];
            assert_eq!(req.purpose, Purpose::Refactor);
            assert!(req.system.contains("fenced code block"));
            let prompt = &req.messages[0].content;
            assert!(
                prompt.contains("Instruction: use an iterator\n"),
                "{prompt}"
            );
            assert!(prompt.contains("`src/lib.rs` (language: rust)"));
            assert!(
                prompt.contains("```rust\nfor i in items {\n        sum += i;\n    }\n\n```"),
                "{prompt}"
            );
            assert!(prompt.contains("function `total`"), "{prompt}");
            assert!(req.max_tokens >= 512);
            // The selection runs from (4, 4) to (7, 0): indentation and the final line break are kept.
            assert_eq!(
                edits,
                vec![TextEdit::replace(
                    Range::new(Position::new(4, 4), Position::new(7, 0)),
                    "sum = items.iter().sum();\n"
                )]
            );
        }

        #[test]
        fn rewrite_reindents_multi_line_code() {
            let doc = "def f(xs):\n$0    out = []\n    for x in xs:\n        out.append(x * 2)\n$0    return out\n";
            let ctx = marked_context(doc, "python", "f.py");
            let reply = "```python\nout = [\n    x * 2\n    for x in xs\n]\n```";
            let edits = apply(
                &ctx,
                REWRITE_SELECTION,
                Some("comprehension"),
                &mut CannedModel::answering(reply),
            )
            .unwrap();
            assert_eq!(
                edits[0].range,
                Range::new(Position::new(1, 0), Position::new(4, 0))
            );
            assert_eq!(
                edits[0].new_text,
                "    out = [\n        x * 2\n        for x in xs\n    ]\n"
            );
        }

        #[test]
        fn rewrite_errors() {
            let ctx = marked_context(RUST, "rust", "src/lib.rs");
            let mut model = CannedModel::answering("```rust\nx\n```");
            for missing in [None, Some("   ")] {
                let err = apply(&ctx, REWRITE_SELECTION, missing, &mut model).unwrap_err();
                assert!(
                    matches!(err, Error::InvalidRequest(ref m) if m.contains("instruction")),
                    "{err}"
                );
            }
            let no_selection = marked_context("fn f() {\n    $0\n}\n", "rust", "src/lib.rs");
            let err = apply(&no_selection, REWRITE_SELECTION, Some("x"), &mut model).unwrap_err();
            assert!(
                matches!(err, Error::InvalidRequest(ref m) if m.contains("selection")),
                "{err}"
            );
            assert_eq!(model.calls(), 0, "invalid requests never reach the model");

            let err = apply(&ctx, "rename-everything", None, &mut model).unwrap_err();
            assert!(
                matches!(err, Error::InvalidRequest(ref m) if m.contains("rename-everything")),
                "{err}"
            );

            let mut prose = CannedModel::answering("I would use an iterator here.");
            let err = apply(&ctx, REWRITE_SELECTION, Some("iter"), &mut prose).unwrap_err();
            assert!(
                matches!(err, Error::Unavailable(ref m) if m.contains("no code block")),
                "{err}"
            );
            let mut cut = CannedModel::answering("```rust\nlet x = items.iter()");
            let err = apply(&ctx, REWRITE_SELECTION, Some("iter"), &mut cut).unwrap_err();
            assert!(
                matches!(err, Error::Unavailable(ref m) if m.contains("cut off")),
                "{err}"
            );

            let mut down = CannedModel::failing(Error::RateLimited("slow down".into()));
            assert_eq!(
                apply(&ctx, REWRITE_SELECTION, Some("iter"), &mut down),
                Err(Error::RateLimited("slow down".into()))
            );
        }

        #[test]
        fn truncated_selection_is_refused() {
            let mut ctx = marked_context(RUST, "rust", "src/lib.rs");
            ctx.selected_text = Some("for i in".into());
            ctx.prefix = "    sum += i;\n    }\n".into();
            ctx.prefix_truncated = true;
            let err = apply(
                &ctx,
                REWRITE_SELECTION,
                Some("x"),
                &mut CannedModel::answering("```\nx\n```"),
            )
            .unwrap_err();
            assert!(
                matches!(err, Error::InvalidRequest(ref m) if m.contains("larger")),
                "{err}"
            );
        }

        #[test]
        fn extract_inserts_function_above_item_and_call_at_selection() {
            let ctx = marked_context(RUST, "rust", "src/lib.rs");
            let reply = "```rust\nsum += add_all(items);\n```\n\n```rust\n/// Sums the items.\nfn add_all(items: &[u32]) -> u32 {\n    items.iter().sum()\n}\n```\n";
            let mut model = CannedModel::answering(reply);
            let edits = apply(&ctx, EXTRACT_FUNCTION, None, &mut model).unwrap();
            assert!(
                model.chat_requests[0].messages[0]
                    .content
                    .contains("exactly two fenced code blocks")
            );
            assert_eq!(edits.len(), 2);
            assert_eq!(edits[0].range, Range::empty(Position::new(2, 0)));
            assert_eq!(
                edits[0].new_text,
                "/// Sums the items.\nfn add_all(items: &[u32]) -> u32 {\n    items.iter().sum()\n}\n\n"
            );
            assert_eq!(
                edits[1].range,
                Range::new(Position::new(4, 4), Position::new(7, 0))
            );
            assert_eq!(edits[1].new_text, "sum += add_all(items);\n");
        }

        #[test]
        fn extract_handles_swapped_blocks_and_methods() {
            let doc = "class Cart:\n    def total(self):\n        $0s = sum(i.price for i in self.items)$0\n        return s\n";
            let ctx = marked_context(doc, "python", "cart.py");
            let reply = "```python\ndef _sum_prices(self):\n    return sum(i.price for i in self.items)\n```\n```python\ns = self._sum_prices()\n```";
            let edits = apply(
                &ctx,
                EXTRACT_FUNCTION,
                Some("call it _sum_prices"),
                &mut CannedModel::answering(reply),
            )
            .unwrap();
            assert_eq!(edits[0].range, Range::empty(Position::new(1, 0)));
            assert_eq!(
                edits[0].new_text,
                "    def _sum_prices(self):\n        return sum(i.price for i in self.items)\n\n"
            );
            assert_eq!(
                edits[1].range,
                Range::new(Position::new(2, 8), Position::new(2, 44))
            );
            assert_eq!(edits[1].new_text, "s = self._sum_prices()");
        }

        #[test]
        fn extract_at_top_level_replaces_selection_with_both() {
            let doc = "$0total = 0\nfor x in xs:\n    total += x\n$0print(total)\n";
            let ctx = marked_context(doc, "python", "s.py");
            let reply =
                "```python\ntotal = add(xs)\n```\n```python\ndef add(xs):\n    return sum(xs)\n```";
            let edits = apply(
                &ctx,
                EXTRACT_FUNCTION,
                None,
                &mut CannedModel::answering(reply),
            )
            .unwrap();
            assert_eq!(edits.len(), 1);
            assert_eq!(
                edits[0].new_text,
                "def add(xs):\n    return sum(xs)\n\ntotal = add(xs)\n"
            );
        }

        #[test]
        fn doc_comment_above_rust_item_with_attributes() {
            let doc = "impl Cart {\n    #[must_use]\n    pub fn total(&self) -> u32 {\n        self.items.$0iter().sum()\n    }\n}\n";
            let ctx = marked_context(doc, "rust", "src/cart.rs");
            let mut model = CannedModel::answering(
                "```rust\n/// Total price of the cart.\n///\n/// Sums every item.\npub fn total(&self) -> u32 {\n```",
            );
            let edits = apply(&ctx, ADD_DOC_COMMENT, None, &mut model).unwrap();
            let prompt = &model.chat_requests[0].messages[0].content;
            assert!(prompt.contains("function `total`"), "{prompt}");
            assert!(prompt.contains("```rust\n#[must_use]\npub fn total(&self) -> u32 {\n    self.items.iter().sum()\n}\n```"), "{prompt}");
            assert!(prompt.contains("`///`"));
            assert_eq!(
                edits,
                vec![TextEdit::insert(
                    Position::new(1, 0),
                    "    /// Total price of the cart.\n    ///\n    /// Sums every item.\n"
                )]
            );
        }

        #[test]
        fn an_existing_doc_comment_is_rewritten_in_place() {
            let doc = "impl Inventory {\n    /// Names of the items that are in stock.\n    #[must_use]\n    pub fn in_stock(&self) -> Vec<String> {\n        let mut names = Vec::new();\n        $0\n        names\n    }\n}\n";
            let ctx = marked_context(doc, "rust", "src/lib.rs");
            let reply = "```rust\n/// Names of the items in stock.\npub fn in_stock(&self) -> Vec<String> {\n```\n\nThis collects names.";
            let mut model = CannedModel::answering(reply);
            let edits = apply(&ctx, ADD_DOC_COMMENT, None, &mut model).unwrap();
            let prompt = &model.chat_requests[0].messages[0].content;
            assert!(
                prompt.contains("Its current documentation is below; rewrite it, keeping what is still accurate:\n```rust\n/// Names of the items that are in stock.\n```"),
                "{prompt}"
            );
            assert_eq!(
                edits,
                vec![TextEdit::replace(
                    Range::new(Position::new(1, 0), Position::new(2, 0)),
                    "    /// Names of the items in stock.\n"
                )]
            );
            // A Python docstring is replaced by the new one.
            let doc = "def f(x):\n    \"\"\"Old.\n\n    More.\n    \"\"\"\n    return x$0\n";
            let ctx = marked_context(doc, "python", "f.py");
            let edits = apply(
                &ctx,
                ADD_DOC_COMMENT,
                None,
                &mut CannedModel::answering("```\n\"\"\"Returns x.\"\"\"\n```"),
            )
            .unwrap();
            assert_eq!(
                edits,
                vec![TextEdit::replace(
                    Range::new(Position::new(1, 0), Position::new(5, 0)),
                    "    \"\"\"Returns x.\"\"\"\n"
                )]
            );
        }

        #[test]
        fn doc_comment_styles_per_language() {
            let js = marked_context(
                "class A {\n  add(a, b) {\n    return a + b;$0\n  }\n}\n",
                "typescript",
                "a.ts",
            );
            let edits = apply(
                &js,
                ADD_DOC_COMMENT,
                None,
                &mut CannedModel::answering("Adds two numbers.\n@param a first\n"),
            )
            .unwrap();
            assert_eq!(edits[0].range, Range::empty(Position::new(1, 0)));
            assert_eq!(
                edits[0].new_text,
                "  /**\n   * Adds two numbers.\n   * @param a first\n   */\n"
            );

            let go = marked_context(
                "func Add(a, b int) int {\n\treturn a + b$0\n}\n",
                "go",
                "a.go",
            );
            let reply = "```go\n// Add returns the sum of a and b.\nfunc Add(a, b int) int {\n```";
            let edits = apply(
                &go,
                ADD_DOC_COMMENT,
                None,
                &mut CannedModel::answering(reply),
            )
            .unwrap();
            assert_eq!(
                edits[0],
                TextEdit::insert(Position::new(0, 0), "// Add returns the sum of a and b.\n")
            );

            let cs = marked_context(
                "class A {\r\n    int Add(int a, int b) {\r\n        return a + b;$0\r\n    }\r\n}\r\n",
                "csharp",
                "A.cs",
            );
            let edits = apply(
                &cs,
                ADD_DOC_COMMENT,
                None,
                &mut CannedModel::answering("```csharp\n/// Adds.\n```"),
            )
            .unwrap();
            assert_eq!(
                edits[0].new_text,
                "    /// <summary>\r\n    /// Adds.\r\n    /// </summary>\r\n"
            );
        }

        #[test]
        fn python_docstring_goes_inside_the_body() {
            let doc =
                "class Cart:\n    def total(self, tax):\n        $0return sum(self.items) * tax\n";
            let ctx = marked_context(doc, "python", "cart.py");
            let reply = "```python\n\"\"\"Total price including tax.\n\n    Args:\n        tax: the multiplier.\n    \"\"\"\n```";
            let edits = apply(
                &ctx,
                ADD_DOC_COMMENT,
                None,
                &mut CannedModel::answering(reply),
            )
            .unwrap();
            assert_eq!(edits[0].range, Range::empty(Position::new(2, 0)));
            assert_eq!(
                edits[0].new_text,
                "        \"\"\"Total price including tax.\n\n        Args:\n            tax: the multiplier.\n        \"\"\"\n"
            );
            // One-line bodies get `#` comments above the def.
            let ctx = marked_context("def sq(x): return x * x$0\n", "python", "m.py");
            let edits = apply(
                &ctx,
                ADD_DOC_COMMENT,
                None,
                &mut CannedModel::answering("```\n\"\"\"Square of x.\"\"\"\n```"),
            )
            .unwrap();
            assert_eq!(
                edits[0],
                TextEdit::insert(Position::new(0, 0), "# Square of x.\n")
            );
        }

        #[test]
        fn random_documents_give_valid_edits() {
            use cordon_plugin_kit::testing::{Rng, check_range, random_document};
            let mut applied = [0usize; 3];
            for seed in 0..1500 {
                for language in ["rust", "python", "typescript", "go", "csharp", "plaintext"] {
                    let doc = random_document(seed, language);
                    let offered = actions(&doc.ctx);
                    let mut rng = Rng::new(seed ^ 0xF00D);
                    for (n, id) in [REWRITE_SELECTION, EXTRACT_FUNCTION, ADD_DOC_COMMENT]
                        .into_iter()
                        .enumerate()
                    {
                        let reply = match rng.below(3) {
                            0 => rng.code(30),
                            1 => format!("```\n{}\n```", rng.code(30)),
                            _ => format!("```x\n{}\n```\n```\n{}\n```", rng.code(20), rng.code(20)),
                        };
                        let result = apply(
                            &doc.ctx,
                            id,
                            Some("simplify"),
                            &mut CannedModel::answering(reply),
                        );
                        if offered.iter().any(|a| a.id == id) {
                            assert!(
                                !matches!(result, Err(Error::InvalidRequest(_))),
                                "offered `{id}` refused: {result:?} for {:?}",
                                doc.ctx
                            );
                        }
                        let Ok(edits) = result else { continue };
                        applied[n] += 1;
                        for edit in &edits {
                            if let Err(e) = check_range(&doc.text, edit.range) {
                                panic!("`{id}`: {e} in {:?} with context {:?}", doc.text, doc.ctx);
                            }
                        }
                        for pair in edits.windows(2) {
                            assert!(
                                pair[0].range.end <= pair[1].range.start,
                                "overlapping edits {edits:?}"
                            );
                        }
                    }
                }
            }
            eprintln!("edits produced per action: {applied:?}");
            assert!(
                applied.iter().all(|&n| n >= 100),
                "too few edits exercised: {applied:?}"
            );
        }

        #[test]
        fn doc_comment_errors() {
            let ctx = marked_context("let x = 1;$0\n", "rust", "a.rs");
            let err = apply(
                &ctx,
                ADD_DOC_COMMENT,
                None,
                &mut CannedModel::answering("x"),
            )
            .unwrap_err();
            assert!(
                matches!(err, Error::InvalidRequest(ref m) if m.contains("inside a function")),
                "{err}"
            );
            let ctx = marked_context("fn f() {$0}\n", "rust", "a.rs");
            let err = apply(
                &ctx,
                ADD_DOC_COMMENT,
                None,
                &mut CannedModel::answering("```rust\n```"),
            )
            .unwrap_err();
            assert!(matches!(err, Error::Unavailable(_)), "{err}");
        }
    }
}

#[cfg(all(target_arch = "wasm32", feature = "component"))]
mod component {
    //! Binding of [`crate::logic`] to the `refactor-plugin` world.

    wit_bindgen::generate!({
        path: "../../wit",
        world: "refactor-plugin",
    });
    cordon_plugin_kit::wit_glue!();

    use cordon::plugin::log::{Level, log};
    use cordon::plugin::types::{DocumentContext, Error, TextEdit};
    use exports::cordon::plugin::describe::{Guest as Describe, Info};
    use exports::cordon::plugin::refactor::{Action, Guest as Refactor};

    struct Plugin;

    impl Describe for Plugin {
        fn describe() -> Info {
            Info {
                name: "refactor".to_owned(),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                description: "Rewrite a selection, extract a function, add a doc comment"
                    .to_owned(),
            }
        }
    }

    impl Refactor for Plugin {
        fn actions(context: DocumentContext) -> Result<Vec<Action>, Error> {
            let ctx = glue::context_to_kit(context);
            Ok(crate::logic::actions(&ctx)
                .into_iter()
                .map(|a| Action {
                    id: a.id,
                    title: a.title,
                    kind: a.kind,
                    needs_instruction: a.needs_instruction,
                })
                .collect())
        }

        fn apply(
            context: DocumentContext,
            id: String,
            instruction: Option<String>,
        ) -> Result<Vec<TextEdit>, Error> {
            let ctx = glue::context_to_kit(context);
            match crate::logic::apply(&ctx, &id, instruction.as_deref(), &mut glue::HostModel) {
                Ok(edits) => Ok(edits
                    .into_iter()
                    .map(|e| TextEdit {
                        range: glue::range_to_wit(e.range),
                        new_text: e.new_text,
                    })
                    .collect()),
                Err(e) => {
                    log(Level::Debug, &format!("refactor `{id}` failed: {e}"));
                    Err(glue::error_to_wit(e))
                }
            }
        }
    }

    export!(Plugin);
}
