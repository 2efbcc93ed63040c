//! Resolving mount destinations inside the rootfs.
//!
//! Two layers, because they answer different questions:
//! - [`resolve_lexically`] is policy: it expands the image's symlinks the way the container
//!   will see them (absolute targets are rooted at the rootfs) and *refuses* a destination
//!   whose relative symlink climbs above the rootfs, so a hostile image gets a clear error
//!   rather than a silently relocated mount.
//! - [`open_dest`] is the security boundary (CVE-2021-30465, symlink-exchange races): every
//!   open goes through openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) from the rootfs fd,
//!   so even a symlink swapped in after the lexical check cannot lead out, and the mount
//!   happens on the opened fd (`/proc/self/fd/N`), not on a path re-walked by the kernel.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, readlinkat, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{fstat, fstatat, mkdirat, Mode, SFlag};

use super::error::RootfsError;

/// Linux's own limit on symlinks followed in one resolution (MAXSYMLINKS).
const MAX_SYMLINKS: usize = 40;

/// The rootfs directory, held open so every lookup is relative to this fd.
pub struct Rootfs {
    pub path: PathBuf,
    pub fd: OwnedFd,
}

impl Rootfs {
    pub fn open(path: &Path) -> Result<Self, RootfsError> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| RootfsError::path("open rootfs", path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            fd,
        })
    }
}

/// A destination after lexical symlink expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Relative to the rootfs, without symlinks, "." or "..".
    pub relative: PathBuf,
    /// Whether any component of the destination was a symlink.
    pub via_symlink: bool,
}

/// Clean a container path lexically, rooted: ".." at the root stays at the root
/// (what the container itself would see), "." disappears.
pub fn clean_rooted(path: &Path) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => out.push(name.to_os_string()),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// Expand the destination's symlinks under `root` the way the container sees them, and
/// refuse one that a relative symlink leads above the rootfs.
pub fn resolve_lexically(root: &Rootfs, destination: &Path) -> Result<Resolved, RootfsError> {
    let mut queue: VecDeque<OsString> = clean_rooted(destination).into();
    let mut stack: Vec<OsString> = Vec::new();
    let mut via_symlink = false;
    let mut links = 0;
    let mut last_link: Option<(PathBuf, PathBuf)> = None;
    let mut missing = false;
    while let Some(component) = queue.pop_front() {
        if component == ".." {
            // Only a symlink target can bring ".." here: the destination itself was cleaned.
            if stack.pop().is_none() {
                let (symlink, target) = last_link.unwrap_or_default();
                return Err(RootfsError::DestinationEscapes {
                    destination: destination.to_path_buf(),
                    symlink,
                    target,
                });
            }
            continue;
        }
        if component == "." || component.is_empty() {
            continue;
        }
        stack.push(component);
        if missing {
            continue;
        }
        let relative: PathBuf = stack.iter().collect();
        match fstatat(
            root.fd.as_fd(),
            &relative,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Err(Errno::ENOENT) => missing = true,
            Err(errno) => return Err(RootfsError::path("lstat", root.path.join(&relative), errno)),
            Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(RootfsError::SymlinkLoop {
                        destination: destination.to_path_buf(),
                    });
                }
                let target =
                    PathBuf::from(readlinkat(root.fd.as_fd(), &relative).map_err(|e| {
                        RootfsError::path("readlink", root.path.join(&relative), e)
                    })?);
                via_symlink = true;
                stack.pop();
                if target.is_absolute() {
                    stack.clear();
                }
                for component in target.components().rev() {
                    match component {
                        Component::Normal(name) => queue.push_front(name.to_os_string()),
                        Component::ParentDir => queue.push_front(OsString::from("..")),
                        Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
                    }
                }
                last_link = Some((Path::new("/").join(&relative), target));
            }
            Ok(_) => {}
        }
    }
    Ok(Resolved {
        relative: stack.iter().collect(),
        via_symlink,
    })
}

/// What to create when the destination's last component is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    Dir,
    File,
}

fn how(flags: OFlag) -> OpenHow {
    OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

/// Open `relative` under the rootfs fd without ever leaving it.
pub fn open_in_root(root: BorrowedFd<'_>, relative: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
    let relative = if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    };
    match openat2(root, relative, how(flags)) {
        Err(Errno::ENOSYS) => open_no_follow(root, relative, flags),
        other => other,
    }
}

