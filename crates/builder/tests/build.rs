//! Root integration tests: real builds against a temp image store with a busybox base image,
//! RUN steps executed by vessel-runtime (build it first: `cargo build --workspace --bins`).

mod common;

use common::*;
use std::io::Read;
use vessel_builder::BuildError;

const MULTI: &str = r#"# syntax=docker/dockerfile:1
ARG BASE=base:latest
FROM ${BASE} AS builder
RUN echo built > /artifact && mkdir -p /out && echo x > /out/y
FROM scratch AS unused
COPY hello.txt /
FROM ${BASE}
ENV GREETING=hello \
    OTHER="two words"
WORKDIR /app
COPY --from=builder /artifact ./artifact
COPY hello.txt sub/ /app/data/
COPY --chown=app:app --chmod=600 hello.txt /home/app/
USER app
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["cat /app/artifact"]
LABEL org.test=yes "with space"="a b"
HEALTHCHECK --interval=5s --retries=2 CMD true
EXPOSE 8080 53/udp
VOLUME /data
STOPSIGNAL SIGTERM
"#;

fn multi_ctx() -> tempfile::TempDir {
    context(&[
        ("Dockerfile", MULTI),
        ("hello.txt", "hello from context\n"),
        ("sub/a.txt", "a\n"),
        ("sub/deeper/b.txt", "b\n"),
    ])
}

#[test]
fn multi_stage_config_and_files() {
    require_root!();
    let ts = store_with_base();
    let ctx = multi_ctx();
    let mut opts = options(&ts);
    opts.tags = vec!["multi:1".into(), "multi:latest".into()];
    let out = run_build(&ts, ctx.path(), &opts);
    let res = out.result.unwrap_or_else(|e| panic!("{e}\n{}", out.output));
    assert!(out.output.contains("Successfully built"), "{}", out.output);
    assert!(out.output.contains("Successfully tagged multi:1\n"));
    assert!(
        !out.output.contains("COPY hello.txt /\n"),
        "the unused stage was built:\n{}",
        out.output
    );
    assert_eq!(out.aux, vec![res.id.clone()]);
    assert_eq!(ts.store.resolve("multi:latest").unwrap(), res.id);

    let cfg = config(&ts, "multi:1");
    let c = &cfg["config"];
    let env: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(env.contains(&"GREETING=hello"), "{env:?}");
    assert!(env.contains(&"OTHER=two words"), "{env:?}");
    assert_eq!(c["WorkingDir"], "/app");
    assert_eq!(c["User"], "app");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/sh", "-c"]));
    assert_eq!(c["Cmd"], serde_json::json!(["cat /app/artifact"]));
    assert_eq!(c["Labels"]["org.test"], "yes");
    assert_eq!(c["Labels"]["with space"], "a b");
    assert_eq!(
        c["Healthcheck"]["Test"],
        serde_json::json!(["CMD-SHELL", "true"])
    );
    assert_eq!(c["Healthcheck"]["Interval"], 5_000_000_000i64);
    assert_eq!(c["Healthcheck"]["Retries"], 2);
    assert!(c["ExposedPorts"]["8080/tcp"].is_object());
    assert!(c["ExposedPorts"]["53/udp"].is_object());
    assert!(c["Volumes"]["/data"].is_object());
    assert_eq!(c["StopSignal"], "SIGTERM");
    // History: base row, then one per step; metadata steps are empty layers.
    let hist = cfg["history"].as_array().unwrap();
    let diff_ids = cfg["rootfs"]["diff_ids"].as_array().unwrap();
    let layers = hist.iter().filter(|h| h["empty_layer"] != true).count();
    assert_eq!(layers, diff_ids.len());
    assert_eq!(diff_ids.len(), 4, "base + 3 COPY layers");
    assert!(hist.iter().any(|h| h["created_by"]
        .as_str()
        .unwrap()
        .contains("ENV GREETING=hello")));

    let files = read_in_image(
        &ts,
        &res.id,
        &[
            "/app/artifact",
            "/app/data/hello.txt",
            "/app/data/a.txt",
            "/app/data/deeper/b.txt",
            "/out/y",
        ],
    );
    assert_eq!(files[0].as_deref(), Some(&b"built\n"[..]));
    assert_eq!(files[1].as_deref(), Some(&b"hello from context\n"[..]));
    assert_eq!(files[2].as_deref(), Some(&b"a\n"[..]));
    assert_eq!(files[3].as_deref(), Some(&b"b\n"[..]));
    assert_eq!(
        files[4], None,
        "only the artifact comes from the first stage"
    );

    // Run the image's content: a RUN step in a child image as the image's user, in its workdir.
    let child = context(&[(
        "Dockerfile",
        "FROM multi:1\nRUN id -u > /tmp/uid; pwd > /tmp/pwd; cat /app/artifact; stat -c %u:%a /home/app/hello.txt 2>/dev/null || ls -ln /home/app/hello.txt\n",
    )]);
    let out = run_build(&ts, child.path(), &options(&ts));
    let id = out
        .result
        .unwrap_or_else(|e| panic!("{e}\n{}", out.output))
        .id;
    assert!(
        out.output.contains("built\n"),
        "RUN output is streamed:\n{}",
        out.output
    );
    assert!(
        out.output.contains("1000"),
        "--chown applied:\n{}",
        out.output
    );
    let f = read_in_image(&ts, &id, &["/tmp/uid", "/tmp/pwd"]);
    assert_eq!(f[0].as_deref(), Some(&b"1000\n"[..]));
    assert_eq!(f[1].as_deref(), Some(&b"/app\n"[..]));
    assert!(mounts_under(ts.store.root()).is_empty());
}

