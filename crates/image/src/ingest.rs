//! Adding an image piece by piece, as a registry pull or a build does: layers first (in any
//! order, concurrently), then the config, which makes the image visible in one index write.
//!
//! Everything an [`Ingest`] has written is held by a lease: garbage collection (which runs
//! after every `rmi` and prune) leaves it alone until the ingest commits or is dropped, so a
//! concurrent removal can never delete the layers of a pull in progress. An ingest dropped
//! without commit leaves its blobs to the next collection: nothing half-done is visible.

use crate::archive::{created_of, parse_diff_ids};
use crate::digest::Digest;
use crate::error::ImageError;
use crate::snapshot::{self, chain_ids};
use crate::{ImageStore, LoadedImage, Reference};
use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Digests (blobs and snapshot chain ids) that in-flight ingests hold, by lease number.
#[derive(Default)]
pub(crate) struct Leases {
    next: AtomicU64,
    held: Mutex<HashMap<u64, BTreeSet<String>>>,
}

impl Leases {
    fn open(&self) -> u64 {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.map().insert(n, BTreeSet::new());
        n
    }

    fn hold(&self, lease: u64, digest: &Digest) {
        if let Some(set) = self.map().get_mut(&lease) {
            set.insert(digest.to_string());
        }
    }

    fn close(&self, lease: u64) {
        self.map().remove(&lease);
    }

    /// Every digest some ingest holds right now.
    pub(crate) fn all(&self) -> BTreeSet<String> {
        self.map().values().flatten().cloned().collect()
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<u64, BTreeSet<String>>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One stored layer of an image, bottom first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// `sha256:` of the uncompressed tar.
    pub diff_id: Digest,
    pub chain_id: Digest,
    /// Uncompressed size in bytes.
    pub size: u64,
}

/// An image being added; see the module documentation.
pub struct Ingest<'a> {
    store: &'a ImageStore,
    lease: u64,
}

impl ImageStore {
    /// Start adding an image (a pull or a build).
    pub fn ingest(&self) -> Ingest<'_> {
        Ingest {
            store: self,
            lease: self.leases.open(),
        }
    }

    /// Whether the uncompressed layer `diff_id` is stored (a pull can skip it).
    pub fn has_layer(&self, diff_id: &Digest) -> bool {
        self.blobs.exists(diff_id)
    }

    /// The stored uncompressed tar of a layer (for push, save and build).
    pub fn open_layer(&self, diff_id: &Digest) -> Result<File, ImageError> {
        self.blobs.open_blob(diff_id)
    }

    /// The config blob of an image exactly as stored: its digest is the image id.
    pub fn config_bytes(&self, name: &str) -> Result<Vec<u8>, ImageError> {
        let id = self.resolve(name)?;
        self.blobs.read(&Digest::parse(&id)?)
    }

    /// The layers of an image, bottom first.
    pub fn layers(&self, name: &str) -> Result<Vec<LayerInfo>, ImageError> {
        let id = self.resolve(name)?;
        let idx = self.index();
        let rec = idx
            .images
            .get(&id)
            .ok_or_else(|| ImageError::NotFound(name.to_string()))?;
        rec.layers
            .iter()
            .map(|l| {
                Ok(LayerInfo {
                    diff_id: Digest::parse(&l.diff_id)?,
                    chain_id: Digest::parse(&l.chain_id)?,
                    size: l.size,
                })
            })
            .collect()
    }

    /// Record that `name` was pulled from or pushed to `repo_digest`
    /// (`registry/repo@sha256:<manifest digest>`), shown in RepoDigests.
    pub fn add_repo_digest(&self, name: &str, repo_digest: &str) -> Result<(), ImageError> {
        let canonical = canonical_repo_digest(repo_digest)?;
        let w = self.lock();
        let id = self.resolve(name)?;
        let mut idx = (*self.index()).clone();
        let rec = idx
            .images
            .get_mut(&id)
            .ok_or_else(|| ImageError::NotFound(name.to_string()))?;
        if rec.repo_digests.contains(&canonical) {
            return Ok(());
        }
        // One digest per repository, as Docker keeps it: a new push replaces the old one.
        let repo = canonical.split('@').next().unwrap_or_default().to_string();
        rec.repo_digests
            .retain(|d| d.split('@').next() != Some(repo.as_str()));
        rec.repo_digests.push(canonical);
        self.publish(&w, idx)
    }
}

