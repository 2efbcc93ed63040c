//! A container's changes as a layer tar: the overlay upper directory in OCI form. Overlay
//! whiteouts (char device 0:0) become `.wh.<name>`, opaque directories
//! (`trusted.overlay.opaque=y`) get a `.wh..wh..opq` entry. Entries are sorted and carry no
//! user or group names or access times, and `clamp_mtime` (SOURCE_DATE_EPOCH) caps every
//! modification time, so the same tree always gives the same bytes.

use crate::error::{ImageError, IoCtx};
use crate::unpack::{get_xattr, OPAQUE_XATTR};
use crate::ImageStore;
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

impl ImageStore {
    /// The overlay upper directory of a container rootfs prepared with
    /// [`ImageStore::prepare_rootfs`]; an error when the rootfs is a plain copy (no upper).
    pub fn rootfs_upper(&self, container_id: &str) -> Result<PathBuf, ImageError> {
        let merged = self.rootfs_path(container_id)?;
        let cdir = merged
            .parent()
            .ok_or_else(|| ImageError::NoRootfs(container_id.to_string()))?;
        let mode = fs::read_to_string(cdir.join("mode")).unwrap_or_default();
        let upper = cdir.join("upper");
        if mode.trim() != "overlay" || !upper.is_dir() {
            return Err(ImageError::NoRootfs(format!(
                "{container_id} (its rootfs is not an overlay mount, so it has no upper directory)"
            )));
        }
        Ok(upper)
    }
}

/// Write the OCI layer tar of overlay upper directory `upper` to `out`.
pub fn write_layer_from_upper(
    upper: &Path,
    out: &mut dyn Write,
    clamp_mtime: Option<i64>,
) -> Result<(), ImageError> {
    let mut b = tar::Builder::new(out);
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    walk(&mut b, upper, Path::new(""), clamp_mtime, &mut links)?;
    b.into_inner().ctx("finish layer of", upper)?;
    Ok(())
}

fn header(md: &fs::Metadata, clamp: Option<i64>) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    let mtime = match clamp {
        Some(c) if md.mtime() > c => c,
        _ => md.mtime(),
    };
    h.set_mtime(mtime.max(0) as u64);
    h.set_uid(md.uid() as u64);
    h.set_gid(md.gid() as u64);
    h.set_mode(md.mode() & 0o7777);
    h.set_size(0);
    h
}

fn walk(
    b: &mut tar::Builder<&mut dyn Write>,
    base: &Path,
    rel: &Path,
    clamp: Option<i64>,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> Result<(), ImageError> {
    let dir = base.join(rel);
    let mut names: Vec<_> = fs::read_dir(&dir)
        .ctx("read directory", &dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .ctx("read directory", &dir)?;
    names.sort();
    for name in names {
        let r = rel.join(&name);
        let full = base.join(&r);
        let md = fs::symlink_metadata(&full).ctx("stat", &full)?;
        let ft = md.file_type();
        let mut h = header(&md, clamp);
        if ft.is_char_device() && md.rdev() == 0 {
            let wh = rel.join(format!(".wh.{}", name.to_string_lossy()));
            h.set_entry_type(tar::EntryType::Regular);
            h.set_mode(0o644);
            b.append_data(&mut h, &wh, std::io::empty())
                .ctx("archive", &full)?;
        } else if ft.is_dir() {
            h.set_entry_type(tar::EntryType::Directory);
            b.append_data(&mut h, &r, std::io::empty())
                .ctx("archive", &full)?;
            if get_xattr(&full, OPAQUE_XATTR)
                .ctx("read xattr of", &full)?
                .as_deref()
                == Some(b"y")
            {
                let mut o = header(&md, clamp);
                o.set_entry_type(tar::EntryType::Regular);
                o.set_mode(0o644);
                b.append_data(&mut o, r.join(".wh..wh..opq"), std::io::empty())
                    .ctx("archive", &full)?;
            }
            walk(b, base, &r, clamp, links)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&full).ctx("read link", &full)?;
            h.set_entry_type(tar::EntryType::Symlink);
            b.append_link(&mut h, &r, &target).ctx("archive", &full)?;
        } else if ft.is_file() {
            if md.nlink() > 1 {
                let key = (md.dev(), md.ino());
                if let Some(first) = links.get(&key) {
                    h.set_entry_type(tar::EntryType::Link);
                    b.append_link(&mut h, &r, first).ctx("archive", &full)?;
                    continue;
                }
                links.insert(key, r.clone());
            }
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(md.len());
            let f = fs::File::open(&full).ctx("open", &full)?;
            b.append_data(&mut h, &r, f).ctx("archive", &full)?;
        } else {
            let kind = if ft.is_char_device() {
                tar::EntryType::Char
            } else if ft.is_block_device() {
                tar::EntryType::Block
            } else if ft.is_fifo() {
                tar::EntryType::Fifo
            } else {
                continue; // sockets are not archived, as in Docker
            };
            h.set_entry_type(kind);
            let rdev = md.rdev();
            h.set_device_major(libc::major(rdev))
                .ctx("archive", &full)?;
            h.set_device_minor(libc::minor(rdev))
                .ctx("archive", &full)?;
            b.append_data(&mut h, &r, std::io::empty())
                .ctx("archive", &full)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unpack::set_xattr;
    use nix::sys::stat::{mknod, Mode, SFlag};

    fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    #[test]
    fn whiteouts_opaque_order_and_clamp() {
        if !is_root() {
            eprintln!("skipped: needs root for mknod and trusted xattrs");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let u = t.path();
        fs::create_dir_all(u.join("etc")).unwrap();
        fs::write(u.join("etc/b"), b"bee").unwrap();
        fs::write(u.join("etc/a"), b"a").unwrap();
        fs::hard_link(u.join("etc/a"), u.join("etc/a2")).unwrap();
        std::os::unix::fs::symlink("a", u.join("etc/link")).unwrap();
        mknod(&u.join("gone"), SFlag::S_IFCHR, Mode::empty(), 0).unwrap();
        fs::create_dir(u.join("opq")).unwrap();
        set_xattr(&u.join("opq"), OPAQUE_XATTR, b"y").unwrap();
        let mut out = Vec::new();
        write_layer_from_upper(u, &mut out, Some(1000)).unwrap();
        let mut again = Vec::new();
        write_layer_from_upper(u, &mut again, Some(1000)).unwrap();
        assert_eq!(out, again, "same tree, same bytes");
        let mut ar = tar::Archive::new(&out[..]);
        let entries: Vec<(String, tar::EntryType, u64)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    h.entry_type(),
                    h.mtime().unwrap(),
                )
            })
            .collect();
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "etc",
                "etc/a",
                "etc/a2",
                "etc/b",
                "etc/link",
                ".wh.gone",
                "opq",
                "opq/.wh..wh..opq"
            ]
        );
        assert_eq!(entries[2].1, tar::EntryType::Link);
        assert_eq!(entries[4].1, tar::EntryType::Symlink);
        assert!(entries.iter().all(|e| e.2 <= 1000));
    }
}
