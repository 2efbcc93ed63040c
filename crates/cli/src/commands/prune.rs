//! `container prune`, `image prune`, `volume prune`, `system prune`.

use std::io::{self, BufRead, Write};

use serde_json::Value;

use super::Exit;
use crate::client::{filters_json, query, Client};
use crate::format::human_size;

#[derive(clap::Args)]
pub struct ContainerArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter")]
    filter: Vec<String>,
}

#[derive(clap::Args)]
pub struct ImageArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    force: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter")]
    filter: Vec<String>,
}

#[derive(clap::Args)]
pub struct VolumeArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long)]
    all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    force: bool,
    /// Provide filter values (e.g. "label=<label>")
    #[arg(long = "filter")]
    filter: Vec<String>,
}

#[derive(clap::Args)]
pub struct SystemArgs {
    /// Remove all unused images not just dangling ones
    #[arg(short = 'a', long)]
    all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    force: bool,
    /// Prune anonymous volumes
    #[arg(long)]
    volumes: bool,
    /// Provide filter values (e.g. "label=<key>=<value>")
    #[arg(long = "filter")]
    filter: Vec<String>,
}

fn confirm(warning: &str, force: bool) -> anyhow::Result<()> {
    if force {
        return Ok(());
    }
    eprint!("{warning}\nAre you sure you want to continue? [y/N] ");
    let _ = io::stderr().flush();
    let mut line = String::new();
    io::stdin().lock().read_line(&mut line)?;
    if matches!(line.trim().to_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(Exit(1, String::new()).into())
    }
}

fn filters(f: &[String], extra: &[String]) -> anyhow::Result<Option<String>> {
    let mut all = f.to_vec();
    all.extend_from_slice(extra);
    filters_json(&all).map_err(anyhow::Error::msg)
}

/// Runs one prune endpoint and prints its report; returns the bytes reclaimed.
fn prune(
    c: &Client,
    path: &str,
    filters: Option<String>,
    list_key: &str,
    title: &str,
) -> anyhow::Result<u64> {
    let v: Value = crate::client::decode(
        path,
        &c.post(&format!("{path}{}", query(&[("filters", filters)])))?,
    )?;
    let items = v[list_key].as_array().cloned().unwrap_or_default();
    if !items.is_empty() {
        let mut out = format!("{title}:\n");
        for it in &items {
            match it {
                Value::String(s) => out.push_str(&format!("{s}\n")),
                o => {
                    if let Some(u) = o["Untagged"].as_str() {
                        out.push_str(&format!("untagged: {u}\n"));
                    }
                    if let Some(d) = o["Deleted"].as_str() {
                        out.push_str(&format!("deleted: {d}\n"));
                    }
                }
            }
        }
        println!("{out}");
    }
    Ok(v["SpaceReclaimed"].as_u64().unwrap_or(0))
}

fn total(n: u64) {
    println!("Total reclaimed space: {}", human_size(n as i64));
}

pub fn containers(c: &Client, a: ContainerArgs) -> anyhow::Result<()> {
    confirm("WARNING! This will remove all stopped containers.", a.force)?;
    total(prune(
        c,
        "/containers/prune",
        filters(&a.filter, &[])?,
        "ContainersDeleted",
        "Deleted Containers",
    )?);
    Ok(())
}

fn dangling(all: bool) -> Vec<String> {
    vec![format!("dangling={}", !all)]
}

pub fn images(c: &Client, a: ImageArgs) -> anyhow::Result<()> {
    let warning = if a.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    confirm(warning, a.force)?;
    total(prune(
        c,
        "/images/prune",
        filters(&a.filter, &dangling(a.all))?,
        "ImagesDeleted",
        "Deleted Images",
    )?);
    Ok(())
}

pub fn volumes(c: &Client, a: VolumeArgs) -> anyhow::Result<()> {
    let warning = if a.all {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    confirm(warning, a.force)?;
    let extra = if a.all {
        vec!["all=true".to_string()]
    } else {
        vec![]
    };
    total(prune(
        c,
        "/volumes/prune",
        filters(&a.filter, &extra)?,
        "VolumesDeleted",
        "Deleted Volumes",
    )?);
    Ok(())
}

pub fn system(c: &Client, a: SystemArgs) -> anyhow::Result<()> {
    let mut warning = String::from("WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n");
    if a.volumes {
        warning.push_str("  - all anonymous volumes not used by at least one container\n");
    }
    warning.push_str(if a.all {
        "  - all images without at least one container associated to them\n"
    } else {
        "  - all dangling images\n"
    });
    confirm(warning.trim_end(), a.force)?;
    let mut sum = prune(
        c,
        "/containers/prune",
        filters(&a.filter, &[])?,
        "ContainersDeleted",
        "Deleted Containers",
    )?;
    // Networks are pruned where the daemon has them; a daemon without networks says 404.
    match c.post(&format!(
        "/networks/prune{}",
        query(&[("filters", filters(&a.filter, &[])?)])
    )) {
        Ok(b) => {
            let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
            if let Some(n) = v["NetworksDeleted"].as_array().filter(|n| !n.is_empty()) {
                let names: Vec<&str> = n.iter().filter_map(Value::as_str).collect();
                println!("Deleted Networks:\n{}\n", names.join("\n"));
            }
        }
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    if a.volumes {
        sum += prune(
            c,
            "/volumes/prune",
            filters(&a.filter, &[])?,
            "VolumesDeleted",
            "Deleted Volumes",
        )?;
    }
    sum += prune(
        c,
        "/images/prune",
        filters(&a.filter, &dangling(a.all))?,
        "ImagesDeleted",
        "Deleted Images",
    )?;
    total(sum);
    Ok(())
}