impl Ingest<'_> {
    /// Stream one layer (tar, gzip or zstd) whose diff id is known from the config:
    /// `diff_ids` are the image's diff ids up to and including this layer. Verifies the
    /// compressed digest `blob` when given and the diff id; nothing is kept on a mismatch.
    /// Layers of one image may be written concurrently and in any order. Returns the
    /// uncompressed size.
    pub fn put_layer(
        &self,
        raw: &mut dyn Read,
        diff_ids: &[Digest],
        blob: Option<&Digest>,
        name: &str,
    ) -> Result<u64, ImageError> {
        let (diff_id, parents) =
            diff_ids
                .split_last()
                .ok_or_else(|| ImageError::InvalidConfig {
                    id: name.to_string(),
                    reason: "a layer needs its diff id".into(),
                })?;
        let chains = chain_ids(diff_ids);
        let chain = chains.last().expect("one chain id per diff id");
        self.store.leases.hold(self.lease, diff_id);
        self.store.leases.hold(self.lease, chain);
        let parent = if parents.is_empty() {
            None
        } else {
            chains.get(chains.len() - 2)
        };
        let layer = snapshot::ingest_layer(
            &self.store.blobs,
            &self.store.snaps,
            raw,
            diff_id,
            blob,
            parent,
            name,
        )?;
        Ok(layer.size)
    }

    /// Store a layer whose diff id is not known yet (a build step's diff): the stream
    /// (plain, gzip or zstd) is stored uncompressed and unpacked at commit. Returns the
    /// diff id and size.
    pub fn put_layer_tar(
        &self,
        raw: &mut dyn Read,
        name: &str,
    ) -> Result<(Digest, u64), ImageError> {
        let mut dec = crate::compress::decompress(raw)?;
        let mut w = self.store.blobs.writer()?;
        std::io::copy(&mut dec, &mut w).map_err(|e| ImageError::LayerRead {
            layer: name.to_string(),
            source: e,
        })?;
        // Hold the digest before the blob becomes visible, so no collection slips in between.
        self.store.leases.hold(self.lease, &w.digest_so_far()?);
        w.commit(None, name)
    }

    /// Make the image visible: store `config` (verified against `expected_id` when given;
    /// every layer it names must be stored), then tag it. One index write, so a crash
    /// before it leaves no image and after it a complete one.
    pub fn commit(
        self,
        config: &[u8],
        expected_id: Option<&Digest>,
        tags: &[String],
    ) -> Result<LoadedImage, ImageError> {
        let id = Digest::of(config);
        let value: serde_json::Value =
            serde_json::from_slice(config).map_err(|e| ImageError::InvalidConfig {
                id: id.to_string(),
                reason: format!("not JSON: {e}"),
            })?;
        let diff_ids = parse_diff_ids(id.as_str(), &value)?;
        let refs = tags
            .iter()
            .map(|t| Reference::parse(t))
            .collect::<Result<Vec<_>, _>>()?;
        for d in &diff_ids {
            if !self.store.blobs.exists(d) {
                return Err(ImageError::InvalidConfig {
                    id: id.to_string(),
                    reason: format!("layer {d} was not stored before the config"),
                });
            }
        }
        self.store.leases.hold(self.lease, &id);
        for c in chain_ids(&diff_ids) {
            self.store.leases.hold(self.lease, &c);
        }
        self.store.blobs.put_bytes(config, expected_id)?;
        snapshot::ensure_chain(&self.store.blobs, &self.store.snaps, &diff_ids)?;
        let sizes = diff_ids
            .iter()
            .map(|d| self.store.blobs.size(d))
            .collect::<Result<Vec<_>, _>>()?;
        let w = self.store.lock();
        let mut idx = (*self.store.index()).clone();
        ImageStore::add_to_index(&mut idx, &id, &diff_ids, &sizes, created_of(&value), &refs);
        self.store.publish(&w, idx)?;
        Ok(LoadedImage {
            id: id.to_string(),
            repo_tags: refs.iter().map(Reference::familiar).collect(),
        })
    }
}

impl Drop for Ingest<'_> {
    fn drop(&mut self) {
        self.store.leases.close(self.lease);
    }
}

/// `busybox@sha256:…` → `docker.io/library/busybox@sha256:…`.
fn canonical_repo_digest(s: &str) -> Result<String, ImageError> {
    let r = Reference::parse(s)?;
    let digest = r
        .digest
        .clone()
        .ok_or_else(|| ImageError::InvalidReference {
            input: s.to_string(),
            reason: "a repo digest needs @sha256:<digest>".into(),
        })?;
    Ok(format!("{}@{digest}", r.name()))
}
