//! `cordon run complete|refactor|explain FILE:LINE:COL`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};

use super::{Common, UsageError};
use cordon::api::{DocumentContext, Position, Range};
use cordon::context::{self, Windows};
use cordon::document::Document;
use cordon::runtime::{CallError, Feature};
use cordon::text;

#[derive(clap::Args)]
pub struct Args {
    /// The feature to run.
    feature: Feature,
    /// FILE:LINE:COL, or FILE:LINE:COL-LINE:COL to select a range.
    position: String,
    /// Run only this plugin.
    #[arg(long)]
    plugin: Option<String>,
    /// Refactor: apply this action (by id) instead of listing the actions.
    #[arg(long, value_name = "ID")]
    action: Option<String>,
    /// Refactor: the instruction for actions that need one.
    #[arg(long, value_name = "TEXT")]
    instruction: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// A parsed `FILE:LINE:COL[-LINE:COL]`, 1-based.
#[derive(Debug, PartialEq, Eq)]
struct Spec {
    file: PathBuf,
    start: (u32, u32),
    end: Option<(u32, u32)>,
}

fn parse_pair(text: &str) -> Option<(u32, u32)> {
    let (line, col) = text.split_once(':')?;
    Some((line.parse().ok()?, col.parse().ok()?))
}

fn parse_spec(spec: &str) -> Result<Spec, UsageError> {
    let bad = || {
        UsageError(format!(
            "`{spec}` is not FILE:LINE:COL or FILE:LINE:COL-LINE:COL (LINE and COL start at 1)"
        ))
    };
    // The position is at the end; the file name may itself contain ':'.
    let (rest, end) = match spec.rsplit_once('-') {
        Some((rest, tail)) if parse_pair(tail).is_some() => (rest, parse_pair(tail)),
        _ => (spec, None),
    };
    let (file_and_line, col) = rest.rsplit_once(':').ok_or_else(bad)?;
    let (file, line) = file_and_line.rsplit_once(':').ok_or_else(bad)?;
    let start = (
        line.parse().map_err(|_| bad())?,
        col.parse().map_err(|_| bad())?,
    );
    if file.is_empty() || start.0 == 0 || start.1 == 0 || end.is_some_and(|(l, c)| l == 0 || c == 0)
    {
        return Err(bad());
    }
    Ok(Spec {
        file: PathBuf::from(file),
        start,
        end,
    })
}

fn position(doc: &Document, file: &Path, (line, col): (u32, u32)) -> Result<Position, UsageError> {
    let outside = |why: String| {
        UsageError(format!(
            "position {line}:{col} is outside {}: {why}",
            file.display()
        ))
    };
    let len = doc
        .line_len(line as usize - 1)
        .ok_or_else(|| outside(format!("the last line is {}", doc.line_count())))?;
    if col as usize > len + 1 {
        return Err(outside(format!(
            "line {line} has {len} characters, so COL is at most {}",
            len + 1
        )));
    }
    Ok(Position {
        line: line - 1,
        character: col - 1,
    })
}

pub(super) fn one_based(pos: Position) -> Value {
    json!({ "line": pos.line + 1, "column": pos.character + 1 })
}

fn range_json(range: Range) -> Value {
    json!({ "start": one_based(range.start), "end": one_based(range.end) })
}

fn error_json(err: &CallError) -> Value {
    json!({ "kind": err.kind(), "message": err.to_string() })
}

/// The document and position a feature runs at.
pub(super) struct Target {
    /// The file as given.
    pub file: PathBuf,
    /// The file, absolute where it resolves.
    pub abs: PathBuf,
    pub doc: Document,
    pub cursor: Position,
    pub selection: Option<Range>,
}

/// Read `FILE:LINE:COL[-LINE:COL]`: the file and the position in it.
pub(super) fn target(position_spec: &str) -> Result<Target, UsageError> {
    let spec = parse_spec(position_spec)?;
    let text = std::fs::read(&spec.file)
        .map_err(|e| UsageError(format!("cannot read {}: {e}", spec.file.display())))?;
    let text = String::from_utf8(text)
        .map_err(|_| UsageError(format!("{} is not UTF-8 text", spec.file.display())))?;
    let doc = Document::new(&text);
    let cursor = position(&doc, &spec.file, spec.start)?;
    let selection = match spec.end {
        Some(end) => {
            let end = position(&doc, &spec.file, end)?;
            if (end.line, end.character) < (cursor.line, cursor.character) {
                return Err(UsageError("the selection ends before it starts".into()));
            }
            Some(Range { start: cursor, end })
        }
        None => None,
    };
    let abs = spec
        .file
        .canonicalize()
        .unwrap_or_else(|_| spec.file.clone());
    Ok(Target {
        file: spec.file,
        abs,
        doc,
        cursor,
        selection,
    })
}

/// The context plugins get at `target`, unless the policy excludes its file.
pub(super) fn context_for(
    runtime: &cordon::runtime::Runtime,
    target: &Target,
) -> Result<DocumentContext, UsageError> {
    let workspace = runtime.services().workspace();
    let rel = workspace
        .and_then(|ws| ws.relative(&target.abs))
        .unwrap_or_else(|| target.file.to_string_lossy().replace('\\', "/"));
    // A document the policy excludes is never shown to any plugin.
    if let Some(excluded) = runtime.services().policy().excluded(&rel) {
        return Err(UsageError(format!(
            "{} is excluded by policy: {}",
            target.file.display(),
            excluded.reason
        )));
    }
    let request = context::Request {
        path: &rel,
        language_id: context::language_id(&rel),
        cursor: target.cursor,
        selection: target.selection,
        diagnostics: &[],
    };
    context::build(&target.doc, &request, Windows::default())
        .map_err(|e| UsageError(format!("position outside the document: {e}")))
}

/// One call of `feature` on `plugin`, as JSON: what `cordon run` and
/// `cordon plugins test` print.
pub(super) async fn invoke(
    runtime: &cordon::runtime::Runtime,
    plugin: &cordon::runtime::Plugin,
    feature: Feature,
    doc: &Document,
    ctx: &DocumentContext,
    action: Option<&str>,
    instruction: Option<&str>,
) -> Result<Value, CallError> {
    match feature {
        Feature::Completion => runtime.complete(plugin, doc, ctx).await.map(|items| {
            json!({ "items": items.iter().map(|i| json!({
                "label": i.label,
                "insert_text": i.insert_text,
                "replace": range_json(i.replace),
                "detail": i.detail,
            })).collect::<Vec<_>>() })
        }),
        Feature::Refactor => match action {
            None => runtime.actions(plugin, ctx).await.map(|actions| {
                json!({ "actions": actions.iter().map(|a| json!({
                    "id": a.id,
                    "title": a.title,
                    "kind": a.kind,
                    "needs_instruction": a.needs_instruction,
                })).collect::<Vec<_>>() })
            }),
            Some(id) => runtime
                .apply(plugin, doc, ctx, id, instruction)
                .await
                .map(|edits| {
                    json!({ "action": id, "edits": edits.iter().map(|e| json!({
                        "range": range_json(e.range),
                        "new_text": e.new_text,
                    })).collect::<Vec<_>>() })
                }),
        },
        Feature::Explain => runtime
            .explain(plugin, ctx, None)
            .await
            .map(|markdown| json!({ "markdown": markdown })),
    }
}

/// What a call returned or why it failed, with the plugin's name.
pub(super) fn result_json(plugin: &str, outcome: Result<Value, CallError>) -> Value {
    match outcome {
        Ok(mut value) => {
            value["plugin"] = json!(plugin);
            value
        }
        Err(err) => json!({ "plugin": plugin, "error": error_json(&err) }),
    }
}

pub async fn run(args: Args) -> Result<ExitCode, UsageError> {
    let target = target(&args.position)?;
    if args.instruction.is_some() && args.action.is_none() {
        return Err(UsageError("--instruction needs --action".into()));
    }
    if args.action.is_some() && args.feature != Feature::Refactor {
        return Err(UsageError("--action applies to `run refactor` only".into()));
    }

    let root = match &args.common.workspace {
        Some(dir) => dir.clone(),
        None => cordon::workspace::find_root(&target.abs),
    };
    if !root.is_dir() {
        return Err(UsageError(format!(
            "workspace {} is not a folder",
            root.display()
        )));
    }
    let (runtime, catalog) = super::start(&root, &args.common).await?;

    let kind = args.feature.kind();
    let plugins: Vec<_> = match &args.plugin {
        Some(name) => {
            let plugin = catalog.get(name).ok_or_else(|| {
                let known: Vec<_> = catalog.plugins.iter().map(|p| p.name()).collect();
                UsageError(format!(
                    "unknown plugin `{name}` (loaded: {})",
                    known.join(", ")
                ))
            })?;
            if !plugin.provides(args.feature) {
                return Err(UsageError(format!(
                    "plugin `{name}` does not provide {kind}"
                )));
            }
            vec![plugin.clone()]
        }
        None => catalog.providers(args.feature).cloned().collect(),
    };
    if plugins.is_empty() {
        return Err(UsageError(format!("no loaded plugin provides {kind}")));
    }
    let ctx = context_for(&runtime, &target)?;

    let mut results = Vec::new();
    let mut successes = 0;
    for plugin in &plugins {
        let outcome = invoke(
            &runtime,
            plugin,
            args.feature,
            &target.doc,
            &ctx,
            args.action.as_deref(),
            args.instruction.as_deref(),
        )
        .await;
        successes += usize::from(outcome.is_ok());
        results.push(result_json(plugin.name(), outcome));
    }

    // A backend that could not be used, and what answered instead.
    for notice in runtime.services().take_notices() {
        if let cordon::gate::Notice::Down {
            message, broken, ..
        } = notice
        {
            // A broken configuration was reported when it was loaded.
            if !broken {
                eprintln!("cordon: note: {message}");
            }
        }
    }
    if args.common.json {
        let out = json!({
            "feature": kind,
            "file": target.file.to_string_lossy(),
            "position": one_based(target.cursor),
            "results": results,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("JSON values serialize")
        );
    } else {
        print_human(&results);
    }
    Ok(if successes > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What a plugin returned, for a terminal: its text never carries control
/// characters (escape sequences, OSC 52 clipboard writes) to the terminal.
fn shown(value: &Value) -> String {
    text::for_terminal(value.as_str().unwrap_or(""), usize::MAX)
}

pub(super) fn print_human(results: &[Value]) {
    for result in results {
        let plugin = shown(&result["plugin"]);
        if let Some(error) = result.get("error") {
            // The message names the plugin, and the model error's kind.
            eprintln!("cordon: {}", shown(&error["message"]));
        } else if let Some(items) = result["items"].as_array() {
            if items.is_empty() {
                println!("{plugin}: no suggestion");
            }
            for item in items {
                println!("{}", shown(&item["insert_text"]));
            }
        } else if let Some(actions) = result["actions"].as_array() {
            if actions.is_empty() {
                println!("{plugin}: no action here");
            }
            for action in actions {
                let needs = if action["needs_instruction"].as_bool() == Some(true) {
                    "  (needs --instruction)"
                } else {
                    ""
                };
                println!(
                    "{:<20} {}{needs}",
                    shown(&action["id"]),
                    shown(&action["title"])
                );
            }
        } else if let Some(edits) = result["edits"].as_array() {
            for edit in edits {
                let r = &edit["range"];
                println!(
                    "@@ {}:{}-{}:{} @@",
                    r["start"]["line"], r["start"]["column"], r["end"]["line"], r["end"]["column"]
                );
                println!("{}", shown(&edit["new_text"]));
            }
        } else if result["markdown"].is_string() {
            println!("{}", shown(&result["markdown"]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_from_the_end() {
        assert_eq!(
            parse_spec("src/lib.rs:12:9").unwrap(),
            Spec {
                file: "src/lib.rs".into(),
                start: (12, 9),
                end: None
            }
        );
        assert_eq!(
            parse_spec("a:b.rs:1:2-3:4").unwrap(),
            Spec {
                file: "a:b.rs".into(),
                start: (1, 2),
                end: Some((3, 4))
            }
        );
        assert!(parse_spec("my-file.rs:1:1").is_ok());
        assert!(parse_spec("src/lib.rs:0:1").is_err());
        assert!(parse_spec("src/lib.rs:12").is_err());
        assert!(parse_spec(":1:1").is_err());
    }
}
