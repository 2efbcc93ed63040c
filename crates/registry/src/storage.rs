//! The filesystem layout.
//!
//! ```text
//! <root>/blobs/sha256/<hex>                                   content (blobs and manifests)
//! <root>/repositories/<name>/_layers/sha256/<hex>             blob linked into the repository
//! <root>/repositories/<name>/_manifests/revisions/sha256/<hex>  manifest; holds its media type
//! <root>/repositories/<name>/_manifests/tags/<tag>            holds the tagged digest
//! <root>/repositories/<name>/_referrers/<subject-hex>/<hex>   manifest whose subject is <subject>
//! <root>/uploads/<uuid>/{data,repo}                           upload sessions
//! <root>/tmp/                                                 monolithic uploads in flight
//! ```
//!
//! Every file becomes visible by `rename(2)` of a fully written, fsynced temp file in the same
//! filesystem, so readers see either nothing or the whole, verified content; two writers of
//! the same blob both rename identical bytes onto the same name. Names never start with `_`
//! (see [`crate::names`]), so the `_layers`-style directories cannot collide with a repository.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::RegistryError;
use crate::names::Digest;

#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
}

type Result<T> = std::result::Result<T, RegistryError>;

fn not_found_is_none<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes `data` to `path` atomically: temp file in the same directory, fsync, rename, fsync
/// of the directory.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let dir = path.parent().expect("storage paths have a parent");
    fs::create_dir_all(dir).map_err(RegistryError::io("creating", dir))?;
    let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::new_v4().simple()));
    let res = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.map_err(RegistryError::io("writing", path))
}

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

