//! `load`: spool the incoming archive to a temp dir under the store root (never in memory),
//! find its images (docker-archive `manifest.json` or OCI layout `index.json`), then ingest
//! blobs, snapshots, and finally the index — so a failure anywhere commits nothing.

pub mod docker;
pub mod oci;

use crate::digest::Digest;
use crate::error::{ImageError, IoCtx};
use crate::fsutil::{self, TempGuard};
use crate::snapshot;
use crate::{ImageStore, LoadedImage, Reference};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Configs and manifests are small; a bigger one is a broken or hostile archive.
const MAX_JSON: u64 = 32 << 20;

/// The unpacked archive. Symlinks inside it (older `docker save` links shared layers) are
/// resolved with canonicalize and must stay inside the spool dir.
pub struct Spool {
    /// Removes the spool when the load ends, however it ends.
    _dir: TempGuard,
    canon: PathBuf,
}

impl Spool {
    pub fn extract(parent: &Path, r: &mut dyn Read) -> Result<Spool, ImageError> {
        let dir = TempGuard::new(fsutil::temp_path(parent, "load"));
        fsutil::create_dir_all(dir.path())?;
        let canon = fs::canonicalize(dir.path()).ctx("resolve", dir.path())?;
        let bad = |path: &Path, reason: &str| ImageError::InvalidArchive {
            path: path.display().to_string(),
            reason: reason.to_string(),
        };
        let read_err = |e| ImageError::LayerRead {
            layer: "(outer archive)".into(),
            source: e,
        };
        let mut ar = tar::Archive::new(crate::compress::decompress(r)?);
        for entry in ar.entries().map_err(read_err)? {
            let mut entry = entry.map_err(read_err)?;
            let raw = entry.path().map_err(read_err)?.into_owned();
            let rel = crate::unpack::sanitize(&raw).map_err(|r| bad(&raw, &r))?;
            if rel.as_os_str().is_empty() {
                continue;
            }
            let dst = canon.join(&rel);
            if let Some(p) = dst.parent() {
                fsutil::create_dir_all(p)?;
            }
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                fsutil::create_dir_all(&dst)?;
            } else if kind.is_symlink() {
                let t = entry
                    .link_name()
                    .map_err(read_err)?
                    .ok_or_else(|| bad(&raw, "symlink without target"))?;
                fsutil::remove_any(&dst)?;
                std::os::unix::fs::symlink(&t, &dst).ctx("create symlink", &dst)?;
            } else if kind.is_hard_link() {
                let t = entry
                    .link_name()
                    .map_err(read_err)?
                    .ok_or_else(|| bad(&raw, "hard link without target"))?;
                let t = crate::unpack::sanitize(&t).map_err(|r| bad(&raw, &r))?;
                fsutil::remove_any(&dst)?;
                fs::hard_link(canon.join(t), &dst).ctx("create hard link", &dst)?;
            } else if kind.is_file() || kind.is_contiguous() {
                fsutil::remove_any(&dst)?;
                let mut f = File::create(&dst).ctx("create", &dst)?;
                io::copy(&mut entry, &mut f).map_err(read_err)?;
            }
        }
        Ok(Spool { _dir: dir, canon })
    }

    /// Resolve an archive-relative path; it must exist and stay inside the archive.
    pub fn path(&self, name: &str) -> Result<PathBuf, ImageError> {
        let bad = |reason: &str| ImageError::InvalidArchive {
            path: name.to_string(),
            reason: reason.to_string(),
        };
        let rel = crate::unpack::sanitize(Path::new(name)).map_err(|r| bad(&r))?;
        let p = fs::canonicalize(self.canon.join(rel))
            .map_err(|_| bad("referenced by the archive's manifest but missing from it"))?;
        if !p.starts_with(&self.canon) {
            return Err(bad("a symlink in the archive points outside it"));
        }
        Ok(p)
    }

    pub fn exists(&self, name: &str) -> bool {
        self.path(name).is_ok()
    }

    pub fn open(&self, name: &str) -> Result<File, ImageError> {
        let p = self.path(name)?;
        File::open(&p).ctx("open", &p)
    }

    pub fn read_json(&self, name: &str) -> Result<(Vec<u8>, serde_json::Value), ImageError> {
        let mut bytes = Vec::new();
        self.open(name)?
            .take(MAX_JSON)
            .read_to_end(&mut bytes)
            .ctx("read", &self.canon.join(name))?;
        let v = serde_json::from_slice(&bytes).map_err(|source| ImageError::ArchiveJson {
            path: name.to_string(),
            source,
        })?;
        Ok((bytes, v))
    }
}

