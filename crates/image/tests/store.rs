//! Root integration tests: real overlay mounts, chroot, and podman as the interop peer.
//! Each test uses names unique to this process and cleans up in Drop guards.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use vessel_image::{ImageStore, ImageUser, RemoveEvent, RootfsMode};

fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    eprintln!("note: skipping {test}: needs root (overlay mounts, mknod, chown)");
    false
}

fn sha(b: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

/// A temp dir that unmounts anything left under it before deleting it.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Scratch {
        Scratch(
            tempfile::Builder::new()
                .prefix("vessel-image-test-")
                .tempdir()
                .unwrap(),
        )
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let base = self.0.path().to_string_lossy().into_owned();
        let mi = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut mounts: Vec<&str> = mi
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|m| m.starts_with(&base))
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in mounts {
            let _ = nix::mount::umount2(m, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

fn mounted_under(p: &Path) -> bool {
    let s = p.to_string_lossy();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|m| m.starts_with(&*s))
}

enum E<'a> {
    File(&'a str, &'a [u8], u32),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
}

fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        match e {
            E::File(p, d, mode) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(*mode);
                h.set_size(d.len() as u64);
                b.append_data(&mut h, p, *d).unwrap();
            }
            E::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
            E::Symlink(p, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p, t).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    g.write_all(b).unwrap();
    g.finish().unwrap()
}

/// Layer 1: busybox + applets + /opt/old. Layer 2 (gzip): a file, a whiteout of `cat`, and
/// an opaque /opt with a new file.
fn busybox_layers() -> (Vec<u8>, Vec<u8>) {
    let bb = fs::read("/bin/busybox").unwrap();
    let l1 = tar_of(&[
        E::Dir("bin/"),
        E::File("bin/busybox", &bb, 0o755),
        E::Symlink("bin/sh", "busybox"),
        E::Symlink("bin/echo", "busybox"),
        E::Symlink("bin/cat", "busybox"),
        E::Symlink("bin/ls", "busybox"),
        E::Dir("opt/"),
        E::File("opt/old", b"old", 0o644),
    ]);
    let l2 = tar_of(&[
        E::File("hello.txt", b"hi\n", 0o644),
        E::Dir("bin/"),
        E::File("bin/.wh.cat", b"", 0o644),
        E::Dir("opt/"),
        E::File("opt/.wh..wh..opq", b"", 0o644),
        E::File("opt/new", b"new", 0o644),
    ]);
    (l1, l2)
}

fn docker_archive(tag: &str, layers: &[Vec<u8>], compress_last: bool) -> Vec<u8> {
    let diff_ids: Vec<String> = layers.iter().map(|l| sha(l)).collect();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/sh"], "Labels": {"test": "yes"}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": layers.iter().enumerate().map(|(i, _)| serde_json::json!({"created_by": format!("layer {i}")})).collect::<Vec<_>>(),
    })
    .to_string();
    let cfg_hex = sha(config.as_bytes())[7..].to_string();
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |p: &str, d: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, p, d).unwrap();
    };
    let mut paths = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let p = format!("l{i}/layer.tar");
        if compress_last && i == layers.len() - 1 {
            add(&p, &gzip(l));
        } else {
            add(&p, l);
        }
        paths.push(p);
    }
    add(&format!("{cfg_hex}.json"), config.as_bytes());
    let manifest = serde_json::json!([{"Config": format!("{cfg_hex}.json"), "RepoTags": [tag], "Layers": paths}]);
    add("manifest.json", manifest.to_string().as_bytes());
    b.into_inner().unwrap()
}

