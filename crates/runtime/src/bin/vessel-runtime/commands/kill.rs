use super::Globals;

#[derive(clap::Args)]
pub struct Args {
    /// Signal every process in the container, not only its init.
    #[arg(short, long)]
    pub all: bool,
    pub id: String,
    /// Signal name or number.
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(args: Args, g: &Globals) -> anyhow::Result<i32> {
    let signal = vessel_runtime::signals::parse_signal(&args.signal)?;
    g.runtime.kill(&args.id, signal, args.all)?;
    Ok(0)
}
