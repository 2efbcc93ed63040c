//! Root-only integration tests of rootfs setup. Each scenario runs in a forked child that
//! first unshares its mount namespace, so nothing it mounts (even on failure) reaches the
//! host; the child checks the result from inside the new root and reports via exit code.

use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sys::statvfs::{statvfs, FsFlags};
use oci_spec::runtime::{LinuxBuilder, Mount, MountBuilder, RootBuilder, Spec, SpecBuilder};
use vessel_runtime::rootfs::{finalize, prepare, switch_root, RootfsError};

const BUSYBOX: &str = "/bin/busybox";

fn skip_reason() -> Option<&'static str> {
    if !nix::unistd::geteuid().is_root() {
        return Some("needs root");
    }
    if !Path::new(BUSYBOX).exists() {
        return Some("needs a static /bin/busybox (Debian busybox-static)");
    }
    None
}

/// Run `scenario` in a forked child inside a new mount namespace; Err carries the exit code.
fn in_child(scenario: impl FnOnce() -> Result<(), String>) -> Result<(), i32> {
    // SAFETY: the child only runs the scenario (glibc keeps malloc usable after fork) and
    // leaves with _exit, never returning into the test harness.
    match unsafe { libc::fork() } {
        -1 => Err(-1),
        0 => {
            let code = match nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
                .map_err(|e| format!("unshare: {e}"))
                .and_then(|()| scenario())
            {
                Ok(()) => 0,
                Err(msg) => {
                    // Straight to fd 2: the harness's output capture stays in the parent.
                    let line = format!("child failed: {msg}\n");
                    let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
                    1
                }
            };
            // SAFETY: _exit is async-signal-safe and ends the child immediately.
            unsafe { libc::_exit(code) }
        }
        pid => {
            let mut status = 0;
            // SAFETY: waiting for our own child, status is a valid out-pointer.
            if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
                return Err(-2);
            }
            match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
                Some(0) => Ok(()),
                Some(code) => Err(code),
                None => Err(-3),
            }
        }
    }
}

fn mount(dest: &str, typ: &str, source: Option<&Path>, options: &[&str]) -> Mount {
    let options: Vec<String> = options.iter().map(|o| o.to_string()).collect();
    let mut builder = MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .options(options);
    if let Some(source) = source {
        builder = builder.source(source);
    }
    builder.build().expect("mount entry")
}

/// A bundle directory: `rootfs/` with busybox, plus a host-side `host/` bind source.
struct Bundle {
    _dir: tempfile::TempDir,
    rootfs: PathBuf,
    host: PathBuf,
}

fn bundle() -> Bundle {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().canonicalize().expect("canonical tempdir");
    let rootfs = base.join("rootfs");
    let host = base.join("host");
    for d in ["bin", "proc", "sys", "dev", "etc", "tmp", "data"] {
        fs::create_dir_all(rootfs.join(d)).expect("mkdir rootfs dir");
    }
    fs::copy(BUSYBOX, rootfs.join("bin/busybox")).expect("copy busybox");
    fs::write(rootfs.join("tmp/seed"), b"from image").expect("seed");
    fs::write(rootfs.join("marker"), b"rootfs").expect("marker");
    fs::create_dir_all(&host).expect("host dir");
    fs::write(host.join("file"), b"hello").expect("host file");
    Bundle {
        _dir: dir,
        rootfs,
        host,
    }
}

fn spec(mounts: Vec<Mount>, readonly_root: bool) -> Spec {
    let linux = LinuxBuilder::default()
        .masked_paths(vec![
            "/proc/kcore".to_string(),
            "/proc/timer_list".into(),
            "/sys/firmware".into(),
            "/nope".into(),
        ])
        .readonly_paths(vec!["/proc/sys".to_string(), "/missing".into()])
        .build()
        .expect("linux");
    let root = RootBuilder::default()
        .path("rootfs")
        .readonly(readonly_root)
        .build()
        .expect("root");
    SpecBuilder::default()
        .root(root)
        .linux(linux)
        .mounts(mounts)
        .build()
        .expect("spec")
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    ok.then_some(()).ok_or_else(|| what.to_string())
}

fn readonly(path: &str) -> bool {
    statvfs(path).is_ok_and(|st| st.flags().contains(FsFlags::ST_RDONLY))
}

