//! Bad input gets one clear error line naming the field and value, a non-zero exit, and
//! leaves no state directory, cgroup or mount behind.

mod common;

use common::{can_run, cgroup_dirs, mounts_under, text, Bundle};

/// Run the bundle expecting failure; return stderr after checking nothing leaked.
fn fails(b: &Bundle) -> String {
    let out = b.run();
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "expected failure, got success; stderr: {stderr}"
    );
    assert!(
        !b.root.join(&b.id).exists(),
        "state left behind for {}",
        b.id
    );
    let cgroup = b.config["linux"]["cgroupsPath"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !cgroup.is_empty() {
        for d in cgroup_dirs(&cgroup) {
            assert!(!d.exists(), "{} left behind", d.display());
        }
    }
    assert!(
        mounts_under(b.path()).is_empty(),
        "mounts left: {:?}",
        mounts_under(b.path())
    );
    stderr
}

fn bundle(prefix: &str) -> Bundle {
    let mut b = Bundle::new(prefix);
    let cgroup = format!("/vessel-test/{}", b.id);
    b.config["linux"]["cgroupsPath"] = serde_json::json!(cgroup);
    b
}

#[test]
fn malformed_config() {
    if !can_run() {
        return;
    }
    let b = bundle("malformed");
    std::fs::write(b.path().join("config.json"), "{\"ociVersion\": \"1.2.0\", ").unwrap();
    let bundle_path = b.path().to_str().unwrap().to_string();
    let out = b.runtime(&["run", "--bundle", &bundle_path, &b.id]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("config.json") && stderr.contains("line 1"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!b.root.join(&b.id).exists());
}

#[test]
fn missing_config() {
    if !can_run() {
        return;
    }
    let b = bundle("missing");
    let bundle_path = b.path().to_str().unwrap().to_string();
    let out = b.runtime(&["create", "--bundle", &bundle_path, &b.id]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("config.json"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn unknown_namespace_type() {
    if !can_run() {
        return;
    }
    let mut b = bundle("unkns");
    b.config["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}, {"type": "bogus"}]);
    let stderr = fails(&b);
    assert!(stderr.contains("bogus"), "{stderr}");
}

#[test]
fn bad_uid_map() {
    if !can_run() {
        return;
    }
    let mut b = bundle("badmap");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "user"}));
    b.config["linux"]["uidMappings"] =
        serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 0}]);
    b.config["linux"]["gidMappings"] =
        serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 10}]);
    let stderr = fails(&b);
    assert!(stderr.contains("linux.uidMappings"), "{stderr}");
}

#[test]
fn mount_target_escaping_through_symlink() {
    if !can_run() {
        return;
    }
    let mut b = bundle("escape");
    std::os::unix::fs::symlink("../../../../../../tmp", b.rootfs().join("escape")).unwrap();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!(
            {"destination": "/escape/x", "type": "tmpfs", "source": "tmpfs"}
        ));
    let stderr = fails(&b);
    assert!(stderr.contains("/escape"), "{stderr}");
    assert!(!std::path::Path::new("/tmp/x").exists() || std::fs::read_dir("/tmp/x").is_ok());
}

#[test]
fn missing_executable() {
    if !can_run() {
        return;
    }
    let mut b = bundle("noexe");
    b.args(&["does-not-exist"]);
    let stderr = fails(&b);
    assert!(stderr.contains("executable file not found"), "{stderr}");
    assert!(stderr.contains("does-not-exist"), "{stderr}");
}

#[test]
fn duplicate_container_id() {
    if !can_run() {
        return;
    }
    let mut b = bundle("dup");
    b.args(&["sleep", "1000"]);
    b.start_detached();
    let bundle_path = b.path().to_str().unwrap().to_string();
    let (status, stderr) = b.runtime_detached(&["create", "--bundle", &bundle_path, &b.id]);
    assert!(!status.success());
    assert!(stderr.contains("already exists"), "{stderr}");
    // The first container is untouched.
    assert_eq!(b.status(), "running");
}

#[test]
fn container_id_with_slash() {
    if !can_run() {
        return;
    }
    let b = bundle("slash");
    b.write_config();
    let bundle_path = b.path().to_str().unwrap().to_string();
    let out = b.runtime(&["create", "--bundle", &bundle_path, "a/b"]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("\"a/b\""), "{stderr}");
}

#[test]
fn rlimit_above_hard_limit_is_named() {
    if !can_run() {
        return;
    }
    let mut b = bundle("rlimit");
    let mut hard = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into `hard`.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut hard) };
    if hard.rlim_max == libc::RLIM_INFINITY {
        eprintln!("skipping: nofile hard limit is unlimited here");
        return;
    }
    let want = hard.rlim_max + 1000;
    b.config["process"]["rlimits"] =
        serde_json::json!([{"type": "RLIMIT_NOFILE", "hard": want, "soft": want}]);
    let stderr = fails(&b);
    assert!(stderr.contains("RLIMIT_NOFILE"), "{stderr}");
}

#[test]
fn unknown_capability() {
    if !can_run() {
        return;
    }
    let mut b = bundle("unkcap");
    b.config["process"]["capabilities"]["bounding"] =
        serde_json::json!(["CAP_KILL", "CAP_DOES_NOT_EXIST"]);
    let stderr = fails(&b);
    assert!(stderr.contains("CAP_DOES_NOT_EXIST"), "{stderr}");
}
