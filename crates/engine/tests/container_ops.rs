//! Container operations beyond the lifecycle, end to end with the docker CLI and `vessel`
//! against a real daemon: cp (both ways, volumes, symlink escapes), export, rename, update,
//! events, system df, and `always` containers coming back when the daemon starts.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::proc_daemon::{daemon, ok, unique, wait_until};
use common::stderr;

#[test]
fn cp_both_ways_into_rootfs_and_volume_and_export() {
    let Some(d) = daemon("cp") else { return };
    let name = unique("cp");
    let vol = unique("cpvol");
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "-v",
        &format!("{vol}:/data"),
        &d.image,
        "sleep",
        "30",
    ]));
    let host = tempfile::tempdir().unwrap();
    let file = host.path().join("greeting.txt");
    std::fs::write(&file, "hello from the host\n").unwrap();

    // Host → container rootfs, and → a volume, with the docker CLI.
    ok(&d.docker(&["cp", file.to_str().unwrap(), &format!("{name}:/tmp/")]));
    ok(&d.docker(&[
        "cp",
        file.to_str().unwrap(),
        &format!("{name}:/data/copied.txt"),
    ]));
    assert_eq!(
        ok(&d.docker(&[
            "exec",
            &name,
            "cat",
            "/tmp/greeting.txt",
            "/data/copied.txt"
        ])),
        "hello from the host\nhello from the host\n"
    );
    assert_eq!(
        ok(&d.docker(&["exec", &name, "stat", "-c", "%u:%g", "/tmp/greeting.txt"])).trim(),
        "0:0",
        "files copied in belong to the container's root"
    );

    // Container → host: a file and a directory, with docker and with vessel.
    ok(&d.docker(&[
        "exec",
        &name,
        "sh",
        "-c",
        "mkdir -p /out/sub && echo deep > /out/sub/f",
    ]));
    let dest = host.path().join("hostname.copy");
    ok(&d.docker(&[
        "cp",
        &format!("{name}:/etc/hostname"),
        dest.to_str().unwrap(),
    ]));
    let hostname = ok(&d.docker(&["exec", &name, "cat", "/etc/hostname"]));
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), hostname);
    ok(&d.vessel(&["cp", &format!("{name}:/out"), host.path().to_str().unwrap()]));
    assert_eq!(
        std::fs::read_to_string(host.path().join("out/sub/f")).unwrap(),
        "deep\n"
    );

    // A symlink the container planted cannot lead the daemon out of the rootfs: reading
    // through it yields the container's file (the host's /etc/os-release stays out of
    // reach), writing through it lands in the container.
    ok(&d.docker(&["exec", &name, "sh", "-c", "echo inside > /etc/marker"]));
    ok(&d.docker(&[
        "exec",
        &name,
        "ln",
        "-s",
        "../../../../../../etc",
        "/tmp/up",
    ]));
    ok(&d.docker(&["exec", &name, "ln", "-s", "/", "/tmp/root"]));
    let through = host.path().join("through");
    ok(&d.docker(&[
        "cp",
        &format!("{name}:/tmp/up/marker"),
        through.to_str().unwrap(),
    ]));
    assert_eq!(std::fs::read_to_string(&through).unwrap(), "inside\n");
    let out = d.docker(&[
        "cp",
        &format!("{name}:/tmp/up/os-release"),
        host.path().to_str().unwrap(),
    ]);
    assert!(
        !out.status.success(),
        "read the host's /etc/os-release through a container symlink"
    );
    let marker = format!("vessel-cp-escape-{}", std::process::id());
    let evil = host.path().join(&marker);
    std::fs::write(&evil, "x").unwrap();
    ok(&d.docker(&["cp", evil.to_str().unwrap(), &format!("{name}:/tmp/root/")]));
    assert!(
        !std::path::Path::new("/").join(&marker).exists(),
        "cp wrote through a container symlink onto the host"
    );
    ok(&d.docker(&["exec", &name, "test", "-f", &format!("/{marker}")]));

    // Errors a user sees.
    let out = d.docker(&[
        "cp",
        &format!("{name}:/no/such/file"),
        host.path().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("Could not find the file"),
        "{}",
        stderr(&out)
    );

    // export: the whole filesystem as a tar, including what was written at run time.
    let mut child = d
        .docker_cmd(&["export", &name])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut tar_bytes = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut tar_bytes)
        .unwrap();
    assert!(child.wait().unwrap().success());
    let names: Vec<String> = tar::Archive::new(&tar_bytes[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in ["bin/busybox", "tmp/greeting.txt", "out/sub/f"] {
        assert!(
            names.iter().any(|n| n.trim_end_matches('/') == want),
            "{want} missing from export"
        );
    }
    ok(&d.docker(&["rm", "-f", &name]));
    ok(&d.docker(&["volume", "rm", &vol]));
}

#[test]
fn rename_update_and_events() {
    let Some(d) = daemon("ops") else { return };
    let name = unique("old");
    let renamed = unique("new");
    // Follow events from before anything happens.
    let mut events = d
        .docker_cmd(&[
            "events",
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(events.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in lines.lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));

    ok(&d.docker(&[
        "run", "-d", "--name", &name, "--memory", "64m", &d.image, "sleep", "30",
    ]));
    ok(&d.docker(&["rename", &name, &renamed]));
    assert_eq!(d.inspect(&renamed, "{{.Name}}"), format!("/{renamed}"));
    let out = d.docker(&["rename", &renamed, "bad/name"]);
    assert!(!out.status.success(), "an invalid name is refused");

    // update changes the live cgroup and what inspect shows.
    ok(&d.docker(&[
        "update",
        "--memory",
        "96m",
        "--memory-swap",
        "96m",
        "--restart",
        "on-failure:3",
        &renamed,
    ]));
    assert_eq!(
        d.inspect(
            &renamed,
            "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}"
        ),
        format!("{} on-failure", 96 << 20)
    );
    let limit = ok(&d.docker(&[
        "exec",
        &renamed,
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]));
    assert_eq!(
        limit.trim(),
        (96u64 << 20).to_string(),
        "the running container's limit changed"
    );

    ok(&d.docker(&["stop", "-t", "1", &renamed]));
    ok(&d.docker(&["rm", &renamed]));
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !seen
        .iter()
        .any(|l: &String| l == &format!("container destroy {renamed}"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => seen.push(l),
            Err(_) => panic!("events so far: {seen:?}"),
        }
    }
    let _ = events.kill();
    let _ = events.wait();
    let actions: Vec<&str> = seen
        .iter()
        .filter(|l| l.starts_with("container "))
        .map(|l| l.split(' ').nth(1).unwrap())
        .collect();
    for want in [
        "create", "start", "rename", "update", "kill", "die", "stop", "destroy",
    ] {
        assert!(actions.contains(&want), "no {want} event in {seen:?}");
    }
    let pos = |a: &str| actions.iter().position(|x| *x == a).unwrap();
    assert!(
        pos("create") < pos("start") && pos("start") < pos("die") && pos("die") < pos("destroy")
    );

    // --since replays, --until ends the stream, filters select.
    let out = ok(&d.docker(&[
        "events",
        "--since",
        "0",
        "--until",
        &format!(
            "{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 1
        ),
        "--filter",
        "event=rename",
        "--format",
        "{{.Action}} {{.Actor.Attributes.oldName}}",
    ]));
    assert_eq!(out.trim(), format!("rename /{name}"));
}

#[test]
fn system_df_counts_images_containers_and_volumes() {
    let Some(d) = daemon("df") else { return };
    let name = unique("df");
    let vol = unique("dfvol");
    ok(&d.docker(&[
        "run",
        "--name",
        &name,
        "-v",
        &format!("{vol}:/data"),
        &d.image,
        "sh",
        "-c",
        "head -c 300000 /dev/zero > /data/blob; head -c 200000 /dev/zero > /rw",
    ]));
    let out = ok(&d.docker(&[
        "system",
        "df",
        "--format",
        "{{.Type}} {{.TotalCount}} {{.Active}}",
    ]));
    let rows: Vec<&str> = out.lines().collect();
    assert!(rows.contains(&"Images 1 1"), "{out}");
    assert!(rows.contains(&"Containers 1 0"), "{out}");
    assert!(rows.contains(&"Local Volumes 1 1"), "{out}");
    let verbose = ok(&d.docker(&["system", "df", "-v", "--format", "{{json .}}"]));
    let v: serde_json::Value = serde_json::from_str(verbose.trim()).unwrap();
    let vol_size = v["Volumes"][0]["Size"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(vol_size.starts_with("300"), "volume size {vol_size}");
    let rw = v["Containers"][0]["Size"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(rw.starts_with("200"), "container size {rw}");
    ok(&d.docker(&["rm", &name]));
    ok(&d.docker(&["volume", "rm", &vol]));
}

#[test]
fn always_containers_start_with_the_daemon() {
    let Some(mut d) = daemon("always") else {
        return;
    };
    let always = unique("always");
    let unless = unique("unless");
    for (n, policy) in [(&always, "always"), (&unless, "unless-stopped")] {
        ok(&d.docker(&[
            "run",
            "-d",
            "--name",
            n,
            "--restart",
            policy,
            &d.image,
            "sleep",
            "60",
        ]));
    }
    // Both stopped by the user; the daemon then goes down hard and comes back.
    ok(&d.docker(&["stop", "-t", "1", &always, &unless]));
    d.kill_daemon();
    d.spawn();
    wait_until(
        "the always container to start",
        Duration::from_secs(15),
        || d.inspect(&always, "{{.State.Status}}") == "running",
    );
    assert_eq!(
        d.inspect(&unless, "{{.State.Status}}"),
        "exited",
        "unless-stopped stays stopped after a user stop"
    );
    ok(&d.docker(&["rm", "-f", &always, &unless]));
}

#[test]
fn attach_to_a_running_container_streams_its_output() {
    let Some(d) = daemon("attach") else { return };
    let name = unique("attach");
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        &name,
        &d.image,
        "sh",
        "-c",
        "i=0; while :; do i=$((i+1)); echo tick-$i; sleep 0.2; done",
    ]));
    for tool in ["docker", "vessel"] {
        let mut cmd = if tool == "docker" {
            d.docker_cmd(&["attach", "--no-stdin", &name])
        } else {
            d.vessel_cmd(&["attach", "--no-stdin", &name])
        };
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().and_then(Result::ok).unwrap_or_default();
        let _ = child.kill();
        let _ = child.wait();
        assert!(first.starts_with("tick-"), "{tool} attach read {first:?}");
    }
    assert_eq!(
        d.inspect(&name, "{{.State.Status}}"),
        "running",
        "detaching left it running"
    );
    ok(&d.docker(&["rm", "-f", &name]));
}

#[test]
fn a_new_volume_starts_as_a_copy_of_the_image_directory() {
    let Some(d) = daemon("copyup") else { return };
    let vol = unique("etcvol");
    let empty = unique("nocopy");
    // The test image has /etc/passwd; a fresh volume over /etc starts with it.
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/etc"),
        &d.image,
        "cat",
        "/etc/passwd",
    ]));
    assert!(out.starts_with("root:x:0:0"), "{out}");
    // Once the volume has data it is not overwritten.
    ok(&d.docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/etc"),
        &d.image,
        "sh",
        "-c",
        "echo mine > /etc/passwd",
    ]));
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{vol}:/etc"),
        &d.image,
        "cat",
        "/etc/passwd",
    ]));
    assert_eq!(out, "mine\n");
    // nocopy leaves it without the image's files (only the daemon's own mount points).
    let out = ok(&d.docker(&[
        "run",
        "--rm",
        "-v",
        &format!("{empty}:/etc:nocopy"),
        &d.image,
        "ls",
        "-A",
        "/etc",
    ]));
    assert!(!out.contains("passwd"), "{out}");
    ok(&d.docker(&["volume", "rm", &vol, &empty]));
}

