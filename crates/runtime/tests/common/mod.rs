//! Helpers for root integration tests: busybox bundles, unique names, and cleanup that
//! runs even when an assertion fails.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const BIN: &str = env!("CARGO_BIN_EXE_vessel-runtime");
pub const BUSYBOX: &str = "/bin/busybox";

/// Integration tests need root and Debian's busybox-static; say so instead of failing.
pub fn can_run() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !Path::new(BUSYBOX).exists() {
        eprintln!("skipping: needs root and {BUSYBOX} (apt-get install busybox-static)");
        return false;
    }
    true
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique name for kernel objects and container ids.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A bundle with a busybox rootfs; its containers are force-deleted and its state root
/// removed on drop.
pub struct Bundle {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
    pub id: String,
    pub config: serde_json::Value,
}

impl Bundle {
    pub fn new(prefix: &str) -> Bundle {
        let dir = tempfile::Builder::new()
            .prefix("vessel-bundle-")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let rootfs = dir.path().join("rootfs");
        make_busybox_rootfs(&rootfs);
        let id = unique(prefix);
        let root = PathBuf::from(format!("/run/vessel-runtime-test/{id}"));
        Bundle {
            dir,
            root,
            id,
            config: default_config(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = serde_json::json!(args);
        self
    }

    pub fn write_config(&self) {
        std::fs::write(
            self.path().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .unwrap();
    }

    /// `vessel-runtime --root <root> <args>`.
    pub fn runtime(&self, args: &[&str]) -> Output {
        self.runtime_with(BIN, args)
    }

    pub fn runtime_with(&self, bin: &str, args: &[&str]) -> Output {
        Command::new(bin)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Write the config, run the container in the foreground and return its output.
    pub fn run(&self) -> Output {
        self.run_with(BIN)
    }

    pub fn run_with(&self, bin: &str) -> Output {
        self.write_config();
        let bundle = self.path().to_str().unwrap().to_string();
        self.runtime_with(bin, &["run", "--bundle", &bundle, &self.id])
    }

    /// For commands whose container outlives them (create, run -d): the container
    /// inherits stdio, so a pipe would never reach EOF. stdout goes to /dev/null and
    /// stderr to a file that is returned.
    pub fn runtime_detached(&self, args: &[&str]) -> (std::process::ExitStatus, String) {
        let err_path = self.path().join(format!("stderr-{}", unique("d")));
        let err_file = std::fs::File::create(&err_path).unwrap();
        let status = Command::new(BIN)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err_file)
            .status()
            .unwrap();
        (
            status,
            std::fs::read_to_string(&err_path).unwrap_or_default(),
        )
    }

    /// create + start a long-running container (its stdio goes to /dev/null).
    pub fn start_detached(&self) {
        self.write_config();
        let bundle = self.path().to_str().unwrap().to_string();
        let (status, stderr) =
            self.runtime_detached(&["run", "--detach", "--bundle", &bundle, &self.id]);
        assert!(status.success(), "run -d failed: {stderr}");
    }

    pub fn state(&self) -> serde_json::Value {
        let out = self.runtime(&["state", &self.id]);
        assert!(out.status.success(), "state failed: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn status(&self) -> String {
        self.state()["status"].as_str().unwrap().to_string()
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        let _ = Command::new(BIN)
            .arg("--root")
            .arg(&self.root)
            .args(["delete", "--force", &self.id])
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A rootfs with busybox and a link for each applet, plus the directories mounts need.
pub fn make_busybox_rootfs(rootfs: &Path) {
    for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "root"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap();
    let list = Command::new(BUSYBOX).arg("--list").output().unwrap();
    for applet in text(&list.stdout).lines() {
        if applet != "busybox" {
            let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
        }
    }
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\n").unwrap();
}

/// The config `runc spec` would write, without a terminal, with a writable root and a
/// hostname tests can check.
pub fn default_config() -> serde_json::Value {
    serde_json::json!({
        "ociVersion": "1.2.0",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh", "-c", "true"],
            "env": ["PATH=/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": false},
        "hostname": "vessel-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
            "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// Every v1 controller directory (or the v2 directory) of a cgroup path, for leak checks.
pub fn cgroup_dirs(path: &str) -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    let rel = path.trim_start_matches('/');
    if base.join("cgroup.controllers").exists() {
        return vec![base.join(rel)];
    }
    [
        "memory", "pids", "cpu", "cpuset", "devices", "freezer", "blkio",
    ]
    .iter()
    .map(|c| base.join(c).join(rel))
    .collect()
}

/// Mount points under `dir` in the host's mount table (leak check).
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let needle = dir.to_string_lossy().to_string();
    table
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .filter(|m| m.starts_with(&needle))
        .map(str::to_string)
        .collect()
}
