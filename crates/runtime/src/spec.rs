//! Loading and validating an OCI bundle's `config.json`. Validation happens before anything
//! is created, so a bad config leaves nothing behind and the error names the field.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

use crate::error::{Result, RuntimeError};

/// Largest config.json we accept; real ones are a few KiB.
const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// A validated bundle: the parsed spec plus resolved absolute paths.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub path: PathBuf,
    pub rootfs: PathBuf,
    pub spec: Spec,
}

/// Read `<bundle>/config.json`, parse it and validate it against what this runtime supports.
pub fn load_bundle(bundle: &Path) -> Result<Bundle> {
    let path = std::fs::canonicalize(bundle).map_err(|cause| RuntimeError::ConfigRead {
        path: bundle.to_path_buf(),
        cause,
    })?;
    let config = path.join("config.json");
    let spec = parse_config_file(&config)?;
    let rootfs = resolve_rootfs(&path, &spec)?;
    validate(&spec)?;
    Ok(Bundle { path, rootfs, spec })
}

pub fn parse_config_file(config: &Path) -> Result<Spec> {
    let read_err = |cause| RuntimeError::ConfigRead {
        path: config.to_path_buf(),
        cause,
    };
    let meta = std::fs::metadata(config).map_err(read_err)?;
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(RuntimeError::ConfigParse {
            path: config.to_path_buf(),
            message: format!(
                "{} bytes is larger than the {MAX_CONFIG_BYTES}-byte limit",
                meta.len()
            ),
        });
    }
    let bytes = std::fs::read(config).map_err(read_err)?;
    parse_config(&bytes).map_err(|message| RuntimeError::ConfigParse {
        path: config.to_path_buf(),
        message,
    })
}

/// Parse config JSON; serde's long "expected one of …" lists are cut so the line stays readable.
pub fn parse_config(bytes: &[u8]) -> std::result::Result<Spec, String> {
    serde_json::from_slice::<Spec>(bytes).map_err(|e| shorten_serde_error(&e.to_string()))
}

fn shorten_serde_error(message: &str) -> String {
    match (
        message.find(", expected one of"),
        message.rfind(" at line "),
    ) {
        (Some(cut), Some(location)) if cut < location => {
            format!("{}{}", &message[..cut], &message[location..])
        }
        _ => message.to_string(),
    }
}

fn resolve_rootfs(bundle: &Path, spec: &Spec) -> Result<PathBuf> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| invalid("root", "is required on Linux"))?;
    let joined = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let rootfs = std::fs::canonicalize(&joined).map_err(|e| {
        invalid(
            "root.path",
            format!(
                "{}: {e} (create the rootfs directory or fix the path)",
                joined.display()
            ),
        )
    })?;
    if !rootfs.is_dir() {
        return Err(invalid(
            "root.path",
            format!("{} is not a directory", rootfs.display()),
        ));
    }
    Ok(rootfs)
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> RuntimeError {
    RuntimeError::InvalidConfig {
        field: field.into(),
        message: message.into(),
    }
}

