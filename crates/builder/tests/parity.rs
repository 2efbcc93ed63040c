//! Parity with Docker's legacy builder: the same Dockerfile built by a private, real dockerd
//! (`DOCKER_BUILDKIT=0 docker build`) and by Vessel gives the same image Config. Needs root,
//! /usr/sbin/dockerd and the docker CLI; skips with a note otherwise.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Dockerd {
    dir: PathBuf,
    child: Child,
}

impl Drop for Dockerd {
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

impl Dockerd {
    fn start() -> Option<Dockerd> {
        if !is_root()
            || !Path::new("/usr/sbin/dockerd").exists()
            || !Path::new("/usr/bin/docker").exists()
        {
            eprintln!("skipped: needs root, /usr/sbin/dockerd and /usr/bin/docker");
            return None;
        }
        let dir = PathBuf::from(format!("/tmp/vbuild-parity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = |s: &str| dir.join(s).to_string_lossy().into_owned();
        let log = std::fs::File::create(dir.join("dockerd.log")).unwrap();
        let child = Command::new("/usr/sbin/dockerd")
            .args([
                "--host",
                &format!("unix://{}", p("d.sock")),
                "--data-root",
                &p("data"),
            ])
            .args(["--exec-root", &p("exec"), "--pidfile", &p("d.pid")])
            .args([
                "--iptables=false",
                "--ip-masq=false",
                "--bridge=none",
                "--storage-driver=vfs",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let d = Dockerd { dir, child };
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

    fn docker(&self, args: &[&str], stdin: Option<&Path>) -> Output {
        let mut c = Command::new("/usr/bin/docker");
        c.arg("-H")
            .arg(format!("unix://{}", self.dir.join("d.sock").display()))
            .args(args)
            .env("DOCKER_BUILDKIT", "0")
            .env("DOCKER_CONFIG", self.dir.join("cfg"));
        c.stdin(match stdin {
            Some(p) => Stdio::from(std::fs::File::open(p).unwrap()),
            None => Stdio::null(),
        });
        c.output().unwrap()
    }
}

const DOCKERFILE: &str = r#"FROM base
ARG V=1
RUN echo "v=$V" > /v.txt
COPY f.txt /copied/
COPY dir /copied/dir/
ENV A=1 B="two words"
ENV C $A-${B:+set}
WORKDIR /app
WORKDIR sub
USER app:app
LABEL l1=v1 "l 2"="v 2"
EXPOSE 80 53/udp
VOLUME ["/data", "/cache"]
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --timeout=3s --retries=4 CMD test -f /app/ok
ONBUILD RUN echo hi
ENTRYPOINT ["/bin/sh", "-c"]
SHELL ["/bin/sh", "-ec"]
CMD echo "shell form"
"#;

const FIELDS: &[&str] = &[
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Volumes",
    "Labels",
    "Healthcheck",
    "StopSignal",
    "Shell",
    "OnBuild",
];

fn norm(v: Option<&Value>) -> Value {
    match v {
        None | Some(Value::Null) => Value::Null,
        Some(Value::String(s)) if s.is_empty() => Value::Null,
        Some(Value::Array(a)) if a.is_empty() => Value::Null,
        Some(Value::Object(o)) if o.is_empty() => Value::Null,
        Some(v) => v.clone(),
    }
}

#[test]
fn config_matches_docker_legacy_builder() {
    require_root!();
    let Some(d) = Dockerd::start() else { return };
    let ts = store_with_base();
    let tar = d.dir.join("base.tar");
    std::fs::write(&tar, busybox_tar()).unwrap();
    let o = d.docker(
        &[
            "import",
            "-c",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "-",
            "base:latest",
        ],
        Some(&tar),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ctx = context(&[
        ("Dockerfile", DOCKERFILE),
        ("f.txt", "f\n"),
        ("dir/a", "a\n"),
        ("dir/b/c", "c\n"),
    ]);
    let o = d.docker(
        &[
            "build",
            "--build-arg",
            "V=2",
            "-t",
            "parity:latest",
            ctx.path().to_str().unwrap(),
        ],
        None,
    );
    assert!(
        o.status.success(),
        "docker build: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let o = d.docker(&["image", "inspect", "parity:latest"], None);
    let docker: Value = serde_json::from_slice(&o.stdout).unwrap();
    let docker_cfg = &docker[0]["Config"];

    let mut opts = options(&ts);
    opts.build_args = args(&[("V", "2")]);
    let out = run_build(&ts, ctx.path(), &opts);
    let id = out
        .result
        .unwrap_or_else(|e| panic!("{e}\n{}", out.output))
        .id;
    let ours = config(&ts, &id);
    let ours_cfg = &ours["config"];
    let mut diffs = Vec::new();
    for f in FIELDS {
        let (a, b) = (norm(docker_cfg.get(*f)), norm(ours_cfg.get(*f)));
        if a != b {
            diffs.push(format!("{f}: docker {a} vessel {b}"));
        }
    }
    assert!(
        diffs.is_empty(),
        "Config differs from Docker's:\n{}",
        diffs.join("\n")
    );

    // History rows: the same number, the same empty_layer flags and created_by texts.
    let o = d.docker(
        &[
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            "parity:latest",
        ],
        None,
    );
    let docker_hist: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let mut ours_hist: Vec<String> = ours["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["created_by"].as_str().unwrap_or_default().to_string())
        .collect();
    ours_hist.reverse();
    // COPY sources are named by a content hash, whose algorithm (tarsum) differs.
    let unhash = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .map(
                |s| match s.find(":").filter(|_| s.contains("#(nop) COPY")) {
                    Some(_) => {
                        let mut words: Vec<String> = s.split(' ').map(str::to_string).collect();
                        for w in words.iter_mut() {
                            if let Some((kind, h)) = w.split_once(':') {
                                if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
                                    *w = format!("{kind}:HASH");
                                }
                            }
                        }
                        words.join(" ")
                    }
                    None => s,
                },
            )
            .collect()
    };
    assert_eq!(unhash(ours_hist), unhash(docker_hist));
    let files = read_in_image(&ts, &id, &["/v.txt", "/copied/f.txt", "/copied/dir/b/c"]);
    assert_eq!(files[0].as_deref(), Some(&b"v=2\n"[..]));
    assert!(files[1].is_some() && files[2].is_some());

    // What real Docker writes with `docker save` loads into Vessel's store unchanged: the
    // same image id (config digest), tag and files.
    let saved = d.dir.join("parity-saved.tar");
    let o = d.docker(
        &["save", "-o", saved.to_str().unwrap(), "parity:latest"],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let loaded = ts
        .store
        .load(&mut std::fs::File::open(&saved).unwrap())
        .unwrap();
    let docker_id = docker[0]["Id"].as_str().unwrap();
    assert_eq!(loaded[0].id, docker_id);
    assert_eq!(loaded[0].repo_tags, vec!["parity:latest".to_string()]);
    let files = read_in_image(&ts, docker_id, &["/v.txt", "/copied/dir/b/c"]);
    assert_eq!(files[0].as_deref(), Some(&b"v=2\n"[..]));
    assert_eq!(files[1].as_deref(), Some(&b"c\n"[..]));
}