fn podman() -> bool {
    Command::new("podman")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Removes the named podman images (each name on its own: a missing one must not keep the
/// others alive).
struct PodmanImage(Vec<String>);
impl Drop for PodmanImage {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new("podman").args(["rmi", "-f", n]).output();
        }
    }
}

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn load_prepare_save_roundtrip_with_podman() {
    if !root_or_skip("load_prepare_save_roundtrip_with_podman") {
        return;
    }
    let pid = std::process::id();
    let tmp = Scratch::new();
    let store = ImageStore::open(&tmp.path().join("store")).unwrap();
    let (l1, l2) = busybox_layers();
    let name = format!("busybox-test-{pid}");
    let archive = docker_archive(&format!("{name}:latest"), &[l1.clone(), l2.clone()], true);
    let loaded = store.load(&mut &archive[..]).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].repo_tags, vec![format!("{name}:latest")]);
    let id = loaded[0].id.clone();
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].repo_tags, vec![format!("{name}:latest")]);
    assert_eq!(list[0].labels["test"], "yes");
    assert_eq!(store.inspect(&id[7..9]).unwrap().summary.id, id);
    assert_eq!(
        store
            .inspect(&format!("docker.io/library/{name}"))
            .unwrap()
            .diff_ids
            .len(),
        2
    );
    assert_eq!(store.history(&name).unwrap()[0].created_by, "layer 1");
    // Loading again is idempotent.
    assert_eq!(store.load(&mut &archive[..]).unwrap()[0].id, id);

    let cid = format!("c-{pid}");
    let merged = store.prepare_rootfs(&id, &cid).unwrap();
    assert_eq!(
        store.prepare_rootfs(&id, &cid).unwrap(),
        merged,
        "idempotent"
    );
    assert!(mounted_under(&merged));
    assert!(merged.join("bin/busybox").is_file());
    assert!(
        fs::symlink_metadata(merged.join("bin/cat")).is_err(),
        "whiteout applied"
    );
    assert!(fs::symlink_metadata(merged.join("bin/ls")).is_ok());
    assert!(
        !merged.join("opt/old").exists(),
        "opaque dir hides lower content"
    );
    assert_eq!(fs::read(merged.join("opt/new")).unwrap(), b"new");
    let out = run(Command::new("chroot")
        .arg(&merged)
        .args(["/bin/busybox", "echo", "ok"]));
    assert_eq!(out.trim(), "ok");
    fs::write(merged.join("written"), b"x").unwrap();

    // The daemon reports the container: removal is refused and names it.
    let user = |i: &str| {
        (i == id).then(|| ImageUser {
            container: cid.clone(),
            running: false,
        })
    };
    let e = store
        .remove_with(&name, false, &user)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&cid) && e.contains("conflict"), "{e}");

    store.remove_rootfs(&cid).unwrap();
    store.remove_rootfs(&cid).unwrap();
    assert!(!mounted_under(&merged));
    assert!(!merged.exists());

    // save → load into a second store: same id.
    let saved = tmp.path().join("saved.tar");
    store
        .save(
            std::slice::from_ref(&name),
            &mut fs::File::create(&saved).unwrap(),
        )
        .unwrap();
    let store2 = ImageStore::open(&tmp.path().join("store2")).unwrap();
    let again = store2.load(&mut fs::File::open(&saved).unwrap()).unwrap();
    assert_eq!(again[0].id, id);
    assert_eq!(again[0].repo_tags, vec![format!("{name}:latest")]);

    if podman() {
        // podman names a short tag from an archive localhost/…; docker would use docker.io.
        let _g = PodmanImage(vec![
            format!("localhost/{name}:latest"),
            format!("docker.io/library/{name}:latest"),
        ]);
        let out = run(Command::new("podman").args(["load", "-i"]).arg(&saved));
        assert!(out.contains(&name), "{out}");
        let pid_id =
            run(Command::new("podman").args(["image", "inspect", "--format", "{{.Id}}", &name]));
        assert_eq!(
            format!("sha256:{}", pid_id.trim()),
            id,
            "podman sees the same image id"
        );
    } else {
        eprintln!("note: podman not installed, skipping podman load");
    }

    // tag / remove semantics.
    store.tag(&name, "other:v1").unwrap();
    assert_eq!(
        store.remove("other:v1", false).unwrap(),
        vec![RemoveEvent::Untagged("other:v1".into())]
    );
    let ev = store.remove(&name, false).unwrap();
    assert_eq!(ev[0], RemoveEvent::Untagged(format!("{name}:latest")));
    assert_eq!(ev[1], RemoveEvent::Deleted(id.clone()));
    assert!(store.list().unwrap().is_empty());
    assert_eq!(
        fs::read_dir(tmp.path().join("store/blobs/sha256"))
            .unwrap()
            .count(),
        0,
        "gc"
    );
    assert_eq!(
        fs::read_dir(tmp.path().join("store/snapshots"))
            .unwrap()
            .count(),
        0,
        "gc"
    );
}

