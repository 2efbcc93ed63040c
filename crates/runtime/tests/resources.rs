//! Resource limits observed from inside: memory (OOM kill), pids (fork fails), CPU quota
//! (throttling reported by `events --stats`).

mod common;

use common::{can_run, text, Bundle};

#[test]
fn memory_limit_oom_kills_a_hog() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("oom");
    b.config["linux"]["resources"]["memory"] =
        serde_json::json!({"limit": 16 * 1024 * 1024, "swap": 16 * 1024 * 1024});
    // The shell holds the whole 64 MB string in memory.
    b.args(&[
        "sh",
        "-c",
        "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived ${#x}",
    ]);
    let out = b.run();
    assert!(
        !text(&out.stdout).contains("survived"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        out.status.code(),
        Some(137),
        "stderr: {}",
        text(&out.stderr)
    );
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("pids");
    b.config["linux"]["resources"]["pids"] = serde_json::json!({"limit": 8});
    b.args(&["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do sleep 30 & done; echo started; kill $(jobs -p) 2>/dev/null; true"]);
    let out = b.run();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("fork") || stderr.contains("Resource temporarily unavailable"),
        "{stderr}"
    );
}

#[test]
fn cpu_quota_throttles() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("cpu");
    b.config["linux"]["resources"]["cpu"] = serde_json::json!({"quota": 10000, "period": 100000});
    b.args(&["sh", "-c", "while :; do :; done"]);
    b.start_detached();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let out = b.runtime(&["events", "--stats", &b.id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let event: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(event["type"], "stats");
    let throttling = &event["data"]["cpu"]["throttling"];
    assert!(
        throttling["throttledPeriods"].as_u64().unwrap_or(0) > 0,
        "{event}"
    );
    // 10% of one CPU over ~1.5 s is far below what an unthrottled loop would use.
    let used = event["data"]["cpu"]["usage"]["total"].as_u64().unwrap_or(0);
    assert!(used < 600_000_000, "cpu usage {used} ns");
}

#[test]
fn update_changes_limits_of_a_running_container() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("update");
    b.config["linux"]["resources"]["pids"] = serde_json::json!({"limit": 100});
    b.args(&["sleep", "1000"]);
    b.start_detached();
    let out = b.runtime(&["update", "--pids-limit", "42", "--memory", "64m", &b.id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = b.runtime(&["events", "--stats", &b.id]);
    let event: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(event["data"]["pids"]["limit"].as_u64(), Some(42), "{event}");
    assert_eq!(
        event["data"]["memory"]["usage"]["limit"].as_u64(),
        Some(64 << 20),
        "{event}"
    );
}