/// Checks that need no filesystem access; unit-tested below.
pub fn validate(spec: &Spec) -> Result<()> {
    if !spec.version().starts_with("1.") {
        return Err(invalid(
            "ociVersion",
            format!("{:?} is not a 1.x runtime spec version", spec.version()),
        ));
    }
    if let Some(process) = spec.process() {
        match process.args() {
            Some(args) if !args.is_empty() && !args[0].is_empty() => {}
            _ => return Err(invalid("process.args", "must name the program to run")),
        }
        if !process.cwd().is_absolute() {
            return Err(invalid(
                "process.cwd",
                format!("{:?} must be an absolute path", process.cwd()),
            ));
        }
    }
    let Some(linux) = spec.linux() else {
        return Err(invalid("linux", "is required on Linux"));
    };
    let namespaces = linux.namespaces().clone().unwrap_or_default();
    let mut seen = HashSet::new();
    for ns in &namespaces {
        if !seen.insert(ns.typ()) {
            return Err(invalid(
                "linux.namespaces",
                format!("namespace {:?} is listed twice", ns.typ().to_string()),
            ));
        }
        if let Some(path) = ns.path() {
            if !path.is_absolute() {
                return Err(invalid(
                    "linux.namespaces",
                    format!(
                        "path {path:?} of the {} namespace must be absolute",
                        ns.typ()
                    ),
                ));
            }
        }
    }
    let new_user_ns = namespaces
        .iter()
        .any(|ns| ns.typ() == LinuxNamespaceType::User && ns.path().is_none());
    validate_id_maps(
        "linux.uidMappings",
        linux.uid_mappings().as_deref(),
        new_user_ns,
    )?;
    validate_id_maps(
        "linux.gidMappings",
        linux.gid_mappings().as_deref(),
        new_user_ns,
    )?;
    let has = |t| seen.contains(&t);
    let new_or_joined = |t| namespaces.iter().any(|ns| ns.typ() == t);
    if (spec.hostname().as_ref().is_some_and(|h| !h.is_empty())
        || spec.domainname().as_ref().is_some_and(|h| !h.is_empty()))
        && !has(LinuxNamespaceType::Uts)
    {
        return Err(invalid(
            "hostname",
            "setting a hostname needs a uts namespace",
        ));
    }
    if let Some(sysctl) = linux.sysctl() {
        for key in sysctl.keys() {
            validate_sysctl(key, &new_or_joined)?;
        }
    }
    if linux.time_offsets().as_ref().is_some_and(|o| !o.is_empty())
        && !namespaces
            .iter()
            .any(|ns| ns.typ() == LinuxNamespaceType::Time && ns.path().is_none())
    {
        return Err(invalid("linux.timeOffsets", "needs a new time namespace"));
    }
    for (i, mount) in spec.mounts().iter().flatten().enumerate() {
        if !mount.destination().is_absolute() {
            return Err(invalid(
                format!("mounts[{i}].destination"),
                format!("{:?} must be an absolute path", mount.destination()),
            ));
        }
    }
    Ok(())
}

fn validate_id_maps(field: &str, maps: Option<&[LinuxIdMapping]>, new_user_ns: bool) -> Result<()> {
    let maps = maps.unwrap_or_default();
    if maps.is_empty() {
        if new_user_ns {
            return Err(invalid(
                field,
                "a new user namespace needs at least one mapping",
            ));
        }
        return Ok(());
    }
    if !new_user_ns {
        return Err(invalid(
            field,
            "mappings need a new user namespace in linux.namespaces",
        ));
    }
    if maps.len() > 340 {
        return Err(invalid(field, "the kernel accepts at most 340 mappings"));
    }
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    for m in maps {
        if m.size() == 0 {
            return Err(invalid(
                field,
                format!(
                    "mapping containerID={} hostID={} has size 0",
                    m.container_id(),
                    m.host_id()
                ),
            ));
        }
        let start = u64::from(m.container_id());
        let end = start + u64::from(m.size());
        if end > u64::from(u32::MAX)
            || u64::from(m.host_id()) + u64::from(m.size()) > u64::from(u32::MAX)
        {
            return Err(invalid(
                field,
                format!("mapping containerID={start} size={} overflows", m.size()),
            ));
        }
        if ranges.iter().any(|&(s, e)| start < e && s < end) {
            return Err(invalid(
                field,
                format!("mapping containerID={start} overlaps another mapping"),
            ));
        }
        ranges.push((start, end));
    }
    Ok(())
}

