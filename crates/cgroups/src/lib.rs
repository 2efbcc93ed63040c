//! cgroups v1 and v2 for Vessel: create a container's cgroup, apply OCI `linux.resources`,
//! freeze/thaw, list pids, read stats, remove. Each controller is a plain function of
//! (resources, directory) so it is unit-tested against a fake cgroupfs tree; nothing
//! reads a global root, so tests point managers at a tempdir.

use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxResources;

mod error;
mod fs;
mod path;
pub mod stats;
pub mod v1;
pub mod v2;

#[cfg(test)]
mod testutil;

pub use error::CgroupError;
pub use path::OwnCgroups;
pub use stats::Stats;

/// Which hierarchy the host runs. Hybrid hosts (v1 controllers plus a v2 mount at
/// `unified`) count as v1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hierarchy {
    V1 { root: PathBuf },
    V2 { root: PathBuf },
}

pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

/// Detect the hierarchy mounted at `/sys/fs/cgroup`.
pub fn detect() -> Result<Hierarchy, CgroupError> {
    detect_at(Path::new(DEFAULT_ROOT))
}

/// Detect by filesystem magic rather than by listing files: a v2 mount is cgroup2 at
/// the root itself, while v1 and hybrid layouts put a tmpfs there.
pub fn detect_at(root: &Path) -> Result<Hierarchy, CgroupError> {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC, TMPFS_MAGIC};
    let st = statfs(root).map_err(|e| CgroupError::Statfs {
        path: root.to_path_buf(),
        source: e.into(),
    })?;
    let magic = st.filesystem_type();
    if magic == CGROUP2_SUPER_MAGIC {
        Ok(Hierarchy::V2 {
            root: root.to_path_buf(),
        })
    } else if magic == TMPFS_MAGIC {
        Ok(Hierarchy::V1 {
            root: root.to_path_buf(),
        })
    } else {
        Err(CgroupError::UnknownFilesystem {
            path: root.to_path_buf(),
            magic: magic.0 as i64,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum FreezerState {
    Thawed,
    Freezing,
    Frozen,
}

pub trait CgroupManager: Send + Sync {
    /// The cgroup's path relative to the hierarchy root (e.g. `/vessel/abc`). On v1 with
    /// a relative cgroupsPath controllers can differ; this is the memory hierarchy's
    /// (see `controller_paths` for all of them).
    fn path(&self) -> &Path;
    /// Absolute directory per controller (v1, combined mounts listed once per name) or
    /// the single `("", dir)` entry on v2; what runc records as `cgroup_paths`.
    fn controller_paths(&self) -> Vec<(String, PathBuf)>;
    /// Create the cgroup directories (every v1 controller, or the v2 dir with the
    /// controllers it needs enabled in the parents' subtree_control).
    fn create(&self) -> Result<(), CgroupError>;
    /// Write `resources` (also used by `update`). Values the kernel refuses are errors
    /// naming the file and value.
    fn apply(&self, resources: &LinuxResources) -> Result<(), CgroupError>;
    /// Move `pid` into the cgroup.
    fn add_process(&self, pid: i32) -> Result<(), CgroupError>;
    /// On v2, an O_DIRECTORY fd for clone3's CLONE_INTO_CGROUP (opened by `create`);
    /// None on v1 or before `create`.
    fn clone_into_fd(&self) -> Option<BorrowedFd<'_>>;
    fn freeze(&self) -> Result<(), CgroupError>;
    fn thaw(&self) -> Result<(), CgroupError>;
    fn freezer_state(&self) -> Result<FreezerState, CgroupError>;
    /// Every pid in the cgroup (recursively).
    fn pids(&self) -> Result<Vec<i32>, CgroupError>;
    fn stats(&self) -> Result<Stats, CgroupError>;
    /// OOM kills inside the cgroup so far (v2 `memory.events` oom_kill, v1
    /// `memory.oom_control` oom_kill); 0 when the kernel does not report it.
    fn oom_kill_count(&self) -> Result<u64, CgroupError>;
    /// Remove the cgroup directories (retrying briefly while the kernel drains them).
    /// Every controller is attempted even if one fails; all failures are returned.
    fn destroy(&self) -> Result<(), CgroupError>;
}

/// A manager for `cgroups_path` (OCI `linux.cgroupsPath`: absolute = from the hierarchy
/// root; relative = below the runtime's own cgroup; empty = `/vessel/<container_id>`).
pub fn manager(
    hierarchy: &Hierarchy,
    cgroups_path: Option<&Path>,
    container_id: &str,
) -> Result<Box<dyn CgroupManager>, CgroupError> {
    let own = OwnCgroups::read_self()?;
    match hierarchy {
        Hierarchy::V1 { root } => {
            let mounts = v1::mounts::read_self(root)?;
            Ok(Box::new(v1::V1Manager::new(
                &mounts,
                &own,
                cgroups_path,
                container_id,
            )?))
        }
        Hierarchy::V2 { root } => Ok(Box::new(v2::V2Manager::new(
            root,
            own.unified.as_deref(),
            cgroups_path,
            container_id,
        )?)),
    }
}
