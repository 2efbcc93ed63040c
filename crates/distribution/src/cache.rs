//! Where compressed blobs came from: the store keeps layers uncompressed (by diff id), so a
//! push of a pulled image can only reuse the registry's blob (HEAD, or a cross-repository
//! mount) if we remember which compressed digest in which repository a diff id came from.
//! A lost entry only costs a re-upload, so the file is best effort (atomic rename, no lock).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlobSource {
    /// Compressed blob digest.
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    /// `registry/repository` the blob is known to be in.
    pub repository: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Table {
    /// diff id → sources, newest last.
    sources: BTreeMap<String, Vec<BlobSource>>,
}

/// The cache file in a directory (`None` disables it).
#[derive(Debug, Clone, Default)]
pub struct BlobCache {
    path: Option<PathBuf>,
}

const MAX_PER_LAYER: usize = 8;

impl BlobCache {
    pub fn new(dir: Option<&Path>) -> BlobCache {
        BlobCache {
            path: dir.map(|d| d.join("blob-sources.json")),
        }
    }

    fn read(&self) -> Table {
        self.path
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn sources(&self, diff_id: &str) -> Vec<BlobSource> {
        self.read().sources.remove(diff_id).unwrap_or_default()
    }

    pub fn record(&self, entries: &[(String, BlobSource)]) {
        let Some(path) = &self.path else { return };
        if entries.is_empty() {
            return;
        }
        let mut t = self.read();
        for (diff_id, src) in entries {
            let list = t.sources.entry(diff_id.clone()).or_default();
            list.retain(|s| !(s.digest == src.digest && s.repository == src.repository));
            list.push(src.clone());
            if list.len() > MAX_PER_LAYER {
                list.remove(0);
            }
        }
        let Some(dir) = path.parent() else { return };
        let _ = std::fs::create_dir_all(dir);
        let tmp = dir.join(format!(
            ".blob-sources.{}.{:?}.tmp",
            std::process::id(),
            std::thread::current().id()
        ));
        let ok = serde_json::to_vec(&t)
            .ok()
            .and_then(|b| std::fs::write(&tmp, b).ok())
            .and_then(|()| std::fs::rename(&tmp, path).ok());
        if ok.is_none() {
            let _ = std::fs::remove_file(&tmp);
            tracing::debug!("could not update {}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_and_read() {
        let dir = tempfile::tempdir().unwrap();
        let c = BlobCache::new(Some(dir.path()));
        let s = BlobSource {
            digest: "sha256:aa".into(),
            media_type: "m".into(),
            size: 3,
            repository: "r/x".into(),
        };
        c.record(&[
            ("sha256:d".into(), s.clone()),
            ("sha256:d".into(), s.clone()),
        ]);
        assert_eq!(c.sources("sha256:d"), vec![s]);
        assert!(c.sources("sha256:e").is_empty());
        assert!(BlobCache::new(None).sources("sha256:d").is_empty());
    }
}