/// Only namespaced sysctls may be set, and only when the container has that namespace:
/// writing a host-wide knob from a container would change the host.
fn validate_sysctl(key: &str, has: &dyn Fn(LinuxNamespaceType) -> bool) -> Result<()> {
    let field = format!("linux.sysctl.{key}");
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    let needs = if ipc.contains(&key) || key.starts_with("fs.mqueue.") {
        LinuxNamespaceType::Ipc
    } else if key.starts_with("net.") {
        LinuxNamespaceType::Network
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        LinuxNamespaceType::Uts
    } else {
        return Err(invalid(
            field,
            "is not a namespaced sysctl; it would change the host",
        ));
    };
    if key.contains("..") || key.contains('/') {
        return Err(invalid(field, "must not contain '/' or '..'"));
    }
    if !has(needs) {
        return Err(invalid(field, format!("needs a {needs} namespace")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
        })
    }

    fn check(v: serde_json::Value) -> std::result::Result<(), String> {
        let spec = parse_config(v.to_string().as_bytes())?;
        validate(&spec).map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_minimal_config() {
        check(base()).unwrap();
    }

    #[test]
    fn accepts_config_without_process() {
        let mut v = base();
        v.as_object_mut().unwrap().remove("process");
        check(v).unwrap();
    }

    #[test]
    fn rejects_unknown_namespace_naming_it() {
        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "bogus"}]);
        let err = check(v).unwrap_err();
        assert!(err.contains("bogus"), "{err}");
        assert!(!err.contains("expected one of"), "{err}");
    }

    #[test]
    fn rejects_unknown_capability() {
        let mut v = base();
        v["process"]["capabilities"] = serde_json::json!({"bounding": ["CAP_NOT_A_CAP"]});
        let err = check(v).unwrap_err();
        assert!(err.contains("CAP_NOT_A_CAP"), "{err}");
    }

    #[test]
    fn rejects_duplicate_namespace() {
        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}, {"type": "pid"}]);
        assert!(check(v).unwrap_err().contains("listed twice"));
    }

    #[test]
    fn rejects_empty_args_and_relative_cwd() {
        let mut v = base();
        v["process"]["args"] = serde_json::json!([]);
        assert!(check(v).unwrap_err().contains("process.args"));
        let mut v = base();
        v["process"]["cwd"] = serde_json::json!("tmp");
        assert!(check(v).unwrap_err().contains("process.cwd"));
    }

    #[test]
    fn id_maps_need_user_namespace_and_no_overlap() {
        let mut v = base();
        v["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 10}]);
        assert!(check(v.clone())
            .unwrap_err()
            .contains("need a new user namespace"));
        v["linux"]["namespaces"] = serde_json::json!([{"type": "user"}, {"type": "mount"}]);
        v["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 10}]);
        check(v.clone()).unwrap();
        v["linux"]["uidMappings"] = serde_json::json!([
            {"containerID": 0, "hostID": 1000, "size": 10},
            {"containerID": 5, "hostID": 2000, "size": 10}
        ]);
        assert!(check(v.clone()).unwrap_err().contains("overlaps"));
        v["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 0}]);
        assert!(check(v).unwrap_err().contains("size 0"));
    }

    #[test]
    fn user_namespace_without_maps_is_rejected() {
        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "user"}]);
        assert!(check(v).unwrap_err().contains("uidMappings"));
    }

    #[test]
    fn sysctl_needs_namespace_and_must_be_namespaced() {
        let mut v = base();
        v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"});
        assert!(check(v.clone())
            .unwrap_err()
            .contains("needs a net namespace"));
        v["linux"]["namespaces"] = serde_json::json!([{"type": "network"}]);
        check(v.clone()).unwrap();
        v["linux"]["sysctl"] = serde_json::json!({"vm.swappiness": "1"});
        assert!(check(v).unwrap_err().contains("not a namespaced sysctl"));
    }

    #[test]
    fn hostname_needs_uts() {
        let mut v = base();
        v["hostname"] = serde_json::json!("box");
        assert!(check(v).unwrap_err().contains("uts"));
    }

    #[test]
    fn relative_namespace_path_rejected() {
        let mut v = base();
        v["linux"]["namespaces"] =
            serde_json::json!([{"type": "network", "path": "proc/1/ns/net"}]);
        assert!(check(v).unwrap_err().contains("absolute"));
    }

    #[test]
    fn malformed_json_reports_location() {
        let err = parse_config(b"{\"ociVersion\": ").unwrap_err();
        assert!(err.contains("line 1"), "{err}");
    }
}
