//! What a process sees from inside a container: its own pid namespace, hostname, network,
//! mounts, capabilities, seccomp, masked paths and user namespace.

mod common;

use common::{can_run, text, Bundle};

#[test]
fn init_is_pid_1_with_own_hostname_and_only_lo() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("iso");
    b.args(&[
        "sh",
        "-c",
        "echo pid=$$; hostname; ls /sys/class/net; cat /proc/self/status | grep NoNewPrivs",
    ]);
    let out = b.run();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(stdout.contains("pid=1\n"), "{stdout}");
    assert!(stdout.contains("vessel-test\n"), "{stdout}");
    let nets: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.contains('=') && !l.contains(':') && *l != "vessel-test")
        .collect();
    assert_eq!(nets, vec!["lo"], "{stdout}");
    assert!(stdout.contains("NoNewPrivs:\t1"), "{stdout}");
}

#[test]
fn exit_code_is_returned() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("exit");
    b.args(&["sh", "-c", "exit 42"]);
    assert_eq!(b.run().status.code(), Some(42));
}

#[test]
fn capabilities_match_the_spec() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("caps");
    b.args(&["sh", "-c", "grep Cap /proc/self/status"]);
    let out = b.run();
    let stdout = text(&out.stdout);
    // CAP_KILL(5), CAP_NET_BIND_SERVICE(10), CAP_AUDIT_WRITE(29)
    let expected = format!("{:016x}", (1u64 << 5) | (1 << 10) | (1 << 29));
    for set in ["CapEff", "CapPrm", "CapBnd"] {
        assert!(
            stdout.contains(&format!("{set}:\t{expected}")),
            "{set} in {stdout}"
        );
    }
    assert!(stdout.contains("CapInh:\t0000000000000000"), "{stdout}");
    assert!(stdout.contains("CapAmb:\t0000000000000000"), "{stdout}");
}

#[test]
fn seccomp_denies_a_syscall_with_the_given_errno() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("seccomp");
    b.config["linux"]["seccomp"] = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
    });
    b.args(&[
        "sh",
        "-c",
        "mkdir /tmp/denied; echo rc=$?; touch /tmp/allowed && echo touched",
    ]);
    let out = b.run();
    let stdout = text(&out.stdout);
    assert!(stdout.contains("rc=1"), "{stdout} {}", text(&out.stderr));
    assert!(stdout.contains("touched"), "{stdout}");
    assert!(
        text(&out.stderr).contains("Operation not permitted"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn masked_and_readonly_paths() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("masked");
    b.args(&[
        "sh",
        "-c",
        "echo timer=$(cat /proc/timer_list | wc -c); echo 1 > /proc/sys/kernel/domainname && echo wrote || echo ro",
    ]);
    let out = b.run();
    let stdout = text(&out.stdout);
    assert!(stdout.contains("timer=0"), "{stdout}");
    assert!(stdout.contains("ro\n"), "{stdout}");
}

#[test]
fn readonly_root_refuses_writes() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("rootro");
    b.config["root"]["readonly"] = serde_json::json!(true);
    b.args(&["sh", "-c", "touch /newfile && echo wrote || echo refused"]);
    let out = b.run();
    assert!(
        text(&out.stdout).contains("refused"),
        "{}",
        text(&out.stdout)
    );
    assert!(!b.rootfs().join("newfile").exists());
}

#[test]
fn env_cwd_user_and_groups() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("user");
    b.config["process"]["env"] = serde_json::json!(["PATH=/bin", "GREETING=hello"]);
    b.config["process"]["cwd"] = serde_json::json!("/tmp");
    b.config["process"]["user"] =
        serde_json::json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 7], "umask": 63});
    b.args(&[
        "sh",
        "-c",
        "echo $GREETING; pwd; id -u; id -g; id -G; umask",
    ]);
    let out = b.run();
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        vec!["hello", "/tmp", "1000", "1000", "1000 5 7", "0077"],
        "stderr: {}",
        text(&out.stderr)
    );
}

#[test]
fn user_namespace_maps_root() {
    if !can_run() {
        return;
    }
    let mut b = Bundle::new("userns");
    let ns = b.config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.push(serde_json::json!({"type": "user"}));
    b.config["linux"]["uidMappings"] =
        serde_json::json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    b.config["linux"]["gidMappings"] =
        serde_json::json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
    // sysfs cannot be mounted from a user namespace without its own netns owner rights
    // on every kernel; the runtime falls back to a bind.
    b.args(&["sh", "-c", "cat /proc/self/uid_map; id -u"]);
    let out = b.run();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let fields: Vec<&str> = stdout
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(fields, vec!["0", "200000", "65536"], "{stdout}");
    assert!(stdout.ends_with("0\n"), "{stdout}");
}