/// One image found in an archive.
pub struct Plan {
    pub config: String,
    /// The config digest the archive claims (from a blob path or `<hex>.json`).
    pub config_digest: Option<Digest>,
    pub layers: Vec<PlanLayer>,
    pub tags: Vec<Reference>,
}

pub struct PlanLayer {
    pub path: String,
    pub digest: Option<Digest>,
}

/// `blobs/sha256/<hex>` or `<hex>.json` / `<hex>/layer.tar` names carry a digest.
pub fn digest_in_path(p: &str) -> Option<Digest> {
    let p = p.trim_start_matches("./");
    if let Some(h) = p.strip_prefix("blobs/sha256/") {
        return Digest::from_hex(h).ok();
    }
    p.strip_suffix(".json")
        .and_then(|h| Digest::from_hex(h).ok())
}

pub fn parse_diff_ids(id: &str, config: &serde_json::Value) -> Result<Vec<Digest>, ImageError> {
    let bad = |reason: String| ImageError::InvalidConfig {
        id: id.to_string(),
        reason,
    };
    let arr = config["rootfs"]["diff_ids"]
        .as_array()
        .ok_or_else(|| bad("rootfs.diff_ids is missing".into()))?;
    arr.iter()
        .map(|v| {
            let s = v
                .as_str()
                .ok_or_else(|| bad("rootfs.diff_ids holds a non-string".into()))?;
            Digest::parse(s).map_err(|e| bad(e.to_string()))
        })
        .collect()
}

pub fn created_of(config: &serde_json::Value) -> i64 {
    config["created"]
        .as_str()
        .and_then(crate::timefmt::parse_rfc3339)
        .unwrap_or(0)
}

impl ImageStore {
    /// Import a docker-archive (what `docker save` writes, including docker 25+'s OCI layout
    /// inside it) or an OCI-layout tar; plain, gzip or zstd compressed.
    pub fn load(&self, archive: &mut dyn Read) -> Result<Vec<LoadedImage>, ImageError> {
        let spool = Spool::extract(&self.root, archive)?;
        let plans = if spool.exists("manifest.json") {
            docker::plans(&spool)?
        } else if spool.exists("index.json") {
            oci::plans(&spool)?
        } else {
            return Err(ImageError::InvalidArchive {
                path: "(archive root)".into(),
                reason: "neither manifest.json (docker-archive) nor index.json (OCI layout) found; is this an image archive?".into(),
            });
        };
        let w = self.lock();
        let res = self.ingest_plans(&spool, &plans, &w);
        if res.is_err() {
            // Blobs and snapshots of a failed load are unreferenced: remove them now.
            let _ = self.gc_locked(&w);
        }
        res
    }

    fn ingest_plans(
        &self,
        spool: &Spool,
        plans: &[Plan],
        w: &std::sync::MutexGuard<'_, ()>,
    ) -> Result<Vec<LoadedImage>, ImageError> {
        let mut idx = (*self.index()).clone();
        let mut out = Vec::new();
        for plan in plans {
            let (bytes, config) = spool.read_json(&plan.config)?;
            let id = Digest::of(&bytes);
            if let Some(claimed) = &plan.config_digest {
                if *claimed != id {
                    return Err(ImageError::DigestMismatch {
                        what: format!("image config {}", plan.config),
                        expected: claimed.to_string(),
                        actual: id.to_string(),
                    });
                }
            }
            let diff_ids = parse_diff_ids(id.as_str(), &config)?;
            if diff_ids.len() != plan.layers.len() {
                return Err(ImageError::InvalidArchive {
                    path: plan.config.clone(),
                    reason: format!(
                        "the config lists {} layers (rootfs.diff_ids) but the manifest has {}",
                        diff_ids.len(),
                        plan.layers.len()
                    ),
                });
            }
            let mut sizes = Vec::new();
            let mut parent: Option<Digest> = None;
            for (l, d) in plan.layers.iter().zip(&diff_ids) {
                let mut f = spool.open(&l.path)?;
                let got = snapshot::ingest_layer(
                    &self.blobs,
                    &self.snaps,
                    &mut f,
                    d,
                    l.digest.as_ref(),
                    parent.as_ref(),
                    &l.path,
                )?;
                sizes.push(got.size);
                parent = Some(got.chain_id);
            }
            self.blobs.put_bytes(&bytes, Some(&id))?;
            ImageStore::add_to_index(
                &mut idx,
                &id,
                &diff_ids,
                &sizes,
                created_of(&config),
                &plan.tags,
            );
            out.push(LoadedImage {
                id: id.to_string(),
                repo_tags: plan.tags.iter().map(|t| t.familiar()).collect(),
            });
        }
        self.publish(w, idx)?;
        Ok(out)
    }
}