impl Storage {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Storage { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn init(&self) -> Result<()> {
        for d in [
            self.blobs_dir(),
            self.repos_dir(),
            self.uploads_dir(),
            self.tmp_dir(),
        ] {
            fs::create_dir_all(&d).map_err(RegistryError::io("creating", &d))?;
        }
        // Leftovers of a crash mid-write: never visible content, safe to drop.
        if let Ok(rd) = fs::read_dir(self.tmp_dir()) {
            for e in rd.flatten() {
                let _ = fs::remove_file(e.path());
            }
        }
        Ok(())
    }

    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs/sha256")
    }
    pub fn repos_dir(&self) -> PathBuf {
        self.root.join("repositories")
    }
    pub fn uploads_dir(&self) -> PathBuf {
        self.root.join("uploads")
    }
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.blobs_dir().join(d.hex())
    }
    fn repo_dir(&self, name: &str) -> PathBuf {
        self.repos_dir().join(name)
    }
    fn layer_link(&self, name: &str, d: &Digest) -> PathBuf {
        self.repo_dir(name).join("_layers/sha256").join(d.hex())
    }
    fn revisions_dir(&self, name: &str) -> PathBuf {
        self.repo_dir(name).join("_manifests/revisions/sha256")
    }
    fn revision_link(&self, name: &str, d: &Digest) -> PathBuf {
        self.revisions_dir(name).join(d.hex())
    }
    fn tags_dir(&self, name: &str) -> PathBuf {
        self.repo_dir(name).join("_manifests/tags")
    }
    fn referrers_dir(&self, name: &str, subject: &Digest) -> PathBuf {
        self.repo_dir(name).join("_referrers").join(subject.hex())
    }

    /// Size of a stored blob, if present.
    pub fn blob_size(&self, d: &Digest) -> Result<Option<u64>> {
        let p = self.blob_path(d);
        Ok(not_found_is_none(fs::metadata(&p))
            .map_err(RegistryError::io("stat", &p))?
            .map(|m| m.len()))
    }

    /// Size of a blob the repository may serve: linked there (as a layer/config or as a
    /// manifest) and present.
    pub fn repo_blob_size(&self, name: &str, d: &Digest) -> Result<Option<u64>> {
        if !self.layer_link(name, d).exists() && !self.revision_link(name, d).exists() {
            return Ok(None);
        }
        self.blob_size(d)
    }

    pub fn link_blob(&self, name: &str, d: &Digest) -> Result<()> {
        let p = self.layer_link(name, d);
        if p.exists() {
            return Ok(());
        }
        write_atomic(&p, b"")
    }

    /// Removes the repository's link; the content goes at the next `gc`.
    pub fn unlink_blob(&self, name: &str, d: &Digest) -> Result<bool> {
        let p = self.layer_link(name, d);
        Ok(not_found_is_none(fs::remove_file(&p))
            .map_err(RegistryError::io("removing", &p))?
            .is_some())
    }

    /// Moves a fully written, fsynced and verified file into the blob store.
    pub fn commit_blob(&self, file: &Path, d: &Digest) -> Result<()> {
        let dst = self.blob_path(d);
        fs::rename(file, &dst).map_err(RegistryError::io("renaming into", &dst))?;
        sync_dir(&self.blobs_dir()).map_err(RegistryError::io("syncing", self.blobs_dir()))
    }

    /// Stores a manifest, links it, and tags it and records its subject when given.
    pub fn put_manifest(
        &self,
        name: &str,
        d: &Digest,
        body: &[u8],
        media_type: &str,
        tag: Option<&str>,
        subject: Option<&Digest>,
    ) -> Result<()> {
        if self.blob_size(d)? != Some(body.len() as u64) {
            write_atomic(&self.blob_path(d), body)?;
        }
        write_atomic(&self.revision_link(name, d), media_type.as_bytes())?;
        if let Some(s) = subject {
            write_atomic(&self.referrers_dir(name, s).join(d.hex()), b"")?;
        }
        if let Some(t) = tag {
            write_atomic(&self.tags_dir(name).join(t), d.to_string().as_bytes())?;
        }
        Ok(())
    }

    pub fn resolve_tag(&self, name: &str, tag: &str) -> Result<Option<Digest>> {
        let p = self.tags_dir(name).join(tag);
        let Some(s) =
            not_found_is_none(fs::read_to_string(&p)).map_err(RegistryError::io("reading", &p))?
        else {
            return Ok(None);
        };
        Ok(Digest::parse(s.trim()).ok())
    }

    /// The media type a manifest was pushed with, if the repository has it.
    pub fn manifest_media_type(&self, name: &str, d: &Digest) -> Result<Option<String>> {
        let p = self.revision_link(name, d);
        not_found_is_none(fs::read_to_string(&p)).map_err(RegistryError::io("reading", &p))
    }

    pub fn read_blob(&self, d: &Digest) -> Result<Option<Vec<u8>>> {
        let p = self.blob_path(d);
        not_found_is_none(fs::read(&p)).map_err(RegistryError::io("reading", &p))
    }

    /// Deletes a manifest from a repository: its revision, the tags that point at it and its
    /// referrer entry. Returns false if the repository did not have it.
    pub fn delete_manifest(
        &self,
        name: &str,
        d: &Digest,
        subject: Option<&Digest>,
    ) -> Result<bool> {
        let p = self.revision_link(name, d);
        if not_found_is_none(fs::remove_file(&p))
            .map_err(RegistryError::io("removing", &p))?
            .is_none()
        {
            return Ok(false);
        }
        for t in self.list_tags(name)?.unwrap_or_default() {
            if self.resolve_tag(name, &t)?.as_ref() == Some(d) {
                let _ = fs::remove_file(self.tags_dir(name).join(&t));
            }
        }
        if let Some(s) = subject {
            let _ = fs::remove_file(self.referrers_dir(name, s).join(d.hex()));
        }
        Ok(true)
    }

    pub fn delete_tag(&self, name: &str, tag: &str) -> Result<bool> {
        let p = self.tags_dir(name).join(tag);
        Ok(not_found_is_none(fs::remove_file(&p))
            .map_err(RegistryError::io("removing", &p))?
            .is_some())
    }

    pub fn repo_exists(&self, name: &str) -> bool {
        let d = self.repo_dir(name);
        d.join("_manifests").is_dir() || d.join("_layers").is_dir()
    }

    /// The repository's tags, sorted; None if the repository is unknown.
    pub fn list_tags(&self, name: &str) -> Result<Option<Vec<String>>> {
        if !self.repo_exists(name) {
            return Ok(None);
        }
        let dir = self.tags_dir(name);
        let mut tags = list_names(&dir)?;
        tags.retain(|t| crate::names::valid_tag(t));
        tags.sort();
        Ok(Some(tags))
    }

    /// Every repository, sorted.
    pub fn list_repos(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        self.walk_repos(&self.repos_dir(), String::new(), &mut out)?;
        out.sort();
        Ok(out)
    }

    fn walk_repos(&self, dir: &Path, prefix: String, out: &mut Vec<String>) -> Result<()> {
        for n in list_names(dir)? {
            if n.starts_with('_') || n.starts_with('.') {
                continue;
            }
            let name = if prefix.is_empty() {
                n.clone()
            } else {
                format!("{prefix}/{n}")
            };
            let sub = dir.join(&n);
            if !sub.is_dir() {
                continue;
            }
            if self.repo_exists(&name) {
                out.push(name.clone());
            }
            self.walk_repos(&sub, name, out)?;
        }
        Ok(())
    }

    /// Digests of the manifests in `name` whose subject is `subject`.
    pub fn list_referrers(&self, name: &str, subject: &Digest) -> Result<Vec<Digest>> {
        let mut v: Vec<Digest> = list_names(&self.referrers_dir(name, subject))?
            .iter()
            .filter_map(|h| Digest::from_hex(h).ok())
            .filter(|d| self.revision_link(name, d).exists())
            .collect();
        v.sort();
        Ok(v)
    }

    /// Every manifest digest of a repository.
    pub fn list_manifests(&self, name: &str) -> Result<Vec<Digest>> {
        Ok(list_names(&self.revisions_dir(name))?
            .iter()
            .filter_map(|h| Digest::from_hex(h).ok())
            .collect())
    }
}

