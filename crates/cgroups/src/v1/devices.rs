use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::fs::write;
use crate::CgroupError;

/// The rule as devices.allow/deny take it. `None`/`-1` numbers are wildcards and a
/// missing access means all of `rwm`, matching how the v2 filter reads the same rule.
pub(crate) fn rule_string(r: &LinuxDeviceCgroup) -> Option<String> {
    let typ = match r.typ().unwrap_or(LinuxDeviceType::A) {
        // The device controller has no notion of FIFOs; they need no permission.
        LinuxDeviceType::P => return None,
        LinuxDeviceType::A => return Some("a".to_string()),
        LinuxDeviceType::B => 'b',
        LinuxDeviceType::C | LinuxDeviceType::U => 'c',
    };
    let num = |n: Option<i64>| match n {
        Some(n) if n >= 0 => n.to_string(),
        _ => "*".to_string(),
    };
    let access = match r.access().as_deref() {
        None | Some("") => "rwm",
        Some(a) => a,
    };
    Some(format!(
        "{typ} {}:{} {access}",
        num(r.major()),
        num(r.minor())
    ))
}

/// Rules are written in spec order so later rules override earlier ones, as the kernel
/// applies them one write at a time. An `a` rule resets the whole list, so a leading
/// deny-all (the usual spec) starts from an empty allow-list.
pub fn apply(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    for r in rules {
        let Some(value) = rule_string(r) else {
            continue;
        };
        let file = if r.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write(dir, file, &value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(json: &str) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn rule_strings() {
        let r = rules(
            r#"[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":3,"access":"rw"},
                {"allow":true,"type":"b","major":8},
                {"allow":true,"type":"p","major":0,"minor":0}]"#,
        );
        let s: Vec<_> = r.iter().map(rule_string).collect();
        assert_eq!(
            s,
            [
                Some("a".to_string()),
                Some("c 1:3 rw".to_string()),
                Some("b 8:* rwm".to_string()),
                None
            ]
        );
    }

    #[test]
    fn writes_in_order_to_allow_and_deny() {
        let d = crate::testutil::fake(&["devices.allow", "devices.deny"]);
        let r = rules(
            r#"[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"}]"#,
        );
        apply(d.path(), &r).unwrap();
        assert_eq!(crate::testutil::get(&d, "devices.deny"), "a");
        assert_eq!(crate::testutil::get(&d, "devices.allow"), "c 1:5 rwm");
    }
}
