//! Unpack one layer tar into a directory in overlayfs "diff" form: OCI whiteouts become overlay
//! whiteouts (`.wh.x` → char device 0/0 `x`; `.wh..wh..opq` → `trusted.overlay.opaque=y`), so the
//! directory can be stacked as an overlay lowerdir as is.
//!
//! Safety (CVE-2018-15664, CVE-2019-14271 and the many tar "zip-slip" bugs): every entry path and
//! hardlink target must be relative, free of `..`, and must not pass through a symlink — each
//! parent component is checked with lstat, so nothing is ever written outside `target`.
//! Memory is bounded: entries stream from the reader straight to disk.

use crate::error::{ImageError, IoCtx};
use nix::sys::stat::{self, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use std::ffi::CString;
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";

#[derive(Debug, Default, Clone, Copy)]
pub struct UnpackStats {
    pub entries: u64,
    /// Sum of regular file sizes.
    pub size: u64,
}

/// Unpack the (uncompressed) tar stream `r` into `target`, which must exist.
pub fn unpack_layer(r: impl Read, target: &Path, layer: &str) -> Result<UnpackStats, ImageError> {
    let privileged = nix::unistd::geteuid().is_root();
    let mut ar = tar::Archive::new(r);
    let mut stats = UnpackStats::default();
    let mut dir_times: Vec<(PathBuf, i64)> = Vec::new();
    let read_err = |e: io::Error| ImageError::LayerRead {
        layer: layer.to_string(),
        source: e,
    };
    for entry in ar.entries().map_err(read_err)? {
        let mut entry = entry.map_err(read_err)?;
        let raw_path = entry.path().map_err(read_err)?.into_owned();
        let unsafe_entry = |reason: String| ImageError::UnsafeEntry {
            layer: layer.to_string(),
            entry: raw_path.display().to_string(),
            reason,
        };
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let rel = sanitize(&raw_path).map_err(&unsafe_entry)?;
        let Some(name) = rel.file_name().map(|n| n.to_string_lossy().into_owned()) else {
            continue; // the layer root ("./") itself
        };
        let parent_rel = rel.parent().unwrap_or(Path::new(""));
        let parent = ensure_parent(target, parent_rel).map_err(&unsafe_entry)?;
        stats.entries += 1;

        if name == OPAQUE_MARKER {
            set_xattr(&parent, OPAQUE_XATTR, b"y").ctx("mark opaque", &parent)?;
            continue;
        }
        if name.starts_with(".wh..wh.") {
            continue; // aufs bookkeeping (.wh..wh.plnk and friends), meaningless to overlay
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            let dst = parent.join(hidden);
            crate::fsutil::remove_any(&dst)?;
            mknod(&dst, SFlag::S_IFCHR, 0o000, 0).ctx("create whiteout", &dst)?;
            continue;
        }

        let dst = parent.join(&name);
        let h = entry.header();
        let mode = h.mode().map_err(read_err)? & 0o7777;
        // Some producers leave uid/gid blank; GNU tar reads that as 0 too.
        let uid = h.uid().unwrap_or(0) as u32;
        let gid = h.gid().unwrap_or(0) as u32;
        let mtime = h.mtime().map_err(read_err)? as i64;
        let xattrs = pax_xattrs(&mut entry).map_err(read_err)?;

        if kind.is_dir() {
            match fs::symlink_metadata(&dst) {
                Ok(m) if m.is_dir() => {}
                _ => {
                    crate::fsutil::remove_any(&dst)?;
                    fs::create_dir(&dst).ctx("create directory", &dst)?;
                }
            }
            dir_times.push((dst.clone(), mtime));
        } else if kind.is_hard_link() {
            let link = entry
                .link_name()
                .map_err(read_err)?
                .ok_or_else(|| unsafe_entry("hard link without a target".into()))?;
            let src_rel = sanitize(&link)
                .map_err(|r| unsafe_entry(format!("hard link target {}: {r}", link.display())))?;
            let src_parent =
                ensure_parent_exists(target, src_rel.parent().unwrap_or(Path::new(""))).map_err(
                    |r| unsafe_entry(format!("hard link target {}: {r}", link.display())),
                )?;
            let src = src_parent.join(src_rel.file_name().unwrap_or_default());
            match fs::symlink_metadata(&src) {
                Ok(m) if !m.is_dir() => {}
                _ => {
                    return Err(unsafe_entry(format!(
                        "hard link target {} is not a file earlier in the same layer",
                        link.display()
                    )))
                }
            }
            crate::fsutil::remove_any(&dst)?;
            fs::hard_link(&src, &dst).ctx("create hard link", &dst)?;
            continue; // a hard link shares the target's inode and metadata
        } else if kind.is_symlink() {
            let link = entry
                .link_name()
                .map_err(read_err)?
                .ok_or_else(|| unsafe_entry("symlink without a target".into()))?;
            crate::fsutil::remove_any(&dst)?;
            symlink(&link, &dst).ctx("create symlink", &dst)?;
        } else if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            let (t, dev) = if kind.is_fifo() {
                (SFlag::S_IFIFO, 0)
            } else {
                let major = entry
                    .header()
                    .device_major()
                    .map_err(read_err)?
                    .unwrap_or(0);
                let minor = entry
                    .header()
                    .device_minor()
                    .map_err(read_err)?
                    .unwrap_or(0);
                let t = if kind.is_block_special() {
                    SFlag::S_IFBLK
                } else {
                    SFlag::S_IFCHR
                };
                (t, libc::makedev(major, minor))
            };
            crate::fsutil::remove_any(&dst)?;
            mknod(&dst, t, mode, dev).ctx("create device node", &dst)?;
        } else {
            // Regular files, and per POSIX any unknown type flag.
            crate::fsutil::remove_any(&dst)?;
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&dst)
                .ctx("create file", &dst)?;
            stats.size += io::copy(&mut entry, &mut f).map_err(read_err)?;
        }

        let is_link = kind.is_symlink();
        if privileged {
            std::os::unix::fs::lchown(&dst, Some(uid), Some(gid)).ctx("chown", &dst)?;
        }
        // chmod after chown: chown clears setuid/setgid bits.
        if !is_link {
            fs::set_permissions(&dst, std::os::unix::fs::PermissionsExt::from_mode(mode))
                .ctx("chmod", &dst)?;
        }
        // xattrs after chown: chown drops security.capability.
        for (k, v) in &xattrs {
            if let Err(e) = set_xattr(&dst, k, v) {
                let ignorable = e.raw_os_error() == Some(libc::ENOTSUP)
                    || (!privileged && e.raw_os_error() == Some(libc::EPERM));
                if !ignorable {
                    return Err(ImageError::io("set xattr", &dst, e));
                }
            }
        }
        if !kind.is_dir() {
            set_mtime(&dst, mtime)?;
        }
    }
    // Directory times last: creating children changed them.
    for (d, t) in dir_times.iter().rev() {
        set_mtime(d, *t)?;
    }
    Ok(stats)
}

