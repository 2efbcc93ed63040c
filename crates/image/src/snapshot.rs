//! Snapshots: `snapshots/<chain-id-hex>/fs` holds exactly one layer's diff in overlay form, keyed
//! by chain id so a layer shared by many images is unpacked once. `l/<short>` symlinks point at
//! each `fs` dir (Docker's overlay2 trick) so a mount option string of a deep chain stays well
//! under the kernel's one-page limit.
//!
//! A snapshot is unpacked in a `.tmp-*` dir and renamed into place: after a crash a snapshot is
//! either complete or absent, and `open()` removes the leftovers.

use crate::blobs::BlobStore;
use crate::compress;
use crate::digest::{Digest, HashingReader, TeeReader};
use crate::error::{ImageError, IoCtx};
use crate::fsutil::{self, TempGuard};
use crate::unpack;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// chain(0) = diff(0); chain(n) = sha256(chain(n-1) + " " + diff(n)) (OCI image spec, config.md).
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(p) => Digest::of(format!("{p} {d}").as_bytes()),
        };
        out.push(next);
    }
    out
}

#[derive(Debug, Clone)]
pub struct Snapshots {
    dir: PathBuf,
    links: PathBuf,
}

impl Snapshots {
    pub fn open(root: &Path) -> Result<Snapshots, ImageError> {
        let s = Snapshots {
            dir: root.join("snapshots"),
            links: root.join("l"),
        };
        fsutil::create_dir_all(&s.dir)?;
        fsutil::create_dir_all(&s.links)?;
        fsutil::remove_temps(&s.dir)?;
        // Links whose snapshot never got renamed into place (crash) or was deleted.
        for ent in fs::read_dir(&s.links).ctx("read directory", &s.links)? {
            let p = ent.ctx("read directory", &s.links)?.path();
            if fs::metadata(&p).is_err() {
                fsutil::remove_any(&p)?;
            }
        }
        Ok(s)
    }

    pub fn dir(&self, chain: &Digest) -> PathBuf {
        self.dir.join(chain.hex())
    }

    pub fn fs_dir(&self, chain: &Digest) -> PathBuf {
        self.dir(chain).join("fs")
    }

    pub fn exists(&self, chain: &Digest) -> bool {
        self.dir(chain).join("link").is_file()
    }

    /// The lowerdir path of a snapshot relative to the store root: `l/<short>`.
    pub fn short_path(&self, chain: &Digest) -> Result<String, ImageError> {
        let p = self.dir(chain).join("link");
        let short = fs::read_to_string(&p).ctx("read", &p)?;
        Ok(format!("l/{}", short.trim()))
    }

