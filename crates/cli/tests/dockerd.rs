//! The CLI against a private, real dockerd (Debian's docker.io): it must work with any
//! Docker-compatible daemon. Needs root and /usr/sbin/dockerd; skips with a note otherwise.

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Daemon {
    dir: PathBuf,
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signals the dockerd this test started, by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn dockerd_path() -> Option<PathBuf> {
    ["/usr/sbin/dockerd", "/usr/bin/dockerd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn start() -> Option<Daemon> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP: the dockerd interop test needs root");
        return None;
    }
    let Some(dockerd) = dockerd_path() else {
        eprintln!("SKIP: dockerd is not installed (apt-get install docker.io)");
        return None;
    };
    let dir = PathBuf::from(format!("/tmp/vcli-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = |s: &str| dir.join(s).to_string_lossy().into_owned();
    let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
    let child = Command::new(dockerd)
        .args([
            "--host",
            &format!("unix://{}", p("d.sock")),
            "--data-root",
            &p("data"),
            "--exec-root",
            &p("exec"),
        ])
        .args([
            "--pidfile",
            &p("d.pid"),
            "--iptables=false",
            "--ip-masq=false",
            "--bridge=none",
        ])
        .args([
            "--storage-driver=vfs",
            "--default-ulimit",
            "nofile=1024:1024",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let d = Daemon { dir, child };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::os::unix::net::UnixStream::connect(d.dir.join("d.sock")).is_err() {
        assert!(
            Instant::now() < deadline,
            "dockerd did not start; see {}",
            d.dir.join("dockerd.log").display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(d)
}

fn vessel(d: &Daemon, args: &[&str], stdin: Option<&Path>) -> Output {
    let host = format!("unix://{}", d.dir.join("d.sock").display());
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vessel"));
    cmd.arg("-H")
        .arg(&host)
        .args(args)
        .env_remove("VESSEL_HOST")
        .env_remove("DOCKER_HOST");
    cmd.stdin(match stdin {
        Some(p) => Stdio::from(std::fs::File::open(p).unwrap()),
        None => Stdio::null(),
    });
    cmd.output().unwrap()
}

fn ok(d: &Daemon, args: &[&str]) -> String {
    let o = vessel(d, args, None);
    assert!(
        o.status.success(),
        "vessel {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// bb:latest from the host's static busybox, imported through `vessel import -`.
fn import_busybox(d: &Daemon) {
    let root = d.dir.join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    for a in ["sh", "echo", "cat", "ls", "sleep", "true", "mkdir"] {
        symlink("busybox", root.join("bin").join(a)).unwrap();
    }
    let tar = d.dir.join("rootfs.tar");
    let st = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let o = vessel(d, &["import", "-", "bb:latest"], Some(&tar));
    assert!(
        o.status.success(),
        "import: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("sha256:"));
}

#[test]
fn cli_against_real_dockerd() {
    if !Path::new("/bin/busybox").exists() {
        eprintln!("SKIP: /bin/busybox is missing (apt-get install busybox-static)");
        return;
    }
    let Some(d) = start() else { return };
    import_busybox(&d);

    let v = ok(&d, &["version"]);
    assert!(
        v.contains("Client:") && v.contains("Server:") && v.contains("API version:"),
        "{v}"
    );
    let images = ok(&d, &["images"]);
    assert!(
        images.starts_with("REPOSITORY   TAG       IMAGE ID       CREATED"),
        "{images}"
    );
    assert!(images.contains("\nbb           latest    "), "{images}");
    assert_eq!(
        ok(&d, &["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "bb:latest\n"
    );

    // Foreground run: output, stderr, exit code.
    assert_eq!(
        ok(
            &d,
            &["run", "--rm", "--network", "none", "bb", "echo", "hi"]
        ),
        "hi\n"
    );
    let o = vessel(
        &d,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "bb",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 7",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(7));
    assert_eq!(o.stdout, b"out\n");
    assert_eq!(o.stderr, b"err\n");
    let o = vessel(
        &d,
        &["run", "--rm", "--network", "none", "bb", "nosuchcmd"],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(127),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("Error response from daemon: "));
    let o = vessel(
        &d,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-m",
            "12x",
            "bb",
            "true",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(125));

    // Piped stdin with -i.
    let input = d.dir.join("input.txt");
    std::fs::write(&input, "line1\nline2\n").unwrap();
    let o = vessel(
        &d,
        &["run", "-i", "--rm", "--network", "none", "bb", "cat"],
        Some(&input),
    );
    assert!(o.status.success());
    assert_eq!(o.stdout, b"line1\nline2\n");

    // Detached container: ps, logs, exec, cp, inspect, stop, rm.
    let id = ok(
        &d,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "none",
            "bb",
            "sh",
            "-c",
            "echo started; sleep 100",
        ],
    );
    assert_eq!(id.trim().len(), 64);
    let ps = ok(&d, &["ps"]);
    assert!(ps.starts_with("CONTAINER ID   IMAGE     COMMAND"), "{ps}");
    assert!(ps.contains(&id[..12]) && ps.contains(" web\n"), "{ps}");
    assert_eq!(ok(&d, &["ps", "-q", "--no-trunc"]).trim(), id.trim());
    assert_eq!(
        ok(&d, &["ps", "--format", "{{.Names}} {{.State}}"]),
        "web running\n"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while !ok(&d, &["logs", "web"]).contains("started") {
        assert!(Instant::now() < deadline, "no log output");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(ok(&d, &["exec", "web", "echo", "from-exec"]), "from-exec\n");
    assert_eq!(
        vessel(&d, &["exec", "web", "sh", "-c", "exit 3"], None)
            .status
            .code(),
        Some(3)
    );

    let local = d.dir.join("hello.txt");
    std::fs::write(&local, "hello\n").unwrap();
    ok(&d, &["cp", local.to_str().unwrap(), "web:/copied.txt"]);
    assert_eq!(ok(&d, &["exec", "web", "cat", "/copied.txt"]), "hello\n");
    let back = d.dir.join("back.txt");
    ok(&d, &["cp", "web:/copied.txt", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "hello\n");

    let inspect = ok(&d, &["inspect", "web"]);
    assert!(
        inspect.starts_with("[\n    {\n        \"Id\": \""),
        "{inspect}"
    );
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(v[0]["Name"], "/web");
    assert_eq!(
        ok(&d, &["inspect", "-f", "{{.State.Status}}", "web"]),
        "running\n"
    );
    let img: serde_json::Value = serde_json::from_str(&ok(&d, &["inspect", "bb"])).unwrap();
    assert!(img[0]["RepoTags"][0] == "bb:latest");
    let o = vessel(&d, &["inspect", "nosuchthing"], None);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "[]\n");

    assert_eq!(ok(&d, &["stop", "-t", "1", "web"]), "web\n");
    assert!(ok(&d, &["ps", "-a", "--format", "{{.Status}}"]).starts_with("Exited (137)"));
    assert_eq!(ok(&d, &["rm", "web"]), "web\n");
    let o = vessel(&d, &["rm", "web"], None);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "Error response from daemon: No such container: web\n"
    );

    // save → rmi → load round trip.
    let archive = d.dir.join("bb.tar");
    ok(&d, &["save", "-o", archive.to_str().unwrap(), "bb"]);
    assert!(ok(&d, &["rmi", "bb"]).contains("Untagged: bb:latest"));
    let o = vessel(&d, &["load", "-i", archive.to_str().unwrap()], None);
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "Loaded image: bb:latest\n"
    );
    ok(&d, &["tag", "bb", "bb:v2"]);
    assert_eq!(
        ok(&d, &["images", "--format", "{{.Tag}}"]).lines().count(),
        2
    );
}
