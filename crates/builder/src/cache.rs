//! The build cache: step key → the image id that step produced, in
//! `<store root>/build-cache.json`, replaced atomically (temp + rename) under an flock, so
//! concurrent builds merge their entries. A hit is only used while the image still exists.

use crate::error::BuildError;
use crate::lock::Flock;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct Cache {
    path: PathBuf,
    lock: PathBuf,
}

/// The key of a step: its parent image, the instruction after expansion (with the build
/// settings that change its result, e.g. the RUN environment), and a hash of the content it
/// reads (COPY sources), one field per line so no two inputs collide.
pub fn step_key(parent: &str, instruction: &str, content: &str) -> String {
    let mut h = Sha256::new();
    for part in [parent, instruction, content] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

impl Cache {
    pub fn open(store_root: &Path) -> Cache {
        Cache {
            path: store_root.join("build-cache.json"),
            lock: store_root.join("build-cache.lock"),
        }
    }

    fn err(&self, source: std::io::Error) -> BuildError {
        BuildError::Cache {
            path: self.path.clone(),
            source,
        }
    }

    fn load(&self) -> BTreeMap<String, String> {
        fs::read(&self.path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn get(&self, key: &str) -> Option<String> {
        self.load().get(key).cloned()
    }

    pub fn put(&self, key: &str, image_id: &str) -> Result<(), BuildError> {
        let _l = Flock::take(&self.lock).map_err(|e| self.err(e))?;
        let mut map = self.load();
        map.insert(key.to_string(), image_id.to_string());
        let bytes = serde_json::to_vec(&map).map_err(|e| self.err(e.into()))?;
        let tmp = self
            .path
            .with_file_name(format!(".tmp-build-cache-{}", crate::unique_id()));
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            self.err(e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_separate_fields() {
        assert_ne!(step_key("a", "bc", ""), step_key("ab", "c", ""));
        assert_eq!(step_key("p", "RUN x", "h"), step_key("p", "RUN x", "h"));
        assert_ne!(step_key("p", "RUN x", "h"), step_key("p", "RUN x", "h2"));
    }

    #[test]
    fn put_get_persist() {
        let t = tempfile::tempdir().unwrap();
        let c = Cache::open(t.path());
        assert_eq!(c.get("k"), None);
        c.put("k", "sha256:1").unwrap();
        c.put("j", "sha256:2").unwrap();
        let c2 = Cache::open(t.path());
        assert_eq!(c2.get("k").as_deref(), Some("sha256:1"));
        assert_eq!(c2.get("j").as_deref(), Some("sha256:2"));
    }
}
