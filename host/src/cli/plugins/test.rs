//! `cordon plugins test PLUGIN.wasm FILE:LINE:COL`: run one plugin build at
//! a position without an editor, against a canned answer (`--reply`) or the
//! configured backends, and print what it returned, what it logged and
//! printed, what it asked the model, and why it failed (a panic's message).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;

use crate::cli::UsageError;
use crate::cli::run::{self, Target};
use cordon::policy::Policy;
use cordon::runtime::{Feature, Limits, Origin, Runtime, cache};

/// What the plugin under test is granted unless `--policy` is given.
const TEST_GRANTS: &str = r#"[plugins."*"]
capabilities = ["model", "workspace.read", "log"]
"#;

#[derive(clap::Args)]
pub struct Args {
    /// The component to run (a `.wasm` file).
    wasm: PathBuf,
    /// FILE:LINE:COL, or FILE:LINE:COL-LINE:COL to select a range (1-based,
    /// COL in characters).
    position: String,
    /// Run only this feature (default: every feature the plugin provides).
    #[arg(long)]
    feature: Option<Feature>,
    /// Refactor: apply this action (by id) instead of listing the actions.
    #[arg(long, value_name = "ID")]
    action: Option<String>,
    /// Refactor: the instruction for actions that need one.
    #[arg(long, value_name = "TEXT")]
    instruction: Option<String>,
    /// Answer every model request with TEXT (nothing leaves the machine).
    /// Without it, requests go to the backends of the configuration, as in
    /// `cordon run` (default: the offline `local` model).
    #[arg(long, value_name = "TEXT")]
    reply: Option<String>,
    /// Run under the policy in force (organisation, user, workspace)
    /// instead of granting the plugin `model`, `workspace.read` and `log`.
    #[arg(long)]
    policy: bool,
    /// Workspace root (default: the nearest folder above FILE holding
    /// `.cordon`, `.git`, `Cargo.toml`, … ; else the current folder).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Use this configuration file (backends, routes) instead of
    /// `$CORDON_CONFIG` and the user and workspace `cordon.toml`.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Call each feature N more times and print the time per call (p50,
    /// p99): a fresh instance, the call and its checks, the canned or
    /// configured model included.
    #[arg(long, value_name = "N")]
    repeat: Option<u32>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// The policy the plugin runs under.
fn policy(args: &Args, root: &Path) -> Result<Policy, UsageError> {
    if args.policy {
        let policy = Policy::load(Some(root));
        if let Some(error) = policy.error() {
            return Err(UsageError(format!(
                "the policy does not load: {error} (`cordon policy check` shows every layer)"
            )));
        }
        return Ok(policy);
    }
    let layer = cordon_policy::parse_layer(
        cordon_policy::Layer::User,
        Path::new("<cordon plugins test>"),
        TEST_GRANTS,
    )
    .map_err(|e| UsageError(format!("the test grants do not parse: {e}")))?;
    Ok(Policy::of(cordon_policy::Effective::from_layers(vec![
        layer,
    ])))
}

pub async fn test(args: Args) -> Result<ExitCode, UsageError> {
    let bytes = std::fs::read(&args.wasm)
        .map_err(|e| UsageError(format!("cannot read {}: {e}", args.wasm.display())))?;
    let target: Target = run::target(&args.position)?;
    if args.instruction.is_some() && args.action.is_none() {
        return Err(UsageError("--instruction needs --action".into()));
    }
    let root = match &args.workspace {
        Some(dir) => dir.clone(),
        None => cordon::workspace::find_root(&target.abs),
    };
    let policy = Arc::new(policy(&args, &root)?);
    let mut canned = None;
    let services = match args.reply.as_deref() {
        Some(reply) => {
            let (services, model) =
                cordon::session::canned_services(&root, reply, Arc::clone(&policy));
            canned = Some(model);
            services
        }
        None => {
            let config = cordon::config::load(
                args.config.as_deref(),
                Some(&root),
                cordon::policy::trusted_workspace(&root),
            )
            .map_err(|e| UsageError(format!("configuration: {e}")))?;
            let (services, errors) =
                cordon::session::services_under(&root, &config, false, Arc::clone(&policy))
                    .await
                    .map_err(UsageError)?;
            for error in errors {
                eprintln!("cordon: warning: {error}");
            }
            services
        }
    };
    let runtime = Runtime::new(services, cache::default_dir())
        .map_err(|e| UsageError(format!("cannot start the WebAssembly runtime: {e:#}")))?;
    let plugin = match runtime
        .load(
            Origin::CommandLine(args.wasm.clone()),
            bytes,
            Limits::default(),
        )
        .await
    {
        Ok(plugin) => plugin,
        Err(err) => {
            eprintln!("cordon: {err}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let features = match args.feature {
        Some(feature) if !plugin.provides(feature) => {
            return Err(UsageError(format!(
                "plugin `{}` does not provide {feature} (it provides: {})",
                plugin.name(),
                plugin
                    .features()
                    .iter()
                    .map(|f| f.kind())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Some(feature) => vec![feature],
        None => plugin.features(),
    };
    if args.action.is_some() && !features.contains(&Feature::Refactor) {
        return Err(UsageError(
            "--action applies to refactor plugins only".into(),
        ));
    }
    let ctx = run::context_for(&runtime, &target)?;
    let granted = cordon::gate::granted(&policy, plugin.name());

    let mut results = Vec::new();
    let mut failures = 0;
    for feature in features {
        let action = args
            .action
            .as_deref()
            .filter(|_| feature == Feature::Refactor);
        let call = async || {
            run::invoke(
                &runtime,
                &plugin,
                feature,
                &target.doc,
                &ctx,
                action,
                args.instruction.as_deref(),
            )
            .await
        };
        let outcome = call().await;
        failures += usize::from(outcome.is_err());
        let mut result = run::result_json(plugin.name(), outcome);
        result["feature"] = json!(feature.kind());
        if let Some(n) = args.repeat.filter(|n| *n > 0) {
            let mut micros = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let started = std::time::Instant::now();
                let again = call().await;
                micros.push(started.elapsed().as_micros() as u64);
                failures += usize::from(again.is_err());
            }
            micros.sort_unstable();
            let at = |q: f64| micros[((micros.len() - 1) as f64 * q).round() as usize];
            result["timing"] = json!({ "calls": n, "p50_us": at(0.5), "p99_us": at(0.99) });
        }
        results.push(result);
    }
    let asked = canned.as_ref().map(|c| c.asked()).unwrap_or_default();

    if args.json {
        let out = json!({
            "plugin": plugin.name(),
            "version": plugin.info.version,
            "api_version": plugin.api_version,
            "granted": granted,
            "position": run::one_based(target.cursor),
            "results": results,
            "asked": asked,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("JSON values serialize")
        );
    } else {
        let shown = |s: &str| cordon::text::for_terminal(s, 200);
        println!(
            "{} {} ({}), granted {}{}",
            shown(plugin.name()),
            shown(&plugin.info.version),
            plugin
                .features()
                .iter()
                .map(|f| f.kind())
                .collect::<Vec<_>>()
                .join(", "),
            if granted.is_empty() {
                "nothing".to_owned()
            } else {
                granted.join(", ")
            },
            if args.policy {
                " by the policy in force"
            } else {
                " for this test (--policy: the policy in force)"
            }
        );
        for result in &results {
            println!("--- {}", result["feature"].as_str().unwrap_or(""));
            run::print_human(std::slice::from_ref(result));
            if let Some(timing) = result.get("timing") {
                println!(
                    "{} more calls: p50 {} µs, p99 {} µs per call",
                    timing["calls"], timing["p50_us"], timing["p99_us"]
                );
            }
            if let Some(actions) = result["actions"].as_array()
                && !actions.is_empty()
            {
                println!("(apply one with --action ID)");
            }
        }
        if canned.is_some() {
            println!("--- the model was asked {} time(s)", asked.len());
            for ask in asked.iter().take(5) {
                let system = match ask.system.chars().count() {
                    0 => String::new(),
                    n => format!(", a system prompt of {n} characters"),
                };
                println!(
                    "{} ({}){system}, {} characters: {}",
                    ask.kind,
                    ask.purpose,
                    ask.text.chars().count(),
                    cordon::text::one_line(&ask.text, 240)
                );
            }
            if asked.len() > 5 {
                println!("… and {} more", asked.len() - 5);
            }
        }
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
