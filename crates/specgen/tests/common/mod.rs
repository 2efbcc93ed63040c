#![allow(dead_code)]

use oci_spec::runtime::{LinuxDeviceType, Spec};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use vessel_specgen::{ContainerCreate, DeviceLookup, HostNode, ImageConfig};

pub const ID: &str = "b7d5f0c2a1e94f3b8c6d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b";

pub fn fixture(name: &str) -> ContainerCreate {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// busybox's image config, as `docker image inspect bb` shows it.
pub fn busybox() -> ImageConfig {
    serde_json::from_value(serde_json::json!({
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["sh"],
        "WorkingDir": "",
        "Entrypoint": null,
        "Labels": null
    }))
    .unwrap()
}

/// A rootfs with /etc/passwd and /etc/group like busybox's.
pub fn rootfs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(
        dir.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("etc/group"),
        "root:x:0:\nwheel:x:10:root\nwww-data:x:33:\nvideo:x:44:\nnogroup:x:65534:\n",
    )
    .unwrap();
    dir
}

#[derive(Default)]
pub struct FakeDevices(pub BTreeMap<PathBuf, HostNode>);

impl FakeDevices {
    pub fn chr(mut self, path: &str, major: i64, minor: i64) -> Self {
        self.0.insert(
            path.into(),
            HostNode::Device {
                typ: LinuxDeviceType::C,
                major,
                minor,
                mode: 0o666,
            },
        );
        self
    }
}

impl DeviceLookup for FakeDevices {
    fn stat(&self, path: &Path) -> io::Result<HostNode> {
        if let Some(n) = self.0.get(path) {
            return Ok(*n);
        }
        if self.0.keys().any(|k| k.starts_with(path)) {
            return Ok(HostNode::Directory);
        }
        Err(io::ErrorKind::NotFound.into())
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out: Vec<PathBuf> = self
            .0
            .keys()
            .filter_map(|k| {
                k.strip_prefix(path)
                    .ok()
                    .and_then(|r| r.components().next())
                    .map(|c| path.join(c))
            })
            .collect();
        out.dedup();
        Ok(out)
    }
}

/// The spec must survive a JSON round trip through oci-spec unchanged (what the runtime reads).
pub fn roundtrip(spec: &Spec) {
    let json = serde_json::to_string_pretty(spec).unwrap();
    let back: Spec = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, spec);
}

pub fn mount_dests(spec: &Spec) -> Vec<String> {
    spec.mounts()
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| m.destination().display().to_string())
        .collect()
}

pub fn mount<'a>(spec: &'a Spec, dest: &str) -> &'a oci_spec::runtime::Mount {
    spec.mounts()
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.destination() == Path::new(dest))
        .unwrap()
}

pub fn env(spec: &Spec) -> &[String] {
    spec.process().as_ref().unwrap().env().as_deref().unwrap()
}

pub fn args(spec: &Spec) -> Vec<String> {
    spec.process().as_ref().unwrap().args().clone().unwrap()
}

pub fn syscall_rules(spec: &Spec, name: &str) -> usize {
    spec.linux()
        .as_ref()
        .unwrap()
        .seccomp()
        .as_ref()
        .unwrap()
        .syscalls()
        .as_ref()
        .unwrap()
        .iter()
        .filter(|r| r.names().iter().any(|n| n == name))
        .count()
}
