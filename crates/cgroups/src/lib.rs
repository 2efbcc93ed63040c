//! cgroups v1 and v2 for Vessel: create a container's cgroup, apply OCI `linux.resources`,
//! freeze/thaw, list pids, read stats, remove. Each controller is a plain function of
//! (resources, directory) so the v2 logic is unit-tested against a fake cgroupfs tree.
//! OWNED BY: cgroups helper — the public interface below is what the runtime calls.

use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cgroups: {0}")]
    Invalid(String),
}

/// Which hierarchy the host runs. Hybrid hosts (v1 controllers plus a v2 mount at
/// `unified`) count as v1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    V1 { root: PathBuf },
    V2 { root: PathBuf },
}

/// Detect the hierarchy mounted at `/sys/fs/cgroup`.
pub fn detect() -> Result<Hierarchy, CgroupError> {
    Err(CgroupError::Invalid("not implemented".into()))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum FreezerState {
    Thawed,
    Freezing,
    Frozen,
}

/// runc-compatible stats (the `data` of `runc events --stats`).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {}

pub trait CgroupManager: Send + Sync {
    /// The cgroup's path relative to the hierarchy root (e.g. `/vessel/abc`).
    fn path(&self) -> &Path;
    /// Create the cgroup directories (every v1 controller, or the v2 dir with the
    /// controllers it needs enabled in the parents' subtree_control).
    fn create(&self) -> Result<(), CgroupError>;
    /// Write `resources` (also used by `update`). Values the kernel refuses are errors
    /// naming the file and value.
    fn apply(&self, resources: &LinuxResources) -> Result<(), CgroupError>;
    /// Move `pid` into the cgroup.
    fn add_process(&self, pid: i32) -> Result<(), CgroupError>;
    /// On v2, an O_DIRECTORY fd for clone3's CLONE_INTO_CGROUP; None on v1.
    fn clone_into_fd(&self) -> Option<BorrowedFd<'_>>;
    fn freeze(&self) -> Result<(), CgroupError>;
    fn thaw(&self) -> Result<(), CgroupError>;
    fn freezer_state(&self) -> Result<FreezerState, CgroupError>;
    /// Every pid in the cgroup (recursively).
    fn pids(&self) -> Result<Vec<i32>, CgroupError>;
    fn stats(&self) -> Result<Stats, CgroupError>;
    /// Remove the cgroup directories (retrying briefly while the kernel drains them).
    fn destroy(&self) -> Result<(), CgroupError>;
}

/// A manager for `cgroups_path` (OCI `linux.cgroupsPath`: absolute = from the hierarchy
/// root; relative = below the runtime's own cgroup; empty = `/vessel/<container_id>`).
pub fn manager(
    hierarchy: &Hierarchy,
    cgroups_path: Option<&Path>,
    container_id: &str,
) -> Result<Box<dyn CgroupManager>, CgroupError> {
    let _ = (hierarchy, cgroups_path, container_id);
    Err(CgroupError::Invalid("not implemented".into()))
}
