//! Container root filesystems under `containers/<id>/`: `layers` (the chain ids, bottom first,
//! so gc keeps them even after the image is deleted), `mode`, and `upper`, `work`, `merged`.

use crate::digest::Digest;
use crate::error::{ImageError, IoCtx};
use crate::fsutil;
use crate::overlay::{self, RootfsMode};
use crate::snapshot;
use crate::ImageStore;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

fn valid_container_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

impl ImageStore {
    fn container_dir(&self, container_id: &str) -> Result<PathBuf, ImageError> {
        if !valid_container_id(container_id) {
            return Err(ImageError::InvalidContainerId(container_id.to_string()));
        }
        Ok(self.root.join("containers").join(container_id))
    }

    /// Ids of every prepared container rootfs (for a daemon to drop those whose container
    /// it no longer knows, e.g. after a crash in the middle of a create).
    pub fn rootfs_ids(&self) -> Result<Vec<String>, ImageError> {
        let dir = self.root.join("containers");
        let mut out = Vec::new();
        for ent in fs::read_dir(&dir).ctx("read directory", &dir)? {
            let name = ent.ctx("read directory", &dir)?.file_name();
            let name = name.to_string_lossy();
            if valid_container_id(&name) && !name.starts_with(".tmp-") {
                out.push(name.into_owned());
            }
        }
        Ok(out)
    }

    /// Chain ids used by prepared container rootfs (kept by gc).
    pub(crate) fn container_chains(&self) -> Result<Vec<String>, ImageError> {
        let dir = self.root.join("containers");
        let mut out = Vec::new();
        for ent in fs::read_dir(&dir).ctx("read directory", &dir)? {
            let p = ent.ctx("read directory", &dir)?.path().join("layers");
            if let Ok(s) = fs::read_to_string(&p) {
                out.extend(s.lines().map(str::to_string));
            }
        }
        Ok(out)
    }

    /// Mount an overlay rootfs for a container (image layers read-only + a fresh upper);
    /// returns the merged directory. Idempotent: a prepared rootfs is returned as is, and one
    /// whose mount is gone (reboot) is mounted again over the same upper dir.
    pub fn prepare_rootfs(
        &self,
        image_id: &str,
        container_id: &str,
    ) -> Result<PathBuf, ImageError> {
        let cdir = self.container_dir(container_id)?;
        let merged = cdir.join("merged");
        let layers_file = cdir.join("layers");
        let mode_file = cdir.join("mode");
        let chains: Vec<Digest> = if layers_file.is_file() {
            let s = fs::read_to_string(&layers_file).ctx("read", &layers_file)?;
            s.lines().map(Digest::parse).collect::<Result<_, _>>()?
        } else {
            let idx = self.index();
            let id = crate::ops::resolve_in(&idx, image_id)?.id().to_string();
            let diff_ids: Vec<Digest> = idx.images[&id]
                .layers
                .iter()
                .map(|l| Digest::parse(&l.diff_id))
                .collect::<Result<_, _>>()?;
            let tmp = fsutil::TempGuard::new(fsutil::temp_path(
                &self.root.join("containers"),
                container_id,
            ));
            fsutil::create_dir_all(tmp.path())?;
            let chains = snapshot::chain_ids(&diff_ids);
            let text: String = chains.iter().map(|c| format!("{c}\n")).collect();
            fs::write(tmp.path().join("layers"), text).ctx("write", &tmp.path().join("layers"))?;
            // Publish the record before unpacking anything, so gc already protects the chain.
            match fs::rename(tmp.path(), &cdir) {
                Ok(()) => {
                    tmp.keep();
                }
                Err(_) if layers_file.is_file() => {}
                Err(e) => return Err(ImageError::io("create container dir", &cdir, e)),
            }
            snapshot::ensure_chain(&self.blobs, &self.snaps, &diff_ids)?;
            chains
        };
        for c in &chains {
            if !self.snaps.exists(c) {
                return Err(ImageError::NotFound(format!(
                    "layer snapshot {c} of container {container_id} (its image was deleted and pruned)"
                )));
            }
        }
        let recorded = fs::read_to_string(&mode_file).unwrap_or_default();
        if recorded.trim() == "copy" && merged.is_dir() {
            return Ok(merged);
        }
        if overlay::is_mounted(&merged)? {
            return Ok(merged);
        }
        let use_overlay = match self.mode {
            RootfsMode::Copy => false,
            RootfsMode::Overlay | RootfsMode::Auto => recorded.trim() != "copy",
        };
        if use_overlay {
            for d in ["upper", "work", "merged"] {
                fsutil::create_dir_all(&cdir.join(d))?;
            }
            let mut lowers = chains
                .iter()
                .rev()
                .map(|c| self.snaps.short_path(c))
                .collect::<Result<Vec<_>, _>>()?;
            if lowers.is_empty() {
                // overlay needs a lowerdir; an image without layers gets an empty one.
                let empty = self.root.join("l").join("empty");
                fsutil::create_dir_all(&empty)?;
                lowers.push("l/empty".into());
            }
            let rel = |d: &str| format!("containers/{container_id}/{d}");
            match overlay::mount_overlay(&self.root, &lowers, &rel("upper"), &rel("work"), &merged)
            {
                Ok(()) => {
                    fsutil::atomic_write(&mode_file, b"overlay")?;
                    return Ok(merged);
                }
                Err(e) if self.mode == RootfsMode::Overlay => return Err(e),
                Err(_) => {
                    for d in ["upper", "work", "merged"] {
                        fsutil::remove_any(&cdir.join(d))?;
                    }
                }
            }
        }
        // Copy fallback: build the merged tree in a temp dir, then rename it into place.
        let tmp = fsutil::TempGuard::new(fsutil::temp_path(&cdir, "merged"));
        fsutil::create_dir_all(tmp.path())?;
        let dirs: Vec<PathBuf> = chains.iter().map(|c| self.snaps.fs_dir(c)).collect();
        overlay::copy_chain(&dirs, tmp.path())?;
        fsutil::remove_any(&merged)?;
        fs::rename(tmp.path(), &merged).ctx("rename rootfs into place", &merged)?;
        tmp.keep();
        fsutil::atomic_write(&mode_file, b"copy")?;
        Ok(merged)
    }

