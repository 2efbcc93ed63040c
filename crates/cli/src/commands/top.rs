//! `vessel top CONTAINER [ps OPTIONS]`.

use serde_json::Value;

use crate::client::{enc, query, Client};
use crate::format::table;

#[derive(clap::Args)]
pub struct Args {
    container: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_args: Vec<String>,
}

pub fn run(c: &Client, a: Args) -> anyhow::Result<()> {
    let ps = (!a.ps_args.is_empty()).then(|| a.ps_args.join(" "));
    let v: Value = c.get_json(&format!(
        "/containers/{}/top{}",
        enc(&a.container),
        query(&[("ps_args", ps)])
    ))?;
    let mut rows: Vec<Vec<String>> = vec![v["Titles"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|x| x.as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()];
    for p in v["Processes"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        rows.push(
            p.as_array()
                .map(|r| {
                    r.iter()
                        .map(|x| x.as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default(),
        );
    }
    print!("{}", table(&rows));
    Ok(())
}
