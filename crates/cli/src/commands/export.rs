//! `vessel export [-o FILE] CONTAINER`.

use std::fs::File;
use std::io::{self, IsTerminal};

use anyhow::Context;

use crate::client::{enc, Client};
use crate::http::Body;

#[derive(clap::Args)]
pub struct Args {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    output: Option<String>,
    container: String,
}

pub fn run(c: &Client, a: Args) -> anyhow::Result<()> {
    if a.output.is_none() && io::stdout().is_terminal() {
        anyhow::bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    let mut resp = c.request(
        "GET",
        &format!("/containers/{}/export", enc(&a.container)),
        Body::Empty,
    )?;
    match &a.output {
        Some(p) => {
            let mut f = File::create(p).with_context(|| format!("create {p}"))?;
            io::copy(&mut resp, &mut f).context("writing the export")?;
        }
        None => {
            io::copy(&mut resp, &mut io::stdout().lock())?;
        }
    }
    Ok(())
}