    /// Unmount and delete a container's rootfs. Idempotent.
    pub fn remove_rootfs(&self, container_id: &str) -> Result<(), ImageError> {
        let cdir = self.container_dir(container_id)?;
        if fs::symlink_metadata(&cdir).is_err() {
            return Ok(());
        }
        overlay::unmount(&cdir.join("merged"))?;
        // Rename out of sight first: a crash mid-delete leaves only a `.tmp-*` that open() removes.
        let tmp = fsutil::temp_path(&self.root.join("containers"), "rm");
        fs::rename(&cdir, &tmp).ctx("remove container rootfs", &cdir)?;
        fsutil::remove_any(&tmp)
    }

    /// The merged directory of a prepared rootfs.
    pub fn rootfs_path(&self, container_id: &str) -> Result<PathBuf, ImageError> {
        let merged = self.container_dir(container_id)?.join("merged");
        if merged.is_dir() {
            Ok(merged)
        } else {
            Err(ImageError::NoRootfs(container_id.to_string()))
        }
    }

    /// `docker export`: a tar of the container's merged filesystem.
    pub fn export_rootfs(&self, container_id: &str, out: &mut dyn Write) -> Result<(), ImageError> {
        let merged = self.rootfs_path(container_id)?;
        let mut b = tar::Builder::new(out);
        b.follow_symlinks(false);
        append_tree(&mut b, &merged, Path::new(""))?;
        b.into_inner().ctx("write export of", &merged)?;
        Ok(())
    }
}

fn append_tree(
    b: &mut tar::Builder<&mut dyn Write>,
    base: &Path,
    rel: &Path,
) -> Result<(), ImageError> {
    let dir = base.join(rel);
    let mut names: Vec<_> = fs::read_dir(&dir)
        .ctx("read directory", &dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .ctx("read directory", &dir)?;
    names.sort();
    for n in names {
        let r = rel.join(&n);
        let full = base.join(&r);
        b.append_path_with_name(&full, &r).ctx("archive", &full)?;
        if fs::symlink_metadata(&full).is_ok_and(|m| m.is_dir()) {
            append_tree(b, base, &r)?;
        }
    }
    Ok(())
}