/// Reduce an entry path to normal components; reject absolute paths and `..`.
pub fn sanitize(p: &Path) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => return Err("path contains '..'".into()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute path; layer paths must be relative".into())
            }
        }
    }
    Ok(out)
}

/// Walk `rel` under `root`, creating missing directories; refuse to pass through a symlink
/// or a non-directory (that is how a layer would escape the snapshot).
fn ensure_parent(root: &Path, rel: &Path) -> Result<PathBuf, String> {
    walk(root, rel, true)
}

fn ensure_parent_exists(root: &Path, rel: &Path) -> Result<PathBuf, String> {
    walk(root, rel, false)
}

fn walk(root: &Path, rel: &Path, create: bool) -> Result<PathBuf, String> {
    let mut cur = root.to_path_buf();
    for c in rel.components() {
        cur.push(c);
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(format!(
                    "parent {} is a symlink; writing through it could escape the layer",
                    cur.strip_prefix(root).unwrap_or(&cur).display()
                ))
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(format!(
                    "parent {} is not a directory",
                    cur.strip_prefix(root).unwrap_or(&cur).display()
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                fs::create_dir(&cur).map_err(|e| format!("create {}: {e}", cur.display()))?;
            }
            Err(e) => return Err(format!("{}: {e}", cur.display())),
        }
    }
    Ok(cur)
}

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn mknod(p: &Path, kind: SFlag, perm: u32, dev: libc::dev_t) -> io::Result<()> {
    stat::mknod(p, kind, Mode::from_bits_truncate(perm), dev).map_err(io::Error::from)
}

