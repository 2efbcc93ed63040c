//! Mount propagation of the container's root (config-linux.md "rootfsPropagation").

use std::path::Path;

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::Spec;

use super::error::RootfsError;
use super::mount_options::parse_propagation;

fn none() -> Option<&'static str> {
    None
}

/// `linux.rootfsPropagation`, if set.
pub fn rootfs_propagation(spec: &Spec) -> Result<Option<MsFlags>, RootfsError> {
    let Some(name) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
    else {
        return Ok(None);
    };
    if name.is_empty() {
        return Ok(None);
    }
    parse_propagation(name)
        .map(Some)
        .ok_or_else(|| RootfsError::InvalidRootfsPropagation(name.to_string()))
}

fn set(path: &Path, flags: MsFlags) -> Result<(), Errno> {
    mount(none(), path, none(), flags, none())
}

fn propagation_err(path: &Path, flags: MsFlags, errno: Errno) -> RootfsError {
    RootfsError::Propagation {
        destination: path.to_path_buf(),
        propagation: format!("{flags:?}"),
        errno,
    }
}

/// Before any mount: cut propagation towards the host, then make `rootfs` a mount point.
///
/// 1. "/" becomes rslave (or the spec's rootfsPropagation): our own mounts stop reaching
///    the host's namespace, while the host's still reach us, as runc does by default.
/// 2. The mount containing the rootfs becomes private: pivot_root(2) fails with EINVAL if
///    the new root's parent mount is shared, and a shared parent would propagate the bind
///    of step 3 to its peers.
/// 3. Bind the rootfs onto itself (recursively), since pivot_root needs a mount point.
pub fn prepare_root(rootfs: &Path, propagation: Option<MsFlags>) -> Result<(), RootfsError> {
    let root = Path::new("/");
    let flags = propagation.unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC);
    set(root, flags).map_err(|e| propagation_err(root, flags, e))?;
    make_parent_private(rootfs)?;
    let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
    mount(Some(rootfs), rootfs, none(), bind, none()).map_err(|errno| RootfsError::Mount {
        src: rootfs.to_string_lossy().into_owned(),
        destination: rootfs.to_path_buf(),
        fstype: "bind".to_string(),
        errno,
    })
}

/// Walk up from `path` to the first mount point (MS_PRIVATE on a non-mount-point is
/// EINVAL) and make it private.
fn make_parent_private(path: &Path) -> Result<(), RootfsError> {
    let mut current = path;
    loop {
        match set(current, MsFlags::MS_PRIVATE) {
            Ok(()) => return Ok(()),
            Err(Errno::EINVAL) => match current.parent() {
                Some(parent) => current = parent,
                None => return Err(propagation_err(current, MsFlags::MS_PRIVATE, Errno::EINVAL)),
            },
            Err(errno) => return Err(propagation_err(current, MsFlags::MS_PRIVATE, errno)),
        }
    }
}

/// After the root switch: give the container's "/" the propagation the spec asks for
/// (the rootfs bind inherited "private" from step 2 of [`prepare_root`]).
pub fn apply_final(propagation: Option<MsFlags>) -> Result<(), RootfsError> {
    let Some(flags) = propagation else {
        return Ok(());
    };
    let root = Path::new("/");
    set(root, flags).map_err(|e| propagation_err(root, flags, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBuilder, SpecBuilder};

    fn spec(propagation: &str) -> Spec {
        let linux = LinuxBuilder::default()
            .rootfs_propagation(propagation)
            .build();
        match linux.and_then(|l| SpecBuilder::default().linux(l).build()) {
            Ok(spec) => spec,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn parses_rootfs_propagation() {
        assert_eq!(rootfs_propagation(&spec("")).ok(), Some(None));
        assert_eq!(
            rootfs_propagation(&spec("rshared")).ok(),
            Some(Some(MsFlags::MS_SHARED | MsFlags::MS_REC))
        );
        assert_eq!(
            rootfs_propagation(&spec("slave")).ok(),
            Some(Some(MsFlags::MS_SLAVE))
        );
        let err = rootfs_propagation(&spec("bogus"))
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("\"bogus\"")));
    }
}
