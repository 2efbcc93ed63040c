//! After the root switch: config-linux.md "readonlyPaths", "maskedPaths" and
//! root.readonly. Paths are container paths now; each is opened once (in-root, no magic
//! links) and acted on through its fd so a symlink swapped in between cannot redirect us.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, SFlag};
use nix::sys::statvfs::statvfs;

use super::error::RootfsError;
use super::mount_options::{remount_flags, statvfs_flags};
use super::mounts::remount;
use super::safe_path::{clean_rooted, fd_path, open_in_root, Rootfs};

fn none() -> Option<&'static str> {
    None
}

/// Open a container path under `root`; None if it does not exist (the spec says missing
/// masked and read-only paths are not errors).
fn open_existing(root: &Rootfs, path: &str) -> Result<Option<(OwnedFd, PathBuf)>, RootfsError> {
    let relative: PathBuf = clean_rooted(Path::new(path)).iter().collect();
    match open_in_root(root.fd.as_fd(), &relative, OFlag::O_PATH) {
        Ok(fd) => Ok(Some((fd, PathBuf::from(path)))),
        Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(None),
        Err(errno) => Err(RootfsError::path("open", path, errno)),
    }
}

/// Bind each path onto itself, then make that bind read-only, keeping the flags the
/// mount already has (nosuid/nodev/noexec are locked inside a user namespace).
pub fn readonly_paths(root: &Rootfs, paths: &[String]) -> Result<(), RootfsError> {
    for path in paths {
        let Some((fd, path)) = open_existing(root, path)? else {
            continue;
        };
        let here = fd_path(&fd);
        let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
        mount(Some(&here), &here, none(), flags, none()).map_err(|errno| RootfsError::Mount {
            src: path.to_string_lossy().into_owned(),
            destination: path.clone(),
            fstype: "bind".to_string(),
            errno,
        })?;
        let relative: PathBuf = clean_rooted(&path).iter().collect();
        let mounted = open_in_root(root.fd.as_fd(), &relative, OFlag::O_PATH)
            .map_err(|e| RootfsError::path("reopen", &path, e))?;
        remount(&mounted, &path, MsFlags::MS_RDONLY, MsFlags::empty())?;
    }
    Ok(())
}

/// Hide each path: an empty read-only tmpfs over a directory, /dev/null over anything else.
pub fn masked_paths(root: &Rootfs, paths: &[String]) -> Result<(), RootfsError> {
    for path in paths {
        let Some((fd, path)) = open_existing(root, path)? else {
            continue;
        };
        let st = fstat(fd.as_fd()).map_err(|e| RootfsError::path("stat", &path, e))?;
        let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
        let (src, fstype, flags) = if is_dir {
            ("tmpfs", Some("tmpfs"), MsFlags::MS_RDONLY)
        } else {
            ("/dev/null", None, MsFlags::MS_BIND)
        };
        mount(Some(src), &fd_path(&fd), fstype, flags, none()).map_err(|errno| {
            RootfsError::Mount {
                src: src.to_string(),
                destination: path.clone(),
                fstype: fstype.unwrap_or("bind").to_string(),
                errno,
            }
        })?;
    }
    Ok(())
}

/// root.readonly: remount "/" read-only, keeping its locked flags. By path, not fd: the
/// root is the one mount that needs no /proc to be named safely.
pub fn readonly_root() -> Result<(), RootfsError> {
    let root = Path::new("/");
    let existing = statvfs(root)
        .map(|st| statvfs_flags(st.flags()))
        .map_err(|e| RootfsError::path("statvfs", root, e))?;
    let flags = remount_flags(MsFlags::MS_RDONLY, MsFlags::empty(), existing);
    mount(none(), root, none(), flags, none()).map_err(|errno| RootfsError::Remount {
        destination: root.to_path_buf(),
        flags: format!("{flags:?}"),
        errno,
    })
}