pub fn set_xattr(p: &Path, key: &str, value: &[u8]) -> io::Result<()> {
    let cp = cpath(p)?;
    let ck = CString::new(key).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: both strings are NUL-terminated and outlive the call; value/len describe a valid slice.
    let rc = unsafe {
        libc::lsetxattr(
            cp.as_ptr(),
            ck.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub fn get_xattr(p: &Path, key: &str) -> io::Result<Option<Vec<u8>>> {
    let cp = cpath(p)?;
    let ck = CString::new(key).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: buf is a valid writable buffer of buf.len() bytes; strings are NUL-terminated.
    let rc =
        unsafe { libc::lgetxattr(cp.as_ptr(), ck.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENODATA) | Some(libc::ENOTSUP) => Ok(None),
            _ => Err(e),
        };
    }
    buf.truncate(rc as usize);
    Ok(Some(buf))
}

fn set_mtime(p: &Path, secs: i64) -> Result<(), ImageError> {
    let t = TimeSpec::new(secs, 0);
    stat::utimensat(
        nix::fcntl::AT_FDCWD,
        p,
        &t,
        &t,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(io::Error::from)
    .ctx("set mtime", p)
}

/// `SCHILY.xattr.*` PAX records, minus `trusted.overlay.*`: a layer must not be able to forge
/// overlay metadata (redirects, opaque markers) that the kernel would act on.
fn pax_xattrs<R: Read>(e: &mut tar::Entry<R>) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    if let Some(exts) = e.pax_extensions()? {
        for ext in exts {
            let ext = ext?;
            let Ok(key) = ext.key() else { continue };
            if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                if !name.starts_with("trusted.overlay.") {
                    out.push((name.to_string(), ext.value_bytes().to_vec()));
                }
            }
        }
    }
    Ok(out)
}

/// All xattr names of `p` (not following symlinks).
pub fn list_xattrs(p: &Path) -> io::Result<Vec<String>> {
    let cp = cpath(p)?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: buf is a valid writable buffer of buf.len() bytes; cp is NUL-terminated.
    let rc = unsafe { libc::llistxattr(cp.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::ENOTSUP) => Ok(Vec::new()),
            _ => Err(e),
        };
    }
    buf.truncate(rc as usize);
    Ok(buf
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect())
}

/// Tar building helpers shared by unit tests (raw header bytes, so hostile names survive).
#[cfg(test)]
pub(crate) mod testtar {
    pub enum E<'a> {
        File(&'a str, &'a [u8]),
        Dir(&'a str),
        Symlink(&'a str, &'a str),
        Hardlink(&'a str, &'a str),
    }

