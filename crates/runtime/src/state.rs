//! Container state on disk under the runtime root (`/run/vessel-runtime/<id>/`), and the
//! runc-compatible JSON that `state` and `list` print.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Context, Result, RuntimeError};

pub const DEFAULT_ROOT: &str = "/run/vessel-runtime";
pub const OCI_VERSION: &str = "1.2.0";
const STATE_FILE: &str = "state.json";
const EXEC_FIFO: &str = "exec.fifo";

/// Status as the OCI runtime spec and runc name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What the runtime remembers about a container between invocations.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub pid: i32,
    /// Start time of `pid` in clock ticks (field 22 of /proc/pid/stat), so a recycled pid is
    /// never mistaken for the container.
    pub pid_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// The cgroup path as the cgroup manager resolved it.
    pub cgroup_path: PathBuf,
    #[serde(default)]
    pub systemd_cgroup: bool,
}

/// The runc `state` output (OCI state plus runc's `created`/`owner`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateOutput {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: Status,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
    pub owner: String,
}

/// The directory holding every container's state.
#[derive(Debug, Clone)]
pub struct StateRoot {
    root: PathBuf,
}

impl StateRoot {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StateRoot { root: root.into() }
    }

    pub fn path(&self) -> &Path {
        &self.root
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    pub fn exec_fifo(&self, id: &str) -> PathBuf {
        self.container_dir(id).join(EXEC_FIFO)
    }

    /// Reserve `id`: create its directory exclusively so two concurrent creates cannot both win.
    pub fn reserve(&self, id: &str) -> Result<PathBuf> {
        validate_id(id)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(&self.root)
            .op(|| format!("creating runtime root {}", self.root.display()))?;
        let dir = self.container_dir(id);
        match fs::DirBuilder::new().mode(0o711).create(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(RuntimeError::ContainerExists { id: id.to_string() })
            }
            Err(e) => Err(e).op(|| format!("creating {}", dir.display())),
        }
    }

    pub fn save(&self, record: &ContainerRecord) -> Result<()> {
        let dir = self.container_dir(&record.id);
        let tmp = dir.join(".state.json.tmp");
        let data = serde_json::to_vec(record).expect("record serializes");
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .op(|| format!("writing {}", tmp.display()))?;
        f.write_all(&data)
            .op(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, dir.join(STATE_FILE)).op(|| format!("saving state of {}", record.id))
    }

    pub fn load(&self, id: &str) -> Result<ContainerRecord> {
        validate_id(id)?;
        let file = self.container_dir(id).join(STATE_FILE);
        let data = fs::read(&file).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => RuntimeError::ContainerNotFound { id: id.to_string() },
            _ => RuntimeError::Io {
                operation: format!("reading {}", file.display()),
                cause: e,
            },
        })?;
        serde_json::from_slice(&data).map_err(|e| RuntimeError::ConfigParse {
            path: file,
            message: e.to_string(),
        })
    }

    pub fn remove(&self, id: &str) -> Result<()> {
        let dir = self.container_dir(id);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).op(|| format!("removing {}", dir.display()))
            }
            _ => Ok(()),
        }
    }

    /// Ids of every container with a state file, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).op(|| format!("listing {}", self.root.display())),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join(STATE_FILE).exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Take an exclusive lock on the container so lifecycle operations do not interleave.
    pub fn lock(&self, id: &str) -> Result<OwnedFd> {
        let dir = self.container_dir(id);
        let file = fs::File::open(&dir).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => RuntimeError::ContainerNotFound { id: id.to_string() },
            _ => RuntimeError::Io {
                operation: format!("opening {}", dir.display()),
                cause: e,
            },
        })?;
        // SAFETY: flock on an fd we own; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error())
                .op(|| format!("locking {}", dir.display()));
        }
        Ok(file.into())
    }
}

/// Container ids become directory names: keep them to a safe alphabet.
pub fn validate_id(id: &str) -> Result<()> {
    let err = |reason| RuntimeError::InvalidId {
        id: id.to_string(),
        reason,
    };
    if id.is_empty() {
        return Err(err("must not be empty"));
    }
    if id.len() > 1024 {
        return Err(err("is longer than 1024 characters"));
    }
    if id == "." || id == ".." {
        return Err(err("must not be . or .."));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+'))
    {
        return Err(err(
            "may only contain letters, digits, '_', '-', '.' and '+'",
        ));
    }
    Ok(())
}

/// Start time of a process in clock ticks since boot, or None if it is gone.
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat_start_time(&stat)
}

/// Field 22 of /proc/pid/stat; the command name (field 2) may contain spaces and parens,
/// so fields are counted after its closing paren.
pub fn parse_stat_start_time(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Process state letter (field 3 of /proc/pid/stat).
pub fn process_state_letter(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.chars().next()
}

/// Whether the recorded init process still exists (and is not a zombie).
pub fn init_alive(record: &ContainerRecord) -> bool {
    if record.pid <= 0 {
        return false;
    }
    match process_start_time(record.pid) {
        Some(t) if t == record.pid_start_time => !matches!(
            process_state_letter(record.pid),
            Some('Z') | Some('X') | None
        ),
        _ => false,
    }
}

/// RFC 3339 UTC timestamp with nanoseconds, as runc prints `created`.
pub fn rfc3339_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(now.as_secs() as i64, now.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The OCI state JSON handed to hooks and seccomp listeners.
pub fn state_json(
    id: &str,
    status: Status,
    pid: i32,
    bundle: &Path,
    annotations: &HashMap<String, String>,
) -> Vec<u8> {
    let mut v = serde_json::json!({
        "ociVersion": OCI_VERSION,
        "id": id,
        "status": status,
        "pid": pid,
        "bundle": bundle,
    });
    if !annotations.is_empty() {
        v["annotations"] = serde_json::json!(annotations);
    }
    serde_json::to_vec(&v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        validate_id("abc-123_x.y").unwrap();
        assert!(validate_id("a/b").is_err());
        assert!(validate_id("..").is_err());
        assert!(validate_id("").is_err());
        assert!(validate_id("a b").is_err());
    }

    #[test]
    fn stat_parsing_handles_parens_in_comm() {
        let stat =
            "42 (we ird) name)) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_stat_start_time(stat), Some(987654));
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(1_700_000_000, 5), "2023-11-14T22:13:20.000000005Z");
        assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00.000000000Z");
    }

    #[test]
    fn reserve_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let root = StateRoot::new(dir.path().join("r"));
        root.reserve("one").unwrap();
        assert!(matches!(
            root.reserve("one"),
            Err(RuntimeError::ContainerExists { .. })
        ));
        assert!(matches!(
            root.load("one"),
            Err(RuntimeError::ContainerNotFound { .. })
        ));
        assert!(root.list().unwrap().is_empty());
    }
}
