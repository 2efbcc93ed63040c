//! Real containers under the real monitor and vessel-runtime (root only).

mod common;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::Duration;

use common::*;

#[test]
fn output_lands_in_the_json_log_with_streams_and_times() {
    if !can_run() {
        return;
    }
    let c = Ctr::new("log", &["sh", "-c", "echo out; echo err >&2"], false);
    c.monitor_ok(&[]);
    c.start();
    assert_eq!(c.wait_exit()["exit_code"], 0);
    c.wait_monitor_gone();
    let entries = c.log_entries();
    let find = |text: &str| entries.iter().find(|e| e["log"] == text).cloned();
    let out = find("out\n").unwrap_or_else(|| panic!("no stdout line in {entries:?}"));
    let err = find("err\n").unwrap_or_else(|| panic!("no stderr line in {entries:?}"));
    assert_eq!(out["stream"], "stdout");
    assert_eq!(err["stream"], "stderr");
    for e in &entries {
        let t = e["time"].as_str().unwrap();
        assert!(is_rfc3339_nano(t), "bad time {t:?}");
    }
    // The sockets are gone once the monitor has exited.
    assert!(!c.dir().join("attach.sock").exists());
    assert!(!c.dir().join("ctl.sock").exists());
}

#[test]
fn exit_json_records_exit_codes_and_signals() {
    if !can_run() {
        return;
    }
    let c = Ctr::new("exit3", &["sh", "-c", "exit 3"], false);
    c.monitor_ok(&[]);
    c.start();
    let exit = c.wait_exit();
    assert_eq!(exit["exit_code"], 3);
    assert!(exit["signal"].is_null());
    assert_eq!(exit["oom_killed"], false);
    assert!(is_rfc3339_nano(exit["finished_at"].as_str().unwrap()));

    let k = Ctr::new("kill9", &["sleep", "30"], false);
    k.monitor_ok(&[]);
    k.start();
    // SAFETY: kill has no memory-safety preconditions; the pid is our container's init.
    unsafe { libc::kill(k.init_pid(), libc::SIGKILL) };
    let exit = k.wait_exit();
    assert_eq!(exit["exit_code"], 137);
    assert_eq!(exit["signal"], 9);
}

#[test]
fn attach_client_receives_framed_output_of_a_later_start() {
    if !can_run() {
        return;
    }
    let c = Ctr::new("attach", &["sh", "-c", "echo out; echo err >&2"], false);
    c.monitor_ok(&[]);
    let mut s = c.attach();
    c.start();
    let frames = read_frames(&mut s);
    assert_eq!(stream_text(&frames, 1), "out\n");
    assert_eq!(stream_text(&frames, 2), "err\n");
    assert_eq!(c.wait_exit()["exit_code"], 0);
}

#[test]
fn stdin_from_attach_reaches_cat_and_half_close_ends_it() {
    if !can_run() {
        return;
    }
    let c = Ctr::new("stdin", &["cat"], false);
    c.monitor_ok(&["--stdin"]);
    let mut s = c.attach();
    // A second, read-only client that disconnects must not close the container's stdin.
    drop(c.attach());
    c.start();
    s.write_all(b"hello\nworld\n").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let frames = read_frames(&mut s);
    assert_eq!(stream_text(&frames, 1), "hello\nworld\n");
    assert_eq!(c.wait_exit()["exit_code"], 0);
}

#[test]
fn tty_container_sees_a_terminal_and_its_size() {
    if !can_run() {
        return;
    }
    let c = Ctr::new("tty", &["sh", "-c", "tty; stty size"], true);
    c.monitor_ok(&["--tty"]);
    let mut ctl = UnixStream::connect(c.dir().join("ctl.sock")).unwrap();
    ctl.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    ctl.write_all(b"resize 33 101\n").unwrap();
    let mut reply = [0u8; 3];
    ctl.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"ok\n");
    let mut s = c.attach();
    c.start();
    let frames = read_frames(&mut s);
    let text = stream_text(&frames, 1);
    assert!(text.contains("/dev/pts/0"), "tty output: {text:?}");
    assert!(text.contains("33 101"), "stty size output: {text:?}");
    assert!(frames.iter().all(|(s, _)| *s == 1));
    assert_eq!(c.wait_exit()["exit_code"], 0);
    c.wait_monitor_gone();
    let logged: String = c
        .log_entries()
        .iter()
        .map(|e| e["log"].as_str().unwrap().to_string())
        .collect();
    assert!(logged.contains("/dev/pts/0"), "log: {logged:?}");
}

