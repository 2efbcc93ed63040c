use super::Globals;

#[derive(clap::Args)]
pub struct Args {
    /// Kill the container first if it is still running.
    #[arg(short, long)]
    pub force: bool,
    pub id: String,
}

pub fn run(args: Args, g: &Globals) -> anyhow::Result<i32> {
    g.runtime.delete(&args.id, args.force)?;
    Ok(0)
}