#[test]
fn run_deleting_a_base_file_whiteouts_it() {
    require_root!();
    let ts = store_with_base();
    let ctx = context(&[(
        "Dockerfile",
        "FROM base\nRUN rm /etc/motd && echo new > /etc/added\n",
    )]);
    let out = run_build(&ts, ctx.path(), &options(&ts));
    let id = out
        .result
        .unwrap_or_else(|e| panic!("{e}\n{}", out.output))
        .id;
    let f = read_in_image(&ts, &id, &["/etc/motd", "/etc/added", "/etc/passwd"]);
    assert_eq!(f[0], None);
    assert_eq!(f[1].as_deref(), Some(&b"new\n"[..]));
    assert!(f[2].is_some());
    let layers = ts.store.layers(&id).unwrap();
    let mut tar = ts
        .store
        .open_layer(&layers.last().unwrap().diff_id)
        .unwrap();
    let mut bytes = Vec::new();
    tar.read_to_end(&mut bytes).unwrap();
    let names: Vec<String> = tar::Archive::new(&bytes[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"etc/.wh.motd".to_string()), "{names:?}");
    assert!(
        !names.iter().any(|n| n == "proc" || n == "dev"),
        "mount points leaked: {names:?}"
    );
}

#[test]
fn warm_rebuild_uses_cache_and_same_id() {
    require_root!();
    let ts = store_with_base();
    let ctx = multi_ctx();
    let opts = options(&ts);
    let first = run_build(&ts, ctx.path(), &opts);
    let id1 = first
        .result
        .unwrap_or_else(|e| panic!("{e}\n{}", first.output))
        .id;
    let second = run_build(&ts, ctx.path(), &opts);
    let id2 = second
        .result
        .unwrap_or_else(|e| panic!("{e}\n{}", second.output))
        .id;
    assert_eq!(id1, id2);
    let steps = second.output.matches("Step ").count();
    let froms = 2;
    assert_eq!(
        second.output.matches(" ---> Using cache\n").count(),
        steps - froms,
        "{}",
        second.output
    );
    assert!(!second.output.contains("Running in"));
    // Touching a file without changing it keeps the cache; changing it does not.
    let f = ctx.path().join("hello.txt");
    std::fs::write(&f, "hello from context\n").unwrap();
    let third = run_build(&ts, ctx.path(), &opts);
    assert_eq!(third.result.unwrap().id, id1);
    std::fs::write(&f, "changed\n").unwrap();
    let fourth = run_build(&ts, ctx.path(), &opts);
    assert_ne!(fourth.result.unwrap().id, id1);
    // --no-cache does the work again.
    let mut nc = options(&ts);
    nc.no_cache = true;
    let fifth = run_build(&ts, ctx.path(), &nc);
    assert!(fifth.result.is_ok());
    assert!(!fifth.output.contains("Using cache"));
}

