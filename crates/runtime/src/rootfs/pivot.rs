//! Switching the process's root to the rootfs.

use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, fchdir, pivot_root};

use super::error::RootfsError;

fn none() -> Option<&'static str> {
    None
}

/// pivot_root(".", ".") (no put_old directory inside the image is needed), or with
/// `no_pivot` (e.g. ramdisk roots, where pivot_root is EINVAL) move the rootfs onto "/"
/// and chroot. Leaves the working directory at the new "/".
pub fn switch_root(rootfs: &Path, no_pivot: bool) -> Result<(), RootfsError> {
    let err = |step: &'static str| {
        move |errno: Errno| RootfsError::SwitchRoot {
            rootfs: rootfs.to_path_buf(),
            step,
            errno,
        }
    };
    let dir_flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let new_root = open(rootfs, dir_flags, Mode::empty()).map_err(err("open new root"))?;
    if no_pivot {
        fchdir(&new_root).map_err(err("chdir to new root"))?;
        mount(Some("."), "/", none(), MsFlags::MS_MOVE, none()).map_err(err("move rootfs to /"))?;
        chroot(".").map_err(err("chroot"))?;
        return chdir("/").map_err(err("chdir /"));
    }
    let old_root = open("/", dir_flags, Mode::empty()).map_err(err("open old root"))?;
    fchdir(&new_root).map_err(err("chdir to new root"))?;
    pivot_root(".", ".").map_err(err("pivot_root"))?;
    // The old root is now stacked on ".": reach it through its fd.
    fchdir(&old_root).map_err(err("chdir to old root"))?;
    // rslave first, so the lazy unmount below cannot propagate to the host (whose
    // mounts are peers of ours if the spec asked for shared propagation).
    mount(
        none(),
        ".",
        none(),
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        none(),
    )
    .map_err(err("make old root rslave"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(err("detach old root"))?;
    chdir("/").map_err(err("chdir /"))
}
