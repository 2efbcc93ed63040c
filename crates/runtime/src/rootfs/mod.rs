//! The container's root filesystem: mounts in spec order, devices, /dev symlinks,
//! pivot_root, masked and read-only paths. Runs inside the container's mount namespace.
//!
//! Order (runc's, for the same reasons):
//! [`prepare`] (before the createContainer hooks) → [`switch_root`] → [`finalize`].

mod cgroup;
mod devices;
mod error;
mod masked;
mod mount_options;
mod mounts;
mod pivot;
mod propagation;
mod safe_path;
mod tmpcopy;

use std::path::Path;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

pub use error::RootfsError;
pub use mount_options::{parse_options, parse_propagation, Bind, MountOptions, UnsupportedOption};

/// Before hooks and pivot_root: make mounts private/slave, bind the rootfs onto itself,
/// perform `spec.mounts` in order under `rootfs`, create devices and /dev symlinks.
///
/// `rootfs` must be absolute and canonical; the caller is already in the container's
/// new mount namespace (and user namespace, if any, with its id maps written).
pub fn prepare(spec: &Spec, rootfs: &Path, in_user_ns: bool) -> Result<(), RootfsError> {
    let propagation = propagation::rootfs_propagation(spec)?;
    propagation::prepare_root(rootfs, propagation)?;
    // Opened after the self-bind, so every lookup starts at the new mount.
    let root = safe_path::Rootfs::open(rootfs)?;
    let new_cgroup_ns = spec.linux().as_ref().is_some_and(|linux| {
        linux
            .namespaces()
            .iter()
            .flatten()
            .any(|ns| ns.typ() == LinuxNamespaceType::Cgroup && ns.path().is_none())
    });
    let mut ctx = mounts::MountCtx {
        root: &root,
        in_user_ns,
        new_cgroup_ns,
        deferred_ro: Vec::new(),
    };
    for m in spec.mounts().iter().flatten() {
        mounts::mount_entry(&mut ctx, m)?;
    }
    if !devices::spec_binds_dev(spec) {
        devices::create_devices(&root, &devices::devices_for(spec)?, in_user_ns)?;
        devices::create_symlinks(&root, spec)?;
    }
    mounts::finish_deferred(&mut ctx)
}

/// Switch root to `rootfs` (pivot_root, or chroot when `no_pivot`), leaving cwd at "/".
pub fn switch_root(rootfs: &Path, no_pivot: bool) -> Result<(), RootfsError> {
    pivot::switch_root(rootfs, no_pivot)
}

/// After switch_root: masked paths, read-only paths, read-only root, final propagation.
pub fn finalize(spec: &Spec) -> Result<(), RootfsError> {
    let root = safe_path::Rootfs::open(Path::new("/"))?;
    if let Some(linux) = spec.linux() {
        masked::readonly_paths(&root, linux.readonly_paths().as_deref().unwrap_or_default())?;
        masked::masked_paths(&root, linux.masked_paths().as_deref().unwrap_or_default())?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        masked::readonly_root()?;
    }
    propagation::apply_final(propagation::rootfs_propagation(spec)?)
}
