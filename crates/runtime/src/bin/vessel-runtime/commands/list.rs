use super::Globals;

#[derive(clap::Args)]
pub struct Args {
    /// table or json
    #[arg(short, long, default_value = "table")]
    pub format: String,
    /// Print only ids.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: Args, g: &Globals) -> anyhow::Result<i32> {
    let states = g.runtime.list()?;
    if args.quiet {
        for s in &states {
            println!("{}", s.id);
        }
        return Ok(0);
    }
    match args.format.as_str() {
        "json" => println!("{}", serde_json::to_string(&states)?),
        "table" => {
            let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                .map(String::from)
                .to_vec()];
            for s in &states {
                rows.push(vec![
                    s.id.clone(),
                    s.pid.to_string(),
                    s.status.to_string(),
                    s.bundle.display().to_string(),
                    s.created.clone(),
                    if s.owner.is_empty() {
                        "root".into()
                    } else {
                        s.owner.clone()
                    },
                ]);
            }
            print!("{}", super::ps::table(&rows));
        }
        other => anyhow::bail!("--format {other:?}: use table or json"),
    }
    Ok(0)
}
