//! `docker stats` (`GET /containers/{id}/stats`) from the container's cgroup, and
//! `docker top` (`GET /containers/{id}/top`) from ps(1) filtered to the container's pids.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::api::{ok_json, AppState};
use crate::errors::ApiError;
use crate::query::QueryParams as Query;

/// Nanoseconds of CPU time the whole host has spent, as Docker's `system_cpu_usage`.
fn system_cpu_usage() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    ticks * (1_000_000_000 / hz)
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                })
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

fn cpu_json(s: &vessel_cgroups::Stats, system: u64) -> Value {
    let online = s.cpu.usage.percpu.iter().filter(|&&v| v > 0).count().max(1);
    json!({
        "cpu_usage": {
            "total_usage": s.cpu.usage.total,
            "percpu_usage": s.cpu.usage.percpu,
            "usage_in_kernelmode": s.cpu.usage.kernel,
            "usage_in_usermode": s.cpu.usage.user,
        },
        "system_cpu_usage": system,
        "online_cpus": online.max(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)),
        "throttling_data": {
            "periods": s.cpu.throttling.periods,
            "throttled_periods": s.cpu.throttling.throttled_periods,
            "throttled_time": s.cpu.throttling.throttled_time,
        },
    })
}

/// One Docker stats object from two samples.
fn stats_json(
    name: &str,
    id: &str,
    now: &vessel_cgroups::Stats,
    now_sys: u64,
    pre: Option<(&vessel_cgroups::Stats, u64)>,
) -> Value {
    let host = host_memory();
    let limit = now.memory.usage.limit;
    let limit = if limit == 0 || (host > 0 && limit > host) {
        host
    } else {
        limit
    };
    let blkio: Vec<Value> = now
        .blkio
        .io_service_bytes_recursive
        .iter()
        .map(|e| json!({"major": e.major, "minor": e.minor, "op": e.op, "value": e.value}))
        .collect();
    json!({
        "read": crate::timefmt::now_rfc3339_nano(),
        "preread": "0001-01-01T00:00:00Z",
        "name": format!("/{name}"),
        "id": id,
        "num_procs": 0,
        "pids_stats": {"current": now.pids.current, "limit": now.pids.limit},
        "blkio_stats": {
            "io_service_bytes_recursive": blkio,
            "io_serviced_recursive": null, "io_queue_recursive": null, "io_service_time_recursive": null,
            "io_wait_time_recursive": null, "io_merged_recursive": null, "io_time_recursive": null,
            "sectors_recursive": null,
        },
        "storage_stats": {},
        "cpu_stats": cpu_json(now, now_sys),
        "precpu_stats": match pre {
            Some((p, sys)) => cpu_json(p, sys),
            None => json!({"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0}, "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}),
        },
        "memory_stats": {
            "usage": now.memory.usage.usage,
            "max_usage": now.memory.usage.max,
            "limit": limit,
            "failcnt": now.memory.usage.failcnt,
            "stats": now.memory.raw,
        },
    })
}

/// `stream=0` takes two samples 500 ms apart (so CPU % means something) and answers once;
/// otherwise a sample per second until the container stops or the client leaves.
pub async fn stats(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let stream = q.bool_or("stream", true);
    let c = s.containers.clone();
    let record = c.call(move |c| c.find(&id)).await?;
    let (id, name) = (record.id.clone(), record.name.clone());
    let first = {
        let id = id.clone();
        c.call(move |c| c.cgroup_stats(&id)).await?
    };
    let mut pre = (first, system_cpu_usage());
    if !stream {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let id2 = id.clone();
        let now = c
            .call(move |c| c.cgroup_stats(&id2))
            .await
            .unwrap_or_else(|_| pre.0.clone());
        let body = stats_json(&name, &id, &now, system_cpu_usage(), Some((&pre.0, pre.1)));
        return Ok(ok_json(&body));
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(2);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let id2 = id.clone();
            let Ok(now) = c.call(move |c| c.cgroup_stats(&id2)).await else {
                break;
            };
            let sys = system_cpu_usage();
            let mut line =
                serde_json::to_vec(&stats_json(&name, &id, &now, sys, Some((&pre.0, pre.1))))
                    .unwrap_or_default();
            line.push(b'\n');
            if tx.send(Ok(bytes::Bytes::from(line))).await.is_err() {
                break;
            }
            pre = (now, sys);
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(body))
        .unwrap_or_default())
}

/// `ps_args` default "-ef", rows of the container's processes only.
pub async fn top(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let args: Vec<String> = q
        .non_empty("ps_args")
        .unwrap_or("-ef")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let pids = s.containers.call(move |c| c.pids(&id)).await?;
    let out = tokio::process::Command::new("ps")
        .args(&args)
        .output()
        .await
        .map_err(|e| super::ContainerError::io("running ps", e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let pid_col = titles.iter().position(|t| t == "PID").unwrap_or(1);
    let mut processes = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(pid) = fields.get(pid_col).and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        // The last column (the command) may contain spaces: keep it whole.
        let mut row: Vec<String> = fields
            .iter()
            .take(titles.len().saturating_sub(1))
            .map(|s| s.to_string())
            .collect();
        row.push(
            fields
                .iter()
                .skip(titles.len().saturating_sub(1))
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
        );
        processes.push(row);
    }
    Ok(ok_json(&json!({"Titles": titles, "Processes": processes})))
}
