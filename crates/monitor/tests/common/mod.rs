//! Helpers for the monitor's root integration tests: busybox bundles configured through
//! `vessel-runtime spec`, unique ids and runtime roots, and cleanup that runs on failure.
#![allow(dead_code)]

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const MONITOR: &str = env!("CARGO_BIN_EXE_vessel-monitor");
const BUSYBOX: &str = "/bin/busybox";

/// `<workspace>/target/debug/vessel-runtime`, built on first use when missing.
pub fn runtime_bin() -> Option<&'static Path> {
    static BIN: OnceLock<Option<PathBuf>> = OnceLock::new();
    BIN.get_or_init(|| {
        let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or(ws.join("target"), PathBuf::from);
        let bin = target.join("debug/vessel-runtime");
        if !bin.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let ok = Command::new(cargo)
                .args(["build", "-p", "vessel-runtime"])
                .current_dir(&ws)
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!(
                    "skipping: could not build vessel-runtime (cargo build -p vessel-runtime)"
                );
                return None;
            }
        }
        Some(bin)
    })
    .as_deref()
}

/// Root, busybox-static and the runtime are needed; say so instead of failing.
pub fn can_run() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 || !Path::new(BUSYBOX).exists() {
        eprintln!("skipping: needs root and {BUSYBOX} (apt-get install busybox-static)");
        return false;
    }
    runtime_bin().is_some()
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub fn unique(prefix: &str) -> String {
    format!(
        "vm-{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// One container under a monitor: bundle, state dir, runtime root; force-deleted on drop.
pub struct Ctr {
    pub bundle: tempfile::TempDir,
    pub state: tempfile::TempDir,
    pub id: String,
    pub root: PathBuf,
}

impl Ctr {
    pub fn new(prefix: &str, args: &[&str], tty: bool) -> Ctr {
        let bundle = tempfile::Builder::new()
            .prefix("vm-bundle-")
            .tempdir_in("/tmp")
            .unwrap();
        let rootfs = bundle.path().join("rootfs");
        for d in ["bin", "proc", "sys", "dev", "tmp", "etc"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap();
        let list = Command::new(BUSYBOX).arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            if applet != "busybox" {
                let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
            }
        }
        let out = Command::new(runtime_bin().unwrap())
            .args(["spec", "--bundle"])
            .arg(bundle.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "spec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = bundle.path().join("config.json");
        let mut config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        config["process"]["terminal"] = tty.into();
        config["process"]["args"] = serde_json::json!(args);
        std::fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        let id = unique(prefix);
        let root = PathBuf::from(format!("/run/vessel-monitor-test/{id}"));
        let state = tempfile::Builder::new()
            .prefix("vm-state-")
            .tempdir_in("/tmp")
            .unwrap();
        Ctr {
            bundle,
            state,
            id,
            root,
        }
    }

    pub fn dir(&self) -> &Path {
        self.state.path()
    }

    pub fn monitor_cmd(&self, extra: &[&str]) -> Command {
        let mut cmd = Command::new(MONITOR);
        cmd.arg("--id").arg(&self.id);
        cmd.arg("--bundle").arg(self.bundle.path());
        cmd.arg("--runtime").arg(runtime_bin().unwrap());
        cmd.arg("--runtime-root").arg(&self.root);
        cmd.arg("--dir").arg(self.dir());
        cmd.args(extra).stdin(Stdio::null());
        cmd
    }

    /// Run the monitor; it returns once the container is created (or failed to be).
    pub fn monitor(&self, extra: &[&str]) -> Output {
        self.monitor_cmd(extra).output().unwrap()
    }

    pub fn monitor_ok(&self, extra: &[&str]) {
        let out = self.monitor(extra);
        assert!(
            out.status.success(),
            "monitor failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn runtime(&self, args: &[&str]) -> Output {
        Command::new(runtime_bin().unwrap())
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn start(&self) {
        let out = self.runtime(&["start", &self.id]);
        assert!(
            out.status.success(),
            "start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn monitor_pid(&self) -> i32 {
        read_pid(&self.dir().join("monitor.pid"))
    }

    pub fn init_pid(&self) -> i32 {
        read_pid(&self.dir().join("init.pid"))
    }

    pub fn wait_exit(&self) -> serde_json::Value {
        let path = self.dir().join("exit.json");
        let deadline = Instant::now() + Duration::from_secs(15);
        while !path.exists() {
            assert!(Instant::now() < deadline, "no exit.json within 15 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
    }

    /// Wait until the monitor process is gone (it removes its sockets last).
    pub fn wait_monitor_gone(&self) {
        let pid = self.monitor_pid();
        let deadline = Instant::now() + Duration::from_secs(10);
        while is_monitor(pid, &self.id) {
            assert!(Instant::now() < deadline, "monitor {pid} still running");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_entries(&self) -> Vec<serde_json::Value> {
        log_entries(&self.dir().join("log.json"))
    }

    pub fn attach(&self) -> UnixStream {
        let s = UnixStream::connect(self.dir().join("attach.sock")).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        s
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        let _ = self.runtime(&["delete", "--force", &self.id]);
        // Only the monitor this test started, identified by pid and its --id argument.
        if let Ok(pid) = std::fs::read_to_string(self.dir().join("monitor.pid")) {
            if let Ok(pid) = pid.trim().parse::<i32>() {
                if is_monitor(pid, &self.id) {
                    // SAFETY: kill has no memory-safety preconditions.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Whether `pid` is a live (not zombie) vessel-monitor for container `id`.
pub fn is_monitor(pid: i32, id: &str) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let zombie = stat
        .rsplit(')')
        .next()
        .is_some_and(|s| s.trim_start().starts_with('Z'));
    !zombie && cmdline.split(|&b| b == 0).any(|a| a == id.as_bytes())
}

pub fn log_entries(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad log line {l:?}: {e}")))
        .collect()
}

/// Read attach frames until EOF: (stream, payload) pairs.
pub fn read_frames(s: &mut UnixStream) -> Vec<(u8, Vec<u8>)> {
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let mut frames = Vec::new();
    let mut rest = &raw[..];
    while rest.len() >= 8 {
        assert_eq!(&rest[1..4], &[0, 0, 0], "bad frame header {:?}", &rest[..8]);
        let len = u32::from_be_bytes(rest[4..8].try_into().unwrap()) as usize;
        frames.push((rest[0], rest[8..8 + len].to_vec()));
        rest = &rest[8 + len..];
    }
    assert!(rest.is_empty(), "trailing partial frame");
    frames
}

/// All payload bytes of one stream, concatenated.
pub fn stream_text(frames: &[(u8, Vec<u8>)], stream: u8) -> String {
    let bytes: Vec<u8> = frames
        .iter()
        .filter(|(s, _)| *s == stream)
        .flat_map(|(_, d)| d.clone())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`, the fixed-width RFC 3339 UTC form Docker writes.
pub fn is_rfc3339_nano(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 30
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..29)
        && b[29] == b'Z'
}
