use super::Globals;

#[derive(clap::Args)]
pub struct Args {
    pub id: String,
}

pub fn pause(args: Args, g: &Globals) -> anyhow::Result<i32> {
    g.runtime.pause(&args.id)?;
    Ok(0)
}

pub fn resume(args: Args, g: &Globals) -> anyhow::Result<i32> {
    g.runtime.resume(&args.id)?;
    Ok(0)
}
