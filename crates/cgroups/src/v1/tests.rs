use super::*;
use crate::testutil::{put, res};
use tempfile::TempDir;

const OWN: &str = "9:name=systemd:/\n4:memory:/process_api/x\n3:cpuset:/\n1:cpu:/\n\
                   2:cpuacct:/\n8:pids:/\n6:freezer:/\n5:devices:/\n0::/\n";

fn host(combined: bool) -> (TempDir, Vec<V1Mount>) {
    let d = tempfile::tempdir().unwrap();
    let mut groups: Vec<Vec<&str>> = vec![
        vec!["cpuset"],
        vec!["memory"],
        vec!["pids"],
        vec!["freezer"],
        vec!["devices"],
        vec!["name=systemd"],
    ];
    if combined {
        groups.push(vec!["cpu", "cpuacct"]);
    } else {
        groups.push(vec!["cpu"]);
        groups.push(vec!["cpuacct"]);
    }
    let mounts = groups
        .into_iter()
        .map(|g| {
            let mount_point = d.path().join(g.join(","));
            std::fs::create_dir_all(&mount_point).unwrap();
            V1Mount {
                controllers: g.iter().map(|s| s.to_string()).collect(),
                mount_point,
                root: PathBuf::from("/"),
            }
        })
        .collect();
    (d, mounts)
}

fn mgr(mounts: &[V1Mount], path: Option<&str>) -> V1Manager {
    let own = OwnCgroups::parse(OWN);
    V1Manager::new(mounts, &own, path.map(Path::new), "c1").unwrap()
}

#[test]
fn relative_path_is_per_controller() {
    let (d, mounts) = host(false);
    let m = mgr(&mounts, Some("ctr"));
    assert_eq!(m.path(), Path::new("/process_api/x/ctr"));
    let paths: std::collections::HashMap<_, _> = m.controller_paths().into_iter().collect();
    assert_eq!(paths["memory"], d.path().join("memory/process_api/x/ctr"));
    assert_eq!(paths["cpu"], d.path().join("cpu/ctr"));
    assert_eq!(paths["name=systemd"], d.path().join("name=systemd/ctr"));
    assert!(!paths.contains_key("hugetlb"));
}

#[test]
fn default_path_and_combined_mount() {
    let (d, mounts) = host(true);
    let m = mgr(&mounts, None);
    assert_eq!(m.path(), Path::new("/vessel/c1"));
    let paths: std::collections::HashMap<_, _> = m.controller_paths().into_iter().collect();
    assert_eq!(paths["cpu"], d.path().join("cpu,cpuacct/vessel/c1"));
    assert_eq!(paths["cpuacct"], paths["cpu"]);
    // cpu and cpuacct share one directory, so it is visited once.
    assert_eq!(m.unique().len(), m.controllers.len() - 1);
}

#[test]
fn create_apply_add_destroy() {
    let (d, mounts) = host(false);
    put_parent_cpuset(&d);
    let m = mgr(&mounts, Some("/vessel/t"));
    m.create().unwrap();
    for (_, dir) in m.controller_paths() {
        assert!(dir.is_dir(), "{}", dir.display());
    }
    m.destroy().unwrap();
    for (_, dir) in m.controller_paths() {
        assert!(!dir.exists(), "{}", dir.display());
    }
    // Idempotent: ENOENT is success.
    m.destroy().unwrap();

    m.create().unwrap();
    let memdir = d.path().join("memory/vessel/t");
    let files = [
        ("memory", "memory.limit_in_bytes"),
        ("pids", "pids.max"),
        ("cpu", "cpu.shares"),
        ("cpu", "cpu.cfs_quota_us"),
        ("cpu", "cpu.cfs_period_us"),
        ("devices", "devices.deny"),
        ("devices", "devices.allow"),
    ];
    for (c, f) in files {
        put(&d, &format!("{c}/vessel/t/{f}"), "");
    }
    put(
        &d,
        "memory/vessel/t/memory.limit_in_bytes",
        "9223372036854771712",
    );
    let r = res(r#"{"memory":{"limit":67108864},"pids":{"limit":10},
                    "cpu":{"shares":256,"quota":20000,"period":100000},
                    "devices":[{"allow":false,"access":"rwm"}],
                    "network":{"classID":7}}"#);
    m.apply(&r).unwrap();
    let read = |p: &str| std::fs::read_to_string(d.path().join(p)).unwrap();
    assert_eq!(read("memory/vessel/t/memory.limit_in_bytes"), "67108864");
    assert_eq!(read("pids/vessel/t/pids.max"), "10");
    assert_eq!(read("cpu/vessel/t/cpu.shares"), "256");
    assert_eq!(read("cpu/vessel/t/cpu.cfs_quota_us"), "20000");
    assert_eq!(read("devices/vessel/t/devices.deny"), "a");

    for (_, dir) in m.controller_paths() {
        std::fs::write(dir.join("cgroup.procs"), "").unwrap();
    }
    m.add_process(4242).unwrap();
    for (_, dir) in m.controller_paths() {
        assert_eq!(
            std::fs::read_to_string(dir.join("cgroup.procs")).unwrap(),
            "4242"
        );
    }
    std::fs::create_dir(d.path().join("pids/vessel/t/sub")).unwrap();
    put(&d, "pids/vessel/t/sub/cgroup.procs", "7\n8\n");
    let mut pids = m.pids().unwrap();
    pids.sort();
    assert_eq!(pids, [7, 8, 4242]);
    assert!(memdir.is_dir());
}

fn put_parent_cpuset(d: &TempDir) {
    put(d, "cpuset/cpuset.cpus", "0-1\n");
    put(d, "cpuset/cpuset.mems", "0\n");
}

#[test]
fn missing_controllers_and_unified() {
    let (_d, mounts) = host(false);
    let m = mgr(&mounts, Some("/t"));
    let err = m
        .apply(&res(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":1}]}"#))
        .unwrap_err();
    assert!(
        matches!(
            err,
            CgroupError::ControllerNotMounted {
                controller: "hugetlb",
                ..
            }
        ),
        "{err}"
    );
    let err = m
        .apply(&res(r#"{"unified":{"memory.high":"1"}}"#))
        .unwrap_err();
    assert_eq!(err.to_string(), "unified resources require cgroup v2");
    // Absent net_cls/net_prio and empty sections are not errors.
    m.apply(&res(
        r#"{"network":{"classID":1},"memory":{},"hugepageLimits":[]}"#,
    ))
    .unwrap();
}

#[test]
fn kernel_refusal_names_file_and_value() {
    let (d, mounts) = host(false);
    let m = mgr(&mounts, Some("/t"));
    // A directory where a file is expected makes the write fail like a refusal would.
    std::fs::create_dir_all(d.path().join("pids/t/pids.max")).unwrap();
    let err = m.apply(&res(r#"{"pids":{"limit":5}}"#)).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("writing \"5\" to "), "{msg}");
    assert!(msg.ends_with("/pids/t/pids.max"), "{msg}");
    assert!(std::error::Error::source(&err).is_some());
}
