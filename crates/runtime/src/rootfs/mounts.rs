//! `spec.mounts`, in spec order, under the rootfs (config.md "Mounts").

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, SFlag};
use nix::sys::statvfs::fstatvfs;
use oci_spec::runtime::Mount;

use super::error::RootfsError;
use super::mount_options::{parse_options, remount_flags, statvfs_flags, Bind, MountOptions};
use super::safe_path::{
    clean_rooted, fd_path, open_dest, open_in_root, resolve_lexically, verify_inside, Create,
    Resolved, Rootfs,
};
use super::{cgroup, tmpcopy};

/// State shared by the mounts of one container.
pub struct MountCtx<'a> {
    pub root: &'a Rootfs,
    pub in_user_ns: bool,
    /// The spec asks for a new cgroup namespace (affects how "cgroup" mounts are done).
    pub new_cgroup_ns: bool,
    /// Read-only tmpfs mounts stay writable until every later mount and device is in
    /// place under them; [`finish_deferred`] makes them read-only.
    pub deferred_ro: Vec<(PathBuf, Resolved)>,
}

/// One mount's destination as it appears in errors.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub destination: &'a Path,
    pub fstype: &'a str,
}

impl Target<'_> {
    fn mount_err(&self, src: &str, errno: Errno) -> RootfsError {
        RootfsError::Mount {
            src: src.to_string(),
            destination: self.destination.to_path_buf(),
            fstype: self.fstype.to_string(),
            errno,
        }
    }
}

fn none() -> Option<&'static str> {
    None
}

/// mount(2) onto exactly the object `fd` refers to.
pub fn mount_on_fd(
    target: Target<'_>,
    fd: &OwnedFd,
    src: &str,
    fstype: Option<&str>,
    flags: MsFlags,
    data: &str,
) -> Result<(), RootfsError> {
    let data = (!data.is_empty()).then_some(data);
    mount(Some(src), &fd_path(fd), fstype, flags, data).map_err(|e| target.mount_err(src, e))
}

/// Re-open a destination after mounting on it: the old fd still names the covered
/// directory, the new one the root of the new mount.
pub fn reopen(
    root: &Rootfs,
    resolved: &Resolved,
    destination: &Path,
) -> Result<OwnedFd, RootfsError> {
    open_in_root(root.fd.as_fd(), &resolved.relative, OFlag::O_PATH)
        .map_err(|e| RootfsError::path("reopen mount", destination, e))
}

/// `MS_BIND|MS_REMOUNT` the mount at `fd` with `wanted`, keeping what it already has.
pub fn remount(
    fd: &OwnedFd,
    destination: &Path,
    wanted: MsFlags,
    cleared: MsFlags,
) -> Result<(), RootfsError> {
    let existing = fstatvfs(fd)
        .map(|st| statvfs_flags(st.flags()))
        .map_err(|e| RootfsError::path("statvfs", destination, e))?;
    let flags = remount_flags(wanted, cleared, existing);
    mount(none(), &fd_path(fd), none(), flags, none()).map_err(|errno| RootfsError::Remount {
        destination: destination.to_path_buf(),
        flags: format!("{flags:?}"),
        errno,
    })
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(fd, "", AT_EMPTY_PATH|AT_RECURSIVE): set `attrs` on the whole subtree.
/// Returns ENOSYS on kernels before 5.12; callers fall back to the non-recursive remount.
fn mount_setattr_recursive(fd: &OwnedFd, attrs: u64) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: attrs,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = (libc::AT_EMPTY_PATH | libc::AT_RECURSIVE) as libc::c_uint;
    // SAFETY: `fd` is a live descriptor borrowed for the call, the path is a static
    // NUL-terminated empty string, and `attr` is a fully initialised `struct mount_attr`
    // (MOUNT_ATTR_SIZE_VER0 = 32 bytes) that the kernel only reads during the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(ret).map(drop)
}