#[test]
fn source_date_epoch_reproducible() {
    require_root!();
    let ts = store_with_base();
    let ctx = context(&[
        ("Dockerfile", "FROM base\nRUN mkdir /d && echo hi > /d/f && touch /d/g\nCOPY f.txt /copied/\nENV A=1\n"),
        ("f.txt", "content\n"),
    ]);
    let mut opts = options(&ts);
    opts.no_cache = true;
    opts.source_date_epoch = Some(1_700_000_000);
    let a = run_build(&ts, ctx.path(), &opts).result.unwrap().id;
    let b = run_build(&ts, ctx.path(), &opts).result.unwrap().id;
    assert_eq!(a, b);
    let cfg = config(&ts, &a);
    assert_eq!(cfg["created"], "2023-11-14T22:13:20Z");
}

#[test]
fn dockerignore_and_context_escapes() {
    require_root!();
    let ts = store_with_base();
    let ctx = context(&[
        ("Dockerfile", "FROM base\nCOPY . /ctx/\n"),
        (
            ".dockerignore",
            "secret.txt\n*.log\n!keep.log\nbuild/\n!build/keep/x\n",
        ),
        ("build/keep/x", "x"),
        ("secret.txt", "s"),
        ("a.log", "l"),
        ("keep.log", "k"),
        ("build/out", "o"),
        ("src/main.c", "m"),
    ]);
    std::os::unix::fs::symlink("/etc/passwd", ctx.path().join("hostpasswd")).unwrap();
    let out = run_build(&ts, ctx.path(), &options(&ts));
    let id = out
        .result
        .unwrap_or_else(|e| panic!("{e}\n{}", out.output))
        .id;
    let f = read_in_image(
        &ts,
        &id,
        &[
            "/ctx/build/keep/x",
            "/ctx/secret.txt",
            "/ctx/a.log",
            "/ctx/keep.log",
            "/ctx/build/out",
            "/ctx/src/main.c",
            "/ctx/Dockerfile",
        ],
    );
    assert_eq!(
        f[0].as_deref(),
        Some(&b"x"[..]),
        "!build/keep/x re-includes"
    );
    assert_eq!(f[1], None);
    assert_eq!(f[2], None);
    assert!(f[3].is_some());
    assert_eq!(f[4], None);
    assert!(f[5].is_some());
    assert!(f[6].is_some());

    // COPY ../x is refused; a symlink to /etc/passwd resolves inside the context (nothing).
    let bad = context(&[("Dockerfile", "FROM base\nCOPY ../x /x\n")]);
    let e = run_build(&ts, bad.path(), &options(&ts))
        .result
        .unwrap_err();
    assert!(
        matches!(e, BuildError::OutsideContext { line: 2, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("outside the build context"), "{e}");
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM base\nCOPY hostpasswd /x\n",
    )
    .unwrap();
    let e = run_build(&ts, ctx.path(), &options(&ts))
        .result
        .unwrap_err();
    assert!(matches!(e, BuildError::NoSource { .. }), "{e}");
    // ADD of a URL is refused clearly.
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM base\nADD https://example.com/x /x\n",
    )
    .unwrap();
    let e = run_build(&ts, ctx.path(), &options(&ts))
        .result
        .unwrap_err();
    assert!(matches!(e, BuildError::UrlUnsupported { .. }), "{e}");
}

