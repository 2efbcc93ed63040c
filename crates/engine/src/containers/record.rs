//! What the engine stores per container (a JSON record in the `containers` table) and the
//! Docker JSON views of it (`/containers/json` rows and `/containers/{id}/json`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use vessel_specgen::ContainerCreate;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// Running or paused: a live process exists.
    pub fn is_live(&self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    pub pid: i32,
    pub monitor_pid: i32,
    pub exit_code: i32,
    pub oom_killed: bool,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
}

pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl Default for State {
    fn default() -> Self {
        State {
            status: Status::Created,
            pid: 0,
            monitor_pid: 0,
            exit_code: 0,
            oom_killed: false,
            error: String::new(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MountPoint {
    pub kind: String,
    pub name: String,
    pub source: PathBuf,
    pub destination: String,
    pub rw: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub created: String,
    /// The image as the user named it.
    pub image: String,
    pub image_id: String,
    pub create: ContainerCreate,
    pub path: String,
    pub args: Vec<String>,
    pub state: State,
    pub restart_count: u32,
    pub rootfs: PathBuf,
    pub dir: PathBuf,
    pub log_path: PathBuf,
    pub mounts: Vec<MountPoint>,
    /// Set by `stop`, cleared by `start`: restart policies leave such a container alone.
    #[serde(default)]
    pub manually_stopped: bool,
}

impl ContainerRecord {
    pub fn tty(&self) -> bool {
        self.create.config.tty.unwrap_or(false)
    }

    pub fn open_stdin(&self) -> bool {
        self.create.config.open_stdin.unwrap_or(false)
    }

    pub fn auto_remove(&self) -> bool {
        self.create
            .host_config
            .as_ref()
            .and_then(|h| h.auto_remove)
            .unwrap_or(false)
    }

    pub fn labels(&self) -> Value {
        self.create
            .config
            .labels
            .as_ref()
            .map(|l| json!(l))
            .unwrap_or_else(|| json!({}))
    }

    pub fn command_line(&self) -> String {
        std::iter::once(self.path.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// "Up 3 seconds", "Exited (0) 2 minutes ago", "Created".
    pub fn status_text(&self, now: i64) -> String {
        let since = |t: &str| crate::timefmt::parse_rfc3339(t).map(|s| human_duration(now - s));
        match self.state.status {
            Status::Created => "Created".into(),
            Status::Running => format!("Up {}", since(&self.state.started_at).unwrap_or_default()),
            Status::Paused => format!(
                "Up {} (Paused)",
                since(&self.state.started_at).unwrap_or_default()
            ),
            Status::Restarting => format!("Restarting ({})", self.state.exit_code),
            Status::Removing => "Removal In Progress".into(),
            Status::Exited => format!(
                "Exited ({}) {} ago",
                self.state.exit_code,
                since(&self.state.finished_at).unwrap_or_default()
            ),
            Status::Dead => "Dead".into(),
        }
    }

    /// A row of `GET /containers/json`.
    pub fn summary(&self, now: i64) -> Value {
        json!({
            "Id": self.id,
            "Names": [format!("/{}", self.name)],
            "Image": self.image,
            "ImageID": self.image_id,
            "Command": self.command_line(),
            "Created": crate::timefmt::parse_rfc3339(&self.created).unwrap_or(0),
            "Ports": [],
            "Labels": self.labels(),
            "State": self.state.status.as_str(),
            "Status": self.status_text(now),
            "HostConfig": {"NetworkMode": self.network_mode()},
            "NetworkSettings": {"Networks": {}},
            "Mounts": self.mounts.iter().map(|m| self.mount_json(m)).collect::<Vec<_>>(),
        })
    }

    fn network_mode(&self) -> String {
        self.create
            .host_config
            .as_ref()
            .and_then(|h| h.network_mode.clone())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "default".into())
    }

    fn mount_json(&self, m: &MountPoint) -> Value {
        json!({
            "Type": m.kind,
            "Name": if m.name.is_empty() { Value::Null } else { json!(m.name) },
            "Source": m.source,
            "Destination": m.destination,
            "Driver": if m.kind == "volume" { json!("local") } else { Value::Null },
            "Mode": "",
            "RW": m.rw,
            "Propagation": if m.kind == "bind" { "rprivate" } else { "" },
        })
    }

    /// `GET /containers/{id}/json`.
    pub fn inspect(&self) -> Value {
        let mut config = serde_json::to_value(&self.create.config).unwrap_or_else(|_| json!({}));
        if let Some(obj) = config.as_object_mut() {
            obj.retain(|_, v| !v.is_null());
            obj.insert("Image".into(), json!(self.image));
        }
        let host_config = serde_json::to_value(&self.create.host_config).unwrap_or(Value::Null);
        let s = &self.state;
        json!({
            "Id": self.id,
            "Created": self.created,
            "Path": self.path,
            "Args": self.args,
            "State": {
                "Status": s.status.as_str(),
                "Running": s.status.is_live(),
                "Paused": s.status == Status::Paused,
                "Restarting": s.status == Status::Restarting,
                "OOMKilled": s.oom_killed,
                "Dead": s.status == Status::Dead,
                "Pid": if s.status.is_live() { s.pid } else { 0 },
                "ExitCode": s.exit_code,
                "Error": s.error,
                "StartedAt": s.started_at,
                "FinishedAt": s.finished_at,
            },
            "Image": self.image_id,
            "ResolvConfPath": self.dir.join("resolv.conf"),
            "HostnamePath": self.dir.join("hostname"),
            "HostsPath": self.dir.join("hosts"),
            "LogPath": self.log_path,
            "Name": format!("/{}", self.name),
            "RestartCount": self.restart_count,
            "Driver": "overlay2",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": Value::Null,
            "HostConfig": host_config,
            "GraphDriver": {"Name": "overlay2", "Data": {"MergedDir": self.rootfs}},
            "Mounts": self.mounts.iter().map(|m| self.mount_json(m)).collect::<Vec<_>>(),
            "Config": config,
            "NetworkSettings": {
                "Bridge": "", "SandboxID": "", "HairpinMode": false, "Ports": {},
                "SandboxKey": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                "MacAddress": "", "Networks": {}
            },
        })
    }
}

/// Docker's units.HumanDuration.
pub fn human_duration(secs: i64) -> String {
    let s = secs.max(0);
    match s {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..=59 => format!("{s} seconds"),
        60..=119 => "About a minute".into(),
        120..=3599 => format!("{} minutes", s / 60),
        3600..=7199 => "About an hour".into(),
        7200..=172_799 => format!("{} hours", s / 3600),
        172_800..=1_209_599 => format!("{} days", s / 86_400),
        1_209_600..=5_183_999 => format!("{} weeks", s / 604_800),
        5_184_000..=63_071_999 => format!("{} months", s / 2_592_000),
        _ => format!("{} years", s / 31_536_000),
    }
}

/// Docker's container name rule.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("web"));
        assert!(valid_name("a.b-c_1"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(""));
    }

    #[test]
    fn durations() {
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(5), "5 seconds");
        assert_eq!(human_duration(90), "About a minute");
        assert_eq!(human_duration(600), "10 minutes");
        assert_eq!(human_duration(3 * 86_400), "3 days");
    }
}