    pub fn list(&self) -> Result<Vec<Digest>, ImageError> {
        let mut out = Vec::new();
        for ent in fs::read_dir(&self.dir).ctx("read directory", &self.dir)? {
            let name = ent.ctx("read directory", &self.dir)?.file_name();
            if let Ok(d) = Digest::from_hex(&name.to_string_lossy()) {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Delete a snapshot: rename it out of sight first so a crash never leaves half of one.
    pub fn remove(&self, chain: &Digest) -> Result<(), ImageError> {
        let dir = self.dir(chain);
        if let Ok(short) = fs::read_to_string(dir.join("link")) {
            fsutil::remove_any(&self.links.join(short.trim()))?;
        }
        let tmp = fsutil::temp_path(&self.dir, "rm");
        match fs::rename(&dir, &tmp) {
            Ok(()) => fsutil::remove_any(&tmp),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ImageError::io("remove snapshot", &dir, e)),
        }
    }

    /// Make `tmp` (an unpacked snapshot) visible as `chain`.
    fn commit(&self, tmp: TempGuard, chain: &Digest) -> Result<(), ImageError> {
        // The shortest unused prefix of the chain id, at least 12 characters.
        let mut len = 12;
        let short = loop {
            let cand = &chain.hex()[..len];
            let link = self.links.join(cand);
            match fs::read_link(&link) {
                Err(_) => break cand.to_string(),
                Ok(t) if t.ends_with(Path::new(chain.hex()).join("fs")) => break cand.to_string(),
                Ok(_) if len < 64 => len += 4,
                Ok(_) => unreachable!("two snapshots share a full chain id"),
            }
        };
        let link_file = tmp.path().join("link");
        fs::write(&link_file, &short).ctx("write", &link_file)?;
        let link = self.links.join(&short);
        let target = Path::new("..")
            .join("snapshots")
            .join(chain.hex())
            .join("fs");
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).ctx("create link", &link)?;
        let dst = self.dir(chain);
        match fs::rename(tmp.path(), &dst) {
            Ok(()) => {
                tmp.keep();
                fsutil::fsync_dir(&self.dir)
            }
            // Another load unpacked the same chain first; ours (dropped with the guard) is a copy.
            Err(_) if self.exists(chain) => Ok(()),
            Err(e) => Err(ImageError::io("rename snapshot into place", &dst, e)),
        }
    }
}

/// What one ingested layer adds to the image record.
#[derive(Debug, Clone)]
pub struct IngestedLayer {
    pub chain_id: Digest,
    /// Uncompressed tar size.
    pub size: u64,
}

/// Stream one (possibly compressed) layer once: store it uncompressed as blob `<diff-id>`
/// and unpack it as snapshot `<chain-id>`, in the same pass. Verifies the compressed digest
/// (when given) and the diff id; on any mismatch or unsafe entry nothing becomes visible.
pub fn ingest_layer(
    blobs: &BlobStore,
    snaps: &Snapshots,
    raw: &mut dyn Read,
    expected_diff: &Digest,
    expected_blob: Option<&Digest>,
    parent: Option<&Digest>,
    name: &str,
) -> Result<IngestedLayer, ImageError> {
    let chain = match parent {
        None => expected_diff.clone(),
        Some(p) => Digest::of(format!("{p} {expected_diff}").as_bytes()),
    };
    let need_blob = !blobs.exists(expected_diff);
    let need_snap = !snaps.exists(&chain);
    if !need_blob && !need_snap {
        let size = blobs.size(expected_diff)?;
        return Ok(IngestedLayer {
            chain_id: chain,
            size,
        });
    }
    let read_err = |e| ImageError::LayerRead {
        layer: name.to_string(),
        source: e,
    };
    let mut raw_hash = HashingReader::new(raw);
    let writer = if need_blob {
        Some(blobs.writer()?)
    } else {
        None
    };
    let tmp = if need_snap {
        let t = TempGuard::new(fsutil::temp_path(&snaps.dir, chain.hex()));
        fsutil::create_dir_all(&t.path().join("fs"))?;
        Some(t)
    } else {
        None
    };
    let (diff, size, writer) = {
        let dec = compress::decompress(&mut raw_hash)?;
        let mut tee = TeeReader::new(dec, writer);
        if let Some(t) = &tmp {
            unpack::unpack_layer(&mut tee, &t.path().join("fs"), name)?;
        }
        tee.finish().map_err(read_err)?
    };
    let (raw_digest, _) = raw_hash.finish().map_err(read_err)?;
    if let Some(e) = expected_blob {
        if *e != raw_digest {
            return Err(ImageError::DigestMismatch {
                what: format!("layer {name}"),
                expected: e.to_string(),
                actual: raw_digest.to_string(),
            });
        }
    }
    if diff != *expected_diff {
        return Err(ImageError::DigestMismatch {
            what: format!("layer {name} (uncompressed diff id vs the config's rootfs.diff_ids)"),
            expected: expected_diff.to_string(),
            actual: diff.to_string(),
        });
    }
    // Blob first, then snapshot: the snapshot can always be rebuilt from the blob.
    if let Some(w) = writer {
        w.commit(Some(expected_diff), name)?;
    }
    if let Some(t) = tmp {
        snaps.commit(t, &chain)?;
    }
    Ok(IngestedLayer {
        chain_id: chain,
        size,
    })
}

/// Rebuild missing snapshots of a chain from the stored (uncompressed) layer blobs.
pub fn ensure_chain(
    blobs: &BlobStore,
    snaps: &Snapshots,
    diff_ids: &[Digest],
) -> Result<Vec<Digest>, ImageError> {
    let chains = chain_ids(diff_ids);
    for (i, (d, c)) in diff_ids.iter().zip(&chains).enumerate() {
        if !snaps.exists(c) {
            let mut f = blobs.open_blob(d)?;
            let parent = if i == 0 { None } else { Some(&chains[i - 1]) };
            ingest_layer(blobs, snaps, &mut f, d, None, parent, d.as_str())?;
        }
    }
    Ok(chains)
}
