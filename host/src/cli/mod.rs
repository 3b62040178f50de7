//! Command-line interface: argument parsing and the subcommands.

mod audit;
mod doctor;
mod new;
mod plugins;
mod policy;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Cordon: sandboxed code-assistant plugins behind a capability gate.
#[derive(Parser)]
#[command(name = "cordon", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Language Server Protocol on stdin/stdout.
    Lsp {
        /// Accepted for editors that pass it; stdio is the only transport.
        #[arg(long)]
        stdio: bool,
        /// Workspace root (default: the client's first workspace folder).
        #[arg(long, value_name = "DIR")]
        workspace: Option<PathBuf>,
        /// Also load plugins from this folder (repeatable).
        #[arg(long = "plugin-dir", value_name = "DIR")]
        plugin_dirs: Vec<PathBuf>,
        /// Use this configuration file instead of `$CORDON_CONFIG` and the
        /// user and workspace `cordon.toml`.
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
    },
    /// Run a feature once at a position: FILE:LINE:COL (1-based, COL in
    /// characters), or FILE:LINE:COL-LINE:COL for a selection.
    Run(run::Args),
    /// Diagnose the set-up: configuration, backends (keys, reachability),
    /// plugins, caches.
    Doctor(doctor::Args),
    /// Validate the team policy, or explain what a plugin may do.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Work with the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Write a plugin project: `cordon new NAME --kind refactor --lang rust`
    /// (or python, js). It builds with one command, has a passing test and
    /// loads in Cordon unchanged.
    New(new::Args),
    /// Inspect plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Let a workspace's own `.cordon/` (plugins, grants, backends, routes,
    /// audit log) take effect. Trust is recorded by the content of those
    /// files: any change to them revokes it until you trust again.
    Trust {
        /// The workspace (default: the current folder).
        dir: Option<PathBuf>,
        /// Forget the trust given to DIR instead.
        #[arg(long)]
        revoke: bool,
        /// List the trusted workspaces.
        #[arg(long, conflicts_with_all = ["dir", "revoke"])]
        list: bool,
    },
    /// Compile a component read on stdin for this build's engine, writing
    /// the artifact on stdout. Cordon runs it as a child process so that a
    /// compile past its time limit can be stopped.
    #[command(hide = true)]
    CompilePlugin,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate every layer (organisation, workspace, user); errors name the
    /// file and line.
    Check(policy::Args),
    /// Each grant of PLUGIN and the layer that allowed or narrowed it.
    Explain {
        /// The plugin's name.
        plugin: String,
        #[command(flatten)]
        args: policy::Args,
    },
    /// Print the policy lines that grant PLUGIN the capabilities it asks
    /// for, keeping what the other plugins hold now.
    Grant {
        /// The plugin's name (as `cordon plugins list` shows it).
        plugin: String,
        #[command(flatten)]
        args: policy::Args,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the hash chain of an audit log: a removed, altered, inserted or
    /// reordered line is reported with its number.
    Verify {
        /// The audit log (JSONL).
        path: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Ship audit logs to the OpenTelemetry collectors now (the
    /// organisation policy's `[audit.export]`, and `OTEL_EXPORTER_OTLP_*`),
    /// from where the last export stopped.
    Export(audit::ExportArgs),
    /// Write a usage page: requests and tokens per plugin, backend and
    /// model over time, denials, redactions, budget hits, chain status.
    Report(audit::ReportArgs),
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// List loaded plugins: kinds, exports, digests, granted capabilities.
    List(plugins::Args),
    /// Check a plugin build before loading it: every import Cordon does not
    /// provide (and why), its exports, then a load as Cordon loads it.
    Check(plugins::check::Args),
    /// Run a plugin build at FILE:LINE:COL without an editor, against a
    /// canned model answer (`--reply`) or the configured backends: what it
    /// returns, logs and asks the model, and why it fails.
    Test(plugins::test::Args),
}

/// Options shared by the subcommands that load plugins.
#[derive(clap::Args, Clone)]
pub struct Common {
    /// Workspace root (default: the nearest folder above the file holding
    /// `.cordon`, `.git`, `Cargo.toml`, `package.json`, `pyproject.toml` or
    /// `go.mod`; else the current folder).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Also load plugins from this folder (repeatable).
    #[arg(long = "plugin-dir", value_name = "DIR")]
    plugin_dirs: Vec<PathBuf>,
    /// Use this configuration file instead of `$CORDON_CONFIG` and the
    /// user and workspace `cordon.toml`.
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// A failure of the command line itself: printed as one line, exit 2.
#[derive(Debug)]
pub struct UsageError(pub String);

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::CompilePlugin = cli.command {
        return match cordon::runtime::cache::compile_stdin_to_stdout() {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("{message}");
                ExitCode::FAILURE
            }
        };
    }
    // The language server's stderr is the editor's log for it: warnings
    // belong there. The other commands say what matters in their own
    // output, so their log is quiet unless CORDON_LOG asks.
    // `plugins test` shows what the plugin under test logs and prints.
    match &cli.command {
        Command::Lsp { .. } => init_logging("warn", false),
        Command::Plugins {
            command: PluginsCommand::Test(_),
        } => init_logging("cordon::plugin=trace", true),
        _ => init_logging("off", false),
    }
    // Plugins compile in child processes of this binary, so that a compile
    // past its time limit can be stopped.
    if let Ok(exe) = std::env::current_exe() {
        cordon::runtime::cache::compile_in_children_of(exe);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("cordon: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Lsp {
                stdio: _,
                workspace,
                plugin_dirs,
                config,
            } => {
                // On a worker thread, not this one: every message then
                // stays on the runtime's workers instead of waking the
                // main thread as well.
                let serving = tokio::spawn(cordon::lsp::serve(cordon::lsp::Options {
                    workspace,
                    plugin_dirs,
                    config,
                }));
                let shut_down = serving.await.unwrap_or(false);
                Ok(if shut_down {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
            Command::Run(args) => run::run(args).await,
            Command::Doctor(args) => doctor::doctor(args).await,
            Command::Policy {
                command: PolicyCommand::Check(args),
            } => policy::check(args).await,
            Command::Policy {
                command: PolicyCommand::Grant { plugin, args },
            } => policy::grant(args, &plugin).await,
            Command::Policy {
                command: PolicyCommand::Explain { plugin, args },
            } => policy::explain(args, &plugin),
            Command::Audit {
                command: AuditCommand::Verify { path, json },
            } => policy::verify(&path, json),
            Command::Audit {
                command: AuditCommand::Export(args),
            } => audit::export(args).await,
            Command::Audit {
                command: AuditCommand::Report(args),
            } => audit::report(args),
            Command::Plugins {
                command: PluginsCommand::List(args),
            } => plugins::list(args).await,
            Command::Plugins {
                command: PluginsCommand::Check(args),
            } => plugins::check::check(args).await,
            Command::Plugins {
                command: PluginsCommand::Test(args),
            } => plugins::test::test(args).await,
            Command::New(args) => new::new(args),
            Command::Trust { dir, revoke, list } => trust(dir, revoke, list),
            Command::CompilePlugin => unreachable!("handled before the runtime starts"),
        }
    });
    // Reading stdin occupies a blocking thread that only returns when the
    // client closes the pipe; do not wait for it once the work is done.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(UsageError(message)) => {
            eprintln!("cordon: {message}");
            ExitCode::from(2)
        }
    }
}