/// Bind `src` (a host path) onto the destination, then apply the flags a bind ignores.
pub fn bind_mount(
    root: &Rootfs,
    target: Target<'_>,
    resolved: &Resolved,
    src: &Path,
    opts: &MountOptions,
) -> Result<(), RootfsError> {
    let meta = std::fs::metadata(src).map_err(|e| RootfsError::BindSource {
        src: src.to_path_buf(),
        destination: target.destination.to_path_buf(),
        errno: super::error::io_errno(&e),
    })?;
    let create = if meta.is_dir() {
        Create::Dir
    } else {
        Create::File
    };
    let fd = open_dest(root, resolved, create)?;
    verify_inside(root, &fd, target.destination)?;
    let recursive = opts.bind == Some(Bind::Recursive);
    let mut flags = MsFlags::MS_BIND;
    if recursive {
        flags |= MsFlags::MS_REC;
    }
    let src_str = src.to_string_lossy();
    mount_on_fd(target, &fd, &src_str, None, flags, "")?;
    let needs_remount = opts.bind_remount_flags().is_some();
    let attrs = opts.recursive_attrs();
    if !needs_remount && attrs == 0 {
        return Ok(());
    }
    let mounted = reopen(root, resolved, target.destination)?;
    if needs_remount {
        remount(&mounted, target.destination, opts.flags, opts.cleared)?;
    }
    if attrs != 0 {
        match mount_setattr_recursive(&mounted, attrs) {
            // Before 5.12 only the top mount could be made read-only; the remount above did.
            Ok(()) | Err(Errno::ENOSYS) => {}
            Err(errno) => {
                return Err(RootfsError::MountSetattr {
                    destination: target.destination.to_path_buf(),
                    errno,
                })
            }
        }
    }
    Ok(())
}

/// Apply the propagation options ("rprivate", "shared", ...) after the mount exists.
pub fn apply_propagation(
    root: &Rootfs,
    resolved: &Resolved,
    destination: &Path,
    propagation: &[MsFlags],
) -> Result<(), RootfsError> {
    if propagation.is_empty() {
        return Ok(());
    }
    let fd = reopen(root, resolved, destination)?;
    for flags in propagation {
        mount(none(), &fd_path(&fd), none(), *flags, none()).map_err(|errno| {
            RootfsError::Propagation {
                destination: destination.to_path_buf(),
                propagation: format!("{flags:?}"),
                errno,
            }
        })?;
    }
    Ok(())
}

