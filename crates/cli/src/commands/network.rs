//! `vessel network create|ls|inspect|rm|prune|connect|disconnect`.

use std::io::Write;

use anyhow::Context;
use clap::Subcommand;
use serde_json::{json, Value};

use super::each;
use crate::client::{enc, filters_json, query, Client};
use crate::http::Body;
use crate::output::{print_list, Columns};
use crate::runopts::parse::key_values;
use crate::template::Format;

#[derive(Subcommand)]
pub enum Cmd {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// Driver to manage the Network
    #[arg(short = 'd', long, default_value = "bridge")]
    driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long)]
    subnet: Vec<String>,
    /// IPv4 or IPv6 Gateway for the master subnet
    #[arg(long)]
    gateway: Vec<String>,
    /// Allocate container ip from a sub-range
    #[arg(long = "ip-range")]
    ip_range: Vec<String>,
    /// Restrict external access to the network
    #[arg(long)]
    internal: bool,
    /// Enable IPv6 networking
    #[arg(long)]
    ipv6: bool,
    /// Set metadata on a network
    #[arg(long)]
    label: Vec<String>,
    /// Set driver specific options (com.docker.network.bridge.name, com.docker.network.driver.mtu, mtu)
    #[arg(short = 'o', long = "opt")]
    opt: Vec<String>,
    name: String,
}

#[derive(clap::Args)]
pub struct LsArgs {
    /// Only display network IDs
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Provide filter values (e.g. "driver=bridge")
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
    /// Do not truncate the output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
}

#[derive(clap::Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    format: Option<String>,
    #[arg(required = true)]
    networks: Vec<String>,
}

#[derive(clap::Args)]
pub struct RmArgs {
    /// Do not error if the network does not exist
    #[arg(short = 'f', long)]
    force: bool,
    #[arg(required = true)]
    networks: Vec<String>,
}

#[derive(clap::Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    force: bool,
    /// Provide filter values (e.g. "label=<key>=<value>")
    #[arg(long = "filter")]
    filter: Vec<String>,
}

#[derive(clap::Args)]
pub struct ConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long)]
    alias: Vec<String>,
    /// IPv4 address (e.g., "172.30.100.104")
    #[arg(long)]
    ip: Option<String>,
    /// IPv6 address (e.g., "2001:db8::33")
    #[arg(long)]
    ip6: Option<String>,
    network: String,
    container: String,
}

#[derive(clap::Args)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short = 'f', long)]
    force: bool,
    network: String,
    container: String,
}

/// The IPAM config list from paired --subnet/--gateway/--ip-range flags, as docker pairs them.
fn ipam_config(a: &CreateArgs) -> Vec<Value> {
    a.subnet
        .iter()
        .enumerate()
        .map(|(i, subnet)| {
            let mut c = json!({ "Subnet": subnet });
            if let Some(g) = a.gateway.get(i) {
                c["Gateway"] = json!(g);
            }
            if let Some(r) = a.ip_range.get(i) {
                c["IPRange"] = json!(r);
            }
            c
        })
        .collect()
}

fn short(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.chars().take(12).collect()
    }
}

pub fn dispatch(c: &Client, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Create(a) => {
            let mut options = key_values(&a.opt);
            // `-o mtu=1400` is the short form docker's bridge driver also accepts.
            if let Some(mtu) = options.remove("mtu") {
                options.insert("com.docker.network.driver.mtu".into(), mtu);
            }
            let body = json!({
                "Name": a.name,
                "CheckDuplicate": true,
                "Driver": a.driver,
                "Internal": a.internal,
                "EnableIPv6": a.ipv6,
                "IPAM": {"Driver": "default", "Config": ipam_config(&a), "Options": {}},
                "Options": options,
                "Labels": key_values(&a.label),
            });
            let v: Value = c.post_json("/networks/create", &body)?;
            println!("{}", v["Id"].as_str().unwrap_or(""));
            Ok(())
        }
        Cmd::Ls(a) => {
            let filters = filters_json(&a.filter).map_err(anyhow::Error::msg)?;
            let v: Value = c.get_json(&format!("/networks{}", query(&[("filters", filters)])))?;
            let nets = v.as_array().cloned().unwrap_or_default();
            if a.quiet {
                let mut out = std::io::stdout().lock();
                for n in &nets {
                    writeln!(out, "{}", short(n["Id"].as_str().unwrap_or(""), a.no_trunc))?;
                }
                return Ok(());
            }
            let rows: Vec<Value> = nets
                .iter()
                .map(|n| {
                    json!({
                        "ID": short(n["Id"].as_str().unwrap_or(""), a.no_trunc),
                        "Name": n["Name"], "Driver": n["Driver"], "Scope": n["Scope"],
                        "IPv6": n["EnableIPv6"], "Internal": n["Internal"],
                        "CreatedAt": n["Created"],
                    })
                })
                .collect();
            let cols = Columns {
                default: &["ID", "Name", "Driver", "Scope"],
                headers: &[
                    ("ID", "NETWORK ID"),
                    ("Name", "NAME"),
                    ("Driver", "DRIVER"),
                    ("Scope", "SCOPE"),
                    ("IPv6", "IPV6"),
                    ("Internal", "INTERNAL"),
                    ("CreatedAt", "CREATED AT"),
                ],
            };
            print_list(&Format::parse(a.format.as_deref())?, &cols, &rows)?;
            Ok(())
        }
        Cmd::Inspect(a) => super::inspect::typed(c, "networks", &a.networks, a.format.as_deref()),
        Cmd::Rm(a) => each(
            &a.networks,
            |n| match c.delete(&format!("/networks/{}", enc(n))) {
                Err(e) if a.force && e.is_not_found() => Ok(Vec::new()),
                other => other,
            },
            |n, _| println!("{n}"),
        ),
        Cmd::Prune(a) => {
            let _ = a.force;
            let filters = filters_json(&a.filter).map_err(anyhow::Error::msg)?;
            let v: Value = c
                .post_json(
                    &format!("/networks/prune{}", query(&[("filters", filters)])),
                    &json!({}),
                )
                .context("pruning networks")?;
            let deleted = v["NetworksDeleted"].as_array().cloned().unwrap_or_default();
            if !deleted.is_empty() {
                println!("Deleted Networks:");
                for n in deleted {
                    println!("{}", n.as_str().unwrap_or(""));
                }
            }
            Ok(())
        }
        Cmd::Connect(a) => {
            let mut ipam = json!({});
            if let Some(ip) = &a.ip {
                ipam["IPv4Address"] = json!(ip);
            }
            if let Some(ip6) = &a.ip6 {
                ipam["IPv6Address"] = json!(ip6);
            }
            let body = json!({
                "Container": a.container,
                "EndpointConfig": {"Aliases": a.alias, "IPAMConfig": ipam},
            });
            post(c, &format!("/networks/{}/connect", enc(&a.network)), &body)
        }
        Cmd::Disconnect(a) => {
            let body = json!({"Container": a.container, "Force": a.force});
            post(
                c,
                &format!("/networks/{}/disconnect", enc(&a.network)),
                &body,
            )
        }
    }
}

/// connect/disconnect answer 200 with an empty body, which is not JSON.
fn post(c: &Client, path: &str, body: &Value) -> anyhow::Result<()> {
    let data = serde_json::to_vec(body)?;
    c.call("POST", path, Body::Bytes(&data, "application/json"))?;
    Ok(())
}
