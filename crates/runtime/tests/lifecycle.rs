//! create/start/state/exec/pause/resume/kill/delete as engines drive them, and that
//! nothing is left behind.

mod common;

use std::time::{Duration, Instant};

use common::{can_run, cgroup_dirs, text, Bundle};

fn wait_for_status(b: &Bundle, want: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if b.status() == want {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn full_lifecycle_leaves_nothing_behind() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("life");
    let cgroup = format!("/vessel-test/{}", b.id);
    b.config["linux"]["cgroupsPath"] = serde_json::json!(cgroup);
    b.args(&["sleep", "1000"]);
    b.write_config();
    let bundle = b.path().to_str().unwrap().to_string();
    let pid_file = b.path().join("init.pid");
    let (status, stderr) = b.runtime_detached(&[
        "create",
        "--bundle",
        &bundle,
        "--pid-file",
        pid_file.to_str().unwrap(),
        &b.id,
    ]);
    assert!(status.success(), "create: {stderr}");
    assert_eq!(b.status(), "created");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(b.state()["pid"].as_i64(), Some(pid as i64));
    assert!(cgroup_dirs(&cgroup).iter().any(|d| d.exists()));

    // Deleting a created container without --force is refused (OCI: only stopped ones).
    let out = b.runtime(&["delete", &b.id]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("created"),
        "{}",
        text(&out.stderr)
    );

    let out = b.runtime(&["start", &b.id]);
    assert!(out.status.success(), "start: {}", text(&out.stderr));
    assert_eq!(b.status(), "running");
    assert!(
        !b.runtime(&["start", &b.id]).status.success(),
        "second start must fail"
    );

    let out = b.runtime(&[
        "exec",
        &b.id,
        "sh",
        "-c",
        "echo in-$(hostname); cat /proc/1/cmdline | tr '\\0' ' '",
    ]);
    assert!(out.status.success(), "exec: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "in-vessel-test\nsleep 1000 ");

    let out = b.runtime(&["exec", &b.id, "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));

    let out = b.runtime(&["ps", "--format", "json", &b.id]);
    let pids: Vec<i32> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pids, vec![pid]);

    assert!(b.runtime(&["pause", &b.id]).status.success());
    assert_eq!(b.status(), "paused");
    assert!(b.runtime(&["resume", &b.id]).status.success());
    assert_eq!(b.status(), "running");

    let out = b.runtime(&["list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["id"], b.id.as_str());

    assert!(b.runtime(&["kill", &b.id, "KILL"]).status.success());
    assert!(wait_for_status(&b, "stopped"));
    let out = b.runtime(&["delete", &b.id]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    assert!(!b.root.join(&b.id).exists());
    for d in cgroup_dirs(&cgroup) {
        assert!(!d.exists(), "{} left behind", d.display());
    }
    let out = b.runtime(&["state", &b.id]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("does not exist"));
}

#[test]
fn delete_force_kills_a_running_container() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("force");
    b.args(&["sleep", "1000"]);
    b.start_detached();
    let pid = b.state()["pid"].as_i64().unwrap();
    assert!(!b.runtime(&["delete", &b.id]).status.success());
    assert!(b.runtime(&["delete", "--force", &b.id]).status.success());
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists() || {
            let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            s.contains(") Z ")
        }
    );
}

#[test]
fn kill_all_and_signal_names() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("killall");
    b.args(&["sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
    b.start_detached();
    std::thread::sleep(Duration::from_millis(200));
    let out = b.runtime(&["ps", "--format", "json", &b.id]);
    let pids: Vec<i32> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(pids.len(), 3, "{pids:?}");
    assert!(!b.runtime(&["kill", &b.id, "NOTASIGNAL"]).status.success());
    assert!(b.runtime(&["kill", "--all", &b.id, "9"]).status.success());
    assert!(wait_for_status(&b, "stopped"));
}

#[test]
fn hooks_run_in_spec_order_with_state() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("hooks");
    let log = b.path().join("hooks.log");
    let hook = |name: &str| serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", format!("read s; echo {name} >> {}; echo \"$s\" > {}.{name}", log.display(), log.display())]});
    b.config["hooks"] = serde_json::json!({
        "prestart": [hook("prestart")],
        "createRuntime": [hook("createRuntime")],
        "createContainer": [hook("createContainer")],
        "startContainer": [hook("startContainer")],
        "poststart": [hook("poststart")],
        "poststop": [hook("poststop")]
    });
    // startContainer hooks run inside the container: give it a /bin/sh that can write the
    // log, through a bind of the bundle directory at the same path.
    let dir = b.path().to_str().unwrap().to_string();
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!(
            {"destination": dir, "type": "bind", "source": dir, "options": ["rbind"]}
        ));
    b.args(&["true"]);
    let out = b.run();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let order = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        order.lines().collect::<Vec<_>>(),
        vec![
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ]
    );
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{}.createRuntime", log.display())).unwrap(),
    )
    .unwrap();
    assert_eq!(state["id"], b.id.as_str());
    assert_eq!(state["status"], "creating");
    assert!(state["pid"].as_i64().unwrap() > 1);
}