fn busybox(script: &str) -> Option<(bool, String)> {
    let out = Command::new(BUSYBOX)
        .args(["sh", "-c", script])
        .output()
        .ok()?;
    Some((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

#[test]
fn full_setup_pivot_and_finalize() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipping: {reason}");
        return;
    }
    let b = bundle();
    let mounts = vec![
        mount("/proc", "proc", Some(Path::new("proc")), &[]),
        mount(
            "/dev",
            "tmpfs",
            Some(Path::new("tmpfs")),
            // "ro": only applied once devices and submounts exist under it.
            &["nosuid", "strictatime", "mode=755", "ro"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            None,
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
            ],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            None,
            &["nosuid", "noexec", "nodev"],
        ),
        mount("/sys", "sysfs", None, &["nosuid", "noexec", "nodev", "ro"]),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            None,
            &["nosuid", "noexec", "nodev", "relatime", "ro"],
        ),
        mount("/tmp", "tmpfs", None, &["tmpcopyup", "mode=1777"]),
        mount("/data", "bind", Some(&b.host), &["rbind", "ro"]),
        mount(
            "/etc/hostfile",
            "none",
            Some(&b.host.join("file")),
            &["bind", "ro", "nosuid"],
        ),
    ];
    let spec = spec(mounts, true);
    let rootfs = b.rootfs.clone();
    let result = in_child(move || {
        prepare(&spec, &rootfs, false).map_err(|e| format!("prepare: {e}"))?;
        switch_root(&rootfs, false).map_err(|e| format!("switch_root: {e}"))?;
        finalize(&spec).map_err(|e| format!("finalize: {e}"))?;

        check(
            fs::read("/marker").is_ok_and(|m| m == b"rootfs"),
            "root is the rootfs",
        )?;
        check(
            readonly("/data") && readonly("/etc/hostfile"),
            "ro binds are read-only",
        )?;
        check(
            fs::read("/data/file").is_ok_and(|c| c == b"hello"),
            "bind content",
        )?;
        check(
            fs::write("/data/new", b"x").is_err(),
            "ro bind refuses writes",
        )?;
        check(
            fs::read("/proc/timer_list").is_ok_and(|c| c.is_empty()),
            "masked file reads empty",
        )?;
        let firmware = fs::read_dir("/sys/firmware").map(|d| d.count());
        check(
            firmware.is_ok_and(|n| n == 0) && readonly("/sys/firmware"),
            "masked dir is empty",
        )?;
        check(readonly("/proc/sys"), "readonly path is read-only")?;
        check(
            fs::write("/newfile", b"x").is_err() && readonly("/"),
            "root is read-only",
        )?;
        check(
            fs::read("/tmp/seed").is_ok_and(|c| c == b"from image"),
            "tmpcopyup copied",
        )?;
        check(
            fs::write("/tmp/scratch", b"x").is_ok(),
            "tmpfs /tmp writable",
        )?;
        let null = fs::metadata("/dev/null").map_err(|e| format!("/dev/null: {e}"))?;
        check(
            null.file_type().is_char_device() && null.rdev() == libc::makedev(1, 3),
            "/dev/null",
        )?;
        check(null.mode() & 0o777 == 0o666, "/dev/null mode 0666")?;
        check(
            fs::read_link("/dev/ptmx").is_ok_and(|t| t == Path::new("pts/ptmx")),
            "/dev/ptmx link",
        )?;
        check(
            fs::read_link("/dev/fd").is_ok_and(|t| t == Path::new("/proc/self/fd")),
            "/dev/fd link",
        )?;
        check(Path::new("/dev/pts/ptmx").exists(), "devpts mounted")?;
        check(
            readonly("/dev") && !readonly("/dev/pts"),
            "ro /dev tmpfs, rw devpts",
        )?;
        check(readonly("/sys"), "sysfs read-only")?;
        if Path::new("/sys/fs/cgroup/memory").is_dir() {
            check(
                readonly("/sys/fs/cgroup/memory"),
                "cgroup v1 bind read-only",
            )?;
            check(
                Path::new("/sys/fs/cgroup/memory/cgroup.procs").exists(),
                "own memory cgroup",
            )?;
        }
        // Checks from a process started inside the new root, as a container would be.
        let (ok, out) = busybox("cat /data/file && ls /proc/self/").ok_or("busybox did not run")?;
        check(ok && out.starts_with("hello"), "busybox sees the bind")?;
        let (ok, _) = busybox("echo x > /x 2>/dev/null").ok_or("busybox did not run")?;
        check(!ok, "busybox cannot write to the read-only root")
    });
    assert_eq!(result, Ok(()), "child reported failure (see stderr)");
    assert!(
        !b.rootfs.join("proc/self").exists(),
        "proc leaked out of the namespace"
    );
}

