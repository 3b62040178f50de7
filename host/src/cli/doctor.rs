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

/// How a finding affects the set-up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Ok,
    /// Works, with less than it could (e.g. no chat backend: no
    /// explanations). Not a failure.
    Warn,
    /// Broken: `doctor` exits non-zero.
    Fail,
}

/// One finding.
struct Check {
    area: &'static str,
    name: String,
    level: Level,
    message: String,
}

impl Check {
    fn ok(&self) -> bool {
        self.level != Level::Fail
    }
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
        level: if ok { Level::Ok } else { Level::Fail },
        message: message.into(),
    }
}

fn warn(area: &'static str, name: impl Into<String>, message: impl Into<String>) -> Check {
    Check {
        level: Level::Warn,
        ..check(area, name, true, message)
    }
}

/// Each policy layer: read, and whether it parses.
fn policy_checks(root: &std::path::Path) -> Vec<Check> {
    let (sources, loaded) = super::policy::load(root);
    let mut checks = Vec::new();
    for file in sources.files.iter().filter(|f| f.path.is_file()) {
        checks.push(check(
            "policy",
            cordon::policy::layer_name(file.layer),
            true,
            format!("read {}", file.path.display()),
        ));
    }
    match loaded {
        Ok(effective) => {
            if effective.uses_builtin_defaults() {
                checks.push(check(
                    "policy",
                    "defaults",
                    true,
                    "no policy file: Cordon's defaults apply (its own plugins: model, workspace.read, log; others: log)",
                ));
            }
            for warning in effective.warnings() {
                checks.push(warn("policy", "", warning));
            }
        }
        Err(errors) => {
            for error in &errors.0 {
                checks.push(check(
                    "policy",
                    "",
                    false,
                    format!(
                        "{error}; every capability is denied until it is fixed (`cordon policy check` shows every layer)"
                    ),
                ));
            }
        }
    }
    checks
}

/// What the policy and the backends leave each built-in feature.
fn feature_checks(services: &cordon::gate::Services) -> Vec<Check> {
    use cordon::gate::Capability;
    let mut checks = Vec::new();
    for builtin in cordon::builtin::PLUGINS {
        let name = builtin.name;
        let policy = services.policy();
        if !policy.capability(name, Capability::Model).allowed {
            checks.push(check(
                "feature",
                name,
                false,
                format!(
                    "the policy leaves built-in plugin `{name}` without `model`, so {name} cannot work: grant it in [plugins.{name}] capabilities"
                ),
            ));
            continue;
        }
        let missing: Vec<&str> = [Capability::WorkspaceRead, Capability::Log]
            .into_iter()
            .filter(|c| !policy.capability(name, *c).allowed)
            .map(Capability::as_str)
            .collect();
        if !missing.is_empty() {
            checks.push(warn(
                "feature",
                name,
                format!(
                    "works, without {}: the policy does not grant built-in plugin `{name}` those",
                    missing.join(", ")
                ),
            ));
            continue;
        }
        // Explanations and refactors need a chat model.
        match (name != "completion")
            .then(|| services.chat_unavailable(name))
            .flatten()
        {
            Some(reason) => checks.push(warn("feature", name, format!("not available: {reason}"))),
            None => checks.push(check("feature", name, true, "can work")),
        }
    }
    checks
}

/// Whether editors will find `cordon` (they run `cordon lsp`).
fn editor_check() -> Check {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("cordon"))
            .find(|candidate| candidate.is_file())
    });
    match found {
        Some(path) => check(
            "editor",
            "cordon lsp",
            true,
            format!(
                "editors find {} on PATH; set-ups for each editor: examples/editors/README.md",
                path.display()
            ),
        ),
        None => warn(
            "editor",
            "cordon lsp",
            "`cordon` is not on PATH, so an editor's `cordon lsp` will not start: `cargo install --path host`, or give the full path in the editor's set-up (examples/editors/README.md)",
        ),
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

    checks.extend(policy_checks(&root));
    let (services, _) = cordon::session::services(&root, &config, false)
        .await
        .map_err(UsageError)?;
    checks.extend(feature_checks(&services));
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
                "{} ({}), granted: {}, sha256 {}",
                plugin
                    .features()
                    .iter()
                    .map(|f| f.kind())
                    .collect::<Vec<_>>()
                    .join(", "),
                plugin.origin,
                match cordon::gate::granted(runtime.services().policy(), plugin.name()).join(", ") {
                    none if none.is_empty() => "nothing".to_owned(),
                    some => some,
                },
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

    checks.push(editor_check());

    let healthy = checks.iter().all(Check::ok);
    if args.common.json {
        let out = json!({
            "ok": healthy,
            "checks": checks.iter().map(|c| json!({
                "area": c.area,
                "name": c.name,
                "ok": c.ok(),
                "level": match c.level { Level::Ok => "ok", Level::Warn => "warn", Level::Fail => "fail" },
                "message": c.message,
            })).collect::<Vec<_>>(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("JSON values serialize")
        );
    } else {
        for c in &checks {
            let mark = match c.level {
                Level::Ok => "ok",
                Level::Warn => "warn",
                Level::Fail => "FAIL",
            };
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
