//! Fake cgroupfs trees: a tempdir holding the files a controller writes.

use oci_spec::runtime::{LinuxCpu, LinuxResources};
use tempfile::TempDir;

pub(crate) fn fake(files: &[&str]) -> TempDir {
    let d = tempfile::tempdir().unwrap();
    for f in files {
        let p = d.path().join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "").unwrap();
    }
    d
}

pub(crate) fn put(d: &TempDir, file: &str, content: &str) {
    let p = d.path().join(file);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

pub(crate) fn get(d: &TempDir, file: &str) -> String {
    std::fs::read_to_string(d.path().join(file))
        .unwrap()
        .trim()
        .to_string()
}

pub(crate) fn cpu(json: &str) -> LinuxCpu {
    serde_json::from_str(json).unwrap()
}

pub(crate) fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}
