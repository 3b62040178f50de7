//! `cordon plugins list`, and the plugin authors' tools: `check` and
//! `test`.

pub mod check;
pub mod test;

use std::process::ExitCode;

use serde_json::json;

use super::{Common, UsageError};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: Common,
}

pub async fn list(args: Args) -> Result<ExitCode, UsageError> {
    let root = match &args.common.workspace {
        Some(dir) => dir.clone(),
        None => {
            std::env::current_dir().map_err(|e| UsageError(format!("no current folder: {e}")))?
        }
    };
    let (runtime, catalog) = super::start(&root, &args.common).await?;
    let policy = runtime.services().policy();
    let standing = |p: &cordon::runtime::Plugin| {
        cordon::requests::standing(p, |c| policy.capability(p.name(), c).allowed)
    };
    if args.common.json {
        let plugins: Vec<_> = catalog
            .plugins
            .iter()
            .map(|p| {
                let standing = standing(p);
                json!({
                    "name": p.name(),
                    "version": p.info.version,
                    "description": p.info.description,
                    "origin": p.origin.kind(),
                    "path": p.origin.path().map(|p| p.display().to_string()),
                    "kinds": p.features(),
                    "exports": p.interfaces,
                    "sha256": p.digest(),
                    "api_version": p.api_version,
                    "capabilities": cordon::gate::granted(policy, p.name()),
                    "requests": standing.declared.then_some(standing.asked),
                    "granted_unrequested": standing.unrequested,
                    "compiled": p.compiled,
                })
            })
            .collect();
        let out = json!({ "plugins": plugins, "errors": catalog.errors });
        println!(
            "{}",
            serde_json::to_string_pretty(&out).expect("JSON values serialize")
        );
    } else {
        for p in &catalog.plugins {
            println!("{} {} ({})", p.name(), p.info.version, p.origin);
            println!("  {}", p.info.description);
            println!(
                "  kinds:        {}",
                p.features()
                    .iter()
                    .map(|f| f.kind())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            println!("  exports:      {}", p.interfaces.join(", "));
            println!("  sha256:       {}", p.digest());
            println!("  api:          cordon:plugin@{}", p.api_version);
            let granted = cordon::gate::granted(policy, p.name());
            println!(
                "  capabilities: {}",
                if granted.is_empty() {
                    "none".to_owned()
                } else {
                    granted.join(", ")
                }
            );
            print_requests(&standing(p));
        }
    }
    Ok(if catalog.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A plugin's requests, one per line, each with whether it is granted.
fn print_requests(standing: &cordon::requests::Standing) {
    let shown = |s: &str, max| cordon::text::for_terminal(s, max);
    if !standing.declared {
        println!(
            "  requests:     not declared (built against cordon:plugin@{}, which has no requests)",
            cordon::api::v0_1_0::VERSION
        );
        return;
    }
    if standing.asked.is_empty() {
        println!("  requests:     none");
    }
    for (i, asked) in standing.asked.iter().enumerate() {
        let state = match (asked.known, asked.granted) {
            (false, _) => "UNKNOWN CAPABILITY",
            (true, true) => "granted",
            (true, false) => "NOT GRANTED",
        };
        println!(
            "  {:<13} {} ({state}): {}",
            if i == 0 { "requests:" } else { "" },
            shown(&asked.capability, 64),
            shown(&asked.why, 200)
        );
    }
    if !standing.unrequested.is_empty() {
        println!(
            "  granted, not requested: {}",
            standing.unrequested.join(", ")
        );
    }
}
