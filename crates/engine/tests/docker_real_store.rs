//! The real docker CLI against the daemon over the real image store (vessel-image).

mod common;

use common::{busybox_archive, stderr, stdout, TestDaemon};

#[test]
fn load_inspect_tag_save_rmi_with_the_real_store() {
    let d = TestDaemon::start_real();
    let archive = busybox_archive(d.dir.path(), "vtest-real:latest");
    let out = d.docker(&["load", "-i", archive.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Loaded image: vtest-real:latest"),
        "{}",
        stdout(&out)
    );

    let out = d.docker(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert!(
        stdout(&out).contains("vtest-real:latest"),
        "{}",
        stdout(&out)
    );

    let out = d.docker(&["image", "inspect", "vtest-real"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(v[0]["Config"]["Cmd"][0], "sh");
    assert!(v[0]["Size"].as_u64().unwrap() > 0);

    let out = d.docker(&["tag", "vtest-real", "vtest-real:v2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = d.docker(&["history", "vtest-real:v2"]);
    assert!(out.status.success(), "{}", stderr(&out));

    // A save is readable by a load into a fresh daemon.
    let saved = d.dir.path().join("saved.tar");
    let out = d.docker(&["save", "-o", saved.to_str().unwrap(), "vtest-real:v2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let d2 = TestDaemon::start_real();
    let out = d2.docker(&["load", "-i", saved.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("vtest-real:v2"), "{}", stdout(&out));

    let out = d.docker(&["rmi", "vtest-real:v2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("Untagged: vtest-real:v2"));
    let out = d.docker(&["rmi", "vtest-real:nope"]);
    assert_eq!(out.status.code(), Some(1));

    let rootfs = d.dir.path().join("rootfs.tar");
    std::fs::write(&rootfs, common::rootfs_tar()).unwrap();
    let out = d.docker(&[
        "import",
        "-c",
        "CMD [\"sh\"]",
        rootfs.to_str().unwrap(),
        "vtest-imp:v1",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = d.docker(&["image", "inspect", "-f", "{{.Config.Cmd}}", "vtest-imp:v1"]);
    assert_eq!(stdout(&out).trim(), "[sh]", "{}", stderr(&out));

    // A body that is not an archive is the client's fault: 400, and the daemon goes on.
    let junk = d.dir.path().join("junk.tar");
    std::fs::write(&junk, b"this is not a tar archive at all").unwrap();
    let out = d.docker(&["load", "-i", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    let out = d.docker(&["version"]);
    assert!(out.status.success());
}
