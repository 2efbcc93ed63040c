//! cgroup v2 (unified hierarchy).

pub mod bpf;
mod cpu;
pub mod devices_ebpf;
mod freezer;
mod hugetlb;
mod io;
mod memory;
pub(crate) mod stats;
mod unified;

use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use oci_spec::runtime::{LinuxMemory, LinuxResources};

use crate::fs::{read_opt, read_pids_recursive, remove_tree, write};
use crate::path::{join_mount, requested};
use crate::{CgroupError, CgroupManager, FreezerState, Stats};

pub use cpu::shares_to_weight;
pub use io::blkio_weight_to_io;
pub use memory::swap_to_v2;

/// Controllers a container may need; enabled in every ancestor's subtree_control when
/// the parent offers them.
const WANTED: &[&str] = &["cpuset", "cpu", "io", "memory", "hugetlb", "pids"];

#[derive(Debug)]
pub struct V2Manager {
    root: PathBuf,
    path: PathBuf,
    dir: PathBuf,
    /// Opened once by `create` and reused for CLONE_INTO_CGROUP and BPF attach.
    fd: OnceLock<OwnedFd>,
}

impl V2Manager {
    /// `root` is the cgroup2 mount (a tempdir in tests); `own` is the runtime's cgroup
    /// from the `0::` line of /proc/self/cgroup, needed only for relative paths.
    pub fn new(
        root: &Path,
        own: Option<&Path>,
        cgroups_path: Option<&Path>,
        container_id: &str,
    ) -> Result<Self, CgroupError> {
        let req = requested(cgroups_path, container_id)?;
        let path = req
            .resolve(own)
            .ok_or_else(|| CgroupError::OwnCgroupUnknown {
                controller: "unified (0::)".to_string(),
            })?;
        let dir = join_mount(root, Path::new("/"), &path);
        Ok(Self {
            root: root.to_path_buf(),
            path,
            dir,
            fd: OnceLock::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn open_dir(&self) -> Result<OwnedFd, CgroupError> {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(&self.dir)
            .map(|f: File| f.into())
            .map_err(|source| CgroupError::Open {
                path: self.dir.clone(),
                source,
            })
    }

    fn apply_devices(
        &self,
        rules: &[oci_spec::runtime::LinuxDeviceCgroup],
    ) -> Result<(), CgroupError> {
        let prog = devices_ebpf::device_filter(rules)?;
        let opened;
        let fd = match self.fd.get() {
            Some(fd) => fd.as_fd(),
            None => {
                opened = self.open_dir()?;
                opened.as_fd()
            }
        };
        bpf::replace(&bpf::Kernel, fd, &prog)
    }
}

/// Enable the wanted controllers `dir` offers in its subtree_control. Failures are
/// tolerated like runc: a controller that cannot be enabled (rootless, threaded, busy)
/// surfaces later as a clear ENOENT on the file the spec needs.
fn enable_controllers(dir: &Path) -> Result<(), CgroupError> {
    let Some(available) = read_opt(dir, "cgroup.controllers")? else {
        return Ok(());
    };
    let enabled = read_opt(dir, "cgroup.subtree_control")?.unwrap_or_default();
    let missing: Vec<String> = WANTED
        .iter()
        .filter(|c| available.split_whitespace().any(|a| a == **c))
        .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if write(dir, "cgroup.subtree_control", &missing.join(" ")).is_err() {
        for c in &missing {
            let _ = write(dir, "cgroup.subtree_control", c);
        }
    }
    Ok(())
}

impl CgroupManager for V2Manager {
    fn path(&self) -> &Path {
        &self.path
    }

    fn controller_paths(&self) -> Vec<(String, PathBuf)> {
        vec![(String::new(), self.dir.clone())]
    }

    fn create(&self) -> Result<(), CgroupError> {
        let rel = self.dir.strip_prefix(&self.root).unwrap_or(Path::new(""));
        let mut cur = self.root.clone();
        for comp in rel.components() {
            enable_controllers(&cur)?;
            cur.push(comp);
            match std::fs::create_dir(&cur) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                    return Err(CgroupError::CreateDir {
                        path: cur,
                        source: e,
                    })
                }
                _ => {}
            }
        }
        if self.fd.get().is_none() {
            let _ = self.fd.set(self.open_dir()?);
        }
        Ok(())
    }

    fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        let dir = &self.dir;
        if let Some(c) = r.cpu() {
            cpu::apply_cpuset(dir, c)?;
            cpu::apply(dir, c)?;
        }
        if let Some(m) = r
            .memory()
            .as_ref()
            .filter(|m| **m != LinuxMemory::default())
        {
            memory::apply(dir, m)?;
        }
        if let Some(p) = r.pids() {
            crate::v1::pids::apply(dir, p)?;
        }
        if let Some(b) = r.block_io() {
            io::apply(dir, b)?;
        }
        if let Some(h) = r.hugepage_limits() {
            hugetlb::apply(dir, h)?;
        }
        if let Some(d) = r.devices() {
            self.apply_devices(d)?;
        }
        // net_cls/net_prio do not exist on v2 (runc ignores `network` there too).
        // Unified goes last so explicit file values override the converted ones.
        if let Some(u) = r.unified() {
            unified::apply(dir, u)?;
        }
        Ok(())
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        write(&self.dir, "cgroup.procs", &pid.to_string())
    }

    fn clone_into_fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.get().map(AsFd::as_fd)
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        freezer::set(&self.dir, FreezerState::Frozen)
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        freezer::set(&self.dir, FreezerState::Thawed)
    }

    fn freezer_state(&self) -> Result<FreezerState, CgroupError> {
        freezer::state(&self.dir)
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        read_pids_recursive(&self.dir)
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        let mut s = Stats::default();
        stats::cpu(&self.dir, &mut s.cpu)?;
        stats::cpuset(&self.dir, &mut s.cpuset)?;
        stats::memory(&self.dir, &mut s.memory)?;
        stats::pids(&self.dir, &mut s.pids)?;
        stats::io(&self.dir, &mut s.blkio)?;
        s.hugetlb = stats::hugetlb(&self.dir)?.into_iter().collect();
        Ok(s)
    }

    fn oom_kill_count(&self) -> Result<u64, CgroupError> {
        stats::oom_kills(&self.dir)
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        remove_tree(&self.dir)
    }
}

#[cfg(test)]
mod tests;