#[test]
fn joins_an_existing_network_namespace() {
    if !can_run() {
        return;
    }
    let netns = common::unique("vrt");
    let ok = std::process::Command::new("ip")
        .args(["netns", "add", &netns])
        .status();
    if !ok.map(|s| s.success()).unwrap_or(false) {
        eprintln!("skipping: ip netns add failed (install iproute2)");
        return;
    }
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", &self.0])
                .status();
        }
    }
    let _cleanup = Cleanup(netns.clone());
    let dummy = format!("d{}", std::process::id() % 100000);
    let made = std::process::Command::new("ip")
        .args([
            "-n",
            &netns,
            "link",
            "add",
            &dummy,
            "type",
            "veth",
            "peer",
            "name",
            &format!("{dummy}p"),
        ])
        .status()
        .unwrap();
    assert!(made.success());
    let mut b = Bundle::new("joinnet");
    b.config["linux"]["namespaces"] = serde_json::json!([
        {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
        {"type": "network", "path": format!("/run/netns/{netns}")}
    ]);
    b.args(&["sh", "-c", "ls /sys/class/net"]);
    let out = b.run();
    assert!(
        text(&out.stdout).contains(&dummy),
        "{} {}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn no_descriptor_of_the_runtime_leaks_into_the_container() {
    if !can_run() {
        return;
    }
    use std::os::unix::process::CommandExt;
    let mut b = Bundle::new("fds");
    b.args(&["sh", "-c", "ls /proc/self/fd | tr '\\n' ' '"]);
    b.write_config();
    let leak = std::fs::File::open("/etc/hostname").unwrap();
    let leak_fd = std::os::fd::AsRawFd::as_raw_fd(&leak);
    let bundle = b.path().to_str().unwrap().to_string();
    let mut cmd = std::process::Command::new(common::BIN);
    cmd.arg("--root")
        .arg(&b.root)
        .args(["run", "--bundle", &bundle, &b.id]);
    // SAFETY: dup2 between valid descriptors in the forked child before exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(leak_fd, 9) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.stdin(std::process::Stdio::null()).output().unwrap();
    // ls opens one directory descriptor of its own (3).
    assert_eq!(
        text(&out.stdout).trim(),
        "0 1 2 3",
        "stderr: {}",
        text(&out.stderr)
    );
}

#[test]
fn time_namespace_offsets() {
    if !can_run() {
        return;
    }
    if !std::path::Path::new("/proc/self/ns/time").exists() {
        eprintln!("skipping: kernel without time namespaces");
        return;
    }
    let mut b = Bundle::new("timens");
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "time"}));
    b.config["linux"]["timeOffsets"] =
        serde_json::json!({"boottime": {"secs": 864000, "nanosecs": 0}});
    b.args(&["cat", "/proc/uptime"]);
    let out = b.run();
    let inside: f64 = text(&out.stdout)
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "stdout {:?} stderr {}",
                text(&out.stdout),
                text(&out.stderr)
            )
        });
    let host: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(inside > host + 863000.0, "inside {inside} host {host}");
}

#[test]
fn run_wires_the_pty_to_the_callers_terminal() {
    if !can_run() {
        return;
    }
    if !std::path::Path::new("/usr/bin/script").exists() {
        eprintln!("skipping: script(1) not installed (bsdutils)");
        return;
    }
    let mut b = Bundle::new("runtty");
    b.config["process"]["terminal"] = serde_json::json!(true);
    b.args(&["sh", "-c", "tty; echo tty-ok; exit 7"]);
    b.write_config();
    let cmd = format!(
        "{} --root {} run --bundle {} {}",
        common::BIN,
        b.root.display(),
        b.path().display(),
        b.id
    );
    let out = std::process::Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("/dev/pts/0") && stdout.contains("tty-ok"),
        "{stdout} {}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(7));
}

#[test]
fn joins_another_containers_pid_namespace() {
    if !can_run() {
        return;
    }
    let mut first = Bundle::new("pidhost");
    first.args(&["sleep", "1000"]);
    first.start_detached();
    let pid = first.state()["pid"].as_i64().unwrap();
    let mut second = Bundle::new("pidjoin");
    second.config["linux"]["namespaces"] = serde_json::json!([
        {"type": "pid", "path": format!("/proc/{pid}/ns/pid")},
        {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}
    ]);
    second.args(&[
        "sh",
        "-c",
        "echo self=$$; cat /proc/1/cmdline | tr '\\0' ' '",
    ]);
    let out = second.run();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert!(!stdout.contains("self=1\n"), "{stdout}");
    assert!(stdout.contains("sleep 1000"), "{stdout}");
}
