//! The real docker CLI (28.x) against the daemon, with a fake image store behind it.

mod common;

use common::{busybox_archive, stderr, stdout, TestDaemon};

#[test]
fn docker_version_and_info_print_a_server_section() {
    let d = TestDaemon::start();
    let out = d.docker(&["version"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Server: Vessel Engine"), "{text}");
    assert!(text.contains("1.41 (minimum version 1.24)"), "{text}");

    let out = d.docker(&["info"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for want in [
        "Server Version: 0.1.0",
        "Storage Driver: overlay2",
        "Cgroup Driver: cgroupfs",
        "Default Runtime: vessel",
        "Logging Driver: json-file",
        "Swarm: inactive",
        &format!("Docker Root Dir: {}", d.root.display()),
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(
        !stderr(&out).to_lowercase().contains("error"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn docker_image_commands() {
    let d = TestDaemon::start();
    let archive = busybox_archive(d.dir.path(), "vtest-bb:latest");

    let out = d.docker(&["load", "-i", archive.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Loaded image: vtest-bb:latest"));

    let out = d.docker(&["images"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("vtest-bb"), "{}", stdout(&out));

    let out = d.docker(&["image", "inspect", "vtest-bb"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["RepoTags"][0], "vtest-bb:latest");
    assert_eq!(v[0]["RootFS"]["Type"], "layers");
    assert_eq!(v[0]["Config"]["Cmd"][0], "sh");
    let out = d.docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Os}}/{{.Architecture}}",
        "vtest-bb",
    ]);
    assert_eq!(stdout(&out).trim(), "linux/amd64");

    let out = d.docker(&["tag", "vtest-bb", "vtest-bb:v2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = d.docker(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let listed = stdout(&out);
    assert!(
        listed.contains("vtest-bb:v2") && listed.contains("vtest-bb:latest"),
        "{listed}"
    );
    let out = d.docker(&[
        "images",
        "--filter",
        "reference=*:v2",
        "--format",
        "{{.Tag}}",
    ]);
    assert_eq!(stdout(&out).trim(), "v2");

    let out = d.docker(&["history", "vtest-bb"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("test rootfs"));

    let saved = d.dir.path().join("saved.tar");
    let out = d.docker(&["save", "-o", saved.to_str().unwrap(), "vtest-bb:v2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut names = Vec::new();
    let mut ar = tar::Archive::new(std::fs::File::open(&saved).unwrap());
    for e in ar.entries().unwrap() {
        names.push(e.unwrap().path().unwrap().to_string_lossy().into_owned());
    }
    assert!(names.contains(&"manifest.json".to_owned()), "{names:?}");

    let out = d.docker(&["rmi", "vtest-bb:v2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Untagged: vtest-bb:v2"));

    let out = d.docker(&["rmi", "vtest-nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no such image"), "{}", stderr(&out));

    let out = d.docker(&[
        "save",
        "-o",
        d.dir.path().join("x.tar").to_str().unwrap(),
        "nosuch",
    ]);
    assert!(!out.status.success());

    let out = d.docker(&["rmi", "vtest-bb"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Deleted: sha256:"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn docker_import_and_prune() {
    let d = TestDaemon::start();
    let rootfs = d.dir.path().join("rootfs.tar");
    std::fs::write(&rootfs, common::rootfs_tar()).unwrap();
    let out = d.docker(&[
        "import",
        "-c",
        "CMD [\"sh\"]",
        "-m",
        "from a test",
        rootfs.to_str().unwrap(),
        "vtest-imported:v1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).trim().starts_with("sha256:"),
        "{}",
        stdout(&out)
    );
    let out = d.docker(&[
        "image",
        "inspect",
        "-f",
        "{{.Comment}} {{.Config.Cmd}}",
        "vtest-imported:v1",
    ]);
    assert_eq!(stdout(&out).trim(), "from a test [sh]");

    // Tagged twice, so not dangling: plain prune keeps it, prune -a removes it.
    let out = d.docker(&["tag", "vtest-imported:v1", "vtest-other"]);
    assert!(out.status.success());
    let out = d.docker(&["image", "prune", "-f"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Total reclaimed space: 0B"),
        "{}",
        stdout(&out)
    );
    let out = d.docker(&["image", "prune", "-a", "-f"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("deleted: sha256:"),
        "{}",
        stdout(&out)
    );
    let out = d.docker(&["images", "-q"]);
    assert_eq!(stdout(&out).trim(), "");
}

#[test]
fn docker_reports_missing_features_clearly() {
    let d = TestDaemon::start();
    let out = d.docker(&["pull", "busybox"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("pulling from registries is not supported yet"),
        "{}",
        stderr(&out)
    );
    let out = d.docker(&["diff", "nothing-here"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not implemented yet: GET /containers/nothing-here/changes"),
        "{}",
        stderr(&out)
    );
    // Networks are there; the pre-defined ones cannot be removed.
    let out = d.docker(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).split_whitespace().collect::<Vec<_>>(),
        ["host", "none"]
    );
    let out = d.docker(&["network", "rm", "host"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("pre-defined network"),
        "{}",
        stderr(&out)
    );
}