/// A docker-archive with one layer holding `mb` MiB of incompressible bytes.
fn big_archive(dir: &std::path::Path, tag: &str, mb: usize) -> std::path::PathBuf {
    use sha2::Digest;
    let mut data = vec![0u8; mb << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for chunk in data.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    let mut layer = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    layer.append_data(&mut h, "big.bin", &data[..]).unwrap();
    let layer = layer.into_inner().unwrap();
    let diff = common::hex(&sha2::Sha256::digest(&layer));
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff}")]},
    }))
    .unwrap();
    let config_hex = common::hex(&sha2::Sha256::digest(&config));
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": format!("{config_hex}.json"), "RepoTags": [tag], "Layers": [format!("{diff}/layer.tar")],
    }]))
    .unwrap();
    let path = dir.join("big.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&path).unwrap());
    for (name, bytes) in [
        (format!("{diff}/layer.tar"), &layer),
        (format!("{config_hex}.json"), &config),
        ("manifest.json".to_string(), &manifest),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, &bytes[..]).unwrap();
    }
    b.finish().unwrap();
    path
}

fn temps_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp-") {
                out.push(e.path().display().to_string());
            }
            if e.file_type()
                .map(|t| t.is_dir() && !t.is_symlink())
                .unwrap_or(false)
            {
                stack.push(e.path());
            }
        }
    }
    out
}