fn is_dir(fd: &OwnedFd, destination: &Path) -> Result<bool, RootfsError> {
    let st = fstat(fd.as_fd()).map_err(|e| RootfsError::path("stat", destination, e))?;
    Ok(SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
}

/// Mount one entry of `spec.mounts`.
pub fn mount_entry(ctx: &mut MountCtx<'_>, m: &Mount) -> Result<(), RootfsError> {
    let destination = m.destination().as_path();
    let fstype = m.typ().as_deref().unwrap_or("");
    let options: &[String] = m.options().as_deref().unwrap_or_default();
    let mut opts = parse_options(options).map_err(|u| RootfsError::UnsupportedOption {
        destination: destination.to_path_buf(),
        option: u.option,
        reason: u.reason,
    })?;
    // config.md: for bind mounts the type is a no-op; a "bind" type alone still binds.
    if fstype == "bind" && opts.bind.is_none() {
        opts.bind = Some(Bind::Single);
    }
    let target = Target {
        destination,
        fstype,
    };
    let resolved = resolve_lexically(ctx.root, destination)?;
    let clean = Path::new("/").join(clean_rooted(destination).iter().collect::<PathBuf>());
    let kernel_fs = matches!(fstype, "proc" | "sysfs")
        || clean == Path::new("/proc")
        || clean == Path::new("/sys");
    if kernel_fs && resolved.via_symlink {
        return Err(RootfsError::SymlinkedKernelFs {
            destination: destination.to_path_buf(),
            fstype: fstype.to_string(),
        });
    }
    let source = m.source().as_deref();
    if opts.bind.is_some() {
        let src = source.ok_or_else(|| RootfsError::MissingSource {
            destination: destination.to_path_buf(),
            fstype: fstype.to_string(),
        })?;
        bind_mount(ctx.root, target, &resolved, src, &opts)?;
    } else {
        let src = source.map_or_else(|| fstype.to_string(), |s| s.to_string_lossy().into_owned());
        match fstype {
            "cgroup" => cgroup::mount_cgroup(ctx, target, &resolved, &opts)?,
            "tmpfs" => mount_tmpfs(ctx, target, &resolved, &src, &opts)?,
            _ => mount_kernel_fs(ctx, target, &resolved, &src, &opts)?,
        }
    }
    apply_propagation(ctx.root, &resolved, destination, &opts.propagation)
}

/// proc, sysfs, mqueue, devpts and every other filesystem mounted by type.
fn mount_kernel_fs(
    ctx: &MountCtx<'_>,
    target: Target<'_>,
    resolved: &Resolved,
    src: &str,
    opts: &MountOptions,
) -> Result<(), RootfsError> {
    let fd = open_dest(ctx.root, resolved, Create::Dir)?;
    verify_inside(ctx.root, &fd, target.destination)?;
    if matches!(target.fstype, "proc" | "sysfs") && !is_dir(&fd, target.destination)? {
        return Err(RootfsError::NotADirectory {
            destination: target.destination.to_path_buf(),
            fstype: target.fstype.to_string(),
        });
    }
    let fstype = (!target.fstype.is_empty()).then_some(target.fstype);
    match mount_on_fd(target, &fd, src, fstype, opts.flags, &opts.data) {
        // A user namespace that does not own the network namespace may not mount sysfs;
        // runc then binds the host's /sys instead, read-only flags and all.
        Err(RootfsError::Mount {
            errno: Errno::EPERM,
            ..
        }) if target.fstype == "sysfs" && ctx.in_user_ns => {
            let mut fallback = opts.clone();
            fallback.bind = Some(Bind::Recursive);
            bind_mount(ctx.root, target, resolved, Path::new("/sys"), &fallback)
        }
        other => other,
    }
}

fn mount_tmpfs(
    ctx: &mut MountCtx<'_>,
    target: Target<'_>,
    resolved: &Resolved,
    src: &str,
    opts: &MountOptions,
) -> Result<(), RootfsError> {
    let fd = open_dest(ctx.root, resolved, Create::Dir)?;
    verify_inside(ctx.root, &fd, target.destination)?;
    // Opened before the mount so it keeps naming the directory the tmpfs will cover.
    let covered = if opts.tmpcopyup {
        let dir = open_in_root(
            ctx.root.fd.as_fd(),
            &resolved.relative,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        )
        .map_err(|e| RootfsError::path("open for tmpcopyup", target.destination, e))?;
        Some(dir)
    } else {
        None
    };
    let readonly = opts.flags.contains(MsFlags::MS_RDONLY);
    let flags = opts.flags - MsFlags::MS_RDONLY;
    mount_on_fd(target, &fd, src, Some("tmpfs"), flags, &opts.data)?;
    if let Some(covered) = covered {
        let mounted = open_in_root(
            ctx.root.fd.as_fd(),
            &resolved.relative,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        )
        .map_err(|e| RootfsError::path("reopen tmpfs", target.destination, e))?;
        tmpcopy::copy_up(&covered, &mounted, target.destination)?;
    }
    if readonly {
        ctx.deferred_ro
            .push((target.destination.to_path_buf(), resolved.clone()));
    }
    Ok(())
}

/// Make the tmpfs mounts that asked for "ro" read-only, now that nothing more is
/// created under them.
pub fn finish_deferred(ctx: &mut MountCtx<'_>) -> Result<(), RootfsError> {
    for (destination, resolved) in std::mem::take(&mut ctx.deferred_ro) {
        let fd = reopen(ctx.root, &resolved, &destination)?;
        remount(&fd, &destination, MsFlags::MS_RDONLY, MsFlags::empty())?;
    }
    Ok(())
}
