//! `cordon doctor`: is the set-up usable, and if not, what to fix.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;

use super::{Common, UsageError};
use cordon_providers::ProviderKind;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: Common,
}

/// One finding.
struct Check {
    area: &'static str,
    name: String,
    ok: bool,
    message: String,
}

fn check(
    area: &'static str,
    name: impl Into<String>,
    ok: bool,
    message: impl Into<String>,
) -> Check {
    Check {
        area,
        name: name.into(),
        ok,
        message: message.into(),
    }
}

/// Longest wait for one backend's reachability check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(15);

pub async fn doctor(args: Args) -> Result<ExitCode, UsageError> {
    let root: PathBuf = match &args.common.workspace {
        Some(dir) => dir.clone(),
        None => {
            std::env::current_dir().map_err(|e| UsageError(format!("no current folder: {e}")))?
        }
    };
    let mut checks = vec![check(
        "workspace",
        root.display().to_string(),
        root.is_dir(),
        if root.is_dir() {
            "found"
        } else {
            "not a folder: pass --workspace DIR"
        },
    )];

    let config = match cordon::config::load(
        args.common.config.as_deref(),
        Some(&root),
        cordon::policy::trusted_workspace(&root),
    ) {
        Ok(config) => {
            if config.files.is_empty() {
                checks.push(check(
                    "config",
                    "cordon.toml",
                    true,
                    "none found; every feature uses the built-in `local` model (add backends in $XDG_CONFIG_HOME/cordon/cordon.toml)",
                ));
            }
            for (source, path) in &config.files {
                checks.push(check(
                    "config",
                    path.display().to_string(),
                    true,
                    format!("read ({source:?} layer)"),
                ));
            }
            config
        }
        Err(err) => {
            checks.push(check(
                "config",
                err.path.display().to_string(),
                false,
                err.message.clone(),
            ));
            cordon::config::Config::default()
        }
    };

    for (name, backend) in &config.backends {
        if backend.provider == ProviderKind::Local {
            checks.push(check("backend", name, true, "the built-in offline model"));
            continue;
        }
        let provider = match cordon_providers::Provider::new(name, backend).await {
            Ok(provider) => provider,
            Err(err) => {
                checks.push(check("backend", name, false, err.to_string()));
                continue;
            }
        };
        // The endpoint the client really resolved (FIPS, AWS_ENDPOINT_URL_*,
        // a profile's endpoint_url), where the request may be processed, and
        // whether the policy lets the built-in plugins use it.
        let facts = cordon::backends::remote::route_facts(&provider);
        let route = cordon_policy::Route {
            provider: provider.kind().as_str(),
            backend: name,
            model: provider.model(),
            region: provider.region(),
            endpoint: facts.endpoint.as_deref(),
            fips: facts.fips,
            auth: facts.auth,
            aws_profile: facts.aws_profile.as_deref(),
            guardrail: facts.guardrail.as_ref().map(|(id, _)| id.as_str()),
            inference_geo: facts.inference_geo.as_deref(),
        };
        checks.push(check(
            "endpoint",
            name,
            true,
            format!(
                "{} (auth {}{}{}); `{}` {}",
                provider.endpoint(),
                facts.auth.unwrap_or("unknown"),
                if facts.fips { ", FIPS" } else { "" },
                facts
                    .guardrail
                    .as_ref()
                    .map(|(_, g)| format!(", guardrail {g}"))
                    .unwrap_or_default(),
                provider.model(),
                route.processing()
            ),
        ));
        let policy = cordon::policy::Policy::load(Some(&root));
        for builtin in cordon::builtin::PLUGINS {
            let decision = policy.route(builtin.name, &route);
            if !decision.allowed {
                checks.push(check(
                    "policy",
                    format!("{} → {name}", builtin.name),
                    false,
                    decision.reason,
                ));
            }
        }
        let reached = tokio::time::timeout(CHECK_TIMEOUT, provider.check()).await;
        let (ok, message) = match reached {
            Ok(Ok(summary)) => (true, summary),
            Ok(Err(err)) => (false, err.to_string()),
            Err(_) => (
                false,
                format!(
                    "backend `{name}`: no answer from {} within {CHECK_TIMEOUT:?} — is it reachable?",
                    provider.endpoint()
                ),
            ),
        };
        checks.push(check("backend", name, ok, message));
    }
    let default = config.routes.get("default").map_or("local", String::as_str);
    checks.push(check("route", "default", true, format!("→ {default}")));
    for (plugin, backend) in config
        .routes
        .iter()
        .filter(|(p, _)| p.as_str() != "default")
    {
        checks.push(check("route", plugin, true, format!("→ {backend}")));
    }

    let (services, _) = cordon::session::services(&root, &config, false)
        .await
        .map_err(UsageError)?;
    let runtime = cordon::runtime::Runtime::new(services, cordon::runtime::cache::default_dir())
        .map_err(|e| UsageError(format!("cannot start the WebAssembly runtime: {e:#}")))?;
    let dirs = cordon::catalog::plugin_dirs(Some(&root), &args.common.plugin_dirs);
    let catalog = cordon::catalog::load(&runtime, &dirs).await;
    for plugin in &catalog.plugins {
        checks.push(check(
            "plugin",
            plugin.name(),
            true,
            format!(
                "{} ({}), sha256 {}",
                plugin.features().join(", "),
                plugin.origin,
                plugin.digest()
            ),
        ));
    }
    for error in &catalog.errors {
        checks.push(check("plugin", "", false, error.clone()));
    }

    match cordon::runtime::cache::default_dir() {
        Some(dir) => {
            let writable = std::fs::create_dir_all(&dir).is_ok() && tempfile_in(&dir);
            checks.push(check(
                "cache",
                dir.display().to_string(),
                writable,
                if writable {
                    "compiled plugins are cached here"
                } else {
                    "not writable: plugins are compiled at every start (set CORDON_CACHE_DIR)"
                },
            ));
        }
        None => checks.push(check(
            "cache",
            "",
            false,
            "no cache folder: set CORDON_CACHE_DIR",
        )),
    }

    let healthy = checks.iter().all(|c| c.ok);
    if args.common.json {
        let out = json!({
            "ok": healthy,
            "checks": checks.iter().map(|c| json!({
                "area": c.area, "name": c.name, "ok": c.ok, "message": c.message,
            })).collect::<Vec<_>>(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("JSON values serialize")
        );
    } else {
        for c in &checks {
            let mark = if c.ok { "ok " } else { "FAIL" };
            println!("{:<9} {mark:<4} {:<24} {}", c.area, c.name, c.message);
        }
    }
    Ok(if healthy {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn tempfile_in(dir: &std::path::Path) -> bool {
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    let ok = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}
