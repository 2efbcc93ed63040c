//! `POST /build` end to end, as root: the real docker CLI's legacy builder
//! (`DOCKER_BUILDKIT=0 docker build`) and `vessel build` against a real daemon process; the
//! built image then runs with `docker run`.

mod common;

use std::process::Output;

use common::proc_daemon::{skip_reason, ProcDaemon};
use common::{stderr, stdout};

fn daemon(tag: &str) -> Option<ProcDaemon> {
    if let Some(why) = skip_reason() {
        eprintln!("skipping: {why}");
        return None;
    }
    Some(ProcDaemon::start(tag))
}

fn docker_build(d: &ProcDaemon, args: &[&str]) -> Output {
    let mut all = vec!["build"];
    all.extend_from_slice(args);
    let mut cmd = d.docker_cmd(&all);
    cmd.env("DOCKER_BUILDKIT", "0");
    cmd.output().expect("run docker build")
}

#[test]
fn docker_cli_legacy_build_then_run() {
    let Some(d) = daemon("build") else { return };
    let ctx = d.dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM {}\nRUN echo built > /built.txt\nCOPY hello.txt /hello.txt\nENV FOO=bar\nCMD [\"cat\", \"/hello.txt\", \"/built.txt\"]\n",
            d.image
        ),
    )
    .unwrap();
    std::fs::write(ctx.join("hello.txt"), "hello from build context\n").unwrap();
    std::fs::write(ctx.join("ignored.txt"), "ignored\n").unwrap();
    std::fs::write(ctx.join(".dockerignore"), "ignored.txt\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile.fail"),
        format!("FROM {}\nRUN echo about-to-fail; exit 3\n", d.image),
    )
    .unwrap();
    let tag = format!("built-{}:v1", std::process::id());
    let c = ctx.to_str().unwrap();

    let out = docker_build(&d, &["-t", &tag, c]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Step 1/5 : FROM"), "{text}");
    assert!(
        text.contains("Step 2/5 : RUN echo built > /built.txt"),
        "{text}"
    );
    assert!(text.contains("Successfully built "), "{text}");
    assert!(
        text.contains(&format!("Successfully tagged {tag}")),
        "{text}"
    );

    let run = d.docker(&["run", "--rm", &tag]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(stdout(&run), "hello from build context\nbuilt\n");
    let env = d.inspect(&tag, "{{json .Config.Env}}");
    assert!(env.contains("FOO=bar"), "{env}");

    // Warm rebuild: every step from the cache, same image.
    let again = docker_build(&d, &["-t", &tag, c]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(
        stdout(&again).matches("Using cache").count(),
        4,
        "{}",
        stdout(&again)
    );

    // A failing RUN: its output, and the CLI exits with the command's code.
    let fail = docker_build(
        &d,
        &["-f", ctx.join("Dockerfile.fail").to_str().unwrap(), c],
    );
    assert_eq!(
        fail.status.code(),
        Some(3),
        "{}\n{}",
        stdout(&fail),
        stderr(&fail)
    );
    assert!(stdout(&fail).contains("about-to-fail"), "{}", stdout(&fail));
    assert!(
        stderr(&fail).contains("returned a non-zero code: 3"),
        "{}",
        stderr(&fail)
    );

    // `vessel build` with a build arg and -q.
    std::fs::write(
        ctx.join("Dockerfile.arg"),
        format!(
            "FROM {}\nARG MSG\nRUN echo \"$MSG\" > /msg\nCMD [\"cat\", \"/msg\"]\n",
            d.image
        ),
    )
    .unwrap();
    let vtag = format!("vbuilt-{}", std::process::id());
    let out = d.vessel(&[
        "build",
        "-q",
        "-t",
        &vtag,
        "--build-arg",
        "MSG=from vessel",
        "-f",
        ctx.join("Dockerfile.arg").to_str().unwrap(),
        c,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).trim().starts_with("sha256:"),
        "{}",
        stdout(&out)
    );
    let run = d.docker(&["run", "--rm", &vtag]);
    assert_eq!(stdout(&run), "from vessel\n", "{}", stderr(&run));
    // A Dockerfile on stdin (`vessel build -`): no context.
    let stag = format!("stdin-{}", std::process::id());
    let mut cmd = d.vessel_cmd(&["build", "-t", &stag, "-"]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        write!(stdin, "FROM {}\nCMD [\"echo\", \"from stdin\"]\n", d.image).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("Successfully tagged {stag}:latest")),
        "{}",
        stdout(&out)
    );
    let run = d.docker(&["run", "--rm", &stag]);
    assert_eq!(stdout(&run), "from stdin\n", "{}", stderr(&run));
    assert!(
        d.mounts().iter().all(|m| !m.contains("vessel-build-")),
        "{:?}",
        d.mounts()
    );
}

#[test]
fn docker_compose_build() {
    let Some(d) = daemon("cbuild") else { return };
    if !std::path::Path::new("/usr/bin/docker-compose").exists() {
        eprintln!("skipping: docker-compose not installed (apt-get install docker-compose)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("Dockerfile"),
        format!(
            "FROM {}\nARG MSG\nCOPY greeting.txt /greeting.txt\nRUN echo \"$MSG\" >> /greeting.txt\nCMD [\"cat\", \"/greeting.txt\"]\n",
            d.image
        ),
    )
    .unwrap();
    std::fs::write(app.join("greeting.txt"), "from compose\n").unwrap();
    let image = format!("composed-{}:latest", std::process::id());
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(
        &file,
        format!(
            "version: \"3.7\"\nservices:\n  app:\n    build:\n      context: ./app\n      args:\n        MSG: built-by-compose\n    image: {image}\n    network_mode: none\n"
        ),
    )
    .unwrap();
    let project = format!("cb{}", std::process::id());
    let out = std::process::Command::new("/usr/bin/docker-compose")
        .env("DOCKER_HOST", d.host())
        .env("DOCKER_BUILDKIT", "0")
        .env("COMPOSE_DOCKER_CLI_BUILD", "0")
        .arg("-f")
        .arg(&file)
        .arg("-p")
        .arg(&project)
        .arg("build")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let run = d.docker(&["run", "--rm", &image]);
    assert_eq!(
        stdout(&run),
        "from compose\nbuilt-by-compose\n",
        "{}",
        stderr(&run)
    );
}