    pub fn build(entries: &[E]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for e in entries {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o755);
            h.set_mtime(1_600_000_000);
            h.set_uid(0);
            h.set_gid(0);
            let (name, link, data, kind): (&str, &str, &[u8], tar::EntryType) = match e {
                E::File(n, d) => (n, "", d, tar::EntryType::Regular),
                E::Dir(n) => (n, "", b"", tar::EntryType::Directory),
                E::Symlink(n, t) => (n, t, b"", tar::EntryType::Symlink),
                E::Hardlink(n, t) => (n, t, b"", tar::EntryType::Link),
            };
            h.set_entry_type(kind);
            h.set_size(data.len() as u64);
            let g = h.as_gnu_mut().unwrap();
            g.name[..name.len()].copy_from_slice(name.as_bytes());
            g.linkname[..link.len()].copy_from_slice(link.as_bytes());
            h.set_cksum();
            b.append(&h, data).unwrap();
        }
        b.into_inner().unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testtar::{build, E};
    use super::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt};

    fn is_root() -> bool {
        if nix::unistd::geteuid().is_root() {
            return true;
        }
        eprintln!("note: skipping, needs root (mknod, trusted.* xattrs)");
        false
    }

    #[test]
    fn rejects_path_escapes_and_writes_nothing_outside() {
        let outside = tempfile::tempdir().unwrap();
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("..", build(&[E::File("../x", b"pwned")])),
            ("absolute", build(&[E::File("/abs", b"pwned")])),
            (
                "symlink",
                build(&[
                    E::Symlink("a", outside.path().to_str().unwrap()),
                    E::File("a/passwd", b"pwned"),
                ]),
            ),
            (
                "symlink",
                build(&[E::Symlink("a", "/etc"), E::File("a/passwd", b"pwned")]),
            ),
            (
                "hard link target",
                build(&[E::Hardlink("h", "../../etc/passwd")]),
            ),
            ("hard link target", build(&[E::Hardlink("h", "etc/passwd")])),
        ];
        for (want, tar) in cases {
            let t = tempfile::tempdir().unwrap();
            let e = unpack_layer(&tar[..], t.path(), "test-layer").unwrap_err();
            let msg = e.to_string();
            assert!(matches!(e, ImageError::UnsafeEntry { .. }), "{msg}");
            assert!(
                msg.contains(want) && msg.contains("test-layer"),
                "{want}: {msg}"
            );
        }
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn safe_links_and_dot_paths_unpack() {
        let t = tempfile::tempdir().unwrap();
        let tar = build(&[
            E::Dir("./etc/"),
            E::File("./etc/passwd", b"root:x:0:0"),
            E::Hardlink("etc/passwd2", "./etc/passwd"),
            E::Symlink("etc/abs", "/etc/passwd"),
        ]);
        let st = unpack_layer(&tar[..], t.path(), "l").unwrap();
        assert_eq!(st.size, 10);
        let a = fs::metadata(t.path().join("etc/passwd")).unwrap();
        let b = fs::metadata(t.path().join("etc/passwd2")).unwrap();
        assert_eq!(a.ino(), b.ino());
        assert_eq!(a.mtime(), 1_600_000_000);
        assert_eq!(
            fs::read_link(t.path().join("etc/abs")).unwrap(),
            Path::new("/etc/passwd")
        );
    }

    #[test]
    fn whiteouts_become_overlay_whiteouts() {
        if !is_root() {
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let tar = build(&[
            E::Dir("bin/"),
            E::File("bin/.wh.ls", b""),
            E::Dir("opt/"),
            E::File("opt/.wh..wh..opq", b""),
            E::File("opt/new", b"n"),
            E::File(".wh..wh.plnk", b""),
        ]);
        unpack_layer(&tar[..], t.path(), "l").unwrap();
        let m = fs::symlink_metadata(t.path().join("bin/ls")).unwrap();
        assert!(m.file_type().is_char_device() && m.rdev() == 0);
        assert!(!t.path().join("bin/.wh.ls").exists());
        assert_eq!(
            get_xattr(&t.path().join("opt"), OPAQUE_XATTR)
                .unwrap()
                .as_deref(),
            Some(&b"y"[..])
        );
        assert!(!t.path().join(".wh..wh.plnk").exists());
        assert!(t.path().join("opt/new").is_file());
    }
}