#[test]
fn bad_archives_commit_nothing() {
    if !root_or_skip("bad_archives_commit_nothing") {
        return;
    }
    let tmp = Scratch::new();
    let store = ImageStore::open(tmp.path()).unwrap();
    let (l1, _) = busybox_layers();
    // The config's diff id does not match the layer.
    let good = docker_archive("good:1", std::slice::from_ref(&l1), false);
    let bad_layer = tar_of(&[E::File("x", b"y", 0o644)]);
    let cfg_for_other = docker_archive("bad:1", std::slice::from_ref(&bad_layer), false);
    // Splice: take archive built for `bad_layer` but replace its layer by l1 → mismatch.
    let mut ar = tar::Archive::new(&cfg_for_other[..]);
    let mut b = tar::Builder::new(Vec::new());
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        if p.ends_with("layer.tar") {
            data = l1.clone();
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, &p, &data[..]).unwrap();
    }
    let mismatched = b.into_inner().unwrap();
    let e = store.load(&mut &mismatched[..]).unwrap_err().to_string();
    assert!(e.contains("diff id") && e.contains(&sha(&bad_layer)), "{e}");
    // A layer escaping through a symlink.
    let evil = tar_of(&[
        E::Symlink("a", "/etc"),
        E::File("a/passwd", b"pwned", 0o644),
    ]);
    let evil_ar = docker_archive("evil:1", &[evil], false);
    let e = store.load(&mut &evil_ar[..]).unwrap_err().to_string();
    assert!(e.contains("symlink") && e.contains("a/passwd"), "{e}");
    let e = store.load(&mut &b"not a tar"[..]).unwrap_err().to_string();
    assert!(!e.is_empty());
    assert!(store.list().unwrap().is_empty());
    for d in ["blobs/sha256", "snapshots"] {
        assert_eq!(
            fs::read_dir(tmp.path().join(d)).unwrap().count(),
            0,
            "{d} is empty"
        );
    }
    // And the good one still loads.
    assert_eq!(store.load(&mut &good[..]).unwrap().len(), 1);
}

