//! `cordon audit export` and `cordon audit report`.

use std::path::PathBuf;
use std::process::ExitCode;

use cordon::export::{self, Job, Shipper};

use super::UsageError;

#[derive(clap::Args)]
pub struct ExportArgs {
    /// Logs to ship (default: the logs the policy exports). A log copied
    /// from another machine is shipped to every configured destination.
    #[arg(value_name = "LOG")]
    logs: Vec<PathBuf>,
    /// Ship from the first line, ignoring where the last export stopped
    /// (receivers drop the duplicates by `cordon.record_hash`).
    #[arg(long)]
    from_start: bool,
    /// Workspace whose policy layers apply (default: the current folder).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct ReportArgs {
    /// Logs to report on (default: the logs the policy names).
    #[arg(value_name = "LOG")]
    logs: Vec<PathBuf>,
    /// Write the page here.
    #[arg(long, value_name = "FILE")]
    html: PathBuf,
    /// Workspace whose policy layers apply (default: the current folder).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
}

fn effective(workspace: &Option<PathBuf>) -> Result<cordon_policy::Effective, UsageError> {
    let root = match workspace {
        Some(dir) => dir.clone(),
        None => {
            std::env::current_dir().map_err(|e| UsageError(format!("no current folder: {e}")))?
        }
    };
    let trusted = cordon::policy::trusted_workspace(&root);
    let names: Vec<&str> = cordon::builtin::PLUGINS.iter().map(|p| p.name).collect();
    cordon_policy::load_sources(
        &cordon_policy::Sources::of_process(Some(&root), trusted),
        &names,
    )
    .map_err(|e| UsageError(format!("the policy does not load: {e}")))
}

/// Ship the logs now, from their cursors.
pub async fn export(args: ExportArgs) -> Result<ExitCode, UsageError> {
    let effective = effective(&args.workspace)?;
    let (mut jobs, problems) = export::jobs(&effective, |name| std::env::var(name).ok());
    let mut failed = false;
    for problem in &problems {
        eprintln!("cordon: audit export: {problem}");
        failed = true;
    }
    if !args.logs.is_empty() {
        let mut destinations: Vec<export::Destination> = Vec::new();
        for job in jobs {
            if !destinations
                .iter()
                .any(|d| d.endpoint == job.destination.endpoint)
            {
                destinations.push(job.destination);
            }
        }
        jobs = args
            .logs
            .iter()
            .flat_map(|log| {
                destinations.iter().map(|d| Job {
                    log: log.clone(),
                    destination: d.clone(),
                })
            })
            .collect();
    }
    if jobs.is_empty() {
        if failed {
            return Ok(ExitCode::FAILURE);
        }
        return Err(UsageError(
            "nothing to export: no destination is configured (the organisation policy's [audit.export] next to its [audit] log, or OTEL_EXPORTER_OTLP_ENDPOINT), or no policy names an [audit] log"
                .into(),
        ));
    }
    for job in jobs {
        let (log, endpoint) = (
            job.log.display().to_string(),
            job.destination.endpoint.clone(),
        );
        let result = match Shipper::new(job, args.from_start) {
            Ok(mut shipper) => shipper.ship().await,
            Err(e) => Err(e),
        };
        match result {
            Ok(shipped) => println!(
                "{log} → {endpoint}: {} record{} sent; shipped through line {}",
                shipped.lines,
                if shipped.lines == 1 { "" } else { "s" },
                shipped.through
            ),
            Err(e) => {
                eprintln!("cordon: audit export: {log} → {endpoint}: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Write the usage page.
pub fn report(args: ReportArgs) -> Result<ExitCode, UsageError> {
    let logs = if args.logs.is_empty() {
        let logs: Vec<PathBuf> = effective(&args.workspace)?
            .audit_sinks()
            .into_iter()
            .map(|s| s.path)
            .collect();
        if logs.is_empty() {
            return Err(UsageError(
                "no audit log to report on: name one (cordon audit report LOG --html FILE), or give the policy an [audit] path".into(),
            ));
        }
        logs
    } else {
        args.logs
    };
    let report = cordon::report::write(&logs, &args.html).map_err(UsageError)?;
    println!(
        "{}: {} records, {} model requests, {} denials, {} redactions",
        args.html.display(),
        report.records,
        report.total.requests,
        report.total.denials,
        report.total.redactions
    );
    for chain in &report.chains {
        if let Err(e) = &chain.status {
            eprintln!("cordon: warning: {}: {e}", chain.path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
