use std::path::PathBuf;

use anyhow::Context;
use vessel_runtime::container::ExecOptions;
use vessel_runtime::terminal;

use super::Globals;

#[derive(clap::Args)]
pub struct Args {
    /// A process.json to run (overrides the command line).
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Allocate a pty.
    #[arg(short, long)]
    pub tty: bool,
    /// Return once the process has started.
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory inside the container.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// KEY=VALUE, repeatable.
    #[arg(short, long)]
    pub env: Vec<String>,
    /// uid[:gid]
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids, repeatable.
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Extra capability, repeatable (e.g. CAP_NET_ADMIN).
    #[arg(short, long)]
    pub cap: Vec<String>,
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
    /// Accepted for runc compatibility.
    #[arg(long = "process-label", hide = true)]
    pub process_label: Option<String>,
    /// Accepted for runc compatibility.
    #[arg(long, hide = true)]
    pub apparmor: Option<String>,
    /// Accepted for runc compatibility (v2 sub-cgroup).
    #[arg(long, hide = true)]
    pub cgroup: Option<String>,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn run(args: Args, g: &Globals) -> anyhow::Result<i32> {
    let process = match &args.process {
        Some(path) => {
            let text = std::fs::read(path)
                .with_context(|| format!("reading --process {}", path.display()))?;
            Some(
                serde_json::from_slice(&text)
                    .with_context(|| format!("parsing --process {}", path.display()))?,
            )
        }
        None => None,
    };
    let user = match &args.user {
        Some(u) => Some(
            vessel_runtime::user::parse_user_flag(u)
                .with_context(|| format!("--user {u:?}: expected uid[:gid] as numbers"))?,
        ),
        None => None,
    };
    let opts = ExecOptions {
        process,
        args: args.command.clone(),
        env: args.env.clone(),
        cwd: args.cwd.clone(),
        user,
        additional_gids: args.additional_gids.clone(),
        caps: args.cap.clone(),
        tty: args.tty,
        no_new_privs: args.no_new_privs,
        console_socket: args.console_socket.clone(),
        pid_file: args.pid_file.clone(),
        preserve_fds: args.preserve_fds,
    };
    let signals = if args.detach {
        None
    } else {
        Some(terminal::block_signals()?)
    };
    let spawned = g
        .runtime
        .exec(&args.id, &opts)
        .with_context(|| format!("exec in {}", args.id))?;
    match signals {
        None => {
            if spawned.console.is_some() {
                g.logger
                    .warn("a detached exec with a tty needs --console-socket; the pty is closed");
            }
            Ok(0)
        }
        Some(signals) => Ok(terminal::wait_foreground(
            spawned.pid,
            &signals,
            spawned.console,
        )?),
    }
}
