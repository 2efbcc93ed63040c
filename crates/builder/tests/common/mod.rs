//! Shared fixtures: a temp image store with a busybox base image, unmounted and removed on
//! drop even when a test fails.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vessel_builder::{build, BuildError, BuildOptions, BuildResult, Context, Event, RunConfig};
use vessel_image::ImageStore;

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Skip (with a note) unless root with /bin/busybox: builds mount overlays and run containers.
#[macro_export]
macro_rules! require_root {
    () => {
        if !common::is_root() || !std::path::Path::new("/bin/busybox").is_file() {
            eprintln!("skipped: needs root and /bin/busybox");
            return;
        }
    };
}

pub struct TestStore {
    pub store: ImageStore,
    dir: tempfile::TempDir,
}

impl Drop for TestStore {
    fn drop(&mut self) {
        // Anything still mounted under the store (a failed test) is detached before removal.
        let root = self.store.root().to_path_buf();
        if let Ok(mi) = std::fs::read_to_string("/proc/self/mountinfo") {
            let mut points: Vec<&str> = mi
                .lines()
                .filter_map(|l| l.split(' ').nth(4))
                .filter(|p| Path::new(p).starts_with(&root))
                .collect();
            points.sort_by_key(|p| std::cmp::Reverse(p.len()));
            for p in points {
                if let Ok(c) = std::ffi::CString::new(p) {
                    // SAFETY: a valid C string; MNT_DETACH never blocks.
                    unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
                }
            }
        }
        let _ = &self.dir;
    }
}

const APPLETS: &[&str] = &[
    "sh", "ls", "cat", "echo", "rm", "mkdir", "test", "touch", "id", "env", "true", "false", "wc",
    "grep", "sleep", "printf",
];

/// A tar of a minimal busybox rootfs.
pub fn busybox_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let dir = |b: &mut tar::Builder<Vec<u8>>, p: &str| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(if p == "tmp" { 0o1777 } else { 0o755 });
        h.set_size(0);
        h.set_mtime(1_600_000_000);
        b.append_data(&mut h, p, std::io::empty()).unwrap();
    };
    let file = |b: &mut tar::Builder<Vec<u8>>, p: &str, data: &[u8], mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Regular);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(1_600_000_000);
        b.append_data(&mut h, p, data).unwrap();
    };
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "root"] {
        dir(&mut b, d);
    }
    let bb = std::fs::read("/bin/busybox").unwrap();
    file(&mut b, "bin/busybox", &bb, 0o755);
    for a in APPLETS {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        h.set_mtime(1_600_000_000);
        b.append_link(&mut h, format!("bin/{a}"), "busybox")
            .unwrap();
    }
    file(
        &mut b,
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
        0o644,
    );
    file(&mut b, "etc/group", b"root:x:0:\napp:x:1000:\n", 0o644);
    file(&mut b, "etc/motd", b"welcome\n", 0o644);
    b.into_inner().unwrap()
}

/// A fresh store with `base:latest` (busybox).
pub fn store_with_base() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let tar = busybox_tar();
    store
        .import_rootfs(
            &mut &tar[..],
            Some("base:latest"),
            &["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
            None,
        )
        .unwrap();
    TestStore { store, dir }
}

/// A context directory from (path, content) pairs.
pub fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (p, c) in files {
        let full = d.path().join(p);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, c).unwrap();
    }
    d
}

pub fn options(ts: &TestStore) -> BuildOptions {
    BuildOptions::new(RunConfig::default_for(ts.store.root()))
}

pub struct Outcome {
    pub result: Result<BuildResult, BuildError>,
    pub output: String,
    pub aux: Vec<String>,
}

pub fn run_build(ts: &TestStore, ctx: &Path, opts: &BuildOptions) -> Outcome {
    let c = Context::from_dir(ctx).unwrap();
    let mut output = String::new();
    let mut aux = Vec::new();
    let result = build(&ts.store, &c, opts, &mut |ev: Event| match ev {
        Event::Stream(s) => output.push_str(&s),
        Event::Aux(id) => aux.push(id),
    });
    Outcome {
        result,
        output,
        aux,
    }
}

/// Mount the image, read `path`, unmount.
pub fn read_in_image(ts: &TestStore, image: &str, paths: &[&str]) -> Vec<Option<Vec<u8>>> {
    let cid = format!("read-{}", std::process::id());
    let cid = format!("{cid}-{}", paths.len() + image.len());
    let merged: PathBuf = ts.store.prepare_rootfs(image, &cid).unwrap();
    let out = paths
        .iter()
        .map(|p| std::fs::read(merged.join(p.trim_start_matches('/'))).ok())
        .collect();
    ts.store.remove_rootfs(&cid).unwrap();
    out
}

pub fn config(ts: &TestStore, image: &str) -> serde_json::Value {
    serde_json::from_slice(&ts.store.config_bytes(image).unwrap()).unwrap()
}

pub fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Mounts under `root` still present.
pub fn mounts_under(root: &Path) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| Path::new(p).starts_with(root))
        .map(str::to_string)
        .collect()
}
