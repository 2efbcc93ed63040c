//! Registries end to end, as root: a real `vessel daemon`, Debian's `docker-registry` on a
//! free loopback port, and the `vessel` and real `docker` CLIs pushing, pulling, logging in
//! and running what they pulled. Every test has its own daemon, registry, port and names.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::proc_daemon::{skip_reason, ProcDaemon};
use common::{stderr, stdout};

/// A `docker-registry` process, killed by pid on drop.
struct Registry {
    addr: String,
    dir: tempfile::TempDir,
    child: Child,
}

impl Registry {
    fn start(htpasswd: Option<(&str, &str)>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        if let Some((u, p)) = htpasswd {
            let out = Command::new("htpasswd")
                .args(["-Bbn", u, p])
                .output()
                .unwrap();
            assert!(out.status.success());
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, &out.stdout).unwrap();
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: vessel-test\n    path: {}\n",
                file.display()
            ));
        }
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, yaml).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("/usr/bin/docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("docker-registry");
        let r = Registry { addr, dir, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(&r.addr) {
                use std::io::Write;
                let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
                let mut buf = [0u8; 8];
                if s.read_exact(&mut buf).is_ok() {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }

    fn blob_path(&self, digest: &str) -> std::path::PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn daemon(tag: &str) -> Option<ProcDaemon> {
    if let Some(why) = skip_reason() {
        eprintln!("skipping: {why}");
        return None;
    }
    if !Path::new("/usr/bin/docker-registry").is_file() {
        eprintln!("skipping: needs /usr/bin/docker-registry");
        return None;
    }
    Some(ProcDaemon::start(tag))
}

fn ok(what: &str, out: &Output) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        stdout(out),
        stderr(out)
    );
    stdout(out)
}

#[test]
fn push_with_vessel_and_docker_then_pull_and_run() {
    let Some(a) = daemon("ppa") else { return };
    let reg = Registry::start(None);
    let v1 = format!("{}/pp/bb:v1", reg.addr);
    let v2 = format!("{}/pp/bb:v2", reg.addr);
    ok("tag", &a.vessel(&["tag", &a.image, &v1]));
    ok("tag", &a.vessel(&["tag", &a.image, &v2]));
    let out = ok("vessel push", &a.vessel(&["push", &v1]));
    assert!(
        out.contains(&format!(
            "The push refers to repository [{}/pp/bb]",
            reg.addr
        )),
        "{out}"
    );
    assert!(out.contains("v1: digest: sha256:"), "{out}");
    let out = ok("docker push", &a.docker(&["push", &v2]));
    assert!(out.contains("v2: digest: sha256:"), "{out}");
    assert!(out.contains("Layer already exists"), "{out}");
    let digests = a.inspect(&v1, "{{json .RepoDigests}}");
    assert!(
        digests.contains(&format!("{}/pp/bb@sha256:", reg.addr)),
        "{digests}"
    );

    let b = daemon("ppb").unwrap();
    // A missing image is pulled by `run`, as docker does.
    let run = b.vessel(&["run", "--rm", &v1, "echo", "hi"]);
    assert_eq!(ok("vessel run", &run), "hi\n");
    assert!(
        stderr(&run).contains(&format!("Unable to find image '{v1}' locally")),
        "{}",
        stderr(&run)
    );
    let out = ok("docker pull", &b.docker(&["pull", &v2]));
    assert!(
        out.contains("Status: Image is up to date for")
            || out.contains("Status: Downloaded newer image for"),
        "{out}"
    );
    assert!(out.contains("Digest: sha256:"), "{out}");
    assert_eq!(
        ok("docker run", &b.docker(&["run", "--rm", &v2, "echo", "hi"])),
        "hi\n"
    );
    let out = ok("vessel pull again", &b.vessel(&["pull", &v1]));
    assert!(out.contains("Already exists"), "{out}");
    assert!(
        out.contains(&format!("Status: Image is up to date for {v1}")),
        "{out}"
    );

    // Another platform than the image has: the error lists what there is.
    let out = b.vessel(&["pull", "--platform", "linux/s390x", &v1]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("available platforms: linux/amd64"),
        "{}",
        stderr(&out)
    );

    // Unknown tag: a clear error, exit non-zero.
    let missing = format!("{}/pp/bb:nope", reg.addr);
    let out = b.vessel(&["pull", &missing]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
    let out = b.docker(&["pull", &missing]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not found"), "{}", stderr(&out));
}

#[test]
fn tampered_blob_fails_and_leaves_nothing() {
    let Some(a) = daemon("ppt") else { return };
    let reg = Registry::start(None);
    let name = format!("{}/pp/tamper:1", reg.addr);
    // A layer the second daemon does not have (both import the same busybox rootfs).
    let mut b = tar::Builder::new(Vec::new());
    let data: Vec<u8> = (0..200_000u32)
        .flat_map(|i| (i ^ std::process::id()).to_le_bytes())
        .collect();
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    b.append_data(&mut h, "unique.bin", data.as_slice())
        .unwrap();
    let tar_path = a.dir.path().join("unique.tar");
    std::fs::write(&tar_path, b.into_inner().unwrap()).unwrap();
    ok(
        "import",
        &a.vessel(&["import", tar_path.to_str().unwrap(), &name]),
    );
    ok("push", &a.vessel(&["push", &name]));
    let digest = a.inspect(&name, "{{index .RepoDigests 0}}");
    let digest = digest.rsplit('@').next().unwrap().to_string();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reg.blob_path(&digest)).unwrap()).unwrap();
    let layer = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let path = reg.blob_path(&layer);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&path, bytes).unwrap();

    let b = daemon("ppt2").unwrap();
    let out = b.vessel(&["pull", &name]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(&layer), "{}", stderr(&out));
    let images = ok(
        "images",
        &b.vessel(&["images", "--format", "{{.Repository}}"]),
    );
    assert!(!images.contains("pp/tamper"), "{images}");
}