#[test]
fn deep_chain_and_copy_fallback() {
    if !root_or_skip("deep_chain_and_copy_fallback") {
        return;
    }
    let tmp = Scratch::new();
    // A long root path makes absolute lowerdirs overflow the one-page mount option limit.
    let root: PathBuf = tmp.path().join("x".repeat(200)).join("store");
    let store = ImageStore::open(&root).unwrap();
    let layers: Vec<Vec<u8>> = (0..60)
        .map(|i| tar_of(&[E::File(&format!("f{i}"), format!("{i}").as_bytes(), 0o644)]))
        .collect();
    let archive = docker_archive("deep:1", &layers, false);
    let id = store.load(&mut &archive[..]).unwrap()[0].id.clone();
    let cid = format!("deep-{}", std::process::id());
    let merged = store.prepare_rootfs(&id, &cid).unwrap();
    assert!(mounted_under(&merged));
    for i in 0..60 {
        assert_eq!(
            fs::read_to_string(merged.join(format!("f{i}"))).unwrap(),
            i.to_string()
        );
    }
    let mut exported = Vec::new();
    store.export_rootfs(&cid, &mut exported).unwrap();
    let names: Vec<String> = tar::Archive::new(&exported[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.contains(&"f59".to_string()), "{names:?}");
    store.remove_rootfs(&cid).unwrap();
    assert!(!mounted_under(&root));

    let copy = ImageStore::open_with(&tmp.path().join("copy"), RootfsMode::Copy).unwrap();
    let (l1, l2) = busybox_layers();
    let id = copy
        .load(&mut &docker_archive("cp:1", &[l1, l2], false)[..])
        .unwrap()[0]
        .id
        .clone();
    let m = copy.prepare_rootfs(&id, &cid).unwrap();
    assert!(!mounted_under(&m));
    assert!(m.join("bin/busybox").is_file());
    assert!(fs::symlink_metadata(m.join("bin/cat")).is_err());
    assert!(!m.join("opt/old").exists() && m.join("opt/new").exists());
    assert_eq!(
        fs::read_link(m.join("bin/sh")).unwrap(),
        Path::new("busybox")
    );
    copy.remove_rootfs(&cid).unwrap();
    assert!(!m.exists());
}

#[test]
fn import_and_podman_archives() {
    if !root_or_skip("import_and_podman_archives") {
        return;
    }
    let pid = std::process::id();
    let tmp = Scratch::new();
    let store = ImageStore::open(&tmp.path().join("store")).unwrap();
    let (l1, _) = busybox_layers();
    let rootfs = tmp.path().join("rootfs.tar.gz");
    fs::write(&rootfs, gzip(&l1)).unwrap();
    let imported = store
        .import_rootfs(
            &mut fs::File::open(&rootfs).unwrap(),
            Some(&format!("imp-{pid}:v1")),
            &["CMD [\"/bin/sh\"]".into(), "ENV A=1".into()],
            Some("from test"),
        )
        .unwrap();
    let d = store.inspect(&format!("imp-{pid}:v1")).unwrap();
    assert_eq!(d.config["config"]["Cmd"][0], "/bin/sh");
    assert_eq!(d.diff_ids, vec![sha(&l1)]);
    assert_eq!(store.history(&imported.id).unwrap()[0].comment, "from test");
    assert_eq!(
        store.image_config(&imported.id).unwrap().os().to_string(),
        "linux"
    );

    if !podman() {
        eprintln!("note: podman not installed, skipping podman archives");
        return;
    }
    let name = format!("localhost/vessel-imp-{pid}:latest");
    let _g = PodmanImage(vec![name.clone()]);
    run(Command::new("podman")
        .args(["import", "--quiet"])
        .arg(&rootfs)
        .arg(&name));
    for (fmt, want_tag) in [("docker-archive", true), ("oci-archive", false)] {
        let out = tmp.path().join(format!("{fmt}.tar"));
        run(Command::new("podman")
            .args(["save", "--format", fmt, "-o"])
            .arg(&out)
            .arg(&name));
        let loaded = store.load(&mut fs::File::open(&out).unwrap()).unwrap();
        assert_eq!(loaded.len(), 1, "{fmt}");
        if want_tag {
            assert_eq!(
                loaded[0].repo_tags,
                vec![format!("localhost/vessel-imp-{pid}:latest")]
            );
        }
        let cid = format!("p-{fmt}-{pid}");
        let m = store.prepare_rootfs(&loaded[0].id, &cid).unwrap();
        assert!(m.join("bin/busybox").is_file(), "{fmt}");
        store.remove_rootfs(&cid).unwrap();
    }
}

#[test]
fn prefix_ambiguity_and_prune() {
    if !root_or_skip("prefix_ambiguity_and_prune") {
        return;
    }
    let tmp = Scratch::new();
    let store = ImageStore::open(tmp.path()).unwrap();
    let mut ids = Vec::new();
    for i in 0..20 {
        let l = tar_of(&[E::File("f", format!("{i}").as_bytes(), 0o644)]);
        ids.push(
            store
                .load(&mut &docker_archive(&format!("p{i}:1"), &[l], false)[..])
                .unwrap()[0]
                .id
                .clone(),
        );
    }
    // 20 ids over 16 hex digits: some first digit is shared.
    let shared = (0..16)
        .map(|d| format!("{d:x}"))
        .find(|p| {
            ids.iter()
                .filter(|i| i[7..].starts_with(p.as_str()))
                .count()
                > 1
        })
        .unwrap();
    let e = store.inspect(&shared).unwrap_err();
    assert!(
        matches!(e, vessel_image::ImageError::AmbiguousId { .. }),
        "{e}"
    );
    store.remove("p0:1", false).unwrap();
    store.tag("p1:1", "p1:2").unwrap();
    store.remove("p1:1", false).unwrap();
    let busy = ids[2].clone();
    let in_use = |i: &str| {
        (i == busy).then(|| ImageUser {
            container: "c".into(),
            running: true,
        })
    };
    assert!(
        store.prune(true, &in_use).unwrap().deleted.is_empty(),
        "nothing dangling"
    );
    let r = store.prune(false, &in_use).unwrap();
    assert_eq!(store.list().unwrap().len(), 1);
    assert!(r.space_reclaimed > 0);
    let e = store
        .remove_with(&busy, true, &in_use)
        .unwrap_err()
        .to_string();
    assert!(e.contains("running container c"), "{e}");
}