#[test]
fn daemon_killed_during_load_and_create_leaves_nothing_half_done() {
    let Some(mut d) = daemon("crash") else { return };
    let tag = format!("big-{}:latest", std::process::id());
    let archive = big_archive(d.dir.path(), &tag, 96);
    for delay_ms in [50u64, 250] {
        let mut load = d
            .vessel_cmd(&["load", "-i", archive.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        d.kill_daemon();
        let _ = load.wait();
        d.spawn();
        // Either the whole image or none of it; never a half image or leftover temp files.
        let images = ok(&d.docker(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}"]));
        for line in images.lines().filter(|l| l.starts_with("big-")) {
            assert!(line.contains("MB"), "half image listed: {line}");
        }
        assert!(
            temps_under(&d.root.join("image")).is_empty(),
            "{:?}",
            temps_under(&d.root.join("image"))
        );
    }
    ok(&d.vessel(&["load", "-i", archive.to_str().unwrap()]));
    assert!(ok(&d.docker(&["images"])).contains("big-"));

    // Killed around a create: after restart every container is complete or absent, and a
    // created one can still be removed without leaving a mount.
    let mut create = d
        .docker_cmd(&["create", "--name", &unique("half"), &d.image, "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(30));
    d.kill_daemon();
    let _ = create.wait();
    d.spawn();
    for id in d.all_ids() {
        let status = d.inspect(&id, "{{.State.Status}}");
        assert!(status == "created" || status == "exited", "{id}: {status}");
        ok(&d.docker(&["rm", "-f", &id]));
    }
    assert!(d.mounts().is_empty(), "mounts left: {:?}", d.mounts());
}
