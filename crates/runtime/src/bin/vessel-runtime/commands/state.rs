use super::Globals;

#[derive(clap::Args)]
pub struct Args {
    pub id: String,
}

pub fn run(args: Args, g: &Globals) -> anyhow::Result<i32> {
    let state = g.runtime.state(&args.id)?;
    println!("{}", serde_json::to_string_pretty(&state)?);
    Ok(0)
}
