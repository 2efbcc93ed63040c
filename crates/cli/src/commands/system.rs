//! `vessel system df|prune|info|events`.

use clap::Subcommand;
use serde_json::{json, Value};

use super::{events, info, prune, Exit};
use crate::client::Client;
use crate::output::{print_list, Columns};
use crate::template::Format;

#[derive(Subcommand)]
pub enum Cmd {
    /// Show vessel disk usage
    Df(DfArgs),
    /// Remove unused data
    Prune(prune::SystemArgs),
    /// Display system-wide information
    Info(info::Args),
    /// Get real time events from the server
    Events(events::Args),
}

#[derive(clap::Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
}

pub fn dispatch(c: &Client, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Df(a) => df(c, a),
        Cmd::Prune(a) => prune::system(c, a),
        Cmd::Info(a) => info::run(c, a),
        Cmd::Events(a) => events::run(c, a),
    }
}

/// Docker's df sizes: four significant digits, and a percentage only when there is a total.
fn size(n: i64) -> String {
    crate::format::human_size_prec(n as f64, 4)
}

fn reclaim(part: i64, total: i64) -> String {
    if total > 0 {
        format!("{} ({}%)", size(part), part * 100 / total)
    } else {
        size(part)
    }
}

fn df(c: &Client, a: DfArgs) -> anyhow::Result<()> {
    let v: Value = match c.get_json("/system/df") {
        Ok(v) => v,
        Err(e) if e.is_not_found() => {
            return Err(Exit(
                1,
                "Error: this daemon does not support `system df` (GET /system/df returned 404)"
                    .into(),
            )
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    let arr = |k: &str| v[k].as_array().cloned().unwrap_or_default();
    let images = arr("Images");
    let containers = arr("Containers");
    let volumes = arr("Volumes");
    let cache = arr("BuildCache");
    let i64f = |x: &Value| x.as_i64().unwrap_or(0);

    let img_active = images.iter().filter(|i| i64f(&i["Containers"]) > 0).count();
    let img_size = i64f(&v["LayersSize"]);
    let img_used: i64 = images
        .iter()
        .filter(|i| i64f(&i["Containers"]) > 0)
        .map(|i| i64f(&i["Size"]) - i64f(&i["SharedSize"]).max(0))
        .sum();
    let img_reclaim = (img_size - img_used).max(0);

    let running = |c: &Value| c["State"] == "running";
    let ctr_active = containers.iter().filter(|c| running(c)).count();
    let ctr_size: i64 = containers.iter().map(|c| i64f(&c["SizeRw"])).sum();
    let ctr_reclaim: i64 = containers
        .iter()
        .filter(|c| !running(c))
        .map(|c| i64f(&c["SizeRw"]))
        .sum();

    let vol_active = volumes
        .iter()
        .filter(|x| i64f(&x["UsageData"]["RefCount"]) > 0)
        .count();
    let vol_size: i64 = volumes
        .iter()
        .map(|x| i64f(&x["UsageData"]["Size"]).max(0))
        .sum();
    let vol_reclaim: i64 = volumes
        .iter()
        .filter(|x| i64f(&x["UsageData"]["RefCount"]) == 0)
        .map(|x| i64f(&x["UsageData"]["Size"]).max(0))
        .sum();

    let cache_size: i64 = cache.iter().map(|x| i64f(&x["Size"])).sum();
    let cache_active = cache.iter().filter(|x| x["InUse"] == true).count();

    let rows = vec![
        json!({"Type": "Images", "TotalCount": images.len().to_string(), "Active": img_active.to_string(), "Size": size(img_size), "Reclaimable": reclaim(img_reclaim, img_size)}),
        json!({"Type": "Containers", "TotalCount": containers.len().to_string(), "Active": ctr_active.to_string(), "Size": size(ctr_size), "Reclaimable": reclaim(ctr_reclaim, ctr_size)}),
        json!({"Type": "Local Volumes", "TotalCount": volumes.len().to_string(), "Active": vol_active.to_string(), "Size": size(vol_size), "Reclaimable": reclaim(vol_reclaim, vol_size)}),
        json!({"Type": "Build Cache", "TotalCount": cache.len().to_string(), "Active": cache_active.to_string(), "Size": size(cache_size), "Reclaimable": size(cache_size)}),
    ];
    if a.verbose {
        println!("{}", crate::format::indent_json(&v.to_string(), 0));
        return Ok(());
    }
    let cols = Columns {
        default: &["Type", "TotalCount", "Active", "Size", "Reclaimable"],
        headers: &[
            ("Type", "TYPE"),
            ("TotalCount", "TOTAL"),
            ("Active", "ACTIVE"),
            ("Size", "SIZE"),
            ("Reclaimable", "RECLAIMABLE"),
        ],
    };
    print_list(&Format::parse(a.format.as_deref())?, &cols, &rows)?;
    Ok(())
}
