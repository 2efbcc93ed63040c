//! The index of images and tags: one JSON file replaced atomically (temp + fsync + rename).
//! It is written last in every operation, so whatever it names is complete on disk.

use crate::error::{ImageError, IoCtx};
use crate::fsutil;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

pub const INDEX_FILE: &str = "index.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Index {
    pub version: u32,
    /// Image id (`sha256:<config digest>`) → record.
    pub images: BTreeMap<String, ImageRecord>,
    /// Normalized reference (`docker.io/library/busybox:latest`, or `name@sha256:…`) → image id.
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    pub layers: Vec<LayerRecord>,
    /// Unix seconds from the config's `created`.
    pub created: i64,
    /// Unix seconds when the image entered this store.
    pub added: i64,
    #[serde(default)]
    pub repo_digests: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerRecord {
    pub diff_id: String,
    pub chain_id: String,
    /// Uncompressed tar size.
    pub size: u64,
}

impl Index {
    pub fn path(root: &Path) -> PathBuf {
        root.join(INDEX_FILE)
    }

    pub fn load(root: &Path) -> Result<Index, ImageError> {
        let p = Index::path(root);
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|source| ImageError::CorruptIndex {
                path: p.clone(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Index {
                version: 1,
                ..Index::default()
            }),
            Err(e) => Err(e).ctx("read", &p),
        }
    }

    pub fn save(&self, root: &Path) -> Result<(), ImageError> {
        let bytes = serde_json::to_vec_pretty(self).expect("index serializes");
        fsutil::atomic_write(&Index::path(root), &bytes)
    }

    pub fn tags_of(&self, id: &str) -> Vec<String> {
        self.tags
            .iter()
            .filter(|(_, v)| v.as_str() == id)
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_leftovers_are_cleaned_and_index_is_whole() {
        let t = tempfile::tempdir().unwrap();
        let mut idx = Index::load(t.path()).unwrap();
        idx.tags.insert("a".into(), "b".into());
        idx.save(t.path()).unwrap();
        // A crash between temp write and rename leaves a temp file and the old index.
        let tmp = fsutil::temp_path(t.path(), "write");
        fs::write(&tmp, b"{ half").unwrap();
        let store = crate::ImageStore::open(t.path()).unwrap();
        assert!(!tmp.exists(), "open() removes temp files");
        drop(store);
        assert_eq!(
            Index::load(t.path()).unwrap().tags.len(),
            0,
            "tag to a missing image is dropped"
        );
        fs::write(Index::path(t.path()), b"{ corrupt").unwrap();
        let e = Index::load(t.path()).unwrap_err().to_string();
        assert!(e.contains("corrupt") && e.contains("index.json"), "{e}");
    }
}