/// `cordon trust [DIR] [--revoke] [--list]`.
fn trust(dir: Option<PathBuf>, revoke: bool, list: bool) -> Result<ExitCode, UsageError> {
    if list {
        for root in cordon::trust::list() {
            println!("{}", root.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let dir = match dir {
        Some(dir) => dir,
        None => {
            std::env::current_dir().map_err(|e| UsageError(format!("no current folder: {e}")))?
        }
    };
    if revoke {
        let removed = cordon::trust::revoke(&dir).map_err(UsageError)?;
        println!(
            "{}: {}",
            dir.display(),
            if removed {
                "no longer trusted; its .cordon/ can only narrow what Cordon does"
            } else {
                "was not trusted"
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    // The organisation may forbid trusting workspaces: say so instead of
    // recording a trust that would not take effect.
    let names: Vec<&str> = cordon::builtin::PLUGINS.iter().map(|p| p.name).collect();
    if let Ok(effective) = cordon_policy::load_sources(
        &cordon_policy::Sources::of_process(Some(&dir), false),
        &names,
    ) {
        let allowed = effective.allows_workspace_trust();
        if !allowed.allowed {
            eprintln!(
                "cordon: {}: cannot trust it: {}",
                dir.display(),
                allowed.reason
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    let status = cordon::trust::trust(&dir).map_err(UsageError)?;
    println!(
        "{}: trusted with what it ships now ({}); a change to its .cordon/ revokes this until you run `cordon trust` again",
        status.root.display(),
        status.shipped.describe()
    );
    Ok(ExitCode::SUCCESS)
}

/// The log on stderr, filtered by `CORDON_LOG` or else `default`; `plain`
/// leaves out times and targets (what a plugin author reads).
fn init_logging(default: &str, plain: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CORDON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if plain {
        log.without_time().with_target(false).init();
    } else {
        log.init();
    }
}

/// Start the sandbox for `root` with every plugin. Load failures are
/// reported on stderr and do not stop the others.
pub async fn start(
    root: &std::path::Path,
    common: &Common,
) -> Result<(cordon::runtime::Runtime, cordon::catalog::Catalog), UsageError> {
    let config = load_config(root, common)?;
    let session = cordon::session::start(root, &config, &common.plugin_dirs, false)
        .await
        .map_err(UsageError)?;
    // Nothing can work under a policy that does not load: said once.
    if let Some(error) = session.runtime.services().policy().error() {
        return Err(UsageError(format!(
            "the policy does not load: {error}; every capability is denied until it is fixed (`cordon policy check` shows every layer)"
        )));
    }
    for error in &session.catalog.errors {
        eprintln!("cordon: warning: plugin not loaded: {error}");
    }
    if let Some(notice) = cordon::trust::status(root).notice() {
        eprintln!("cordon: note: {notice}");
    }
    for ignored in &config.ignored {
        tracing::info!("{ignored}");
    }
    for error in &session.backend_errors {
        eprintln!("cordon: warning: {error}");
    }
    Ok((session.runtime, session.catalog))
}

/// The configuration for `root`: `--config`, else `$CORDON_CONFIG`, else the
/// user and workspace layers.
pub fn load_config(
    root: &std::path::Path,
    common: &Common,
) -> Result<cordon::config::Config, UsageError> {
    cordon::config::load(
        common.config.as_deref(),
        Some(root),
        cordon::policy::trusted_workspace(root),
    )
    .map_err(|e| UsageError(format!("configuration: {e}")))
}
