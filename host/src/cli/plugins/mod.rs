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
    if args.common.json {
        let plugins: Vec<_> = catalog
            .plugins
            .iter()
            .map(|p| {
                json!({
                    "name": p.name(),
                    "version": p.info.version,
                    "description": p.info.description,
                    "origin": p.origin.kind(),
                    "path": p.origin.path().map(|p| p.display().to_string()),
                    "kinds": p.features(),
                    "exports": p.interfaces,
                    "sha256": p.digest(),
                    "capabilities": cordon::gate::granted(policy, p.name()),
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
            println!(
                "  capabilities: {}",
                cordon::gate::granted(policy, p.name()).join(", ")
            );
        }
    }
    Ok(if catalog.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