#[test]
fn failing_create_runtime_hook_cleans_up() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("badhook");
    let cgroup = format!("/vessel-test/{}", b.id);
    b.config["linux"]["cgroupsPath"] = serde_json::json!(cgroup);
    b.config["hooks"] = serde_json::json!({"createRuntime": [{"path": "/bin/false"}]});
    b.args(&["true"]);
    let out = b.run();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("createRuntime hook /bin/false"),
        "{}",
        text(&out.stderr)
    );
    assert!(!b.root.join(&b.id).exists());
    for d in cgroup_dirs(&cgroup) {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn config_without_process_can_be_created_but_not_started() {
    if !can_run() {
        return;
    }
    let b = Bundle::new("noproc");
    let mut b = b;
    b.config.as_object_mut().unwrap().remove("process");
    b.write_config();
    let bundle = b.path().to_str().unwrap().to_string();
    let (status, stderr) = b.runtime_detached(&["create", "--bundle", &bundle, &b.id]);
    assert!(status.success(), "{stderr}");
    let out = b.runtime(&["start", &b.id]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("process"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn exec_with_user_cwd_env_and_process_file() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("execopts");
    b.args(&["sleep", "1000"]);
    b.start_detached();
    let out = b.runtime(&[
        "exec",
        "--user",
        "1000:1000",
        "--cwd",
        "/tmp",
        "--env",
        "FOO=bar",
        &b.id,
        "sh",
        "-c",
        "id -u; pwd; echo $FOO",
    ]);
    assert_eq!(
        text(&out.stdout),
        "1000\n/tmp\nbar\n",
        "{}",
        text(&out.stderr)
    );
    let process = serde_json::json!({
        "args": ["sh", "-c", "echo from-process-json $X; grep CapEff /proc/self/status"],
        "cwd": "/",
        "env": ["PATH=/bin", "X=y"],
        "user": {"uid": 0, "gid": 0},
        "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}
    });
    let file = b.path().join("process.json");
    std::fs::write(&file, process.to_string()).unwrap();
    let out = b.runtime(&["exec", "--process", file.to_str().unwrap(), &b.id]);
    assert_eq!(
        text(&out.stdout),
        "from-process-json y\nCapEff:\t0000000000000020\n",
        "{}",
        text(&out.stderr)
    );
    let pid_file = b.path().join("exec.pid");
    let (status, stderr) = b.runtime_detached(&[
        "exec",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &b.id,
        "sleep",
        "1000",
    ]);
    assert!(status.success(), "{stderr}");
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let out = b.runtime(&["ps", "--format", "json", &b.id]);
    let pids: Vec<i32> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(pids.contains(&pid), "{pids:?} should contain {pid}");
    let out = b.runtime(&["exec", &b.id, "no-such-program"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("executable file not found"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn kill_of_a_stopped_container_is_an_error() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("killstopped");
    b.args(&["true"]);
    b.start_detached();
    assert!(wait_for_status(&b, "stopped"));
    let out = b.runtime(&["kill", &b.id, "TERM"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("stopped"),
        "{}",
        text(&out.stderr)
    );
    assert!(b.runtime(&["delete", &b.id]).status.success());
}
