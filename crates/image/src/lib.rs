//! Vessel's image store. OWNED BY: image helper. The API below is what the engine calls;
//! keep names and meanings, add what you need.
//!
//! On-disk layout under the store root (the daemon uses `/var/lib/vessel/image`):
//! `blobs/sha256/<hex>` (content-addressed, verified on write, temp + fsync + rename),
//! `snapshots/<chain-id>/` (one unpacked layer chain each), `containers/<id>/{upper,work,merged}`,
//! and an index of images and tags written atomically.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("no such image: {0}")]
    NotFound(String),
}

/// A Docker-style reference, normalized: `busybox` → `docker.io/library/busybox:latest`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// Summary row for `GET /images/json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageSummary {
    /// "sha256:<hex>" of the image config.
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    /// Unix seconds from the config's `created`.
    pub created: i64,
    /// Sum of the unpacked layer sizes in bytes.
    pub size: u64,
    pub labels: std::collections::HashMap<String, String>,
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

pub struct ImageStore {
    root: PathBuf,
}

impl ImageStore {
    /// Open (creating) the store and clean up what a crash left half-done: temp files,
    /// unfinished snapshots, index entries pointing at missing blobs.
    pub fn open(root: &Path) -> Result<Self, ImageError> {
        Ok(ImageStore {
            root: root.to_path_buf(),
        })
    }
    /// Import a docker-archive (what `docker save` writes) or an OCI-layout tar.
    pub fn load(&self, archive: &mut dyn Read) -> Result<Vec<LoadedImage>, ImageError> {
        let _ = (archive, &self.root);
        unimplemented!()
    }
    /// Write a docker-archive of the given references (readable by `docker load` and
    /// `podman load`).
    pub fn save(&self, names: &[String], out: &mut dyn Write) -> Result<(), ImageError> {
        let _ = (names, out);
        unimplemented!()
    }
    pub fn list(&self) -> Result<Vec<ImageSummary>, ImageError> {
        unimplemented!()
    }
    /// Resolve by reference, full id, or unique id prefix.
    pub fn inspect(&self, name: &str) -> Result<ImageDetails, ImageError> {
        let _ = name;
        unimplemented!()
    }
    pub fn tag(&self, source: &str, target: &str) -> Result<(), ImageError> {
        let _ = (source, target);
        unimplemented!()
    }
    pub fn remove(&self, name: &str, force: bool) -> Result<Vec<RemoveEvent>, ImageError> {
        let _ = (name, force);
        unimplemented!()
    }
    /// Mount an overlay rootfs for a container (image layers read-only + a fresh upper);
    /// returns the merged directory.
    pub fn prepare_rootfs(
        &self,
        image_id: &str,
        container_id: &str,
    ) -> Result<PathBuf, ImageError> {
        let _ = (image_id, container_id);
        unimplemented!()
    }
    /// Unmount and delete a container's rootfs.
    pub fn remove_rootfs(&self, container_id: &str) -> Result<(), ImageError> {
        let _ = container_id;
        unimplemented!()
    }
}
