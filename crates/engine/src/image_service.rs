//! The narrow interface the API needs from the image store. The daemon passes the real
//! [`vessel_image::ImageStore`]; tests pass a fake. All calls block (disk I/O), so handlers
//! run them through [`crate::api::blocking`].

use std::io::{Read, Write};
use std::path::PathBuf;

use vessel_image::{ImageDetails, ImageError, ImageStore, ImageSummary, LoadedImage, RemoveEvent};

pub trait ImageService: Send + Sync + 'static {
    fn list(&self) -> Result<Vec<ImageSummary>, ImageError>;
    /// Resolve by reference, full id or unique id prefix.
    fn inspect(&self, name: &str) -> Result<ImageDetails, ImageError>;
    /// Import a docker-archive or OCI-layout tar.
    fn load(&self, archive: &mut dyn Read) -> Result<Vec<LoadedImage>, ImageError>;
    /// Write a docker-archive of the named images.
    fn save(&self, names: &[String], out: &mut dyn Write) -> Result<(), ImageError>;
    fn tag(&self, source: &str, target: &str) -> Result<(), ImageError>;
    fn remove(&self, name: &str, force: bool) -> Result<Vec<RemoveEvent>, ImageError>;
    /// Mount a container's read-write rootfs over the image's layers; returns its path.
    fn prepare_rootfs(&self, image_id: &str, container_id: &str) -> Result<PathBuf, ImageError> {
        let _ = container_id;
        Err(ImageError::Unsupported {
            what: "container rootfs for image",
            value: image_id.to_string(),
            hint: "this image service cannot mount container filesystems",
        })
    }
    /// Unmount and delete a container's rootfs (idempotent).
    fn remove_rootfs(&self, container_id: &str) -> Result<(), ImageError> {
        let _ = container_id;
        Ok(())
    }
    /// Ids of every prepared container rootfs.
    fn rootfs_ids(&self) -> Vec<String> {
        Vec::new()
    }
    /// `docker export`: a tar of a container's filesystem.
    fn export_rootfs(&self, container_id: &str, out: &mut dyn Write) -> Result<(), ImageError> {
        let _ = out;
        Err(ImageError::NoRootfs(container_id.to_string()))
    }
    /// The real store, for pull, push and build, which add images piece by piece
    /// ([`ImageStore::ingest`]); `None` for fakes.
    fn store(&self) -> Option<&ImageStore> {
        None
    }
}

impl ImageService for ImageStore {
    fn list(&self) -> Result<Vec<ImageSummary>, ImageError> {
        ImageStore::list(self)
    }
    fn inspect(&self, name: &str) -> Result<ImageDetails, ImageError> {
        ImageStore::inspect(self, name)
    }
    fn load(&self, archive: &mut dyn Read) -> Result<Vec<LoadedImage>, ImageError> {
        ImageStore::load(self, archive)
    }
    fn save(&self, names: &[String], out: &mut dyn Write) -> Result<(), ImageError> {
        ImageStore::save(self, names, out)
    }
    fn tag(&self, source: &str, target: &str) -> Result<(), ImageError> {
        ImageStore::tag(self, source, target)
    }
    fn remove(&self, name: &str, force: bool) -> Result<Vec<RemoveEvent>, ImageError> {
        ImageStore::remove(self, name, force)
    }
    fn prepare_rootfs(&self, image_id: &str, container_id: &str) -> Result<PathBuf, ImageError> {
        ImageStore::prepare_rootfs(self, image_id, container_id)
    }
    fn remove_rootfs(&self, container_id: &str) -> Result<(), ImageError> {
        ImageStore::remove_rootfs(self, container_id)
    }
    fn export_rootfs(&self, container_id: &str, out: &mut dyn Write) -> Result<(), ImageError> {
        ImageStore::export_rootfs(self, container_id, out)
    }
    fn rootfs_ids(&self) -> Vec<String> {
        ImageStore::rootfs_ids(self).unwrap_or_default()
    }
    fn store(&self) -> Option<&ImageStore> {
        Some(self)
    }
}
