use super::Globals;

#[derive(clap::Args)]
pub struct Args {
    pub id: String,
}

pub fn run(args: Args, g: &Globals) -> anyhow::Result<i32> {
    g.runtime.start(&args.id)?;
    Ok(0)
}
