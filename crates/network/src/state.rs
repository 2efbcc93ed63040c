//! Durable state: one JSON file per network under `<state_dir>/networks/`, written atomically
//! (temp file, fsync, rename, fsync of the directory) so a crash leaves the old or the new
//! version, never a torn one.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{io_err, Error, Result};

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err("create state directory", dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    {
        let mut f = File::create(&tmp).map_err(io_err("create", &tmp))?;
        f.write_all(bytes).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("fsync", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(io_err("rename into place", path))?;
    // The rename itself is durable only once the directory entry is on disk.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", dir))
}

pub fn save<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| Error::StateCorrupt {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomic(path, &bytes)
}

pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).map_err(io_err("read", path))?;
    serde_json::from_slice(&bytes).map_err(|source| Error::StateCorrupt {
        path: path.to_path_buf(),
        source,
    })
}

/// Every `*.json` file in `dir` (none if the directory does not exist yet), sorted by name.
pub fn list_json(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("list", dir)(e)),
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    out.sort();
    Ok(out)
}

pub fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("remove", path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/x.json");
        save(&p, &vec![1, 2, 3]).unwrap();
        save(&p, &vec![4]).unwrap();
        let v: Vec<i32> = load(&p).unwrap();
        assert_eq!(v, [4]);
        let listed = list_json(&dir.path().join("sub")).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0], p);
        // no temp files left behind
        assert_eq!(fs::read_dir(dir.path().join("sub")).unwrap().count(), 1);
        remove(&p).unwrap();
        remove(&p).unwrap();
    }

    #[test]
    fn corrupt_state_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.json");
        fs::write(&p, "{nope").unwrap();
        let err = load::<Vec<i32>>(&p).unwrap_err();
        assert!(err.to_string().contains("bad.json"));
    }
}