#[test]
fn escaping_and_symlinked_destinations_are_refused() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipping: {reason}");
        return;
    }
    let b = bundle();
    let outside = b.rootfs.parent().expect("bundle").join("outside");
    fs::create_dir_all(&outside).expect("outside");
    symlink("../outside", b.rootfs.join("escape")).expect("escape link");
    let escape = spec(vec![mount("/escape/x", "tmpfs", None, &[])], false);
    let rootfs = b.rootfs.clone();
    let result = in_child(move || match prepare(&escape, &rootfs, false) {
        Err(e @ RootfsError::DestinationEscapes { .. }) => check(
            e.to_string().contains("/escape/x"),
            "error names the destination",
        ),
        other => Err(format!("expected an escape error, got {other:?}")),
    });
    assert_eq!(result, Ok(()));
    assert_eq!(
        fs::read_dir(&outside).map(|d| d.count()).ok(),
        Some(0),
        "nothing created outside"
    );

    // CVE-2019-19921: procfs onto a symlinked /proc is refused even if it stays inside.
    let b = bundle();
    fs::remove_dir(b.rootfs.join("proc")).expect("rm proc");
    symlink("tmp", b.rootfs.join("proc")).expect("proc link");
    let proc_spec = spec(vec![mount("/proc", "proc", None, &[])], false);
    let rootfs = b.rootfs.clone();
    let result = in_child(move || match prepare(&proc_spec, &rootfs, false) {
        Err(RootfsError::SymlinkedKernelFs { .. }) => Ok(()),
        other => Err(format!("expected a symlinked-proc error, got {other:?}")),
    });
    assert_eq!(result, Ok(()));
}

#[test]
fn absolute_symlink_destination_is_rooted() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipping: {reason}");
        return;
    }
    let b = bundle();
    // "/etc" here means the image's /etc, never the host's.
    symlink("/etc", b.rootfs.join("cfg")).expect("link");
    let s = spec(
        vec![mount("/cfg/app", "bind", Some(&b.host), &["bind"])],
        false,
    );
    let rootfs = b.rootfs.clone();
    let result = in_child(move || {
        prepare(&s, &rootfs, false).map_err(|e| format!("prepare: {e}"))?;
        check(
            rootfs.join("etc/app/file").exists(),
            "bind landed in the image's /etc",
        )?;
        check(!Path::new("/etc/app/file").exists(), "host /etc untouched")
    });
    assert_eq!(result, Ok(()));
}

#[test]
fn no_pivot_moves_and_chroots() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipping: {reason}");
        return;
    }
    let b = bundle();
    let s = spec(vec![mount("/proc", "proc", None, &[])], false);
    let rootfs = b.rootfs.clone();
    let result = in_child(move || {
        prepare(&s, &rootfs, false).map_err(|e| format!("prepare: {e}"))?;
        switch_root(&rootfs, true).map_err(|e| format!("switch_root: {e}"))?;
        finalize(&s).map_err(|e| format!("finalize: {e}"))?;
        check(
            fs::read("/marker").is_ok_and(|m| m == b"rootfs"),
            "root is the rootfs",
        )?;
        check(Path::new("/proc/self/fd").is_dir(), "proc mounted")?;
        check(
            fs::read("/proc/timer_list").is_ok_and(|c| c.is_empty()),
            "masked file reads empty",
        )
    });
    assert_eq!(result, Ok(()));
}

#[test]
fn user_namespace_devices_are_bind_mounted() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipping: {reason}");
        return;
    }
    let b = bundle();
    let s = spec(vec![mount("/dev", "tmpfs", None, &["mode=755"])], false);
    let rootfs = b.rootfs.clone();
    let result = in_child(move || {
        // in_user_ns = true: mknod is skipped and the host nodes are bound instead.
        prepare(&s, &rootfs, true).map_err(|e| format!("prepare: {e}"))?;
        let null = fs::metadata(rootfs.join("dev/null")).map_err(|e| format!("dev/null: {e}"))?;
        check(null.rdev() == libc::makedev(1, 3), "host /dev/null bound")?;
        let info = fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
        let bound = rootfs.join("dev/urandom");
        check(
            info.lines().any(|l| l.contains(&*bound.to_string_lossy())),
            "urandom is a bind mount",
        )
    });
    assert_eq!(result, Ok(()));
}
