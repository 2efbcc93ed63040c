//! cgroup v1 (and hybrid hosts, where the container uses the v1 controllers).

mod blkio;
mod cpu;
mod cpuset;
mod devices;
mod freezer;
mod hugetlb;
mod memory;
pub mod mounts;
mod net;
pub(crate) mod pids;
pub(crate) mod stats;

use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxMemory, LinuxResources};

use crate::fs::{create_dir_all, read_pids_recursive, remove_tree, write};
use crate::path::{join_mount, requested};
use crate::{CgroupError, CgroupManager, FreezerState, OwnCgroups, Stats};
pub use mounts::V1Mount;

pub(crate) use blkio::throttles;
pub(crate) use hugetlb::check_page_size;

/// Hierarchies the container joins, in runc's apply order (cpuset before memory so
/// memory migration sees the final nodes; freezer last).
const CONTROLLERS: &[&str] = &[
    "cpuset",
    "devices",
    "memory",
    "cpu",
    "cpuacct",
    "pids",
    "blkio",
    "hugetlb",
    "net_cls",
    "net_prio",
    "perf_event",
    "freezer",
    "rdma",
    "misc",
    "name=systemd",
];

#[derive(Debug, Clone)]
struct Controller {
    name: &'static str,
    dir: PathBuf,
    mount_point: PathBuf,
}

#[derive(Debug)]
pub struct V1Manager {
    path: PathBuf,
    controllers: Vec<Controller>,
}

impl V1Manager {
    /// Resolve `cgroups_path` in every mounted hierarchy. `own` supplies the runtime's
    /// cgroup per controller for relative paths; tests pass fake mounts and a fake map.
    pub fn new(
        mounts: &[V1Mount],
        own: &OwnCgroups,
        cgroups_path: Option<&Path>,
        container_id: &str,
    ) -> Result<Self, CgroupError> {
        let req = requested(cgroups_path, container_id)?;
        let mut controllers = Vec::new();
        let mut path = None;
        for &name in CONTROLLERS {
            let Some(m) = mounts
                .iter()
                .find(|m| m.controllers.iter().any(|c| c == name))
            else {
                continue;
            };
            let cg = req
                .resolve(own.controllers.get(name).map(PathBuf::as_path))
                .ok_or_else(|| CgroupError::OwnCgroupUnknown {
                    controller: name.to_string(),
                })?;
            if name == "memory" || path.is_none() {
                path = Some(cg.clone());
            }
            controllers.push(Controller {
                name,
                dir: join_mount(&m.mount_point, &m.root, &cg),
                mount_point: m.mount_point.clone(),
            });
        }
        let path = path.or_else(|| req.resolve(None)).unwrap_or_default();
        Ok(Self { path, controllers })
    }

    fn dir(&self, name: &str) -> Option<&Path> {
        self.controllers
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.dir.as_path())
    }

    fn require(&self, name: &'static str, resource: &'static str) -> Result<&Path, CgroupError> {
        self.dir(name).ok_or(CgroupError::ControllerNotMounted {
            controller: name,
            resource,
        })
    }

    /// Combined mounts (`cpu,cpuacct`) share a directory; visit it once.
    fn unique(&self) -> Vec<&Controller> {
        let mut out: Vec<&Controller> = Vec::new();
        for c in &self.controllers {
            if !out.iter().any(|o| o.dir == c.dir) {
                out.push(c);
            }
        }
        out
    }
}

impl CgroupManager for V1Manager {
    fn path(&self) -> &Path {
        &self.path
    }

    fn controller_paths(&self) -> Vec<(String, PathBuf)> {
        self.controllers
            .iter()
            .map(|c| (c.name.to_string(), c.dir.clone()))
            .collect()
    }

    fn create(&self) -> Result<(), CgroupError> {
        for c in self.unique() {
            if self.dir("cpuset") == Some(c.dir.as_path()) {
                cpuset::create(&c.mount_point, &c.dir)?;
            } else {
                create_dir_all(&c.dir)?;
            }
        }
        Ok(())
    }

    fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
            return Err(CgroupError::UnifiedRequiresV2);
        }
        if let Some(c) = r.cpu().as_ref().filter(|c| cpuset::needed(c)) {
            cpuset::apply(self.require("cpuset", "cpu.cpus/mems")?, c)?;
        }
        if let Some(d) = r.devices().as_ref().filter(|d| !d.is_empty()) {
            devices::apply(self.require("devices", "devices")?, d)?;
        }
        if let Some(m) = r
            .memory()
            .as_ref()
            .filter(|m| **m != LinuxMemory::default())
        {
            memory::apply(self.require("memory", "memory")?, m)?;
        }
        if let Some(c) = r.cpu().as_ref().filter(|c| cpu::needed(c)) {
            cpu::apply(self.require("cpu", "cpu")?, c)?;
        }
        if let Some(p) = r.pids() {
            pids::apply(self.require("pids", "pids")?, p)?;
        }
        if let Some(b) = r.block_io().as_ref().filter(|b| blkio::needed(b)) {
            blkio::apply(self.require("blkio", "blockIO")?, b)?;
        }
        if let Some(h) = r.hugepage_limits().as_ref().filter(|h| !h.is_empty()) {
            hugetlb::apply(self.require("hugetlb", "hugepageLimits")?, h)?;
        }
        // Network classification is advisory; hosts without net_cls/net_prio skip it.
        if let Some(n) = r.network() {
            if let Some(d) = self.dir("net_cls") {
                net::apply_cls(d, n)?;
            }
            if let Some(d) = self.dir("net_prio") {
                net::apply_prio(d, n)?;
            }
        }
        Ok(())
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        let pid = pid.to_string();
        for c in self.unique() {
            write(&c.dir, "cgroup.procs", &pid)?;
        }
        Ok(())
    }

    fn clone_into_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        freezer::set(self.require("freezer", "freeze")?, FreezerState::Frozen)
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        freezer::set(self.require("freezer", "thaw")?, FreezerState::Thawed)
    }

    fn freezer_state(&self) -> Result<FreezerState, CgroupError> {
        match self.dir("freezer") {
            Some(d) => freezer::state(d),
            None => Ok(FreezerState::Thawed),
        }
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let dir = ["pids", "freezer", "memory"]
            .iter()
            .find_map(|n| self.dir(n))
            .or_else(|| self.controllers.first().map(|c| c.dir.as_path()));
        match dir {
            Some(d) => read_pids_recursive(d),
            None => Ok(Vec::new()),
        }
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        let mut s = Stats::default();
        if let Some(d) = self.dir("cpuacct") {
            stats::cpuacct(d, &mut s.cpu)?;
        }
        if let Some(d) = self.dir("cpu") {
            stats::cpu(d, &mut s.cpu)?;
        }
        if let Some(d) = self.dir("cpuset") {
            stats::cpuset(d, &mut s.cpuset)?;
        }
        if let Some(d) = self.dir("memory") {
            stats::memory(d, &mut s.memory)?;
        }
        if let Some(d) = self.dir("pids") {
            stats::pids(d, &mut s.pids)?;
        }
        if let Some(d) = self.dir("blkio") {
            stats::blkio(d, &mut s.blkio)?;
        }
        if let Some(d) = self.dir("hugetlb") {
            s.hugetlb = stats::hugetlb(d)?.into_iter().collect();
        }
        Ok(s)
    }

    fn oom_kill_count(&self) -> Result<u64, CgroupError> {
        match self.dir("memory") {
            Some(d) => stats::oom_kills(d),
            None => Ok(0),
        }
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        let errors: Vec<CgroupError> = self
            .unique()
            .iter()
            .filter_map(|c| remove_tree(&c.dir).err())
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(CgroupError::Teardown { errors })
        }
    }
}

#[cfg(test)]
mod tests;