#[test]
fn login_push_pull_with_basic_auth() {
    let Some(a) = daemon("ppl") else { return };
    let reg = Registry::start(Some(("alice", "s3cret")));
    let name = format!("{}/priv/bb:1", reg.addr);
    ok("tag", &a.vessel(&["tag", &a.image, &name]));

    let out = a.docker(&["push", &name]);
    assert!(!out.status.success(), "push without login must fail");
    assert!(stderr(&out).contains("unauthorized"), "{}", stderr(&out));

    let out = a.docker_stdin(
        &["login", "-u", "alice", "--password-stdin", &reg.addr],
        b"wrong\n",
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unauthorized"), "{}", stderr(&out));
    let out = ok(
        "docker login",
        &a.docker_stdin(
            &["login", "-u", "alice", "--password-stdin", &reg.addr],
            b"s3cret\n",
        ),
    );
    assert!(out.contains("Login Succeeded"), "{out}");
    let out = ok("docker push", &a.docker(&["push", &name]));
    assert!(out.contains("1: digest: sha256:"), "{out}");

    // vessel shares docker's config.json: logout, then login with vessel.
    let out = ok("vessel logout", &a.vessel(&["logout", &reg.addr]));
    assert!(out.contains("Removing login credentials"), "{out}");
    let b = daemon("ppl2").unwrap();
    let out = b.vessel(&["pull", &name]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&format!("vessel login {}", reg.addr)),
        "{}",
        stderr(&out)
    );
    let out = b.vessel(&["login", "-u", "alice", "-p", "nope", &reg.addr]);
    assert!(!out.status.success());
    let out = ok(
        "vessel login",
        &b.vessel(&["login", "-u", "alice", "-p", "s3cret", &reg.addr]),
    );
    assert!(out.contains("Login Succeeded"), "{out}");
    let cfg = b.dir.path().join("docker-config/config.json");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&cfg).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    ok("vessel pull", &b.vessel(&["pull", &name]));
    assert_eq!(
        ok("run", &b.vessel(&["run", "--rm", &name, "echo", "hi"])),
        "hi\n"
    );
}
