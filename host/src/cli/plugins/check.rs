//! `cordon plugins check PLUGIN.wasm`: what a build imports and exports,
//! judged from its bytes before any compile, then loaded the way Cordon
//! loads a plugin (compile, link, `describe`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use crate::cli::UsageError;
use cordon::policy::Policy;
use cordon::runtime::{Limits, Origin, Runtime, cache, check};

#[derive(clap::Args)]
pub struct Args {
    /// The component to check (a `.wasm` file).
    wasm: PathBuf,
    /// Only read its imports and exports: do not compile it.
    #[arg(long)]
    no_compile: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub async fn check(args: Args) -> Result<ExitCode, UsageError> {
    let bytes = std::fs::read(&args.wasm)
        .map_err(|e| UsageError(format!("cannot read {}: {e}", args.wasm.display())))?;
    let mut problems: Vec<String> = Vec::new();
    let mut imports = Vec::new();
    let mut kinds = Vec::new();
    let mut api_version = None;
    match check::surface(&bytes) {
        Err(err) => problems.push(format!("it {err}")),
        Ok(surface) => {
            for import in &surface.imports {
                match check::import_refused(import) {
                    None => imports.push(json!({
                        "name": import,
                        "allowed": true,
                        "why": check::provided(import).unwrap_or(""),
                    })),
                    Some(why) => {
                        problems.push(format!("it imports `{import}`: {why}"));
                        imports.push(json!({ "name": import, "allowed": false, "why": why }));
                    }
                }
            }
            let (exported, describe) = check::exported_kinds(&surface);
            kinds = exported;
            api_version = check::exported_version(&surface).map(str::to_owned);
            if !describe {
                problems.push(format!(
                    "it does not export `cordon:plugin/describe@{}`, which every plugin exports (its name, version and description)",
                    check::API_VERSION
                ));
            }
            if kinds.is_empty() {
                problems.push(format!(
                    "it exports none of `cordon:plugin/completion`, `refactor`, `explain` at {}: build it against a world of Cordon's WIT (`completion-plugin`, `refactor-plugin`, `explain-plugin`)",
                    check::API_VERSION
                ));
            }
            if let Err(err) = check::validate(&bytes) {
                problems.push(format!("it {err}"));
            }
        }
    }
    let digest = cordon::runtime::plugin::digest(&bytes);
    let size = bytes.len();
    let mut loaded = Value::Null;
    if problems.is_empty() && !args.no_compile {
        let policy = Arc::new(Policy::load(None));
        let services = cordon::session::bare_services(Arc::clone(&policy));
        let runtime = Runtime::new(services, cache::default_dir())
            .map_err(|e| UsageError(format!("cannot start the WebAssembly runtime: {e:#}")))?;
        let started = Instant::now();
        let origin = Origin::CommandLine(args.wasm.clone());
        match runtime.load(origin, bytes, Limits::default()).await {
            Ok(plugin) => {
                loaded = json!({
                    "name": plugin.name(),
                    "version": plugin.info.version,
                    "description": plugin.info.description,
                    "compiled": plugin.compiled,
                    "load_ms": started.elapsed().as_millis() as u64,
                    "granted": cordon::gate::granted(&policy, plugin.name()),
                    "requests": cordon::requests::standing(&plugin, |c| {
                        policy.capability(plugin.name(), c).allowed
                    }),
                });
            }
            Err(err) => problems.push(err.to_string()),
        }
    }

    if args.json {
        let out = json!({
            "file": args.wasm.display().to_string(),
            "bytes": size,
            "sha256": digest,
            "imports": imports,
            "kinds": kinds,
            "api_version": api_version,
            "loaded": loaded,
            "problems": problems,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("JSON values serialize")
        );
    } else {
        print_text(
            &args,
            size,
            &digest,
            &imports,
            (&kinds, api_version.as_deref()),
            &loaded,
            &problems,
        );
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_text(
    args: &Args,
    size: usize,
    digest: &str,
    imports: &[Value],
    (kinds, api_version): (&[&str], Option<&str>),
    loaded: &Value,
    problems: &[String],
) {
    let shown = |v: &Value| cordon::text::for_terminal(v.as_str().unwrap_or(""), 200);
    println!(
        "{}: {:.1} MB, sha256 {digest}",
        args.wasm.display(),
        size as f64 / 1e6
    );
    if !imports.is_empty() {
        println!("  imports:");
        for import in imports {
            let verdict = if import["allowed"].as_bool() == Some(true) {
                "ok     "
            } else {
                "REFUSED"
            };
            println!(
                "    {verdict} {:<40} {}",
                shown(&import["name"]),
                shown(&import["why"])
            );
        }
    }
    if !kinds.is_empty() {
        println!(
            "  provides: {} (cordon:plugin@{})",
            kinds.join(", "),
            api_version.unwrap_or("?")
        );
        if api_version.is_some_and(|v| v != check::API_VERSION) {
            println!(
                "  note: built against an earlier plugin API; it runs, but `cordon new` and the SDK now build against cordon:plugin@{}",
                check::API_VERSION
            );
        }
    }
    if loaded.is_object() {
        println!(
            "  loaded: {} {} — {} ({}, {} ms)",
            shown(&loaded["name"]),
            shown(&loaded["version"]),
            shown(&loaded["description"]),
            shown(&loaded["compiled"]),
            loaded["load_ms"]
        );
        let granted: Vec<&str> = loaded["granted"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        println!(
            "  granted by the policy in force: {}",
            if granted.is_empty() {
                "nothing".to_owned()
            } else {
                granted.join(", ")
            }
        );
        let requests = &loaded["requests"];
        if requests["declared"].as_bool() == Some(true) {
            for asked in requests["asked"].as_array().into_iter().flatten() {
                let state = if asked["known"].as_bool() != Some(true) {
                    "not a capability Cordon has"
                } else if asked["granted"].as_bool() == Some(true) {
                    "granted"
                } else {
                    "NOT GRANTED: `cordon policy grant` prints the lines"
                };
                println!(
                    "  requests {} ({state}): {}",
                    shown(&asked["capability"]),
                    shown(&asked["why"])
                );
            }
        }
    }
    if problems.is_empty() {
        println!(
            "ok: {}",
            if args.no_compile {
                "Cordon provides every import (not compiled: --no-compile)"
            } else {
                "it loads in Cordon"
            }
        );
    } else {
        for problem in problems {
            println!("problem: {}", cordon::text::for_terminal(problem, 2000));
        }
        println!(
            "not loadable: {} problem(s); Cordon would refuse this build",
            problems.len()
        );
    }
}
