//! Root-only: load and attach the device filter on a real cgroup2 directory. On this
//! hybrid host that is a fresh directory under /sys/fs/cgroup/unified; the check runs
//! inside a shell moved into the cgroup, so it tests what the kernel enforces.

mod common;

use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{skip_unless_root, unique, Guard};
use vessel_cgroups::v2::bpf::{DeviceFilterOps, Kernel};
use vessel_cgroups::v2::V2Manager;

fn cgroup2_root() -> Option<PathBuf> {
    ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.join("cgroup.procs").exists() && p.join("cgroup.subtree_control").exists())
}

#[test]
fn device_filter_enforced() {
    if skip_unless_root("device_filter_enforced") {
        return;
    }
    let Some(root) = cgroup2_root() else {
        println!("skipping device_filter_enforced: no cgroup2 mount");
        return;
    };
    let name = format!("/{}", unique("bpf"));
    let mgr = V2Manager::new(&root, None, Some(Path::new(&name)), "unused").unwrap();
    // mkdir directly rather than create(): enabling controllers in the host's root
    // subtree_control would outlive the test.
    std::fs::create_dir(mgr.dir()).unwrap();
    let dir = mgr.dir().to_path_buf();
    let g = Guard {
        mgr: Box::new(mgr),
        child: None,
    };

    let rules: oci_spec::runtime::LinuxResources = serde_json::from_str(
        r#"{"devices":[{"allow":false,"access":"rwm"},
                       {"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]}"#,
    )
    .unwrap();
    g.mgr.apply(&rules).unwrap();
    // Updating replaces the program instead of stacking another.
    g.mgr.apply(&rules).unwrap();
    let fd = std::fs::File::open(&dir).unwrap();
    assert_eq!(Kernel.attached(fd.as_fd()).unwrap().len(), 1);

    let mut child = Command::new("sh")
        .arg("-c")
        .arg(
            "read go; \
             if head -c1 /dev/zero >/dev/null 2>&1; then echo zero-ok; else echo zero-denied; fi; \
             if echo hi >/dev/null; then echo null-ok; else echo null-denied; fi",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    g.mgr.add_process(child.id() as i32).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["zero-denied", "null-ok"],
        "{out}"
    );

    drop(g);
    assert!(!dir.exists(), "{} left behind", dir.display());
}
