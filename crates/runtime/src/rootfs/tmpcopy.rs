//! "tmpcopyup" (runc/crun extension): a tmpfs mounted over an image directory starts with
//! a copy of that directory's contents, ownership and modes, so e.g. a tmpfs /etc/ssl still
//! has the image's certificates. All walking is relative to directory fds, never paths.

use std::ffi::CStr;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, AtFlags, OFlag};
use nix::sys::stat::{
    fchmod, fchmodat, fstat, fstatat, mkdirat, mknodat, FchmodatFlags, Mode, SFlag,
};
use nix::unistd::{fchown, fchownat, symlinkat, Gid, Uid};

use super::error::RootfsError;

/// Copy the tree under `covered` (the directory the tmpfs now hides) into `tmpfs`.
pub fn copy_up(covered: &OwnedFd, tmpfs: &OwnedFd, destination: &Path) -> Result<(), RootfsError> {
    let err = |op: &'static str, e: Errno| RootfsError::path(op, destination, e);
    let st = fstat(covered.as_fd()).map_err(|e| err("stat", e))?;
    fchmod(tmpfs.as_fd(), Mode::from_bits_truncate(st.st_mode & 0o7777))
        .map_err(|e| err("chmod", e))?;
    fchown(
        tmpfs.as_fd(),
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )
    .map_err(|e| err("chown", e))?;
    copy_dir(covered, tmpfs, destination)
}

fn copy_dir(src: &OwnedFd, dst: &OwnedFd, path: &Path) -> Result<(), RootfsError> {
    let mut dir = Dir::openat(
        src.as_fd(),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| RootfsError::path("opendir", path, e))?;
    let mut names = Vec::new();
    for entry in dir.iter() {
        let entry = entry.map_err(|e| RootfsError::path("readdir", path, e))?;
        let name = entry.file_name();
        if name.to_bytes() != b"." && name.to_bytes() != b".." {
            names.push(name.to_owned());
        }
    }
    for name in names {
        let child = path.join(std::ffi::OsStr::from_bytes(name.to_bytes()));
        copy_entry(src, dst, &name, &child)?;
    }
    Ok(())
}

fn copy_entry(src: &OwnedFd, dst: &OwnedFd, name: &CStr, path: &Path) -> Result<(), RootfsError> {
    let err = |op: &'static str, e: Errno| RootfsError::path(op, path, e);
    let st =
        fstatat(src.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|e| err("stat", e))?;
    let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
    let mode = Mode::from_bits_truncate(st.st_mode & 0o7777);
    let nofollow = OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    if kind == SFlag::S_IFDIR {
        mkdirat(dst.as_fd(), name, mode).map_err(|e| err("mkdir", e))?;
        let dir_flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | nofollow;
        let sub_src =
            openat(src.as_fd(), name, dir_flags, Mode::empty()).map_err(|e| err("open", e))?;
        let sub_dst =
            openat(dst.as_fd(), name, dir_flags, Mode::empty()).map_err(|e| err("open", e))?;
        copy_dir(&sub_src, &sub_dst, path)?;
    } else if kind == SFlag::S_IFREG {
        let from = openat(src.as_fd(), name, OFlag::O_RDONLY | nofollow, Mode::empty())
            .map_err(|e| err("open", e))?;
        let to_flags = OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | nofollow;
        let to = openat(dst.as_fd(), name, to_flags, mode).map_err(|e| err("create", e))?;
        let (mut from, mut to) = (std::fs::File::from(from), std::fs::File::from(to));
        std::io::copy(&mut from, &mut to).map_err(|e| RootfsError::io("copy", path, &e))?;
    } else if kind == SFlag::S_IFLNK {
        let target = readlinkat(src.as_fd(), name).map_err(|e| err("readlink", e))?;
        symlinkat(target.as_os_str(), dst.as_fd(), name).map_err(|e| err("symlink", e))?;
    } else {
        mknodat(dst.as_fd(), name, kind, mode, st.st_rdev).map_err(|e| err("mknod", e))?;
    }
    fchownat(
        dst.as_fd(),
        name,
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| err("chown", e))?;
    if kind != SFlag::S_IFLNK {
        // mkdirat/openat/mknodat honour the umask; set the exact mode afterwards.
        fchmodat(dst.as_fd(), name, mode, FchmodatFlags::FollowSymlink)
            .map_err(|e| err("chmod", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn copies_files_dirs_and_links() {
        let (src, dst) = match (tempfile::tempdir(), tempfile::tempdir()) {
            (Ok(a), Ok(b)) => (a, b),
            _ => panic!("tempdir"),
        };
        let setup = || -> std::io::Result<()> {
            std::fs::create_dir_all(src.path().join("a/b"))?;
            std::fs::write(src.path().join("a/b/file"), b"hello")?;
            std::fs::set_permissions(
                src.path().join("a/b/file"),
                std::fs::Permissions::from_mode(0o640),
            )?;
            symlink("b/file", src.path().join("a/link"))?;
            Ok(())
        };
        assert!(setup().is_ok());
        let open =
            |p: &Path| nix::fcntl::open(p, OFlag::O_RDONLY | OFlag::O_DIRECTORY, Mode::empty());
        let (Ok(s), Ok(d)) = (open(src.path()), open(dst.path())) else {
            panic!("open dirs")
        };
        let result = copy_up(&s, &d, Path::new("/dst"));
        assert!(result.is_ok(), "{:?}", result.err());
        assert_eq!(
            std::fs::read(dst.path().join("a/b/file")).ok(),
            Some(b"hello".to_vec())
        );
        let mode =
            std::fs::metadata(dst.path().join("a/b/file")).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o640));
        assert_eq!(
            std::fs::read_link(dst.path().join("a/link")).ok(),
            Some("b/file".into())
        );
    }
}