/// Fallback for kernels without openat2 (< 5.6): the path is already lexically resolved,
/// so any symlink met now was raced in, and O_NOFOLLOW on every component refuses it.
fn open_no_follow(root: BorrowedFd<'_>, relative: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
    let mut current = openat(root, ".", OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())?;
    let components: Vec<&OsStr> = relative.iter().filter(|c| *c != ".").collect();
    for (index, component) in components.iter().enumerate() {
        let last = index + 1 == components.len();
        let step_flags = if last { flags } else { OFlag::O_PATH };
        let next = openat(
            current.as_fd(),
            *component,
            step_flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )?;
        let st = fstat(next.as_fd())?;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK {
            return Err(Errno::ELOOP);
        }
        current = next;
    }
    Ok(current)
}

/// Open (creating missing components with mkdirat relative to their parent fd) the
/// resolved destination, returning an O_PATH fd to mount onto.
pub fn open_dest(
    root: &Rootfs,
    resolved: &Resolved,
    create: Create,
) -> Result<OwnedFd, RootfsError> {
    let components: Vec<&OsStr> = resolved.relative.iter().collect();
    let host_path = |prefix: &Path| root.path.join(prefix);
    let mut parent = open_in_root(root.fd.as_fd(), Path::new(""), OFlag::O_PATH)
        .map_err(|e| RootfsError::path("open", &root.path, e))?;
    let mut prefix = PathBuf::new();
    for (index, component) in components.iter().enumerate() {
        prefix.push(component);
        let last = index + 1 == components.len();
        let opened = match open_in_root(root.fd.as_fd(), &prefix, OFlag::O_PATH) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => {
                let what = if last { create } else { Create::Dir };
                create_at(parent.as_fd(), component, what)
                    .map_err(|e| RootfsError::path("create", host_path(&prefix), e))?;
                open_in_root(root.fd.as_fd(), &prefix, OFlag::O_PATH)
                    .map_err(|e| RootfsError::path("open", host_path(&prefix), e))?
            }
            Err(errno) => return Err(RootfsError::path("open", host_path(&prefix), errno)),
        };
        parent = opened;
    }
    Ok(parent)
}

