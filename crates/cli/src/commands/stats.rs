//! `vessel stats [--no-stream] [CONTAINER...]`: docker's columns from `GET /containers/{id}/stats`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::client::{enc, Client};
use crate::format::{bytes_size, human_size_prec, short_id};
use crate::output::{print_list, Columns};
use crate::template::Format;

#[derive(clap::Args)]
pub struct Args {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long = "no-stream")]
    no_stream: bool,
    /// Do not truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Format output using a custom template
    #[arg(long)]
    format: Option<String>,
    containers: Vec<String>,
}

/// One row from a stats sample (cgroup v1 and v2 layouts).
pub fn row(name: &str, s: &Value, trunc: bool) -> Value {
    let cpu = &s["cpu_stats"];
    let pre = &s["precpu_stats"];
    let f = |v: &Value| v.as_f64().unwrap_or(0.0);
    let cpu_delta = f(&cpu["cpu_usage"]["total_usage"]) - f(&pre["cpu_usage"]["total_usage"]);
    let sys_delta = f(&cpu["system_cpu_usage"]) - f(&pre["system_cpu_usage"]);
    let online = match cpu["online_cpus"].as_f64() {
        Some(n) if n > 0.0 => n,
        _ => cpu["cpu_usage"]["percpu_usage"]
            .as_array()
            .map(|a| a.len() as f64)
            .unwrap_or(1.0),
    };
    let cpu_pct = if cpu_delta > 0.0 && sys_delta > 0.0 {
        cpu_delta / sys_delta * online * 100.0
    } else {
        0.0
    };
    let mem = &s["memory_stats"];
    let cache = mem["stats"]["total_inactive_file"]
        .as_f64()
        .or(mem["stats"]["inactive_file"].as_f64())
        .unwrap_or(0.0);
    let usage = (f(&mem["usage"]) - cache).max(0.0);
    let limit = f(&mem["limit"]);
    let mem_pct = if limit > 0.0 {
        usage / limit * 100.0
    } else {
        0.0
    };
    let (mut rx, mut tx) = (0.0, 0.0);
    if let Some(n) = s["networks"].as_object() {
        for v in n.values() {
            rx += f(&v["rx_bytes"]);
            tx += f(&v["tx_bytes"]);
        }
    }
    let (mut rd, mut wr) = (0.0, 0.0);
    for e in s["blkio_stats"]["io_service_bytes_recursive"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        match e["op"].as_str().unwrap_or("").to_lowercase().as_str() {
            "read" => rd += f(&e["value"]),
            "write" => wr += f(&e["value"]),
            _ => {}
        }
    }
    let id = s["id"].as_str().unwrap_or(name);
    let h = |x: f64| human_size_prec(x, 3);
    json!({
        "Container": name,
        "ID": if trunc { short_id(id) } else { id.to_string() },
        "Name": s["name"].as_str().unwrap_or("").trim_start_matches('/'),
        "CPUPerc": format!("{cpu_pct:.2}%"),
        "MemUsage": format!("{} / {}", bytes_size(usage), bytes_size(limit)),
        "MemPerc": format!("{mem_pct:.2}%"),
        "NetIO": format!("{} / {}", h(rx), h(tx)),
        "BlockIO": format!("{} / {}", h(rd), h(wr)),
        "PIDs": s["pids_stats"]["current"].as_u64().unwrap_or(0).to_string(),
    })
}

const HEADERS: &[(&str, &str)] = &[
    ("Container", "CONTAINER"),
    ("ID", "CONTAINER ID"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

pub fn run(c: &Client, a: Args) -> anyhow::Result<()> {
    let fmt = Format::parse(a.format.as_deref())?;
    let cols = Columns {
        default: &[
            "ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs",
        ],
        headers: HEADERS,
    };
    loop {
        let started = Instant::now();
        let names: Vec<String> = if a.containers.is_empty() {
            let list: Vec<Value> = c.get_json(if a.all {
                "/containers/json?all=1"
            } else {
                "/containers/json"
            })?;
            list.iter()
                .filter_map(|x| x["Id"].as_str().map(str::to_string))
                .collect()
        } else {
            a.containers.clone()
        };
        let mut rows = Vec::new();
        for n in &names {
            let s: Value = c.get_json(&format!("/containers/{}/stats?stream=0", enc(n)))?;
            rows.push(row(n, &s, !a.no_trunc));
        }
        if !a.no_stream {
            // Clear the screen and home the cursor, as docker's live view does.
            print!("\x1b[2J\x1b[H");
        }
        print_list(&fmt, &cols, &rows)?;
        if a.no_stream {
            return Ok(());
        }
        if let Some(rest) = Duration::from_secs(1).checked_sub(started.elapsed()) {
            std::thread::sleep(rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_v2_sample() {
        let s = json!({
            "id": "abcdef0123456789", "name": "/web",
            "cpu_stats": {"cpu_usage": {"total_usage": 2_000_000u64}, "system_cpu_usage": 100_000_000u64, "online_cpus": 2},
            "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000u64}, "system_cpu_usage": 90_000_000u64},
            "memory_stats": {"usage": 3_145_728u64, "limit": 1_073_741_824u64, "stats": {"inactive_file": 1_048_576u64}},
            "pids_stats": {"current": 3},
            "networks": {"eth0": {"rx_bytes": 1200, "tx_bytes": 648}},
            "blkio_stats": {"io_service_bytes_recursive": [{"op": "read", "value": 4096}]}
        });
        let r = row("web", &s, true);
        assert_eq!(r["CPUPerc"], "20.00%");
        assert_eq!(r["MemUsage"], "2MiB / 1GiB");
        assert_eq!(r["MemPerc"], "0.20%");
        assert_eq!(r["NetIO"], "1.2kB / 648B");
        assert_eq!(r["BlockIO"], "4.1kB / 0B");
        assert_eq!(r["PIDs"], "3");
        assert_eq!(r["Name"], "web");
    }
}
