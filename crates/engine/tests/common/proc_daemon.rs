//! A real `vessel daemon` process (target/debug/vessel) in its own temp dir, with its own
//! exec root, a busybox image imported into it, and the docker and vessel CLIs pointed at it.
//! Everything it started is torn down on drop, also when the test fails.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{docker_bin, stderr};

/// Why a root integration test cannot run here; `None` when it can.
pub fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root".into());
    }
    if !Path::new("/bin/busybox").is_file() {
        return Some("needs /bin/busybox".into());
    }
    for bin in ["vessel", "vessel-monitor", "vessel-runtime"] {
        if !bin_dir().join(bin).is_file() {
            return Some(format!(
                "needs {} (cargo build -p vessel -p vessel-monitor -p vessel-runtime)",
                bin_dir().join(bin).display()
            ));
        }
    }
    None
}

/// A daemon for one test, or `None` (with a note) where these tests cannot run.
pub fn daemon(tag: &str) -> Option<ProcDaemon> {
    if let Some(why) = skip_reason() {
        eprintln!("skipping: {why}");
        return None;
    }
    Some(ProcDaemon::start(tag))
}

/// A name no other test process uses.
pub fn unique(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

/// Poll `done` every 100 ms; fail the test after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The command's stdout, after asserting it succeeded (its stderr is the failure message).
pub fn ok(out: &Output) -> String {
    assert!(out.status.success(), "{}", stderr(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `target/debug`: this test binary lives in `target/debug/deps`.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

pub struct ProcDaemon {
    pub dir: tempfile::TempDir,
    /// The exec root apart and short: the monitor's `attach.sock` under
    /// `<exec root>/containers/<64 hex>/` must fit in `sun_path` (108 bytes).
    pub run: tempfile::TempDir,
    pub root: PathBuf,
    pub exec_root: PathBuf,
    pub socket: PathBuf,
    pub image: String,
    child: Option<Child>,
    starts: u32,
}

impl ProcDaemon {
    /// A daemon on a fresh root with `bb-<pid>-<tag>:latest` imported. It has no default
    /// bridge (tests run many daemons at once; network tests make their own networks).
    pub fn start(tag: &str) -> ProcDaemon {
        Self::start_with(tag, serde_json::json!({}))
    }

    /// Like [`ProcDaemon::start`], with extra daemon.json keys.
    pub fn start_with(tag: &str, extra: serde_json::Value) -> ProcDaemon {
        let dir = tempfile::Builder::new()
            .prefix(&format!("vessel-ct-{}-{tag}-", std::process::id()))
            .tempdir()
            .expect("tempdir");
        let root = dir.path().join("root");
        let run = tempfile::Builder::new()
            .prefix("ve")
            .tempdir_in("/tmp")
            .expect("exec root");
        let exec_root = run.path().to_path_buf();
        let config = dir.path().join("daemon.json");
        let mut json = serde_json::json!({
            "exec-root": exec_root,
            "bridge": "none",
            "shared-firewall-table": true,
        });
        for (k, v) in extra.as_object().into_iter().flatten() {
            json[k] = v.clone();
        }
        std::fs::write(&config, json.to_string()).unwrap();
        let mut d = ProcDaemon {
            socket: dir.path().join("d.sock"),
            image: format!("bb-{}-{tag}:latest", std::process::id()),
            dir,
            run,
            root,
            exec_root,
            child: None,
            starts: 0,
        };
        d.spawn();
        let tar = d.dir.path().join("rootfs.tar");
        std::fs::write(&tar, busybox_rootfs()).unwrap();
        let out = d.vessel(&[
            "import",
            "-c",
            "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            tar.to_str().unwrap(),
            &d.image.clone(),
        ]);
        assert!(out.status.success(), "import: {}", stderr(&out));
        d
    }

    /// Starts (or restarts) the daemon process and waits until it answers.
    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "daemon already running");
        self.starts += 1;
        let log =
            std::fs::File::create(self.dir.path().join(format!("daemon-{}.log", self.starts)))
                .unwrap();
        let child = Command::new(bin_dir().join("vessel"))
            .arg("daemon")
            .arg("--debug")
            .arg("--root")
            .arg(&self.root)
            .arg("--config-file")
            .arg(self.dir.path().join("daemon.json"))
            .arg("-H")
            .arg(self.host())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn vessel daemon");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if self.vessel_quiet(&["version"]).status.success() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("daemon exited ({status}):\n{}", self.daemon_log());
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not come up:\n{}",
                self.daemon_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn daemon_pid(&self) -> i32 {
        self.child.as_ref().expect("daemon running").id() as i32
    }

    /// SIGKILL the daemon process (which we started) and reap it.
    pub fn kill_daemon(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then SIGKILL after a grace period.
    fn stop_daemon(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: signalling the pid of a child we spawned and have not reaped.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn daemon_log(&self) -> String {
        (1..=self.starts)
            .map(|n| {
                std::fs::read_to_string(self.dir.path().join(format!("daemon-{n}.log")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n--- restart ---\n")
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    fn cli(&self, bin: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin);
        cmd.arg("-H")
            .arg(self.host())
            .args(args)
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .env("VESSEL_NO_AUTOSTART", "1")
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION")
            .env_remove("VESSEL_HOST");
        cmd
    }

    pub fn docker_cmd(&self, args: &[&str]) -> Command {
        self.cli(Path::new(docker_bin()), args)
    }

    pub fn vessel_cmd(&self, args: &[&str]) -> Command {
        self.cli(&bin_dir().join("vessel"), args)
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        run_logged("docker", self.docker_cmd(args), args, None)
    }

    pub fn docker_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        run_logged("docker", self.docker_cmd(args), args, Some(input))
    }

    pub fn vessel(&self, args: &[&str]) -> Output {
        run_logged("vessel", self.vessel_cmd(args), args, None)
    }

    fn vessel_quiet(&self, args: &[&str]) -> Output {
        let mut cmd = self.vessel_cmd(args);
        cmd.stdin(Stdio::null());
        cmd.output().expect("run vessel")
    }

    /// `docker inspect -f TEMPLATE name`, trimmed.
    pub fn inspect(&self, name: &str, template: &str) -> String {
        let out = self.docker(&["inspect", "-f", template, name]);
        assert!(out.status.success(), "inspect {name}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Container ids the daemon knows, all states.
    pub fn all_ids(&self) -> Vec<String> {
        let out = self.vessel_quiet(&["ps", "-aq", "--no-trunc"]);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    /// Mount points under this daemon's temp dir.
    pub fn mounts(&self) -> Vec<String> {
        let mut m = mounts_under(self.dir.path());
        m.extend(mounts_under(self.run.path()));
        m
    }

    /// Processes whose command line names this daemon's temp dir (monitors, shims).
    pub fn processes(&self) -> Vec<i32> {
        let mine = [self.dir.path(), self.run.path()].map(|p| p.to_string_lossy().into_owned());
        let me = std::process::id() as i32;
        let daemon = self.child.as_ref().map(|c| c.id() as i32);
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            if pid == me || Some(pid) == daemon {
                continue;
            }
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            if mine.iter().any(|m| cmdline.contains(m.as_str())) {
                pids.push(pid);
            }
        }
        pids
    }
}

impl Drop for ProcDaemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            for id in self.all_ids() {
                let _ = self.vessel_quiet(&["rm", "-f", &id]);
            }
            // Networks own bridges and firewall rules on the host: remove them too.
            let nets = self
                .docker_cmd(&["network", "ls", "-q", "--filter", "type=custom"])
                .stdin(Stdio::null())
                .output();
            for id in nets
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
                .split_whitespace()
            {
                let _ = self
                    .docker_cmd(&["network", "rm", id])
                    .stdin(Stdio::null())
                    .output();
            }
        }
        self.stop_daemon();
        // Whatever survived a failed test: monitors found by our unique dir, then mounts.
        for pid in self.processes() {
            // SAFETY: a process whose command line names our private temp dir: ours.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        for _ in 0..3 {
            let mut mounts = self.mounts();
            if mounts.is_empty() {
                break;
            }
            mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
            for m in mounts {
                if let Ok(c) = std::ffi::CString::new(m) {
                    // SAFETY: a NUL-terminated path; MNT_DETACH only unhooks the mount.
                    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
                }
            }
        }
        if std::thread::panicking() {
            eprintln!("daemon log:\n{}", self.daemon_log());
        }
    }
}

/// Runs a CLI with a deadline, so a hung client fails the test instead of hanging it.
fn run_logged(name: &str, mut cmd: Command, args: &[&str], input: Option<&[u8]>) -> Output {
    let mut child = cmd
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cli");
    if let Some(data) = input {
        let mut stdin = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, data).unwrap();
    }
    let mut pipes = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .map(|p| {
        let mut p = p.unwrap();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = p.read_to_end(&mut buf);
            buf
        })
    })
    .into_iter();
    let deadline = Instant::now() + CLI_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let status = child.wait().unwrap();
            eprintln!("$ {name} {}: killed after {CLI_TIMEOUT:?}", args.join(" "));
            break status;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = Output {
        status,
        stdout: pipes.next().unwrap().join().unwrap(),
        stderr: pipes.next().unwrap().join().unwrap(),
    };
    eprintln!(
        "$ {name} {}\n[{}]\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// Mount points (field 5 of mountinfo) under `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open("/proc/self/mountinfo") {
        let _ = f.read_to_string(&mut text);
    }
    let dir = dir.to_string_lossy().into_owned();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| m.starts_with(&dir))
        .map(str::to_owned)
        .collect()
}

/// A rootfs tar: /bin/busybox, a symlink per applet, /etc/passwd and empty mount points.
pub fn busybox_rootfs() -> Vec<u8> {
    let busybox = std::fs::read("/bin/busybox").expect("busybox");
    let list = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("busybox --list");
    let mut b = tar::Builder::new(Vec::new());
    for d in ["bin/", "etc/", "tmp/", "proc/", "sys/", "dev/", "root/"] {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(if d == "tmp/" { 0o1777 } else { 0o755 });
        h.set_cksum();
        b.append_data(&mut h, d, std::io::empty()).unwrap();
    }
    let mut file = |path: &str, data: &[u8], mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_cksum();
        b.append_data(&mut h, path, data).unwrap();
    };
    file("bin/busybox", &busybox, 0o755);
    file(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        0o644,
    );
    file("etc/group", b"root:x:0:\nnogroup:x:65534:\n", 0o644);
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        if applet == "busybox" || applet.contains('/') {
            continue;
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    b.into_inner().unwrap()
}
