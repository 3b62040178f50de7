//! `cordon doctor`: is the set-up usable, and if not, what to fix.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;

use super::{Common, UsageError};

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
        for finding in cordon::session::probe_backend(&root, name, backend, CHECK_TIMEOUT).await {
            checks.push(check(
                finding.area,
                finding.name,
                finding.ok,
                finding.message,
            ));
        }
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
                plugin
                    .features()
                    .iter()
                    .map(|f| f.kind())
                    .collect::<Vec<_>>()
                    .join(", "),
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
