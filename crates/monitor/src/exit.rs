//! `exit.json`, the record the daemon reads (also after a restart), and OOM detection from
//! the init's memory cgroup.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::sys::Status;
use crate::timefmt::rfc3339_nano;

pub struct ExitRecord {
    pub status: Status,
    pub oom_killed: bool,
    pub created_at: SystemTime,
    pub finished_at: SystemTime,
}

impl ExitRecord {
    pub fn to_json(&self) -> String {
        let signal = match self.status {
            Status::Signaled(s) => s.to_string(),
            Status::Exited(_) => "null".into(),
        };
        // started_at: the monitor does not run `start` and cannot see when the daemon did.
        format!(
            "{{\"exit_code\":{},\"signal\":{signal},\"oom_killed\":{},\"created_at\":\"{}\",\"started_at\":null,\"finished_at\":\"{}\"}}\n",
            self.status.code(),
            self.oom_killed,
            rfc3339_nano(self.created_at),
            rfc3339_nano(self.finished_at),
        )
    }
}

/// Write `dir/exit.json` through a temporary file and rename, so a reader sees all or nothing.
pub fn write_atomically(dir: &Path, name: &str, content: &str) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(content.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))
}

/// Where the kernel counts OOM kills for a process's memory cgroup: v2 `memory.events`
/// or v1 `memory.oom_control`, both with an `oom_kill N` line (Linux ≥ 4.13).
pub fn oom_counter_file(cgroup_root: &Path, proc_cgroup: &str) -> Option<PathBuf> {
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let rel = path.trim_start_matches('/');
        if id == "0" && controllers.is_empty() && cgroup_root.join("cgroup.controllers").exists() {
            return Some(cgroup_root.join(rel).join("memory.events"));
        }
        if controllers.split(',').any(|c| c == "memory") {
            return Some(
                cgroup_root
                    .join("memory")
                    .join(rel)
                    .join("memory.oom_control"),
            );
        }
    }
    None
}

pub fn oom_kills(file: &Path) -> u64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn exit_json_reports_code_and_signal() {
        let t = UNIX_EPOCH + Duration::from_secs(1);
        let rec = |status| ExitRecord {
            status,
            oom_killed: false,
            created_at: t,
            finished_at: t,
        };
        assert_eq!(
            rec(Status::Exited(3)).to_json(),
            "{\"exit_code\":3,\"signal\":null,\"oom_killed\":false,\"created_at\":\"1970-01-01T00:00:01.000000000Z\",\"started_at\":null,\"finished_at\":\"1970-01-01T00:00:01.000000000Z\"}\n"
        );
        assert!(rec(Status::Signaled(9))
            .to_json()
            .starts_with("{\"exit_code\":137,\"signal\":9,"));
    }

    #[test]
    fn finds_the_oom_counter_on_v1_and_v2() {
        let v2 = tempfile::tempdir().unwrap();
        std::fs::write(v2.path().join("cgroup.controllers"), "memory").unwrap();
        assert_eq!(
            oom_counter_file(v2.path(), "0::/vessel/c1\n").unwrap(),
            v2.path().join("vessel/c1/memory.events")
        );
        let v1 = tempfile::tempdir().unwrap();
        let got = oom_counter_file(v1.path(), "12:pids:/x\n5:memory:/vessel/c1\n0::/\n").unwrap();
        assert_eq!(got, v1.path().join("memory/vessel/c1/memory.oom_control"));
        std::fs::create_dir_all(got.parent().unwrap()).unwrap();
        std::fs::write(&got, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n").unwrap();
        assert_eq!(oom_kills(&got), 2);
        assert_eq!(oom_kills(&v1.path().join("missing")), 0);
    }
}
