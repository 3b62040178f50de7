//! `cordon policy check|explain|grant` and `cordon audit verify`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::json;

use super::UsageError;

#[derive(clap::Args)]
pub struct Args {
    /// Workspace root whose `.cordon/policy.toml` is the workspace layer
    /// (default: the current folder).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Also load plugins from this folder (repeatable), as `cordon lsp
    /// --plugin-dir` would: their requests are checked too.
    #[arg(long = "plugin-dir", value_name = "DIR")]
    plugin_dirs: Vec<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// The plugins the workspace at `root` loads (built-in, `--plugin-dir`,
/// the user's, a trusted workspace's), for what they request; the reason
/// when they cannot be loaded.
async fn plugins(root: &Path, args: &Args) -> Result<cordon::catalog::Catalog, String> {
    let config = cordon::config::load(None, Some(root), cordon::policy::trusted_workspace(root))
        .map_err(|e| format!("configuration: {e}"))?;
    let session = cordon::session::start(root, &config, &args.plugin_dirs, false).await?;
    Ok(session.catalog)
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

/// Validate every layer; report errors with file and line, and warn about
/// every request of a loaded plugin that the policy leaves ungranted.
pub async fn check(args: Args) -> Result<ExitCode, UsageError> {
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
    let mut notes = Vec::new();
    let (ok, errors, warnings) = match &result {
        Ok(effective) => (true, Vec::new(), {
            let mut warnings = effective.warnings();
            match plugins(&root, &args).await {
                Ok(catalog) => {
                    for plugin in &catalog.plugins {
                        let standing = cordon::requests::standing(plugin, |c| {
                            effective.allows_capability(plugin.name(), c).allowed
                        });
                        warnings.extend(cordon::requests::warnings(plugin, &standing));
                    }
                    notes.extend(
                        catalog
                            .errors
                            .iter()
                            .map(|e| format!("plugin not loaded, its requests unchecked: {e}")),
                    );
                }
                Err(why) => notes.push(format!(
                    "the plugins' requests are unchecked: they could not be loaded ({why})"
                )),
            }
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
            "notes": notes,
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
        for note in &notes {
            println!("note: {note}");
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

/// `cordon policy grant PLUGIN`: the policy lines that grant `plugin` what
/// it asks for, keeping what every other loaded plugin holds now (a policy
/// file replaces Cordon's defaults: deny by default), to paste into a
/// policy file.
pub async fn grant(args: Args, plugin: &str) -> Result<ExitCode, UsageError> {
    let root = root(&args)?;
    let effective = load(&root).1.map_err(|e| {
        UsageError(format!(
            "the policy does not load: {e}; fix it first (`cordon policy check`)"
        ))
    })?;
    let catalog = plugins(&root, &args)
        .await
        .map_err(|why| UsageError(format!("the plugins could not be loaded: {why}")))?;
    let Some(target) = catalog.plugins.iter().find(|p| p.name() == plugin) else {
        let names: Vec<&str> = catalog.plugins.iter().map(|p| p.name()).collect();
        return Err(UsageError(format!(
            "no loaded plugin is called `{plugin}` (loaded: {}); give its folder with --plugin-dir, or check `cordon plugins list`",
            names.join(", ")
        )));
    };
    let standing = cordon::requests::standing(target, |c| {
        effective.allows_capability(target.name(), c).allowed
    });
    if !standing.declared {
        return Err(UsageError(format!(
            "`{plugin}` was built against cordon:plugin@{}, which cannot declare requests: grant it by hand in [plugins.{plugin}] capabilities (model, workspace.read, log), or rebuild it with the current SDK",
            target.api_version
        )));
    }
    let wanted = standing.wanted();
    let user_layer = cordon_policy::Sources::of_process(Some(&root), false)
        .files
        .iter()
        .find(|f| f.layer == cordon_policy::Layer::User)
        .map(|f| f.path.display().to_string())
        .unwrap_or_else(|| "$XDG_CONFIG_HOME/cordon/policy.toml".to_owned());
    let mut out = String::new();
    out.push_str(&format!(
        "# Grants `{plugin}` what it asks for. Add to a policy file (yours: {user_layer}),\n# merging sections it already has; then run `cordon policy check`.\n"
    ));
    if effective.uses_builtin_defaults() {
        out.push_str("# No policy file is in force yet: once one is, only what it grants holds,\n# so the other plugins' present grants are written out too.\n");
    }
    out.push_str(&format!("\n[plugins.{}]\n", toml_key(plugin)));
    for asked in standing.asked.iter().filter(|a| a.known) {
        out.push_str(&format!(
            "# {}: {}\n",
            asked.capability,
            cordon::text::for_terminal(&asked.why, 200)
        ));
    }
    out.push_str(&format!(
        "capabilities = {}\n",
        toml_list(wanted.iter().map(|c| c.as_str()))
    ));
    out.push_str(&format!(
        "# sha256 = [\"{}\"]   # uncomment to allow only this build\n",
        target.digest()
    ));
    for other in catalog.plugins.iter().filter(|p| p.name() != plugin) {
        let holds: Vec<&str> = cordon_policy::Capability::ALL
            .into_iter()
            .filter(|c| effective.allows_capability(other.name(), *c).allowed)
            .map(|c| c.as_str())
            .collect();
        if holds.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n# kept: what `{}` ({}) holds now\n[plugins.{}]\ncapabilities = {}\n",
            other.name(),
            other.origin.kind(),
            toml_key(other.name()),
            toml_list(holds.into_iter())
        ));
    }
    for asked in standing.asked.iter().filter(|a| !a.known) {
        out.push_str(&format!(
            "\n# `{plugin}` also asks for `{}`, which is not a capability Cordon has: nothing grants it\n",
            cordon::text::for_terminal(&asked.capability, 64)
        ));
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "plugin": plugin,
                "requests": standing.asked,
                "snippet": out,
            }))
            .expect("JSON values serialize")
        );
    } else {
        print!("{out}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A plugin name as a TOML key (names are lowercase words and `-`, which
/// TOML takes bare).
fn toml_key(name: &str) -> String {
    if !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

fn toml_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = items.map(|i| format!("\"{i}\"")).collect();
    format!("[{}]", quoted.join(", "))
}
