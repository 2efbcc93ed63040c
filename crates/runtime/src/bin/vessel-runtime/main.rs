//! `vessel-runtime`: an OCI runtime with runc's command line, so Podman, Docker and
//! containerd can use it in place of runc.

mod commands;
mod log;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "vessel-runtime",
    about = "Vessel's OCI runtime (runc-compatible command line)",
    version = concat!(env!("CARGO_PKG_VERSION"), "\nspec: 1.2.0"),
    disable_version_flag = true
)]
pub struct Cli {
    /// Directory for container state (tmpfs recommended).
    #[arg(long, global = true, default_value = vessel_runtime::state::DEFAULT_ROOT)]
    root: PathBuf,
    /// Also write log lines (errors, and more with --debug) to this file.
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Format of --log lines: text or json.
    #[arg(long = "log-format", global = true, default_value = "text")]
    log_format: log::Format,
    #[arg(long, global = true)]
    debug: bool,
    /// Accepted for runc compatibility: cgroupsPath is systemd's slice:prefix:name.
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Accepted for runc compatibility; checkpointing is not supported.
    #[arg(long, hide = true)]
    criu: Option<String>,
    /// Accepted for runc compatibility (auto, true, false).
    #[arg(long = "rootless", id = "global_rootless", hide = true)]
    rootless: Option<String>,
    /// Print the version.
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    version: Option<bool>,
    #[command(subcommand)]
    command: commands::Command,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let logger = log::Logger::new(cli.log.clone(), cli.log_format, cli.debug);
    let globals = commands::Globals {
        runtime: vessel_runtime::container::Runtime::new(&cli.root, cli.systemd_cgroup),
        logger: &logger,
    };
    logger.debug(&format!("args: {:?}", std::env::args().collect::<Vec<_>>()));
    match commands::dispatch(cli.command, &globals) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            logger.error(&format!("{e:#}"));
            ExitCode::from(1)
        }
    }
}
