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

/// The sources and the effective policy as the host would load them for
/// `root` (trusted or not, as the user decided).
pub(super) fn load(
    root: &std::path::Path,
) -> (
    cordon_policy::Sources,
    Result<cordon_policy::Effective, cordon_policy::PolicyErrors>,
) {
    let trusted = cordon::policy::trusted_workspace(root);
    let sources = cordon_policy::Sources::of_process(Some(root), trusted);
    let names: Vec<&str> = cordon::builtin::PLUGINS.iter().map(|p| p.name).collect();
    let result = cordon_policy::load_sources(&sources, &names);
    (sources, result)
}

/// Validate every layer; report errors with file and line.
pub fn check(args: Args) -> Result<ExitCode, UsageError> {
    let root = root(&args)?;
    let (sources, result) = load(&root);
    let paths: Vec<_> = sources
        .files
        .iter()
        .map(|f| (f.layer, f.path.clone(), f.narrow_only))
        .collect();
    let layers: Vec<_> = paths
        .iter()
        .map(|(layer, path, narrow_only)| {
            json!({
                "layer": cordon::policy::layer_name(*layer),
                "path": path.display().to_string(),
                "present": path.is_file(),
                "narrow_only": narrow_only,
            })
        })
        .collect();
    let trust = cordon::trust::status(&root);
    let (ok, errors, warnings) = match &result {
        Ok(effective) => (true, Vec::new(), {
            let mut warnings = effective.warnings();
            warnings.extend(builtins_left_without(effective));
            warnings
        }),
        Err(errors) => (
            false,
            errors.0.iter().map(|e| e.to_string()).collect(),
            Vec::new(),
        ),
    };
    if args.json {
        let out = json!({
            "ok": ok,
            "layers": layers,
            "errors": errors,
            "warnings": warnings,
            "workspace_trusted": trust.trusted,
            "notice": trust.notice(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("JSON values serialize")
        );
    } else {
        for (layer, path, narrow_only) in &paths {
            let state = if path.is_file() { "read" } else { "absent" };
            let narrow = if *narrow_only && path.is_file() {
                " (narrows only)"
            } else {
                ""
            };
            println!(
                "{:<13} {state:<7} {}{narrow}",
                cordon::policy::layer_name(*layer),
                path.display()
            );
        }
        if let Some(notice) = trust.notice() {
            println!("note: {notice}");
        }
        if matches!(&result, Ok(e) if e.uses_builtin_defaults()) {
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
    let effective = load(&root)
        .1
        .map_err(|e| UsageError(format!("the policy does not load: {e}")))?;
    let explanation = effective.explain(plugin);
    // Where each configured backend would process this plugin's requests,
    // and whether the policy lets them go there.
    let config = cordon::config::load(None, Some(&root), cordon::policy::trusted_workspace(&root))
        .unwrap_or_default();
    let mut routes = Vec::new();
    for (name, backend) in &config.backends {
        let route = cordon_policy::Route {
            provider: backend.provider.as_str(),
            backend: name,
            model: &backend.model,
            region: backend.region.as_deref(),
            inference_geo: backend.inference_geo.as_deref(),
            guardrail: backend.guardrail.as_ref().map(|g| g.id.as_str()),
            fips: backend.use_fips.unwrap_or(false),
            ..cordon_policy::Route::default()
        };
        let decision = effective.allows_route(plugin, &route);
        routes.push((name.clone(), route.processing().to_string(), decision));
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&{
                let mut out = serde_json::to_value(&explanation).expect("JSON values serialize");
                out["backends"] = routes
                    .iter()
                    .map(|(name, processing, d)| {
                        json!({
                            "backend": name,
                            "processing": processing,
                            "allowed": d.allowed,
                            "reason": d.reason,
                        })
                    })
                    .collect();
                out
            })
            .expect("JSON values serialize")
        );
    } else {
        if effective.uses_builtin_defaults() {
            println!(
                "no policy file: Cordon's defaults apply (its own plugins: model, workspace.read, log; others: log)"
            );
        }
        print!("{explanation}");
        for (name, processing, decision) in &routes {
            let verdict = if decision.allowed {
                "allowed"
            } else {
                "denied"
            };
            println!("backend {name}: {verdict}: `{plugin}`'s requests {processing}");
            if !decision.allowed {
                println!("  {}", decision.reason);
            }
        }
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

/// Cordon's own plugins the policy leaves without a capability they use
/// (deny by default: a policy granting only a new plugin takes `model`
/// from them), one warning each.
fn builtins_left_without(effective: &cordon_policy::Effective) -> Vec<String> {
    use cordon_policy::Capability;
    cordon::builtin::PLUGINS
        .iter()
        .filter_map(|builtin| {
            let name = builtin.name;
            let missing: Vec<&str> = [Capability::Model, Capability::WorkspaceRead, Capability::Log]
                .into_iter()
                .filter(|c| !effective.allows_capability(name, *c).allowed)
                .map(Capability::as_str)
                .collect();
            (!missing.is_empty()).then(|| {
                let effect = if missing.contains(&"model") {
                    format!("{name} cannot work until then")
                } else {
                    "it works with less".to_owned()
                };
                format!(
                    "the policy leaves Cordon's own plugin `{name}` without {}: grant it in [plugins.{name}] capabilities ({effect})",
                    missing.join(", ")
                )
            })
        })
        .collect()
}
