use super::*;
use crate::testutil::{fake, get, put, res};

#[test]
fn path_resolution() {
    let root = Path::new("/sys/fs/cgroup");
    let m = V2Manager::new(root, Some(Path::new("/user.slice")), None, "c1").unwrap();
    assert_eq!(m.path(), Path::new("/vessel/c1"));
    assert_eq!(m.dir(), Path::new("/sys/fs/cgroup/vessel/c1"));
    let m = V2Manager::new(
        root,
        Some(Path::new("/user.slice")),
        Some(Path::new("x/y")),
        "c",
    )
    .unwrap();
    assert_eq!(m.dir(), Path::new("/sys/fs/cgroup/user.slice/x/y"));
    assert!(V2Manager::new(root, None, Some(Path::new("x")), "c").is_err());
    assert!(V2Manager::new(root, None, Some(Path::new("/a/../../etc")), "c").is_err());
}

#[test]
fn create_enables_controllers_down_the_tree() {
    let d = fake(&[]);
    put(
        &d,
        "cgroup.controllers",
        "cpuset cpu io memory hugetlb pids rdma misc\n",
    );
    put(&d, "cgroup.subtree_control", "memory\n");
    let m = V2Manager::new(d.path(), None, Some(Path::new("/a/b")), "c").unwrap();
    assert!(m.clone_into_fd().is_none());
    // The kernel populates a new cgroup's files; emulate that for the middle level.
    std::fs::create_dir(d.path().join("a")).unwrap();
    put(&d, "a/cgroup.controllers", "cpu memory pids\n");
    put(&d, "a/cgroup.subtree_control", "");
    m.create().unwrap();
    assert!(d.path().join("a/b").is_dir());
    assert_eq!(
        get(&d, "cgroup.subtree_control"),
        "+cpuset +cpu +io +hugetlb +pids"
    );
    assert_eq!(get(&d, "a/cgroup.subtree_control"), "+cpu +memory +pids");
    assert!(m.clone_into_fd().is_some());
    m.destroy().unwrap();
    assert!(!d.path().join("a/b").exists());
    m.destroy().unwrap();
}

#[test]
fn apply_all_controllers() {
    let d = fake(&[
        "c/cpu.weight",
        "c/cpu.max",
        "c/cpuset.cpus",
        "c/memory.max",
        "c/memory.low",
        "c/memory.swap.max",
        "c/pids.max",
        "c/io.weight",
        "c/io.max",
        "c/hugetlb.2MB.max",
        "c/memory.high",
    ]);
    let m = V2Manager::new(d.path(), None, Some(Path::new("/c")), "x").unwrap();
    let r = res(r#"{
        "cpu":{"shares":2,"quota":1000,"period":10000,"cpus":"0"},
        "memory":{"limit":1048576,"reservation":4096,"swap":2097152,"disableOOMKiller":true},
        "pids":{"limit":-1},
        "blockIO":{"weight":1000,"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":9}]},
        "hugepageLimits":[{"pageSize":"2MB","limit":2097152}],
        "network":{"classID":1},
        "unified":{"memory.high":"999999", "cpu.weight":"77"}
    }"#);
    m.apply(&r).unwrap();
    assert_eq!(
        get(&d, "c/cpu.weight"),
        "77",
        "unified overrides the conversion"
    );
    assert_eq!(get(&d, "c/cpu.max"), "1000 10000");
    assert_eq!(get(&d, "c/cpuset.cpus"), "0");
    assert_eq!(get(&d, "c/memory.max"), "1048576");
    assert_eq!(get(&d, "c/memory.low"), "4096");
    assert_eq!(get(&d, "c/memory.swap.max"), "1048576");
    assert_eq!(get(&d, "c/pids.max"), "max");
    assert_eq!(get(&d, "c/io.weight"), "10000");
    assert_eq!(get(&d, "c/io.max"), "8:0 rbps=9");
    assert_eq!(get(&d, "c/hugetlb.2MB.max"), "2097152");
    assert_eq!(get(&d, "c/memory.high"), "999999");
}

#[test]
fn missing_controller_file_names_it() {
    let d = fake(&["c/cgroup.procs"]);
    let m = V2Manager::new(d.path(), None, Some(Path::new("/c")), "x").unwrap();
    let err = m.apply(&res(r#"{"pids":{"limit":3}}"#)).unwrap_err();
    assert!(err.to_string().contains("c/pids.max"), "{err}");
    assert_eq!(err.errno(), Some(libc::ENOENT));
    m.add_process(12).unwrap();
    assert_eq!(get(&d, "c/cgroup.procs"), "12");
}

#[test]
fn pids_stats_and_oom() {
    let d = fake(&[]);
    put(&d, "c/cgroup.procs", "1\n2\n");
    put(&d, "c/sub/cgroup.procs", "3\n");
    put(&d, "c/memory.events", "oom_kill 5\n");
    put(&d, "c/memory.current", "100\n");
    put(&d, "c/pids.current", "3\n");
    put(&d, "c/io.stat", "8:0 rbytes=1 wbytes=2 rios=3 wios=4\n");
    let m = V2Manager::new(d.path(), None, Some(Path::new("/c")), "x").unwrap();
    let mut p = m.pids().unwrap();
    p.sort();
    assert_eq!(p, [1, 2, 3]);
    assert_eq!(m.oom_kill_count().unwrap(), 5);
    let s = m.stats().unwrap();
    assert_eq!(s.memory.usage.usage, 100);
    assert_eq!(s.pids.current, 3);
    assert_eq!(s.blkio.io_serviced_recursive.len(), 2);
    assert_eq!(m.freezer_state().unwrap(), FreezerState::Thawed);
}