#[test]
fn failing_run_reports_code_and_leaves_nothing() {
    require_root!();
    let ts = store_with_base();
    let ctx = context(&[(
        "Dockerfile",
        "FROM base\nRUN echo about-to-fail; exit 3\nCMD x\n",
    )]);
    let mut opts = options(&ts);
    opts.tags = vec!["fails:latest".into()];
    let out = run_build(&ts, ctx.path(), &opts);
    let e = out.result.unwrap_err();
    assert_eq!(e.code(), Some(3), "{e}");
    assert_eq!(
        e.to_string(),
        "The command '/bin/sh -c echo about-to-fail; exit 3' returned a non-zero code: 3"
    );
    assert!(out.output.contains("about-to-fail\n"), "{}", out.output);
    assert!(ts.store.resolve("fails:latest").is_err());
    assert!(mounts_under(ts.store.root()).is_empty());
    let left: Vec<_> = std::fs::read_dir(ts.store.root().join("containers"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "rootfs left behind: {left:?}");
}

#[test]
fn heredocs_args_add_tar_and_onbuild() {
    require_root!();
    let ts = store_with_base();
    // A gzip tar to ADD.
    let mut tb = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    tb.append_data(&mut h, "inner/x.txt", &b"xyz"[..]).unwrap();
    let raw = tb.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &raw).unwrap();
    let gz = gz.finish().unwrap();
    let ctx = context(&[(
        "Dockerfile",
        "FROM base\nARG WHO=world\nRUN <<EOF\necho \"hi $WHO\" > /greeting\nEOF\nCOPY <<EOF /etc/conf\nwho=${WHO}\nEOF\nADD files.tar.gz /extracted/\nONBUILD RUN echo triggered > /onbuild\n",
    )]);
    std::fs::write(ctx.path().join("files.tar.gz"), gz).unwrap();
    let mut opts = options(&ts);
    opts.build_args = args(&[("WHO", "vessel"), ("UNUSED", "1")]);
    opts.tags = vec!["parent:latest".into()];
    let out = run_build(&ts, ctx.path(), &opts);
    let id = out
        .result
        .unwrap_or_else(|e| panic!("{e}\n{}", out.output))
        .id;
    assert!(
        out.output
            .contains("[Warning] One or more build-args [UNUSED] were not consumed"),
        "{}",
        out.output
    );
    let f = read_in_image(
        &ts,
        &id,
        &[
            "/greeting",
            "/etc/conf",
            "/extracted/inner/x.txt",
            "/onbuild",
        ],
    );
    assert_eq!(f[0].as_deref(), Some(&b"hi vessel\n"[..]));
    assert_eq!(f[1].as_deref(), Some(&b"who=vessel\n"[..]));
    assert_eq!(f[2].as_deref(), Some(&b"xyz"[..]));
    assert_eq!(f[3], None);
    let child = context(&[("Dockerfile", "FROM parent\nCMD [\"x\"]\n")]);
    let out = run_build(&ts, child.path(), &options(&ts));
    let cid = out
        .result
        .unwrap_or_else(|e| panic!("{e}\n{}", out.output))
        .id;
    let f = read_in_image(&ts, &cid, &["/onbuild"]);
    assert_eq!(f[0].as_deref(), Some(&b"triggered\n"[..]));
    assert!(config(&ts, &cid)["config"]["OnBuild"].is_null());
}

#[test]
fn target_stage_and_parse_errors() {
    require_root!();
    let ts = store_with_base();
    let ctx = context(&[(
        "Dockerfile",
        "FROM base AS one\nENV STAGE=one\nFROM base AS two\nRUN exit 1\n",
    )]);
    let mut opts = options(&ts);
    opts.target = Some("one".into());
    let out = run_build(&ts, ctx.path(), &opts);
    let id = out
        .result
        .unwrap_or_else(|e| panic!("{e}\n{}", out.output))
        .id;
    assert!(config(&ts, &id)["config"]["Env"]
        .to_string()
        .contains("STAGE=one"));
    assert!(out.output.contains("Step 2/2"), "{}", out.output);
    opts.target = Some("three".into());
    assert!(matches!(
        run_build(&ts, ctx.path(), &opts).result,
        Err(BuildError::UnknownTarget(_))
    ));
    let bad = context(&[("Dockerfile", "FROM base\nCOPY\n")]);
    let e = run_build(&ts, bad.path(), &options(&ts))
        .result
        .unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
    let mut o = options(&ts);
    o.dockerfile = Some("other.Dockerfile".into());
    o.labels = args(&[("from.cli", "it's"), ("plain", "v")]);
    let alt = context(&[("other.Dockerfile", "FROM base\nLABEL alt=1\n")]);
    let id = run_build(&ts, alt.path(), &o).result.unwrap().id;
    let labels = &config(&ts, &id)["config"]["Labels"];
    assert_eq!(labels["alt"], "1");
    assert_eq!(labels["from.cli"], "it's");
    assert_eq!(labels["plain"], "v");
}

