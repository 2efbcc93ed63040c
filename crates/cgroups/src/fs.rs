//! File access for cgroupfs. Writes never create files: a missing file on a real
//! cgroupfs means a controller is absent, and the fake trees in tests pre-create theirs.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::CgroupError;

pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    // One write(2) per value: cgroupfs parses each write as a whole request.
    let res = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    res.map_err(|source| CgroupError::Write {
        path,
        value: value.to_string(),
        source,
    })
}

/// Like `write`, but a missing file is reported as `Ok(false)` for knobs that newer
/// kernels dropped (kmem) or that depend on config (swap accounting).
pub(crate) fn write_if_exists(dir: &Path, file: &str, value: &str) -> Result<bool, CgroupError> {
    match write(dir, file, value) {
        Ok(()) => Ok(true),
        Err(e) if e.errno() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

pub(crate) fn read(dir: &Path, file: &str) -> Result<String, CgroupError> {
    let path = dir.join(file);
    fs::read_to_string(&path).map_err(|source| CgroupError::Read { path, source })
}

pub(crate) fn read_opt(dir: &Path, file: &str) -> Result<Option<String>, CgroupError> {
    match read(dir, file) {
        Ok(s) => Ok(Some(s)),
        Err(CgroupError::Read { source, .. }) if source.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn parse_err(dir: &Path, file: &str, content: &str) -> CgroupError {
    CgroupError::Parse {
        path: dir.join(file),
        content: content.to_string(),
    }
}

/// A single number; "max" (v2) reads as `u64::MAX` like runc reports it.
pub(crate) fn parse_u64(dir: &Path, file: &str, content: &str) -> Result<u64, CgroupError> {
    let s = content.trim();
    if s == "max" {
        return Ok(u64::MAX);
    }
    s.parse().map_err(|_| parse_err(dir, file, content))
}

/// A missing file reads as 0 so stats work on hosts lacking a knob.
pub(crate) fn read_u64_opt(dir: &Path, file: &str) -> Result<u64, CgroupError> {
    match read_opt(dir, file)? {
        Some(s) => parse_u64(dir, file, &s),
        None => Ok(0),
    }
}

/// "key value" lines (memory.stat, cpu.stat, memory.events); a missing file is empty.
pub(crate) fn read_flat_keyed(
    dir: &Path,
    file: &str,
) -> Result<BTreeMap<String, u64>, CgroupError> {
    let Some(content) = read_opt(dir, file)? else {
        return Ok(BTreeMap::new());
    };
    parse_flat_keyed(&content).ok_or_else(|| parse_err(dir, file, &content))
}

pub(crate) fn parse_flat_keyed(content: &str) -> Option<BTreeMap<String, u64>> {
    let mut map = BTreeMap::new();
    for line in content.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let (k, v) = (it.next()?, it.next()?);
        map.insert(k.to_string(), v.parse().ok()?);
    }
    Some(map)
}

pub(crate) fn read_pids(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let content = read(dir, "cgroup.procs")?;
    content
        .split_whitespace()
        .map(|p| {
            p.parse()
                .map_err(|_| parse_err(dir, "cgroup.procs", &content))
        })
        .collect()
}

/// Pids of `dir` and every descendant cgroup, in walk order.
pub(crate) fn read_pids_recursive(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let mut out = Vec::new();
    for d in descendants(dir)? {
        out.extend(read_pids(&d)?);
    }
    Ok(out)
}

/// `dir` followed by every subdirectory, parents before children.
pub(crate) fn descendants(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let mut out = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        let cur = out[i].clone();
        let entries = fs::read_dir(&cur).map_err(|source| CgroupError::Read {
            path: cur.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.push(entry.path());
            }
        }
        i += 1;
    }
    Ok(out)
}

/// rmdir `dir` and its child cgroups, children first. EBUSY is retried because the
/// kernel releases a cgroup asynchronously after its last task exits; ENOENT is
/// success so destroy is idempotent.
pub(crate) fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    let dirs = match descendants(dir) {
        Ok(d) => d,
        Err(e) if e.errno() == Some(libc::ENOENT) => return Ok(()),
        Err(e) => return Err(e),
    };
    for d in dirs.iter().rev() {
        rmdir_retry(d)?;
    }
    Ok(())
}

const RMDIR_ATTEMPTS: u32 = 10;

fn rmdir_retry(dir: &Path) -> Result<(), CgroupError> {
    let mut attempt = 0;
    loop {
        match fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt + 1 < RMDIR_ATTEMPTS => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(10 * u64::from(attempt)));
            }
            Err(source) => {
                return Err(CgroupError::RemoveDir {
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
}

pub(crate) fn create_dir_all(dir: &Path) -> Result<(), CgroupError> {
    fs::create_dir_all(dir).map_err(|source| CgroupError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })
}

/// "-1" and values below it mean unlimited in the OCI spec.
pub(crate) fn limit_v2(v: i64) -> String {
    if v < 0 {
        "max".to_string()
    } else {
        v.to_string()
    }
}
