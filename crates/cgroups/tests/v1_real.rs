//! Root-only: a real v1 cgroup on this host. Skips (with a note) when not root or when
//! the host is not v1/hybrid.

mod common;

use std::path::Path;
use std::process::Command;

use common::{skip_unless_root, unique, Guard};
use vessel_cgroups::{detect, manager, FreezerState, Hierarchy};

#[test]
fn v1_lifecycle() {
    if skip_unless_root("v1_lifecycle") {
        return;
    }
    let h = detect().unwrap();
    if !matches!(h, Hierarchy::V1 { .. }) {
        println!("skipping v1_lifecycle: host is not cgroup v1/hybrid");
        return;
    }
    let name = format!("/{}", unique("v1"));
    let mgr = manager(&h, Some(Path::new(&name)), "unused").unwrap();
    let mut g = Guard { mgr, child: None };
    g.mgr.create().unwrap();

    let r: oci_spec::runtime::LinuxResources = serde_json::from_str(
        r#"{"memory":{"limit":67108864,"reservation":33554432,"swappiness":0},
            "pids":{"limit":16},
            "cpu":{"shares":512,"quota":50000,"period":100000}}"#,
    )
    .unwrap();
    g.mgr.apply(&r).unwrap();
    // Update path: raising the limit must also work.
    let r2: oci_spec::runtime::LinuxResources =
        serde_json::from_str(r#"{"memory":{"limit":134217728}}"#).unwrap();
    g.mgr.apply(&r2).unwrap();

    let child = Command::new("sleep").arg("60").spawn().unwrap();
    let pid = child.id() as i32;
    g.child = Some(child);
    g.mgr.add_process(pid).unwrap();

    // From the child's point of view: /proc/<pid>/cgroup lists our path per hierarchy.
    let seen = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        seen.lines()
            .any(|l| l.contains(":memory:") && l.ends_with(&name)),
        "{seen}"
    );
    assert!(g.mgr.pids().unwrap().contains(&pid));

    let s = g.mgr.stats().unwrap();
    assert_eq!(s.memory.usage.limit, 134217728);
    assert_eq!(s.pids.limit, 16);
    assert!(s.pids.current >= 1);
    let json = serde_json::to_value(&s).unwrap();
    assert!(json["memory"]["raw"].is_object());
    assert_eq!(g.mgr.oom_kill_count().unwrap(), 0);

    g.mgr.freeze().unwrap();
    assert_eq!(g.mgr.freezer_state().unwrap(), FreezerState::Frozen);
    g.mgr.thaw().unwrap();
    assert_eq!(g.mgr.freezer_state().unwrap(), FreezerState::Thawed);

    // A limit the kernel refuses names the file and value.
    let bad: oci_spec::runtime::LinuxResources =
        serde_json::from_str(r#"{"cpu":{"shares":512,"quota":1}}"#).unwrap();
    let err = g.mgr.apply(&bad).unwrap_err();
    assert!(err.to_string().contains("cpu.cfs_quota_us"), "{err}");

    let dirs: Vec<_> = g
        .mgr
        .controller_paths()
        .into_iter()
        .map(|(_, d)| d)
        .collect();
    drop(g);
    for d in dirs {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}