fn create_at(parent: BorrowedFd<'_>, name: &OsStr, what: Create) -> Result<(), Errno> {
    let result = match what {
        Create::Dir => mkdirat(parent, name, Mode::from_bits_truncate(0o755)),
        Create::File => openat(
            parent,
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map(drop),
    };
    match result {
        // Someone (or a dangling symlink) got there first; the re-open decides.
        Err(Errno::EEXIST) => Ok(()),
        other => other,
    }
}

/// The magic-link path through which mount(2) acts on exactly the object `fd` refers to.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Defence in depth after open_dest: the kernel's own idea of where the fd is must still
/// be under the rootfs (runc does the same check before every mount).
pub fn verify_inside(root: &Rootfs, fd: &OwnedFd, destination: &Path) -> Result<(), RootfsError> {
    let link = fd_path(fd);
    let resolved = std::fs::read_link(&link).map_err(|e| RootfsError::io("readlink", &link, &e))?;
    if resolved.starts_with(&root.path) {
        Ok(())
    } else {
        Err(RootfsError::ResolvedOutside {
            destination: destination.to_path_buf(),
            resolved,
            rootfs: root.path.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> (tempfile::TempDir, Rootfs) {
        let dir = match tempfile::tempdir() {
            Ok(dir) => dir,
            Err(e) => panic!("tempdir: {e}"),
        };
        let rootfs_path = dir.path().join("rootfs");
        let mk = |p: &Path| std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()));
        let setup = || -> Result<Rootfs, String> {
            mk(&rootfs_path.join("etc/app"))?;
            mk(&rootfs_path.join("var/lib"))?;
            mk(&dir.path().join("outside"))?;
            let link = |target: &str, at: &str| {
                symlink(target, rootfs_path.join(at)).map_err(|e| format!("{at}: {e}"))
            };
            link("/etc/app", "abs")?; // rooted: stays inside
            link("../etc", "var/rel")?; // relative, inside
            link("../../outside", "var/escape")?; // climbs above the rootfs
            link("../../../../../../../tmp", "var/deep")?;
            link("escape/sub", "var/chain")?; // escapes through another link
            link("loop2", "loop1")?;
            link("loop1", "loop2")?;
            link("/nonexistent/dir", "dangling")?;
            link(
                dir.path().join("outside").to_str().unwrap_or("/"),
                "hostabs",
            )?;
            Rootfs::open(&rootfs_path).map_err(|e| e.to_string())
        };
        match setup() {
            Ok(root) => (dir, root),
            Err(e) => panic!("setup: {e}"),
        }
    }

    fn resolve(root: &Rootfs, dest: &str) -> Result<Resolved, RootfsError> {
        resolve_lexically(root, Path::new(dest))
    }

    #[test]
    fn plain_and_missing_paths() {
        let (_dir, root) = tree();
        let r = resolve(&root, "/etc/app/conf").ok();
        assert_eq!(
            r.map(|r| (r.relative, r.via_symlink)),
            Some(("etc/app/conf".into(), false))
        );
        let r = resolve(&root, "/../../etc/./app").ok().map(|r| r.relative);
        assert_eq!(
            r,
            Some("etc/app".into()),
            "'..' in the destination clamps at /"
        );
        assert_eq!(
            resolve(&root, "/").ok().map(|r| r.relative),
            Some(PathBuf::new())
        );
    }

    #[test]
    fn symlinks_inside_are_followed_rooted() {
        let (dir, root) = tree();
        let r = resolve(&root, "/abs/x").ok();
        assert_eq!(
            r.map(|r| (r.relative, r.via_symlink)),
            Some(("etc/app/x".into(), true))
        );
        let r = resolve(&root, "/var/rel/app").ok().map(|r| r.relative);
        assert_eq!(r, Some("etc/app".into()));
        let r = resolve(&root, "/dangling/x").ok().map(|r| r.relative);
        assert_eq!(r, Some("nonexistent/dir/x".into()));
        // An absolute link naming a host path is rooted like the container sees it.
        let expected: PathBuf = clean_rooted(&dir.path().join("outside")).iter().collect();
        assert_eq!(
            resolve(&root, "/hostabs").ok().map(|r| r.relative),
            Some(expected)
        );
    }

    #[test]
    fn escaping_symlinks_are_refused() {
        let (_dir, root) = tree();
        for dest in [
            "/var/escape",
            "/var/escape/deeper",
            "/var/deep/x",
            "/var/chain",
        ] {
            match resolve(&root, dest) {
                Err(err @ RootfsError::DestinationEscapes { .. }) => {
                    let msg = err.to_string();
                    assert!(msg.contains("resolves outside the rootfs"), "{msg}");
                    assert!(msg.contains(dest), "{msg}");
                }
                other => panic!("{dest}: expected an escape error, got {other:?}"),
            }
        }
    }

    #[test]
    fn symlink_loops_are_refused() {
        let (_dir, root) = tree();
        assert!(matches!(
            resolve(&root, "/loop1/x"),
            Err(RootfsError::SymlinkLoop { .. })
        ));
    }

    #[test]
    fn open_dest_creates_and_stays_inside() {
        let (_dir, root) = tree();
        let r = match resolve(&root, "/abs/new/dir") {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        let fd = open_dest(&root, &r, Create::Dir);
        assert!(fd.is_ok(), "{:?}", fd.err());
        assert!(root.path.join("etc/app/new/dir").is_dir());
        let r = Resolved {
            relative: "etc/file".into(),
            via_symlink: false,
        };
        let fd = match open_dest(&root, &r, Create::File) {
            Ok(fd) => fd,
            Err(e) => panic!("{e}"),
        };
        assert!(root.path.join("etc/file").is_file());
        assert!(verify_inside(&root, &fd, Path::new("/etc/file")).is_ok());
    }

    #[test]
    fn open_in_root_roots_raced_symlinks() {
        let (_dir, root) = tree();
        // Were the lexical check raced, the kernel still resolves "../../outside" rooted:
        // it names <rootfs>/outside, never the host directory next to the rootfs.
        let raced = open_in_root(root.fd.as_fd(), Path::new("var/escape"), OFlag::O_PATH);
        assert_eq!(raced.err(), Some(Errno::ENOENT));
        assert!(std::fs::create_dir(root.path.join("outside")).is_ok());
        let fd = match open_in_root(root.fd.as_fd(), Path::new("var/escape"), OFlag::O_PATH) {
            Ok(fd) => fd,
            Err(e) => panic!("{e}"),
        };
        assert!(verify_inside(&root, &fd, Path::new("/var/escape")).is_ok());
        assert_eq!(
            std::fs::read_link(fd_path(&fd)).ok(),
            Some(root.path.join("outside"))
        );
    }
}
