//! `vessel daemon`: the engine in the foreground (the CLI starts it this way in the background).

use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Root directory of persistent state
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Enable debug mode
    #[arg(short = 'D', long)]
    debug: bool,
    /// Daemon configuration file
    #[arg(long = "config-file", value_name = "FILE")]
    config_file: Option<PathBuf>,
}

/// `listen` is the `-H` flag only: VESSEL_HOST/DOCKER_HOST steer clients, not the daemon.
#[cfg(feature = "daemon")]
pub fn run(listen: Option<&crate::client::Host>, a: Args) -> anyhow::Result<()> {
    use anyhow::Context;
    use vessel_engine::DaemonConfig;

    let mut cfg = match &a.config_file {
        Some(p) => {
            DaemonConfig::from_file(p).with_context(|| format!("loading {}", p.display()))?
        }
        None => DaemonConfig::load_default().context("loading /etc/vessel/daemon.json")?,
    };
    if let Some(h) = listen {
        cfg.socket = h.socket.clone();
    }
    if let Some(r) = a.root {
        cfg.root = r;
    }
    cfg.debug |= a.debug;
    vessel_engine::run_blocking(cfg)?;
    Ok(())
}

#[cfg(not(feature = "daemon"))]
pub fn run(_listen: Option<&crate::client::Host>, a: Args) -> anyhow::Result<()> {
    let _ = (a.root, a.debug, a.config_file);
    anyhow::bail!("this vessel binary was built without the daemon (cargo feature \"daemon\")")
}
