use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::fs::write;
use crate::CgroupError;

/// runc's mapping of v1 shares [2, 262144] onto v2 weight [1, 10000]; 0 means unset.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

pub fn apply(dir: &Path, cpu: &LinuxCpu) -> Result<(), CgroupError> {
    if cpu.realtime_runtime().is_some_and(|v| v != 0)
        || cpu.realtime_period().is_some_and(|v| v != 0)
    {
        return Err(CgroupError::NotSupportedOnV2 {
            field: "cpu.realtimeRuntime/realtimePeriod",
        });
    }
    if let Some(idle) = cpu.idle() {
        write(dir, "cpu.idle", &idle.to_string())?;
    }
    if let Some(w) = cpu.shares().map(shares_to_weight).filter(|w| *w != 0) {
        write(dir, "cpu.weight", &w.to_string())?;
    }
    let quota = cpu.quota().filter(|q| *q != 0);
    let period = cpu.period().filter(|p| *p != 0);
    if quota.is_some() || period.is_some() {
        let mut value = match quota {
            Some(q) if q > 0 => q.to_string(),
            _ => "max".to_string(),
        };
        if let Some(p) = period {
            value = format!("{value} {p}");
        }
        write(dir, "cpu.max", &value)?;
    }
    // cpu.max.burst must not exceed the quota, so it follows cpu.max.
    if let Some(burst) = cpu.burst() {
        match write(dir, "cpu.max.burst", &burst.to_string()) {
            Err(e) if e.errno() == Some(libc::ENOENT) && burst == 0 => {}
            r => r?,
        }
    }
    Ok(())
}

pub fn apply_cpuset(dir: &Path, cpu: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(cpus) = cpu.cpus() {
        write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = cpu.mems() {
        write(dir, "cpuset.mems", mems)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{cpu, fake, get};

    #[test]
    fn conversion_matches_runc() {
        assert_eq!(shares_to_weight(0), 0);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert_eq!(shares_to_weight(1), 1);
    }

    #[test]
    fn weight_max_idle_burst() {
        let d = fake(&["cpu.weight", "cpu.max", "cpu.idle", "cpu.max.burst"]);
        apply(
            d.path(),
            &cpu(r#"{"shares":1024,"quota":50000,"period":100000,"idle":1,"burst":500}"#),
        )
        .unwrap();
        assert_eq!(get(&d, "cpu.weight"), "39");
        assert_eq!(get(&d, "cpu.max"), "50000 100000");
        assert_eq!(get(&d, "cpu.idle"), "1");
        assert_eq!(get(&d, "cpu.max.burst"), "500");
        apply(d.path(), &cpu(r#"{"quota":-1,"period":20000}"#)).unwrap();
        assert_eq!(get(&d, "cpu.max"), "max 20000");
        apply(d.path(), &cpu(r#"{"quota":3000}"#)).unwrap();
        assert_eq!(get(&d, "cpu.max"), "3000");
    }

    #[test]
    fn realtime_is_refused_and_cpuset_written() {
        let d = fake(&["cpuset.cpus", "cpuset.mems"]);
        let err = apply(d.path(), &cpu(r#"{"realtimeRuntime":100}"#)).unwrap_err();
        assert!(matches!(err, CgroupError::NotSupportedOnV2 { .. }));
        apply_cpuset(d.path(), &cpu(r#"{"cpus":"0","mems":"0"}"#)).unwrap();
        assert_eq!(get(&d, "cpuset.cpus"), "0");
        assert_eq!(get(&d, "cpuset.mems"), "0");
    }
}
