//! `cordon policy check|explain` and `cordon audit verify`.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use super::UsageError;

#[derive(clap::Args)]
pub struct Args {
    /// Workspace root whose `.cordon/policy.toml` is the workspace layer
    /// (default: the current folder).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

fn root(args: &Args) -> Result<PathBuf, UsageError> {
    match &args.workspace {
        Some(dir) => Ok(dir.clone()),
        None => std::env::current_dir().map_err(|e| UsageError(format!("no current folder: {e}"))),
    }
}

/// Validate every layer; report errors with file and line.
pub fn check(args: Args) -> Result<ExitCode, UsageError> {
    let root = root(&args)?;
    let paths = cordon_policy::layer_paths(Some(&root));
    let result = cordon_policy::load(&paths);
    let layers: Vec<_> = paths
        .iter()
        .map(|(layer, path)| {
            json!({
                "layer": cordon::policy::layer_name(*layer),
                "path": path.display().to_string(),
                "present": path.is_file(),
            })
        })
        .collect();
    let (ok, errors, warnings) = match &result {
        Ok(effective) => (true, Vec::new(), effective.warnings()),
        Err(errors) => (
            false,
            errors.0.iter().map(|e| e.to_string()).collect(),
            Vec::new(),
        ),
    };
    if args.json {
        let out = json!({ "ok": ok, "layers": layers, "errors": errors, "warnings": warnings });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("JSON values serialize")
        );
    } else {
        for (layer, path) in &paths {
            let state = if path.is_file() { "read" } else { "absent" };
            println!(
                "{:<13} {state:<7} {}",
                cordon::policy::layer_name(*layer),
                path.display()
            );
        }
        if matches!(&result, Ok(e) if !e.is_configured()) {
            println!(
                "no policy file: Cordon's defaults apply (its own plugins: model, workspace.read, log; others: log)"
            );
        }
        for warning in &warnings {
            println!("warning: {warning}");
        }
        for error in &errors {
            eprintln!("error: {error}");
        }
        if ok {
            println!("policy ok");
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What `plugin` may do and which layer decided each grant.
pub fn explain(args: Args, plugin: &str) -> Result<ExitCode, UsageError> {
    let root = root(&args)?;
    let effective = cordon_policy::load(&cordon_policy::layer_paths(Some(&root)))
        .map_err(|e| UsageError(format!("the policy does not load: {e}")))?;
    let explanation = effective.explain(plugin);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&explanation).expect("JSON values serialize")
        );
    } else {
        if !effective.is_configured() {
            println!(
                "no policy file: Cordon's defaults apply (its own plugins: model, workspace.read, log; others: log)"
            );
        }
        print!("{explanation}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Check the hash chain of an audit log.
pub fn verify(path: &std::path::Path, json_out: bool) -> Result<ExitCode, UsageError> {
    match cordon_policy::verify(path) {
        Ok(report) => {
            if json_out {
                println!(
                    "{}",
                    json!({ "ok": true, "path": path.display().to_string(), "report": format!("{report:?}") })
                );
            } else {
                println!("{}: the chain is intact ({report:?})", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(err) => {
            if json_out {
                println!(
                    "{}",
                    json!({ "ok": false, "path": path.display().to_string(), "error": err.to_string() })
                );
            } else {
                eprintln!("cordon: {}: {err}", path.display());
            }
            Ok(ExitCode::FAILURE)
        }
    }
}
