//! Device cgroup rules the runtime adds after the spec's own: the default devices it
//! creates in /dev, and each device in `linux.devices`, must stay usable even when the
//! spec starts with deny-all (as `runc spec` and engines write it).

use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxResources};

/// (type, major, minor) of the OCI default devices plus /dev/pts/* and /dev/ptmx.
const DEFAULT_ALLOWED: &[(&str, i64, Option<i64>)] = &[
    ("c", 1, Some(3)), // null
    ("c", 1, Some(5)), // zero
    ("c", 1, Some(7)), // full
    ("c", 1, Some(8)), // random
    ("c", 1, Some(9)), // urandom
    ("c", 5, Some(0)), // tty
    ("c", 5, Some(2)), // ptmx
    ("c", 136, None),  // pts/*
];

fn rule(typ: &str, major: i64, minor: Option<i64>) -> LinuxDeviceCgroup {
    serde_json::from_value(serde_json::json!({
        "allow": true, "type": typ, "major": major, "minor": minor, "access": "rwm"
    }))
    .expect("static device rule")
}

/// The spec's resources with the runtime's allow rules appended (last rule wins).
pub fn effective_resources(
    resources: Option<&LinuxResources>,
    devices: &[LinuxDevice],
) -> LinuxResources {
    let mut out = resources.cloned().unwrap_or_default();
    let mut rules = out.devices().clone().unwrap_or_default();
    for &(typ, major, minor) in DEFAULT_ALLOWED {
        rules.push(rule(typ, major, minor));
    }
    for d in devices {
        let typ = serde_json::to_value(d.typ())
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "c".into());
        let typ = if typ == "u" { "c".to_string() } else { typ };
        if typ != "p" {
            rules.push(rule(&typ, d.major(), Some(d.minor())));
        }
    }
    out.set_devices(Some(rules));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_spec_rules() {
        let res: LinuxResources = serde_json::from_value(
            serde_json::json!({"devices": [{"allow": false, "access": "rwm"}]}),
        )
        .unwrap();
        let dev: LinuxDevice = serde_json::from_value(
            serde_json::json!({"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}),
        )
        .unwrap();
        let out = effective_resources(Some(&res), &[dev]);
        let rules = out.devices().as_ref().unwrap();
        assert!(!rules[0].allow());
        assert_eq!(rules.len(), 1 + DEFAULT_ALLOWED.len() + 1);
        let last = rules.last().unwrap();
        assert!(last.allow());
        assert_eq!((last.major(), last.minor()), (Some(10), Some(229)));
    }
}
