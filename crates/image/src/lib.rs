//! Vessel's image store. The API below is what the engine calls.
//!
//! On-disk layout under the store root (the daemon uses `/var/lib/vessel/image`):
//! - `blobs/sha256/<hex>`: content-addressed blobs (image configs, and layers as uncompressed
//!   tars named by diff id), verified on write (temp + fsync + rename).
//! - `snapshots/<chain-id-hex>/{fs,link}`: one layer's diff in overlay form, unpacked once;
//!   `l/<short>` → `../snapshots/<hex>/fs` keeps overlay mount options short.
//! - `containers/<id>/{upper,work,merged,layers,mode}`: a container's rootfs.
//! - `index.json`: images and tags, replaced atomically; written last, so it only ever names
//!   complete blobs and snapshots.
//! - `.tmp-*` anywhere: unfinished work, removed by [`ImageStore::open`].

mod archive;
mod blobs;
mod change;
mod compress;
mod diff;
mod digest;
mod error;
mod fsutil;
mod import;
mod index;
mod ingest;
mod ops;
mod overlay;
mod reference;
mod rootfs;
mod snapshot;
mod timefmt;
mod unpack;

pub use diff::write_layer_from_upper;
pub use digest::Digest;
pub use error::ImageError;
pub use ingest::{Ingest, LayerInfo};
pub use overlay::RootfsMode;
pub use snapshot::chain_ids;

use blobs::BlobStore;
use index::Index;
use snapshot::Snapshots;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// A Docker-style reference, normalized: `busybox` → `docker.io/library/busybox:latest`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    pub registry: String,
    /// Path without the registry, e.g. `library/busybox`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// Summary row for `GET /images/json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageSummary {
    /// "sha256:<hex>" of the image config.
    pub id: String,
    /// Familiar form, as Docker prints them: `busybox:latest`.
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    /// Unix seconds from the config's `created`.
    pub created: i64,
    /// Sum of the uncompressed layer sizes in bytes.
    pub size: u64,
    pub labels: HashMap<String, String>,
}

/// Everything `GET /images/{name}/json` needs.
#[derive(Debug, Clone)]
pub struct ImageDetails {
    pub summary: ImageSummary,
    /// The image config JSON as stored (OCI or Docker schema), for Config/Architecture/Os/
    /// RootFS/History fields.
    pub config: serde_json::Value,
    /// Layer diff ids in order.
    pub diff_ids: Vec<String>,
}

/// What `load` reports per image, e.g. for "Loaded image: busybox:latest".
#[derive(Debug, Clone)]
pub struct LoadedImage {
    pub id: String,
    pub repo_tags: Vec<String>,
}

/// Result entries of `remove`, as Docker prints them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveEvent {
    Untagged(String),
    Deleted(String),
}

/// A container that uses an image, as the daemon reports it to `remove_with`/`prune`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUser {
    pub container: String,
    pub running: bool,
}

/// One row of `docker history`, newest first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryEntry {
    /// The image id for the top row, `<missing>` below it (as Docker prints).
    pub id: String,
    pub created: i64,
    pub created_by: String,
    pub size: u64,
    pub comment: String,
    pub tags: Vec<String>,
    pub empty_layer: bool,
}

#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    pub deleted: Vec<RemoveEvent>,
    pub space_reclaimed: u64,
}

#[derive(Debug, Clone)]
pub struct DiskUsage {
    /// Bytes of layer blobs and config blobs.
    pub blobs_size: u64,
    pub images: Vec<ImageSummary>,
}

/// Coarse class of an error, for mapping to HTTP status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    InvalidInput,
    Conflict,
    Internal,
}

impl ImageError {
    pub fn kind(&self) -> ErrorKind {
        use ImageError::*;
        match self {
            NotFound(_) | NoRootfs(_) => ErrorKind::NotFound,
            Conflict { .. } | AmbiguousId { .. } => ErrorKind::Conflict,
            InvalidReference { .. }
            | InvalidDigest { .. }
            | DigestMismatch { .. }
            | UnsafeEntry { .. }
            | InvalidArchive { .. }
            | ArchiveJson { .. }
            | Unsupported { .. }
            | InvalidConfig { .. }
            | InvalidChange { .. }
            | InvalidContainerId(_)
            | LayerRead { .. } => ErrorKind::InvalidInput,
            CorruptIndex { .. } | Io { .. } | Mount { .. } | Unmount { .. } => ErrorKind::Internal,
        }
    }
}

pub struct ImageStore {
    root: PathBuf,
    blobs: BlobStore,
    snaps: Snapshots,
    mode: RootfsMode,
    /// The current index; readers clone the Arc and never wait for writers.
    index: RwLock<Arc<Index>>,
    /// Serializes writers (load, tag, remove, gc).
    write: Mutex<()>,
    /// What ingests in progress have written; gc keeps it.
    leases: ingest::Leases,
}

impl ImageStore {
    /// Open (creating) the store and clean up what a crash left half-done: temp files,
    /// unfinished snapshots, index entries pointing at missing blobs, unreferenced blobs.
    pub fn open(root: &Path) -> Result<Self, ImageError> {
        Self::open_with(root, RootfsMode::Auto)
    }

    pub fn open_with(root: &Path, mode: RootfsMode) -> Result<Self, ImageError> {
        fsutil::create_dir_all(root)?;
        let root = std::fs::canonicalize(root).map_err(|e| ImageError::io("resolve", root, e))?;
        fsutil::remove_temps(&root)?;
        let blobs = BlobStore::open(&root)?;
        let snaps = Snapshots::open(&root)?;
        let containers = root.join("containers");
        fsutil::create_dir_all(&containers)?;
        fsutil::remove_temps(&containers)?;
        let index = Index::load(&root)?;
        let store = ImageStore {
            root,
            blobs,
            snaps,
            mode,
            index: RwLock::new(Arc::new(index)),
            write: Mutex::new(()),
            leases: ingest::Leases::default(),
        };
        let w = store.lock();
        store.repair(&w)?;
        store.gc_locked(&w)?;
        drop(w);
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.write.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn index(&self) -> Arc<Index> {
        self.index.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Persist and publish a new index. Callers hold the write lock.
    fn publish(&self, _w: &MutexGuard<'_, ()>, idx: Index) -> Result<(), ImageError> {
        idx.save(&self.root)?;
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(idx);
        Ok(())
    }

    /// Drop images whose config or layer blobs are gone, and tags pointing nowhere.
    fn repair(&self, w: &MutexGuard<'_, ()>) -> Result<(), ImageError> {
        let mut idx = (*self.index()).clone();
        let before = (idx.images.len(), idx.tags.len());
        idx.images.retain(|id, rec| {
            let ok = |d: &str| {
                Digest::parse(d)
                    .map(|d| self.blobs.exists(&d))
                    .unwrap_or(false)
            };
            ok(id) && rec.layers.iter().all(|l| ok(&l.diff_id))
        });
        let images = idx.images.clone();
        idx.tags.retain(|_, id| images.contains_key(id));
        if (idx.images.len(), idx.tags.len()) != before {
            self.publish(w, idx)?;
        }
        Ok(())
    }
}
