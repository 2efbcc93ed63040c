//! `--security-opt` parsing (moby `parseSecurityOpt`) and Docker's masked / read-only paths.

use crate::SpecError;
use std::path::{Path, PathBuf};

/// Which seccomp profile applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeccompChoice {
    /// Docker's built-in default profile.
    Default,
    Unconfined,
    /// Profile JSON. The docker CLI reads `seccomp=<file>` itself and sends the file's content.
    Json(String),
    /// A path on the engine's host (API clients other than the CLI may send one).
    Path(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityOpts {
    pub seccomp: SeccompChoice,
    pub no_new_privileges: bool,
    pub writable_cgroups: bool,
    /// `systempaths=unconfined`: no masked or read-only paths.
    pub unconfined_paths: bool,
}

impl Default for SecurityOpts {
    fn default() -> Self {
        Self {
            seccomp: SeccompChoice::Default,
            no_new_privileges: false,
            writable_cgroups: false,
            unconfined_paths: false,
        }
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

pub fn parse_security_opts(opts: &[String]) -> Result<SecurityOpts, SpecError> {
    let mut out = SecurityOpts::default();
    for opt in opts {
        let err = |reason| SpecError::InvalidSecurityOpt {
            value: opt.clone(),
            reason,
        };
        if opt == "systempaths=unconfined" {
            out.unconfined_paths = true;
            continue;
        }
        if opt == "no-new-privileges" {
            out.no_new_privileges = true;
            continue;
        }
        // `key=value`, or the deprecated `key:value`.
        let (k, v) = opt
            .split_once('=')
            .or_else(|| opt.split_once(':'))
            .ok_or_else(|| err("expected key=value"))?;
        match k {
            "label" | "apparmor" => {} // no LSM support: accepted and ignored, like a host without them
            "seccomp" => {
                out.seccomp = match v.trim() {
                    "unconfined" => SeccompChoice::Unconfined,
                    "builtin" | "" => SeccompChoice::Default,
                    j if j.starts_with('{') => SeccompChoice::Json(v.to_string()),
                    p => SeccompChoice::Path(PathBuf::from(p)),
                }
            }
            "no-new-privileges" => {
                out.no_new_privileges = parse_bool(v).ok_or_else(|| err("invalid boolean"))?
            }
            "writable-cgroups" => {
                out.writable_cgroups = parse_bool(v).ok_or_else(|| err("invalid boolean"))?
            }
            _ => return Err(err("unknown option")),
        }
    }
    Ok(out)
}

/// Docker's default masked paths (moby `oci.DefaultLinuxSpec`).
pub const MASKED_PATHS: [&str; 12] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// Docker also masks `/sys/devices/system/cpu/cpu*/thermal_throttle`. The runtime takes no
/// globs, so expand it against `host_root` (the engine passes `/`): each CPU that has one.
pub fn thermal_throttle_paths(host_root: &Path) -> Vec<String> {
    let dir = host_root.join("sys/devices/system/cpu");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut cpus: Vec<(u32, String)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n: u32 = name.strip_prefix("cpu")?.parse().ok()?;
            e.path()
                .join("thermal_throttle")
                .exists()
                .then_some((n, name))
        })
        .collect();
    cpus.sort();
    cpus.into_iter()
        .map(|(_, name)| format!("/sys/devices/system/cpu/{name}/thermal_throttle"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(xs: &[&str]) -> Result<SecurityOpts, SpecError> {
        parse_security_opts(&xs.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn parses_docker_forms() {
        assert_eq!(opts(&[]).unwrap(), SecurityOpts::default());
        assert_eq!(
            opts(&["seccomp=unconfined"]).unwrap().seccomp,
            SeccompChoice::Unconfined
        );
        assert_eq!(
            opts(&["seccomp:unconfined"]).unwrap().seccomp,
            SeccompChoice::Unconfined
        );
        let j = r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#;
        assert!(matches!(
            opts(&[j]).unwrap().seccomp,
            SeccompChoice::Json(_)
        ));
        assert_eq!(
            opts(&["seccomp=/etc/p.json"]).unwrap().seccomp,
            SeccompChoice::Path("/etc/p.json".into())
        );
        assert!(opts(&["no-new-privileges"]).unwrap().no_new_privileges);
        assert!(opts(&["no-new-privileges:true"]).unwrap().no_new_privileges);
        assert!(
            !opts(&["no-new-privileges=false"])
                .unwrap()
                .no_new_privileges
        );
        assert!(opts(&["no-new-privileges=maybe"]).is_err());
        assert!(opts(&["apparmor=docker-default", "label=disable"]).is_ok());
        assert!(opts(&["systempaths=unconfined"]).unwrap().unconfined_paths);
        let e = opts(&["bogus=1"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"invalid --security-opt "bogus=1": unknown option"#
        );
        assert!(opts(&["nokey"]).is_err());
    }

    #[test]
    fn thermal_throttle_expansion() {
        let root = tempfile::tempdir().unwrap();
        for cpu in ["cpu0", "cpu1", "cpu10", "cpufreq"] {
            std::fs::create_dir_all(
                root.path()
                    .join("sys/devices/system/cpu")
                    .join(cpu)
                    .join("thermal_throttle"),
            )
            .unwrap();
        }
        std::fs::create_dir_all(root.path().join("sys/devices/system/cpu/cpu2")).unwrap();
        assert_eq!(
            thermal_throttle_paths(root.path()),
            [
                "/sys/devices/system/cpu/cpu0/thermal_throttle",
                "/sys/devices/system/cpu/cpu1/thermal_throttle",
                "/sys/devices/system/cpu/cpu10/thermal_throttle"
            ]
        );
        assert!(thermal_throttle_paths(Path::new("/nonexistent")).is_empty());
    }
}
