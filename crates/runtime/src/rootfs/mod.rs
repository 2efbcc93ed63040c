//! The container's root filesystem: mounts in spec order, devices, /dev symlinks,
//! pivot_root, masked and read-only paths. Runs inside the container's mount namespace.
//! OWNED BY: rootfs helper — interface below is fixed.

use std::path::Path;

use oci_spec::runtime::Spec;

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("rootfs: {0}")]
    Invalid(String),
}

/// Before hooks and pivot_root: make mounts private/slave, bind the rootfs onto itself,
/// perform `spec.mounts` in order under `rootfs`, create devices and /dev symlinks.
pub fn prepare(spec: &Spec, rootfs: &Path, in_user_ns: bool) -> Result<(), RootfsError> {
    let _ = (spec, rootfs, in_user_ns);
    Err(RootfsError::Invalid("not implemented".into()))
}

/// Switch root to `rootfs` (pivot_root, or chroot when `no_pivot`), leaving cwd at "/".
pub fn switch_root(rootfs: &Path, no_pivot: bool) -> Result<(), RootfsError> {
    let _ = (rootfs, no_pivot);
    Err(RootfsError::Invalid("not implemented".into()))
}

/// After switch_root: masked paths, read-only paths, read-only root, final propagation.
pub fn finalize(spec: &Spec) -> Result<(), RootfsError> {
    let _ = spec;
    Err(RootfsError::Invalid("not implemented".into()))
}
