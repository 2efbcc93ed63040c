//! Errors of rootfs setup. Every variant names the mount or path it is about and shows
//! the cause inline (so no variant marks a `#[source]`: the chain would print it twice).

use std::path::PathBuf;

use nix::errno::Errno;

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("mount {src} on {destination} (type {fstype}): {errno}")]
    Mount {
        src: String,
        destination: PathBuf,
        fstype: String,
        errno: Errno,
    },

    #[error("remount {destination} with flags {flags}: {errno}")]
    Remount {
        destination: PathBuf,
        flags: String,
        errno: Errno,
    },

    #[error("recursive mount_setattr on {destination}: {errno}")]
    MountSetattr { destination: PathBuf, errno: Errno },

    #[error("set propagation {propagation} on {destination}: {errno}")]
    Propagation {
        destination: PathBuf,
        propagation: String,
        errno: Errno,
    },

    #[error(
        "mount destination {destination} resolves outside the rootfs through a symlink \
         ({symlink} -> {target})"
    )]
    DestinationEscapes {
        destination: PathBuf,
        symlink: PathBuf,
        target: PathBuf,
    },

    #[error("mount destination {destination} resolved to {resolved}, outside the rootfs {rootfs}")]
    ResolvedOutside {
        destination: PathBuf,
        resolved: PathBuf,
        rootfs: PathBuf,
    },

    /// CVE-2019-19921: a symlinked /proc lets the image redirect procfs (and the LSM
    /// labels written through it) to a place of its choosing.
    #[error(
        "mount destination {destination} (type {fstype}) must not be reached through a symlink"
    )]
    SymlinkedKernelFs {
        destination: PathBuf,
        fstype: String,
    },

    #[error("mount destination {destination} (type {fstype}) must be a directory")]
    NotADirectory {
        destination: PathBuf,
        fstype: String,
    },

    #[error("mount destination {destination}: too many levels of symbolic links")]
    SymlinkLoop { destination: PathBuf },

    #[error("mount on {destination}: option {option:?} is unsupported: {reason}")]
    UnsupportedOption {
        destination: PathBuf,
        option: String,
        reason: &'static str,
    },

    #[error("mount on {destination} (type {fstype}) needs a source")]
    MissingSource {
        destination: PathBuf,
        fstype: String,
    },

    #[error("bind mount source {src} for {destination}: {errno}")]
    BindSource {
        src: PathBuf,
        destination: PathBuf,
        errno: Errno,
    },

    #[error(
        "linux.rootfsPropagation {0:?} is not one of shared, slave, private, unbindable \
         or their r-prefixed recursive forms"
    )]
    InvalidRootfsPropagation(String),

    #[error("device {path}: type {kind:?} cannot be created (expected c, u, b or p)")]
    InvalidDeviceType { path: PathBuf, kind: String },

    #[error("cgroup mount on {destination}: the process has no cgroup for {controllers}")]
    CgroupNotFound {
        destination: PathBuf,
        controllers: String,
    },

    #[error("pivot_root into {rootfs}: {step}: {errno}")]
    SwitchRoot {
        rootfs: PathBuf,
        step: &'static str,
        errno: Errno,
    },

    /// A filesystem operation on a path (open, mkdir, mknod, chown, readlink, ...).
    #[error("{op} {path}: {errno}")]
    Path {
        op: &'static str,
        path: PathBuf,
        errno: Errno,
    },
}

impl RootfsError {
    pub(crate) fn path(op: &'static str, path: impl Into<PathBuf>, errno: Errno) -> Self {
        Self::Path {
            op,
            path: path.into(),
            errno,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, err: &std::io::Error) -> Self {
        Self::path(op, path, io_errno(err))
    }
}

pub(crate) fn io_errno(err: &std::io::Error) -> Errno {
    Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO))
}
