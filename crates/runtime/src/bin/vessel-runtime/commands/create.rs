use std::path::PathBuf;

use anyhow::Context;
use vessel_runtime::container::CreateOptions;

use super::Globals;

#[derive(clap::Args)]
pub struct CreateArgs {
    /// Path to the bundle (directory with config.json).
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master when process.terminal is true.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the init's pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Use chroot instead of pivot_root (for ramfs roots).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of a new one.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N additional descriptors (3..3+N) to the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
    pub id: String,
}

impl CreateArgs {
    pub fn options(&self) -> CreateOptions {
        CreateOptions {
            id: self.id.clone(),
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
        }
    }
}

pub fn run(args: CreateArgs, g: &Globals) -> anyhow::Result<i32> {
    let spawned = g
        .runtime
        .create(&args.options())
        .with_context(|| format!("create {}", args.id))?;
    if spawned.console.is_some() {
        g.logger
            .warn("process.terminal is set but no --console-socket was given; the pty is closed");
    }
    Ok(0)
}