/// File names in a directory (empty if it does not exist), skipping temp files.
pub fn list_names(dir: &Path) -> Result<Vec<String>> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RegistryError::io("listing", dir)(e)),
    };
    let mut v = Vec::new();
    for e in rd {
        let e = e.map_err(RegistryError::io("listing", dir))?;
        if let Some(n) = e.file_name().to_str() {
            if !n.starts_with(".tmp-") {
                v.push(n.to_string());
            }
        }
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_tags_and_repos() {
        let t = tempfile::tempdir().unwrap();
        let s = Storage::new(t.path());
        s.init().unwrap();
        let body = br#"{"schemaVersion":2}"#;
        let d = Digest::of(body);
        s.put_manifest("a/b", &d, body, "application/x", Some("v1"), None)
            .unwrap();
        s.put_manifest("a", &d, body, "application/x", Some("v2"), None)
            .unwrap();
        assert_eq!(s.resolve_tag("a/b", "v1").unwrap(), Some(d.clone()));
        assert_eq!(
            s.list_repos().unwrap(),
            vec!["a".to_string(), "a/b".to_string()]
        );
        assert_eq!(s.list_tags("a/b").unwrap(), Some(vec!["v1".to_string()]));
        assert_eq!(s.list_tags("zz").unwrap(), None);
        assert_eq!(
            s.repo_blob_size("a/b", &d).unwrap(),
            Some(body.len() as u64)
        );
        assert!(s.delete_manifest("a/b", &d, None).unwrap());
        assert_eq!(s.list_tags("a/b").unwrap(), Some(vec![]));
        assert_eq!(s.resolve_tag("a", "v2").unwrap(), Some(d));
    }
}
