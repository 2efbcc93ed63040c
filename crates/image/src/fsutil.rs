//! Small file-system helpers for crash safety: unique temp names, atomic replace, dir fsync.

use crate::error::{ImageError, IoCtx};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Every temp file and dir in the store starts with this, so `open()` can remove leftovers.
pub const TMP_PREFIX: &str = ".tmp-";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name unique within this process and across processes: `.tmp-<pid>-<n>-<what>`.
pub fn temp_path(dir: &Path, what: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{TMP_PREFIX}{}-{n}-{what}", std::process::id()))
}

pub fn fsync_dir(dir: &Path) -> Result<(), ImageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .ctx("fsync directory", dir)
}

/// Write `bytes` to `path` so that a crash leaves either the old or the new content.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = temp_path(dir, "write");
    let res = (|| {
        let mut f = File::create(&tmp).ctx("create", &tmp)?;
        f.write_all(bytes).ctx("write", &tmp)?;
        f.sync_all().ctx("fsync", &tmp)?;
        fs::rename(&tmp, path).ctx("rename into place", path)?;
        fsync_dir(dir)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

pub fn create_dir_all(path: &Path) -> Result<(), ImageError> {
    fs::create_dir_all(path).ctx("create directory", path)
}

/// Remove a file or a whole tree; a missing path is not an error.
pub fn remove_any(path: &Path) -> Result<(), ImageError> {
    let res = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    match res {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(ImageError::io("remove", path, e))
        }
        _ => Ok(()),
    }
}

/// Remove every `.tmp-*` entry directly inside `dir` (what a crash left behind).
pub fn remove_temps(dir: &Path) -> Result<usize, ImageError> {
    let mut n = 0;
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(ImageError::io("read directory", dir, e)),
    };
    for ent in rd {
        let ent = ent.ctx("read directory", dir)?;
        if ent.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
            remove_any(&ent.path())?;
            n += 1;
        }
    }
    Ok(n)
}

/// Deletes a temp path on drop unless `keep()` was called.
pub struct TempGuard(Option<PathBuf>);

impl TempGuard {
    pub fn new(p: PathBuf) -> Self {
        TempGuard(Some(p))
    }
    pub fn path(&self) -> &Path {
        self.0.as_deref().expect("guard already released")
    }
    pub fn keep(mut self) -> PathBuf {
        self.0.take().expect("guard already released")
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = remove_any(&p);
        }
    }
}