#[test]
fn logs_rotate_within_the_size_and_file_limits() {
    if !can_run() {
        return;
    }
    let script = "i=0; while [ $i -lt 400 ]; do echo chatty line $i; i=$((i+1)); done";
    let c = Ctr::new("rotate", &["sh", "-c", script], false);
    c.monitor_ok(&["--log-max-size", "1024", "--log-max-files", "3"]);
    c.start();
    assert_eq!(c.wait_exit()["exit_code"], 0);
    c.wait_monitor_gone();
    let mut files: Vec<String> = std::fs::read_dir(c.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("log.json"))
        .collect();
    files.sort();
    assert_eq!(files, ["log.json", "log.json.1", "log.json.2"]);
    for f in &files {
        let size = std::fs::metadata(c.dir().join(f)).unwrap().len();
        assert!(size <= 1024 + 128, "{f} is {size} bytes");
    }
    let newest = c.log_entries();
    assert_eq!(newest.last().unwrap()["log"], "chatty line 399\n");
}

#[test]
fn monitor_outlives_its_parent_and_forwards_sigterm() {
    if !can_run() {
        return;
    }
    let script = "trap 'echo bye; exit 7' TERM; echo tick; while true; do sleep 0.1; done";
    let c = Ctr::new("orphan", &["sh", "-c", script], false);
    // Spawned and never waited for: the caller may vanish, the monitor must not care.
    let mut child = c
        .monitor_cmd(&[])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !c.dir().join("ctl.sock").exists() || !c.dir().join("init.pid").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "monitor did not create the container"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    c.start();
    let pid = c.monitor_pid();
    assert_ne!(
        pid as u32,
        child.id(),
        "the monitor daemonizes into its own process"
    );
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ppid: u32 = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(ppid, std::process::id());
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill has no memory-safety preconditions; pid is the monitor we started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(c.wait_exit()["exit_code"], 7);
    c.wait_monitor_gone();
    let logs: Vec<_> = c.log_entries().iter().map(|e| e["log"].clone()).collect();
    assert!(
        logs.contains(&"tick\n".into()) && logs.contains(&"bye\n".into()),
        "{logs:?}"
    );
    // Only now collect the caller process, long after the container ran without it.
    let _ = child.wait();
}

#[test]
fn create_errors_are_reported_synchronously_on_one_line() {
    if !can_run() {
        return;
    }
    let c = Ctr::new("bad", &["/no/such/binary"], false);
    std::fs::remove_file(c.bundle.path().join("config.json")).unwrap();
    let out = c.monitor(&[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err:?}");
    assert!(err.contains("config.json"), "{err:?}");
    assert!(!c.dir().join("attach.sock").exists());
}

#[test]
fn idle_monitor_rss_stays_within_budget() {
    if !can_run() {
        return;
    }
    let c = Ctr::new("rss", &["sleep", "30"], false);
    c.monitor_ok(&[]);
    c.start();
    std::thread::sleep(Duration::from_millis(300));
    let pid = c.monitor_pid();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let pss = rollup
        .lines()
        .find(|l| l.starts_with("Pss:"))
        .unwrap_or("Pss: ?");
    let rss = field("VmRSS:");
    println!(
        "idle monitor {pid}: VmRSS {rss} kB (anon {} kB, file {} kB), {pss}",
        field("RssAnon:"),
        field("RssFile:")
    );
    // VmRSS is mostly libc and monitor text shared by every monitor, and how much of it
    // is mapped varies with ASLR (fault-around windows): 1.2-1.6 MB for this debug build.
    // Guard it below conmon (~2.1 MB); guard tightly what each container really costs.
    assert!(
        rss <= 2048,
        "idle monitor VmRSS {rss} kB exceeds the 2048 kB guard"
    );
    let anon = field("RssAnon:");
    assert!(
        anon <= 512,
        "idle monitor private memory {anon} kB exceeds 512 kB"
    );
}
