//! `vessel update`: change resources or the restart policy of containers.

use serde_json::{json, Map, Value};

use super::each;
use crate::client::{enc, Client};
use crate::runopts::parse;

#[derive(clap::Args)]
pub struct Args {
    /// Number of CPUs
    #[arg(long)]
    cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    cpu_shares: Option<i64>,
    /// Limit CPU CFS period
    #[arg(long = "cpu-period")]
    cpu_period: Option<i64>,
    /// Limit CPU CFS quota
    #[arg(long = "cpu-quota")]
    cpu_quota: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    cpuset_mems: Option<String>,
    /// Memory limit
    #[arg(short = 'm', long)]
    memory: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation")]
    memory_reservation: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long = "blkio-weight")]
    blkio_weight: Option<u16>,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    restart: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

fn size(flag: &str, v: &str) -> anyhow::Result<i64> {
    if v == "-1" && flag == "--memory-swap" {
        return Ok(-1);
    }
    parse::ram_in_bytes(v)
        .map_err(|e| anyhow::anyhow!("invalid argument \"{v}\" for \"{flag}\" flag: {e}"))
}

/// Only the flags given go into the body; the daemon leaves the rest unchanged.
pub fn body(a: &Args) -> anyhow::Result<Value> {
    let mut m = Map::new();
    if let Some(c) = &a.cpus {
        m.insert(
            "NanoCpus".into(),
            parse::nano_cpus(c).map_err(anyhow::Error::msg)?.into(),
        );
    }
    let ints = [
        ("CpuShares", a.cpu_shares),
        ("CpuPeriod", a.cpu_period),
        ("CpuQuota", a.cpu_quota),
        ("PidsLimit", a.pids_limit),
    ];
    for (k, v) in ints {
        if let Some(v) = v {
            m.insert(k.into(), v.into());
        }
    }
    for (k, v) in [
        ("CpusetCpus", &a.cpuset_cpus),
        ("CpusetMems", &a.cpuset_mems),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), v.clone().into());
        }
    }
    for (k, flag, v) in [
        ("Memory", "--memory", &a.memory),
        (
            "MemoryReservation",
            "--memory-reservation",
            &a.memory_reservation,
        ),
        ("MemorySwap", "--memory-swap", &a.memory_swap),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), size(flag, v)?.into());
        }
    }
    if let Some(w) = a.blkio_weight {
        m.insert("BlkioWeight".into(), w.into());
    }
    if let Some(r) = &a.restart {
        let (name, count) = parse::restart_policy(r).map_err(anyhow::Error::msg)?;
        m.insert(
            "RestartPolicy".into(),
            json!({"Name": name, "MaximumRetryCount": count}),
        );
    }
    if m.is_empty() {
        anyhow::bail!("you must provide one or more flags when using this command");
    }
    Ok(Value::Object(m))
}

pub fn run(c: &Client, a: Args) -> anyhow::Result<()> {
    let b = body(&a)?;
    each(
        &a.containers,
        |n| -> Result<Value, _> { c.post_json(&format!("/containers/{}/update", enc(n)), &b) },
        |n, v| {
            for w in v["Warnings"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                eprintln!("WARNING: {}", w.as_str().unwrap_or(""));
            }
            println!("{n}");
        },
    )
}
