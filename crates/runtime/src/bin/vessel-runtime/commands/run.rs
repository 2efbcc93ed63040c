use anyhow::Context;
use vessel_runtime::terminal;

use super::{create, Globals};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub create: create::CreateArgs,
    /// Return once the container has started instead of waiting for it.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container after it exits (runc's --keep).
    #[arg(long)]
    pub keep: bool,
}

pub fn run(args: Args, g: &Globals) -> anyhow::Result<i32> {
    let id = args.create.id.clone();
    // Signals are blocked before the init exists so none sent meanwhile is lost; they are
    // forwarded to the container while we wait.
    let signals = if args.detach {
        None
    } else {
        Some(terminal::block_signals()?)
    };
    if !args.detach {
        // The init may be the grandchild of this process (joined pid namespaces): become
        // its reaper so we can wait for it.
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    }
    let spawned = g
        .runtime
        .create(&args.create.options())
        .with_context(|| format!("run {id}"))?;
    if args.detach && spawned.console.is_some() {
        let _ = g.runtime.delete(&id, true);
        anyhow::bail!("cannot allocate a pty for a detached container without --console-socket");
    }
    if let Err(e) = g.runtime.start(&id) {
        let _ = g.runtime.delete(&id, true);
        return Err(e).with_context(|| format!("run {id}"));
    }
    let Some(signals) = signals else { return Ok(0) };
    let code = terminal::wait_foreground(spawned.pid, &signals, spawned.console)?;
    if !args.keep {
        if let Err(e) = g.runtime.delete(&id, true) {
            g.logger
                .warn(&format!("removing {id} after it exited: {e}"));
        }
    }
    Ok(code)
}
