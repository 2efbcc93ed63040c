//! The runtime's typed errors. Each variant names the input (field, path, id) and the cause,
//! so the CLI can print one line that tells the user what to fix.

use std::io;
use std::path::PathBuf;

use nix::errno::Errno;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("invalid config: {field}: {message}")]
    InvalidConfig { field: String, message: String },

    #[error("reading {path}: {cause}")]
    ConfigRead { path: PathBuf, cause: io::Error },

    #[error("parsing {path}: {message}")]
    ConfigParse { path: PathBuf, message: String },

    #[error("invalid container id {id:?}: {reason}")]
    InvalidId { id: String, reason: &'static str },

    #[error("container {id:?} already exists")]
    ContainerExists { id: String },

    #[error("container {id:?} does not exist")]
    ContainerNotFound { id: String },

    #[error("container {id:?} is {status}: {operation} needs a container that is {needs}")]
    WrongState {
        id: String,
        status: String,
        operation: &'static str,
        needs: &'static str,
    },

    #[error("{operation}: {errno}")]
    Sys { operation: String, errno: Errno },

    #[error("{operation}: {cause}")]
    Io { operation: String, cause: io::Error },

    #[error("{kind} hook {path}: {message}")]
    Hook {
        kind: &'static str,
        path: PathBuf,
        message: String,
    },

    #[error(
        "rlimit {name}: cannot set soft={soft} hard={hard} ({errno}); the current hard limit is {current_hard} and raising it needs CAP_SYS_RESOURCE"
    )]
    Rlimit {
        name: String,
        soft: u64,
        hard: u64,
        current_hard: u64,
        errno: Errno,
    },

    #[error("capability {name} is not supported by this kernel (highest known is {last})")]
    UnknownCapability { name: String, last: u32 },

    #[error("signal {0:?} is not a known signal name or number")]
    UnknownSignal(String),

    #[error("container init: {0}")]
    Init(String),

    /// An error the container's init (or exec'd process) reported during setup; its
    /// message already names what failed.
    #[error("{0}")]
    Child(String),

    #[error("{0}")]
    Unsupported(String),

    #[error(transparent)]
    Cgroup(#[from] vessel_cgroups::CgroupError),

    #[error(transparent)]
    Rootfs(#[from] crate::rootfs::RootfsError),

    #[error(transparent)]
    Seccomp(#[from] crate::seccomp::SeccompError),
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// Helpers that attach the operation to a raw errno or io error at the call site.
pub trait Context<T> {
    fn op(self, operation: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, Errno> {
    fn op(self, operation: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|errno| RuntimeError::Sys {
            operation: operation(),
            errno,
        })
    }
}

impl<T> Context<T> for std::result::Result<T, io::Error> {
    fn op(self, operation: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|cause| RuntimeError::Io {
            operation: operation(),
            cause,
        })
    }
}
