//! Creating the container's init process and running processes inside a container.

pub mod clone;
pub mod exec;
mod init;
pub mod setup;
pub mod spawn;
pub mod sync;

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use nix::sched::CloneFlags;
use oci_spec::runtime::{Hook, Spec};

use crate::namespaces::NamespacePlan;
use setup::ProcessSetup;

/// Everything the init needs, resolved by the runtime before the clone so that the child
/// only performs syscalls.
pub struct InitConfig {
    pub id: String,
    pub rootfs: PathBuf,
    pub spec: Spec,
    pub plan: NamespacePlan,
    /// Namespace files to join, opened by the runtime.
    pub join_fds: Vec<(CloneFlags, OwnedFd)>,
    pub intermediate: bool,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub sysctl: HashMap<String, String>,
    /// "monotonic 1 0\nboottime 2 0\n" for /proc/self/timens_offsets.
    pub time_offsets: Option<String>,
    /// The exec fifo, opened read-write: the init blocks reading it until `start` writes.
    pub exec_fifo: Option<OwnedFd>,
    /// Whether the runtime has prestart/createRuntime hooks to run mid-setup.
    pub runtime_hooks: bool,
    pub create_container_hooks: Vec<Hook>,
    pub start_container_hooks: Vec<Hook>,
    /// None when the config has no `process` (create only; start then fails).
    pub process: Option<ProcessSetup>,
    /// Container uid 0 is mapped in the new user namespace.
    pub user_ns_root_mapped: bool,
}