#[test]
fn run_network_modes() {
    require_root!();
    let ts = store_with_base();
    let ctx = context(&[(
        "Dockerfile",
        "FROM base\nRUN wc -l < /proc/net/dev > /none\nRUN --network=host wc -l < /proc/net/dev > /host\n",
    )]);
    let out = run_build(&ts, ctx.path(), &options(&ts));
    let id = out
        .result
        .unwrap_or_else(|e| panic!("{e}\n{}", out.output))
        .id;
    let f = read_in_image(&ts, &id, &["/none", "/host"]);
    let lines = |b: &Option<Vec<u8>>| -> usize {
        String::from_utf8_lossy(b.as_deref().unwrap())
            .trim()
            .parse()
            .unwrap()
    };
    assert_eq!(lines(&f[0]), 3, "only lo in a default RUN");
    let host_ifaces = std::fs::read_to_string("/proc/net/dev")
        .unwrap()
        .lines()
        .count();
    assert_eq!(
        lines(&f[1]),
        host_ifaces,
        "--network=host sees the host's interfaces"
    );
    // The build-wide default (`docker build --network host`) applies to RUN without a flag.
    let ctx = context(&[("Dockerfile", "FROM base\nRUN wc -l < /proc/net/dev > /n\n")]);
    let mut opts = options(&ts);
    opts.network = vessel_builder::instructions::Network::Host;
    let id = run_build(&ts, ctx.path(), &opts).result.unwrap().id;
    assert_eq!(lines(&read_in_image(&ts, &id, &["/n"])[0]), host_ifaces);
}

#[test]
fn copy_never_writes_through_image_symlinks() {
    require_root!();
    let ts = store_with_base();
    let marker = format!("vessel-build-escape-{}", std::process::id());
    let ctx = context(&[
        (
            "Dockerfile",
            "FROM base\nRUN mkdir /app && ln -s /tmp /app/link && ln -s /etc/motd /app/file\nCOPY src/ /app/\nCOPY <<EOF /app/file\ninline\nEOF\n",
        ),
        (&format!("src/link/{marker}"), "x"),
    ]);
    let out = run_build(&ts, ctx.path(), &options(&ts));
    let id = out
        .result
        .unwrap_or_else(|e| panic!("{e}\n{}", out.output))
        .id;
    assert!(
        !std::path::Path::new("/tmp").join(&marker).exists(),
        "COPY followed an image symlink onto the host"
    );
    // Symlinks on the destination side are followed inside the image, as Docker does.
    let f = read_in_image(&ts, &id, &[&format!("/tmp/{marker}"), "/etc/motd"]);
    assert_eq!(f[0].as_deref(), Some(&b"x"[..]));
    assert_eq!(f[1].as_deref(), Some(&b"inline\n"[..]));
    let host_motd = std::fs::read_to_string("/etc/motd").unwrap_or_default();
    assert!(
        !host_motd.contains("inline"),
        "the host's /etc/motd was written"
    );
}

#[test]
fn stale_step_rootfs_of_a_dead_build_is_swept() {
    require_root!();
    let ts = store_with_base();
    // What a build killed mid-step leaves: a mounted step rootfs nobody holds a lock on.
    let stale = "vessel-build-00000000000000000000000000stale";
    ts.store.prepare_rootfs("base", stale).unwrap();
    assert!(!mounts_under(ts.store.root()).is_empty());
    let ctx = context(&[("Dockerfile", "FROM base\nENV X=1\n")]);
    run_build(&ts, ctx.path(), &options(&ts)).result.unwrap();
    assert!(!ts.store.root().join("containers").join(stale).exists());
    assert!(mounts_under(ts.store.root()).is_empty());
}
