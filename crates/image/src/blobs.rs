//! Content-addressed blobs under `<root>/blobs/sha256/<hex>`. A blob is written to a temp file,
//! fsynced, and renamed into place only when its digest matches what the caller expects, so a
//! visible blob is always complete and correct.

use crate::digest::{is_hex64, Digest};
use crate::error::{ImageError, IoCtx};
use crate::fsutil::{self, TempGuard};
use sha2::{Digest as _, Sha256};
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

impl BlobStore {
    pub fn open(root: &Path) -> Result<BlobStore, ImageError> {
        let dir = root.join("blobs").join("sha256");
        fsutil::create_dir_all(&dir)?;
        fsutil::remove_temps(&dir)?;
        Ok(BlobStore { dir })
    }

    pub fn path(&self, d: &Digest) -> PathBuf {
        self.dir.join(d.hex())
    }

    pub fn exists(&self, d: &Digest) -> bool {
        self.path(d).is_file()
    }

    pub fn open_blob(&self, d: &Digest) -> Result<File, ImageError> {
        let p = self.path(d);
        File::open(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ImageError::NotFound(format!("blob {d}")),
            _ => ImageError::io("open blob", &p, e),
        })
    }

    pub fn read(&self, d: &Digest) -> Result<Vec<u8>, ImageError> {
        let mut v = Vec::new();
        self.open_blob(d)?
            .read_to_end(&mut v)
            .ctx("read blob", &self.path(d))?;
        Ok(v)
    }

    pub fn size(&self, d: &Digest) -> Result<u64, ImageError> {
        let p = self.path(d);
        Ok(fs::metadata(&p).ctx("stat blob", &p)?.len())
    }

    pub fn writer(&self) -> Result<BlobWriter, ImageError> {
        let tmp = fsutil::temp_path(&self.dir, "blob");
        let f = File::create(&tmp).ctx("create", &tmp)?;
        Ok(BlobWriter {
            file: BufWriter::with_capacity(256 * 1024, f),
            guard: TempGuard::new(tmp),
            hasher: Sha256::new(),
            size: 0,
            dir: self.dir.clone(),
        })
    }

    /// Store `bytes`; with `expected`, refuse (and store nothing) unless the digest matches.
    pub fn put_bytes(&self, bytes: &[u8], expected: Option<&Digest>) -> Result<Digest, ImageError> {
        let actual = Digest::of(bytes);
        if let Some(e) = expected {
            if *e != actual {
                return Err(ImageError::DigestMismatch {
                    what: "blob".into(),
                    expected: e.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        if self.exists(&actual) {
            return Ok(actual);
        }
        let mut w = self.writer()?;
        w.write_all(bytes).ctx("write", w.guard.path())?;
        w.commit(expected, "blob")?;
        Ok(actual)
    }

    /// Stream `r` into the store, verifying against `expected` when given.
    pub fn put_reader(
        &self,
        r: &mut dyn Read,
        expected: Option<&Digest>,
        what: &str,
    ) -> Result<(Digest, u64), ImageError> {
        let mut w = self.writer()?;
        io::copy(r, &mut w).map_err(|e| ImageError::LayerRead {
            layer: what.to_string(),
            source: e,
        })?;
        w.commit(expected, what)
    }

    pub fn remove(&self, d: &Digest) -> Result<(), ImageError> {
        fsutil::remove_any(&self.path(d))
    }

    pub fn list(&self) -> Result<Vec<Digest>, ImageError> {
        let mut out = Vec::new();
        for ent in fs::read_dir(&self.dir).ctx("read directory", &self.dir)? {
            let ent = ent.ctx("read directory", &self.dir)?;
            let name = ent.file_name();
            let name = name.to_string_lossy();
            if is_hex64(&name) {
                out.push(Digest::from_hex(&name)?);
            }
        }
        Ok(out)
    }
}

pub struct BlobWriter {
    file: BufWriter<File>,
    guard: TempGuard,
    hasher: Sha256,
    size: u64,
    dir: PathBuf,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl BlobWriter {
    /// The digest of what was written so far.
    pub fn digest_so_far(&self) -> Result<Digest, ImageError> {
        Digest::from_hex(&hex::encode(self.hasher.clone().finalize()))
    }

    /// fsync, verify, rename into place. On a mismatch the temp file is deleted.
    pub fn commit(
        self,
        expected: Option<&Digest>,
        what: &str,
    ) -> Result<(Digest, u64), ImageError> {
        let BlobWriter {
            file,
            guard,
            hasher,
            size,
            dir,
        } = self;
        let actual = Digest::from_hex(&hex::encode(hasher.finalize()))?;
        if let Some(e) = expected {
            if *e != actual {
                return Err(ImageError::DigestMismatch {
                    what: what.to_string(),
                    expected: e.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        let file = file
            .into_inner()
            .map_err(|e| ImageError::io("write", guard.path(), e.into_error()))?;
        file.sync_all().ctx("fsync", guard.path())?;
        let dst = dir.join(actual.hex());
        let tmp = guard.keep();
        if let Err(e) = fs::rename(&tmp, &dst) {
            let _ = fs::remove_file(&tmp);
            return Err(ImageError::io("rename blob into place", &dst, e));
        }
        fsutil::fsync_dir(&dir)?;
        Ok((actual, size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_digest_is_rejected_and_leaves_nothing() {
        let t = tempfile::tempdir().unwrap();
        let s = BlobStore::open(t.path()).unwrap();
        let wrong = Digest::of(b"other");
        let e = s.put_bytes(b"hello", Some(&wrong)).unwrap_err().to_string();
        assert!(
            e.contains(wrong.as_str()) && e.contains(Digest::of(b"hello").as_str()),
            "{e}"
        );
        let e = s
            .put_reader(&mut &b"hello"[..], Some(&wrong), "layer x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("layer x"), "{e}");
        assert_eq!(
            fs::read_dir(t.path().join("blobs/sha256")).unwrap().count(),
            0
        );
        let (d, n) = s.put_reader(&mut &b"hello"[..], None, "x").unwrap();
        assert_eq!((d.clone(), n), (Digest::of(b"hello"), 5));
        assert_eq!(s.read(&d).unwrap(), b"hello");
        assert_eq!(s.list().unwrap(), vec![d]);
    }

    #[test]
    fn open_removes_temp_files() {
        let t = tempfile::tempdir().unwrap();
        let s = BlobStore::open(t.path()).unwrap();
        let w = s.writer().unwrap();
        std::mem::forget(w); // a crash mid-write
        assert_eq!(
            fs::read_dir(t.path().join("blobs/sha256")).unwrap().count(),
            1
        );
        BlobStore::open(t.path()).unwrap();
        assert_eq!(
            fs::read_dir(t.path().join("blobs/sha256")).unwrap().count(),
            0
        );
    }
}
