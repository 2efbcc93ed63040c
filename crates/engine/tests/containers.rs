//! Containers end to end, as root: a real `vessel daemon` process, the real monitor and
//! runtime, a busybox image, driven by the docker CLI and by `vessel`. Each test has its own
//! daemon, root, exec root and image name, so they run in parallel.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::proc_daemon::{daemon, mounts_under, unique, wait_until};
use common::{http, stderr, stdout};

#[test]
fn run_rm_splits_streams_and_returns_the_exit_code() {
    let Some(d) = daemon("rm") else { return };
    let out = d.docker(&[
        "run",
        "--rm",
        &d.image,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(
        (stdout(&out).as_str(), stderr(&out).as_str()),
        ("out\n", "err\n")
    );
    let ps = d.docker(&["ps", "-aq"]);
    assert!(ps.status.success());
    assert_eq!(stdout(&ps).trim(), "", "--rm left a container");

    // A start that fails still removes an --rm container and ends the attached client.
    let out = d.docker(&["run", "--rm", &d.image, "/no/such/binary"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("/no/such/binary"), "{}", stderr(&out));
    assert_eq!(
        stdout(&d.docker(&["ps", "-aq"])).trim(),
        "",
        "failed --rm left a container"
    );
    assert!(d.mounts().is_empty(), "{:?}", d.mounts());
}

#[test]
fn detached_container_ps_logs_inspect_stop_rm() {
    let Some(d) = daemon("detach") else { return };
    let name = unique("ticker");
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        &name,
        &d.image,
        "sh",
        "-c",
        "while :; do echo tick; sleep 0.2; done",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_owned();
    assert_eq!(id.len(), 64, "{id}");

    let ps = d.docker(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    let listed = stdout(&ps);
    assert!(listed.contains(&format!("{name} Up")), "{listed}");

    wait_until("a tick in the logs", Duration::from_secs(5), || {
        stdout(&d.docker(&["logs", &name])).contains("tick")
    });

    // logs -f keeps streaming: read lines as they come, then end the client.
    let mut follow = d
        .docker_cmd(&["logs", "-f", "--tail", "0", &name])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = BufReader::new(follow.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < 3 && Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            got.push(line);
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(got.len() >= 3, "logs -f streamed only {got:?}");
    assert!(got.iter().all(|l| l == "tick"), "{got:?}");

    assert_eq!(d.inspect(&name, "{{.State.Running}}"), "true");
    assert_eq!(d.inspect(&name, "{{.Config.Image}}"), d.image);
    assert_eq!(d.inspect(&name, "{{.Id}}"), id);

    // The shell as PID 1 has no TERM handler, so stop ends in SIGKILL after the timeout.
    let started = Instant::now();
    let out = d.docker(&["stop", "-t", "1", &name]);
    let took = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(took < Duration::from_secs(4), "stop took {took:?}");
    assert_eq!(d.inspect(&name, "{{.State.Status}}"), "exited");
    assert_eq!(d.inspect(&name, "{{.State.ExitCode}}"), "137");

    let out = d.docker(&["rm", &name]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&d.docker(&["ps", "-aq"])).trim(), "");
    assert!(d.mounts().is_empty(), "{:?}", d.mounts());
}

#[test]
fn run_interactive_pipes_stdin() {
    let Some(d) = daemon("stdin") else { return };
    let out = d.docker_stdin(&["run", "--rm", "-i", &d.image, "cat"], b"hello\n");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello\n");
    assert_eq!(stdout(&d.docker(&["ps", "-aq"])).trim(), "");
}

#[test]
fn memory_limit_kills_and_reports_oom() {
    let Some(d) = daemon("oom") else { return };
    let hog = "x=$(head -c 67108864 /dev/zero | tr \"\\0\" a)";
    let out = d.vessel(&["run", "--rm", "--memory", "32m", &d.image, "sh", "-c", hog]);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));

    let name = unique("oom");
    let out = d.vessel(&[
        "run", "--name", &name, "--memory", "32m", &d.image, "sh", "-c", hog,
    ]);
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    assert_eq!(d.inspect(&name, "{{.State.ExitCode}}"), "137");
    assert_eq!(d.inspect(&name, "{{.State.OOMKilled}}"), "true");
    assert_eq!(d.inspect(&name, "{{.HostConfig.Memory}}"), "33554432");
    let out = d.vessel(&["rm", &name]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn containers_survive_a_daemon_kill_and_monitor_kill_is_cleaned_up() {
    let Some(mut d) = daemon("restore") else {
        return;
    };
    let name = unique("sleeper");
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        &name,
        &d.image,
        "sh",
        "-c",
        "echo ready; exec sleep 1000",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pid = d.inspect(&name, "{{.State.Pid}}");
    wait_until("ready in the logs", Duration::from_secs(5), || {
        stdout(&d.docker(&["logs", &name])).contains("ready")
    });

    d.kill_daemon();
    d.spawn();
    let ps = d.docker(&["ps", "--format", "{{.Names}} {{.Status}}"]);
    assert!(
        stdout(&ps).contains(&format!("{name} Up")),
        "{}",
        stdout(&ps)
    );
    assert_eq!(d.inspect(&name, "{{.State.Pid}}"), pid);
    assert!(stdout(&d.docker(&["logs", &name])).contains("ready"));
    let started = Instant::now();
    let out = d.docker(&["stop", "-t", "1", &name]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(4));
    assert_eq!(d.inspect(&name, "{{.State.Status}}"), "exited");
    assert_eq!(d.inspect(&name, "{{.State.ExitCode}}"), "137");
    let out = d.docker(&["rm", &name]);
    assert!(out.status.success(), "{}", stderr(&out));

    // A container whose monitor died under it can still be removed, leaving nothing behind.
    let name = unique("orphan");
    let out = d.docker(&["run", "-d", "--name", &name, &d.image, "sleep", "1000"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_owned();
    let init: i32 = d.inspect(&name, "{{.State.Pid}}").parse().unwrap();
    let monitors: Vec<i32> = d
        .processes()
        .into_iter()
        .filter(|p| {
            let c = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            let c = String::from_utf8_lossy(&c);
            c.contains("vessel-monitor") && c.contains(&id)
        })
        .collect();
    assert_eq!(monitors.len(), 1, "monitor of {id}: {monitors:?}");
    // SAFETY: the monitor our daemon started for this test's container.
    unsafe { libc::kill(monitors[0], libc::SIGKILL) };
    let out = d.docker(&["rm", "-f", &name]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&d.docker(&["ps", "-aq"])).trim(), "");
    wait_until("the orphaned init to die", Duration::from_secs(5), || {
        std::fs::read_to_string(format!("/proc/{init}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true)
    });
    assert!(
        mounts_under(&d.root).is_empty(),
        "{:?}",
        mounts_under(&d.root)
    );
}

#[test]
fn bad_input_is_answered_and_the_daemon_keeps_serving() {
    let Some(d) = daemon("bad") else { return };
    let missing = format!("no-such-image-{}:latest", std::process::id());
    let reply = http(
        &d.socket,
        "POST",
        "/v1.41/containers/create",
        serde_json::json!({"Image": missing}).to_string().as_bytes(),
    );
    assert_eq!(reply.status, 404);
    let message = reply.json()["message"].as_str().unwrap_or("").to_owned();
    assert!(message.contains("No such image"), "{message}");
    let out = d.docker(&["create", &missing]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Unable to find image") || stderr(&out).contains("No such image"),
        "{}",
        stderr(&out)
    );

    let name = unique("busy");
    let out = d.docker(&["run", "-d", "--name", &name, &d.image, "sleep", "1000"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let body = serde_json::json!({"Image": d.image, "Cmd": ["true"]}).to_string();
    let reply = http(
        &d.socket,
        "POST",
        &format!("/v1.41/containers/create?name={name}"),
        body.as_bytes(),
    );
    assert_eq!(reply.status, 409);
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap_or("")
            .contains("is already in use"),
        "{:?}",
        reply.json()
    );
    let out = d.docker(&["create", "--name", &name, &d.image, "true"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("Conflict"), "{}", stderr(&out));

    let reply = http(
        &d.socket,
        "POST",
        "/v1.41/containers/create?name=a/b",
        body.as_bytes(),
    );
    assert_eq!(reply.status, 400, "{:?}", reply.json());

    let out = d.docker(&["rm", &name]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot remove a running container"),
        "{}",
        stderr(&out)
    );
    let out = d.docker(&["ps", "--format", "{{.Names}}"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), name);
    let out = d.docker(&["rm", "-f", &name]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn per_container_log_options_bound_the_log_files() {
    let Some(d) = daemon("logs") else { return };
    let name = unique("chatty");
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=3",
        &d.image,
        "sh",
        "-c",
        "i=0; while [ $i -lt 500 ]; do echo line-$i-0123456789abcdef; i=$((i+1)); done",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = stdout(&out).trim().to_owned();
    let out = d.docker(&["wait", &name]);
    assert_eq!(stdout(&out).trim(), "0", "{}", stderr(&out));

    let dir = d.root.join("containers").join(&id);
    let logs: Vec<(String, u64)> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("-json.log"))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    assert!(
        (2..=3).contains(&logs.len()),
        "want rotation into ≤ 3 files: {logs:?}"
    );
    // One JSON line of this output is < 128 bytes.
    for (file, size) in &logs {
        assert!(*size <= 1024 + 128, "{file} is {size} bytes");
    }
    let out = d.docker(&["logs", "--tail", "1", &name]);
    assert_eq!(stdout(&out).trim(), "line-499-0123456789abcdef");
    let out = d.docker(&["rm", &name]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn exec_runs_in_the_container_with_user_workdir_env_and_stdin() {
    let Some(d) = daemon("exec") else { return };
    let name = unique("execd");
    let out = d.docker(&["run", "-d", "--name", &name, &d.image, "sleep", "1000"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = d.docker(&[
        "exec",
        &name,
        "sh",
        "-c",
        "echo out; echo err >&2; cat /proc/1/cmdline; exit 5",
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out\nsleep\u{0}1000\u{0}");
    assert_eq!(stderr(&out), "err\n");

    let out = d.docker(&[
        "exec",
        "-u",
        "1000:1000",
        "-w",
        "/tmp",
        "-e",
        "GREETING=hi",
        &name,
        "sh",
        "-c",
        "id -u; pwd; echo $GREETING",
    ]);
    assert_eq!(stdout(&out), "1000\n/tmp\nhi\n", "{}", stderr(&out));

    let out = d.docker_stdin(&["exec", "-i", &name, "cat"], b"piped input\n");
    assert_eq!(stdout(&out), "piped input\n", "{}", stderr(&out));

    let out = d.vessel(&["exec", &name, "no-such-program"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("executable file not found"),
        "{}",
        stderr(&out)
    );

    let out = d.docker(&["rm", "-f", &name]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = d.docker(&["exec", &name, "true"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("No such container"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn stats_and_top_report_the_containers_processes() {
    let Some(d) = daemon("stats") else { return };
    let name = unique("busy");
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--memory",
        "64m",
        &d.image,
        "sh",
        "-c",
        "while :; do :; done",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = d.docker(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}",
        &name,
    ]);
    let line = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields.first(), Some(&name.as_str()), "{line}");
    let cpu: f64 = fields[1].trim_end_matches('%').parse().unwrap_or(0.0);
    assert!(cpu > 20.0, "a busy loop should show CPU use: {line}");
    assert!(line.contains("/ 64MiB"), "{line}");
    assert!(line.trim_end().ends_with(" 1"), "{line}");
    let out = d.docker(&["top", &name]);
    assert!(
        stdout(&out).contains("while :; do :; done"),
        "{}",
        stdout(&out)
    );
    assert!(d.docker(&["rm", "-f", &name]).status.success());
}

#[test]
fn restart_policies_restart_until_stopped_or_exhausted() {
    let Some(d) = daemon("restart") else { return };
    let failing = unique("onfail");
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        &failing,
        "--restart",
        "on-failure:2",
        &d.image,
        "sh",
        "-c",
        "echo run; exit 3",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let always = unique("always");
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        &always,
        "--restart",
        "always",
        &d.image,
        "sh",
        "-c",
        "echo run; sleep 0.3",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_until(
        "on-failure:2 to give up after two restarts",
        Duration::from_secs(15),
        || d.inspect(&failing, "{{.State.Status}} {{.RestartCount}}") == "exited 2",
    );
    assert_eq!(stdout(&d.docker(&["logs", &failing])), "run\nrun\nrun\n");
    wait_until("always to restart", Duration::from_secs(15), || {
        d.inspect(&always, "{{.RestartCount}}")
            .parse::<u32>()
            .unwrap_or(0)
            >= 2
    });
    assert!(d.docker(&["stop", "-t", "1", &always]).status.success());
    let count = d.inspect(&always, "{{.RestartCount}}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        d.inspect(&always, "{{.State.Status}} {{.RestartCount}}"),
        format!("exited {count}")
    );
    assert!(d.docker(&["rm", "-f", &failing, &always]).status.success());
}

#[test]
fn docker_compose_up_ps_logs_down() {
    let Some(d) = daemon("compose") else { return };
    if !std::path::Path::new("/usr/bin/docker-compose").exists() {
        eprintln!("skipping: docker-compose not installed (apt-get install docker-compose)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = unique("proj").replace('-', "");
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(
        &file,
        format!(
            r#"version: "3.7"
services:
  web:
    image: {image}
    command: sh -c 'echo "web up, GREETING=$$GREETING"; while :; do date > /data/now; sleep 1; done'
    network_mode: none
    environment:
      GREETING: hello
    volumes:
      - shared:/data
    healthcheck:
      test: ["CMD", "test", "-f", "/data/now"]
      interval: 2s
  reader:
    image: {image}
    command: sh -c 'sleep 2; echo reader sees $$(cat /data/now); sleep 1000'
    network_mode: none
    volumes:
      - shared:/data
volumes:
  shared:
"#,
            image = d.image
        ),
    )
    .unwrap();
    let compose = |args: &[&str]| {
        std::process::Command::new("/usr/bin/docker-compose")
            .env("DOCKER_HOST", d.host())
            .arg("-f")
            .arg(&file)
            .arg("-p")
            .arg(&project)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = compose(&["up", "-d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = compose(&["ps"]);
    let ps = stdout(&out);
    assert!(
        ps.contains(&format!("{project}_web_1")) && ps.contains("Up"),
        "{ps}"
    );
    wait_until(
        "the reader to read the shared volume",
        Duration::from_secs(15),
        || stdout(&compose(&["logs", "--no-color"])).contains("reader sees"),
    );
    let logs = stdout(&compose(&["logs", "--no-color"]));
    assert!(logs.contains("web up, GREETING=hello"), "{logs}");
    let out = compose(&["down", "-v", "-t", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(d.all_ids().is_empty(), "containers left after down");
    let vols = stdout(&d.docker(&["volume", "ls", "-q"]));
    assert!(!vols.contains(&format!("{project}_shared")), "{vols}");
}

#[test]
fn health_checks_turn_healthy_or_unhealthy() {
    let Some(d) = daemon("health") else { return };
    let good = unique("good");
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        &good,
        "--health-cmd",
        "test -f /tmp/ready",
        "--health-interval",
        "1s",
        "--health-retries",
        "2",
        &d.image,
        "sh",
        "-c",
        "sleep 1; touch /tmp/ready; sleep 1000",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bad = unique("bad");
    let out = d.docker(&[
        "run",
        "-d",
        "--name",
        &bad,
        "--health-cmd",
        "false",
        "--health-interval",
        "1s",
        "--health-retries",
        "2",
        &d.image,
        "sleep",
        "1000",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_until(
        "one healthy, one unhealthy",
        Duration::from_secs(20),
        || {
            d.inspect(&good, "{{.State.Health.Status}}") == "healthy"
                && d.inspect(&bad, "{{.State.Health.Status}}") == "unhealthy"
        },
    );
    let ps = stdout(&d.docker(&["ps", "--format", "{{.Names}} {{.Status}}"]));
    assert!(
        ps.contains(&format!("{good} Up")) && ps.contains("(healthy)"),
        "{ps}"
    );
    assert!(ps.contains("(unhealthy)"), "{ps}");
    assert!(d.docker(&["rm", "-f", &good, &bad]).status.success());
}
