//! `docker import`: a rootfs tarball (plain, gzip or zstd) becomes a one-layer image.

use crate::change;
use crate::digest::Digest;
use crate::error::ImageError;
use crate::snapshot;
use crate::timefmt;
use crate::{ImageStore, LoadedImage, Reference};
use serde_json::{json, Map};
use std::io::Read;

impl ImageStore {
    /// Import `reader` as a single-layer image, tagged `reference` when given, with Dockerfile
    /// `changes` (CMD, ENV, …) applied to its config and `message` as the history comment.
    pub fn import_rootfs(
        &self,
        reader: &mut dyn Read,
        reference: Option<&str>,
        changes: &[String],
        message: Option<&str>,
    ) -> Result<LoadedImage, ImageError> {
        // Validate cheap inputs before reading a possibly large stream.
        let tag = reference.map(Reference::parse).transpose()?;
        let mut cfg = Map::new();
        for c in changes {
            change::apply(&mut cfg, c)?;
        }
        let w = self.lock();
        let res = self.import_locked(reader, tag, cfg, message, &w);
        if res.is_err() {
            let _ = self.gc_locked(&w);
        }
        res
    }

    fn import_locked(
        &self,
        reader: &mut dyn Read,
        tag: Option<Reference>,
        cfg: Map<String, serde_json::Value>,
        message: Option<&str>,
        w: &std::sync::MutexGuard<'_, ()>,
    ) -> Result<LoadedImage, ImageError> {
        // The diff id is unknown until the stream ends, so the layer goes to a blob first and
        // is unpacked from there (a second, local pass).
        let mut dec = crate::compress::decompress(reader)?;
        let (diff, size) = self.blobs.put_reader(&mut dec, None, "imported rootfs")?;
        let layer = snapshot::ensure_chain(&self.blobs, &self.snaps, std::slice::from_ref(&diff))
            .map(|_| diff.clone())?;
        let (secs, nanos) = timefmt::now();
        let created = timefmt::format_rfc3339(secs, nanos);
        let config = json!({
            "architecture": crate::archive::oci::host_arch(),
            "os": "linux",
            "created": created,
            "config": cfg,
            "rootfs": {"type": "layers", "diff_ids": [layer.as_str()]},
            "history": [{
                "created": created,
                "created_by": "",
                "comment": message.unwrap_or("Imported from -"),
            }],
        });
        let bytes = serde_json::to_vec(&config).expect("config serializes");
        let id = self.blobs.put_bytes(&bytes, None::<&Digest>)?;
        let mut idx = (*self.index()).clone();
        let tags: Vec<Reference> = tag.into_iter().collect();
        ImageStore::add_to_index(&mut idx, &id, &[layer], &[size], secs, &tags);
        self.publish(w, idx)?;
        Ok(LoadedImage {
            id: id.to_string(),
            repo_tags: tags.iter().map(Reference::familiar).collect(),
        })
    }
}
