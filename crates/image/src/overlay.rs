//! Container rootfs: an overlay mount of the image's snapshots (read-only lowers, top first)
//! with a fresh upper/work under `containers/<id>/`, or a plain copy when overlay is unusable.

use crate::error::{ImageError, IoCtx};
use crate::fsutil;
use crate::unpack::{get_xattr, list_xattrs, set_xattr, OPAQUE_XATTR};
use nix::mount::{MntFlags, MsFlags};
use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How `prepare_rootfs` builds a rootfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RootfsMode {
    /// Overlay, falling back to a copy when the mount fails (e.g. the store is on overlayfs).
    #[default]
    Auto,
    Overlay,
    Copy,
}

/// The kernel copies at most one page of mount data (fs/namespace.c, copy_mount_options).
const MOUNT_DATA_MAX: usize = 4095;

/// Mount overlay at `target`. `lowers` (top first), `upper` and `work` are relative to `root`:
/// the mount runs in a thread that unshares its cwd (CLONE_FS) and chdirs to `root`, so the
/// option string carries short relative paths and the rest of the process keeps its cwd.
pub fn mount_overlay(
    root: &Path,
    lowers: &[String],
    upper: &str,
    work: &str,
    target: &Path,
) -> Result<(), ImageError> {
    let data = format!(
        "lowerdir={},upperdir={upper},workdir={work}",
        lowers.join(":")
    );
    let err = |source| ImageError::Mount {
        target: target.to_path_buf(),
        layers: lowers.len(),
        source,
    };
    if data.len() > MOUNT_DATA_MAX {
        return Err(err(nix::Error::E2BIG));
    }
    let root = root.to_path_buf();
    let target_owned = target.to_path_buf();
    std::thread::spawn(move || -> nix::Result<()> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS)?;
        nix::unistd::chdir(&root)?;
        nix::mount::mount(
            Some("overlay"),
            &target_owned,
            Some("overlay"),
            MsFlags::empty(),
            Some(data.as_str()),
        )
    })
    .join()
    .unwrap_or(Err(nix::Error::EIO))
    .map_err(err)
}

/// Unmount `target` (and anything stacked on it); a lazy detach when it is busy.
pub fn unmount(target: &Path) -> Result<(), ImageError> {
    for _ in 0..16 {
        if !is_mounted(target)? {
            return Ok(());
        }
        match nix::mount::umount2(target, MntFlags::empty()) {
            Ok(()) => {}
            Err(nix::Error::EBUSY) => {
                nix::mount::umount2(target, MntFlags::MNT_DETACH).map_err(|source| {
                    ImageError::Unmount {
                        target: target.to_path_buf(),
                        source,
                    }
                })?
            }
            Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => return Ok(()),
            Err(source) => {
                return Err(ImageError::Unmount {
                    target: target.to_path_buf(),
                    source,
                })
            }
        }
    }
    Err(ImageError::Unmount {
        target: target.to_path_buf(),
        source: nix::Error::EBUSY,
    })
}

/// Whether `p` is a mount point, per /proc/self/mountinfo (field 5, octal-escaped).
pub fn is_mounted(p: &Path) -> Result<bool, ImageError> {
    let mi = Path::new("/proc/self/mountinfo");
    let text = fs::read_to_string(mi).ctx("read", mi)?;
    let want = p.to_string_lossy();
    Ok(text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|m| unescape_mountinfo(m) == want))
}

pub fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Build a merged tree by copying snapshot dirs (bottom first) into `dst`, applying overlay
/// whiteouts (char 0/0) and opaque dirs the way the kernel would present them.
pub fn copy_chain(layers_bottom_first: &[PathBuf], dst: &Path) -> Result<(), ImageError> {
    for l in layers_bottom_first {
        let mut links = HashMap::new();
        apply_dir(l, dst, &mut links)?;
    }
    Ok(())
}

fn apply_dir(
    src: &Path,
    dst: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> Result<(), ImageError> {
    let mut entries: Vec<_> = fs::read_dir(src)
        .ctx("read directory", src)?
        .collect::<io::Result<_>>()
        .ctx("read directory", src)?;
    entries.sort_by_key(|e| e.file_name());
    for ent in entries {
        let s = ent.path();
        let d = dst.join(ent.file_name());
        let m = fs::symlink_metadata(&s).ctx("stat", &s)?;
        let ft = m.file_type();
        use std::os::unix::fs::FileTypeExt;
        if ft.is_char_device() && m.rdev() == 0 {
            fsutil::remove_any(&d)?; // whiteout
            continue;
        }
        if ft.is_dir() {
            let opaque = get_xattr(&s, OPAQUE_XATTR)
                .ctx("read xattr", &s)?
                .as_deref()
                == Some(b"y");
            let existing = fs::symlink_metadata(&d).ok();
            if existing.as_ref().is_some_and(|e| opaque || !e.is_dir()) {
                fsutil::remove_any(&d)?;
            }
            if fs::symlink_metadata(&d).is_err() {
                fs::create_dir(&d).ctx("create directory", &d)?;
            }
            apply_dir(&s, &d, links)?;
            copy_meta(&s, &d, &m)?;
            continue;
        }
        fsutil::remove_any(&d)?;
        let key = (m.dev(), m.ino());
        if m.nlink() > 1 {
            if let Some(prev) = links.get(&key) {
                fs::hard_link(prev, &d).ctx("create hard link", &d)?;
                continue;
            }
            links.insert(key, d.clone());
        }
        if ft.is_file() {
            fs::copy(&s, &d).ctx("copy file", &d)?;
        } else if ft.is_symlink() {
            let t = fs::read_link(&s).ctx("read link", &s)?;
            std::os::unix::fs::symlink(&t, &d).ctx("create symlink", &d)?;
        } else {
            let kind = nix::sys::stat::SFlag::from_bits_truncate(m.mode() & libc::S_IFMT);
            nix::sys::stat::mknod(
                &d,
                kind,
                nix::sys::stat::Mode::from_bits_truncate(m.mode() & 0o7777),
                m.rdev(),
            )
            .map_err(io::Error::from)
            .ctx("create device node", &d)?;
        }
        copy_meta(&s, &d, &m)?;
    }
    Ok(())
}

fn copy_meta(s: &Path, d: &Path, m: &fs::Metadata) -> Result<(), ImageError> {
    std::os::unix::fs::lchown(d, Some(m.uid()), Some(m.gid())).ctx("chown", d)?;
    if !m.file_type().is_symlink() {
        fs::set_permissions(d, fs::Permissions::from_mode(m.mode() & 0o7777)).ctx("chmod", d)?;
    }
    for k in list_xattrs(s).ctx("list xattrs", s)? {
        if k.starts_with("trusted.overlay.") {
            continue;
        }
        if let Some(v) = get_xattr(s, &k).ctx("read xattr", s)? {
            set_xattr(d, &k, &v).ctx("set xattr", d)?;
        }
    }
    let at = nix::sys::time::TimeSpec::new(m.atime(), m.atime_nsec());
    let mt = nix::sys::time::TimeSpec::new(m.mtime(), m.mtime_nsec());
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        d,
        &at,
        &mt,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io::Error::from)
    .ctx("set mtime", d)
}
