//! `vessel volume create|ls|inspect|rm|prune`.

use clap::Subcommand;
use serde_json::{json, Value};

use super::{each, prune};
use crate::client::{enc, filters_json, query, Client};
use crate::output::{print_list, Columns};
use crate::runopts::parse::key_values;
use crate::template::Format;

#[derive(Subcommand)]
pub enum Cmd {
    /// Create a volume
    Create(CreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove unused local volumes
    Prune(prune::VolumeArgs),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(short = 'd', long, default_value = "local")]
    driver: String,
    /// Set metadata for a volume
    #[arg(long)]
    label: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt")]
    opt: Vec<String>,
    name: Option<String>,
}

#[derive(clap::Args)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
}

#[derive(clap::Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    format: Option<String>,
    #[arg(required = true)]
    volumes: Vec<String>,
}

#[derive(clap::Args)]
pub struct RmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long)]
    force: bool,
    #[arg(required = true)]
    volumes: Vec<String>,
}

pub fn dispatch(c: &Client, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Create(a) => {
            let mut body = json!({"Driver": a.driver, "DriverOpts": key_values(&a.opt), "Labels": key_values(&a.label)});
            body["Name"] = json!(a.name.clone().unwrap_or_default());
            let v: Value = c.post_json("/volumes/create", &body)?;
            println!("{}", v["Name"].as_str().unwrap_or(""));
            Ok(())
        }
        Cmd::Ls(a) => {
            let filters = filters_json(&a.filter).map_err(anyhow::Error::msg)?;
            let v: Value = c.get_json(&format!("/volumes{}", query(&[("filters", filters)])))?;
            let vols = v["Volumes"].as_array().cloned().unwrap_or_default();
            if a.quiet {
                for x in &vols {
                    println!("{}", x["Name"].as_str().unwrap_or(""));
                }
                return Ok(());
            }
            let rows: Vec<Value> = vols
                .iter()
                .map(|x| {
                    let labels = x["Labels"]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default();
                    json!({
                        "Driver": x["Driver"], "Name": x["Name"], "Mountpoint": x["Mountpoint"],
                        "Scope": x["Scope"], "Labels": labels, "Links": "N/A", "Size": "N/A",
                    })
                })
                .collect();
            let cols = Columns {
                default: &["Driver", "Name"],
                headers: &[
                    ("Driver", "DRIVER"),
                    ("Name", "VOLUME NAME"),
                    ("Mountpoint", "MOUNTPOINT"),
                    ("Scope", "SCOPE"),
                    ("Labels", "LABELS"),
                    ("Links", "LINKS"),
                    ("Size", "SIZE"),
                ],
            };
            print_list(&Format::parse(a.format.as_deref())?, &cols, &rows)?;
            Ok(())
        }
        Cmd::Inspect(a) => super::inspect::typed(c, "volumes", &a.volumes, a.format.as_deref()),
        Cmd::Rm(a) => {
            let q = query(&[("force", super::qbool(a.force))]);
            each(
                &a.volumes,
                |n| c.delete(&format!("/volumes/{}{q}", enc(n))),
                |n, _| println!("{n}"),
            )
        }
        Cmd::Prune(a) => prune::volumes(c, a),
    }
}
