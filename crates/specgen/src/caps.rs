//! Capability sets: Docker's 14 defaults tweaked by `--cap-add` / `--cap-drop` / `--privileged`
//! (moby `caps.TweakCapabilities`).

use crate::SpecError;
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities};
use std::collections::BTreeSet;

/// Docker's default capability set (moby `caps.DefaultCapabilities`).
pub const DEFAULT_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Every capability up to CAP_CHECKPOINT_RESTORE (40), Linux 5.9+.
pub const ALL_CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Normalize `--cap-add`/`--cap-drop` values: case-insensitive, `CAP_` optional, `ALL` kept.
fn normalize(flag: &'static str, names: &[String]) -> Result<Vec<String>, SpecError> {
    names
        .iter()
        .map(|n| {
            let upper = n.trim().to_ascii_uppercase();
            if upper == "ALL" {
                return Ok(upper);
            }
            let full = if upper.starts_with("CAP_") {
                upper
            } else {
                format!("CAP_{upper}")
            };
            if ALL_CAPS.contains(&full.as_str()) {
                Ok(full)
            } else {
                Err(SpecError::UnknownCapability {
                    flag,
                    value: n.clone(),
                })
            }
        })
        .collect()
}

/// The container's capability set, as `CAP_*` names.
pub fn compute_caps(
    cap_add: &[String],
    cap_drop: &[String],
    privileged: bool,
) -> Result<BTreeSet<String>, SpecError> {
    let add = normalize("cap-add", cap_add)?;
    let drop = normalize("cap-drop", cap_drop)?;
    let all = || ALL_CAPS.iter().map(|s| s.to_string());
    let has = |v: &[String], c: &str| v.iter().any(|x| x == c);
    let caps: BTreeSet<String> = if privileged {
        all().collect()
    } else if has(&add, "ALL") {
        all().filter(|c| !has(&drop, c)).collect()
    } else if has(&drop, "ALL") {
        add.into_iter().filter(|c| c != "ALL").collect()
    } else {
        DEFAULT_CAPS
            .iter()
            .map(|s| s.to_string())
            .filter(|c| !has(&drop, c))
            .chain(add)
            .collect()
    };
    Ok(caps)
}

/// bounding = effective = permitted = `caps`; inheritable and ambient empty (moby stopped
/// setting inheritable caps after CVE-2022-24769).
pub fn to_oci(caps: &BTreeSet<String>) -> LinuxCapabilities {
    let set: Capabilities = caps
        .iter()
        .filter_map(|c| {
            serde_json::from_value::<Capability>(serde_json::Value::String(c.clone())).ok()
        })
        .collect();
    let mut out = LinuxCapabilities::default();
    out.set_bounding(Some(set.clone()))
        .set_effective(Some(set.clone()))
        .set_permitted(Some(set))
        .set_inheritable(Some(Capabilities::new()))
        .set_ambient(None);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn defaults() {
        let c = compute_caps(&[], &[], false).unwrap();
        assert_eq!(c.len(), 14);
        assert!(c.contains("CAP_NET_RAW") && !c.contains("CAP_SYS_ADMIN"));
        let oci = to_oci(&c);
        assert_eq!(oci.bounding().as_ref().unwrap().len(), 14);
        assert!(oci.inheritable().as_ref().unwrap().is_empty());
    }

    #[test]
    fn add_drop_with_and_without_prefix() {
        let c = compute_caps(
            &s(&["sys_admin", "CAP_NET_ADMIN"]),
            &s(&["net_raw", "Cap_Chown"]),
            false,
        )
        .unwrap();
        assert!(c.contains("CAP_SYS_ADMIN") && c.contains("CAP_NET_ADMIN"));
        assert!(!c.contains("CAP_NET_RAW") && !c.contains("CAP_CHOWN"));
        assert_eq!(c.len(), 14);
    }

    #[test]
    fn all() {
        let c = compute_caps(&s(&["ALL"]), &s(&["sys_admin"]), false).unwrap();
        assert_eq!(c.len(), 40);
        assert!(!c.contains("CAP_SYS_ADMIN"));
        let c = compute_caps(&s(&["chown", "kill"]), &s(&["all"]), false).unwrap();
        assert_eq!(c, s(&["CAP_CHOWN", "CAP_KILL"]).into_iter().collect());
        let c = compute_caps(&[], &s(&["ALL"]), true).unwrap();
        assert_eq!(c.len(), 41);
        assert_eq!(to_oci(&c).bounding().as_ref().unwrap().len(), 41);
    }

    #[test]
    fn unknown_is_named() {
        let e = compute_caps(&s(&["FOO"]), &[], false).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"invalid --cap-add "FOO": unknown capability"#
        );
        let e = compute_caps(&[], &s(&["cap_bar"]), false).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"invalid --cap-drop "cap_bar": unknown capability"#
        );
    }
}
