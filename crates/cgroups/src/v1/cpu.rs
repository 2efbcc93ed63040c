use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::fs::write;
use crate::CgroupError;

pub fn needed(cpu: &LinuxCpu) -> bool {
    cpu.shares().is_some()
        || cpu.quota().is_some()
        || cpu.period().is_some()
        || cpu.burst().is_some()
        || cpu.realtime_runtime().is_some()
        || cpu.realtime_period().is_some()
        || cpu.idle().is_some()
}

pub fn apply(dir: &Path, cpu: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(shares) = cpu.shares() {
        write(dir, "cpu.shares", &shares.to_string())?;
    }
    // Shrinking the period first can push old_quota/new_period over the parent's
    // limit (EINVAL); when a quota follows, retry the period after it, as runc does.
    let mut retry_period = None;
    if let Some(period) = cpu.period().filter(|p| *p != 0) {
        let value = period.to_string();
        if let Err(e) = write(dir, "cpu.cfs_period_us", &value) {
            if e.errno() != Some(libc::EINVAL) || cpu.quota().is_none() {
                return Err(e);
            }
            retry_period = Some(value);
        }
    }
    if let Some(quota) = cpu.quota() {
        let value = if quota <= 0 { -1 } else { quota };
        write(dir, "cpu.cfs_quota_us", &value.to_string())?;
        if let Some(period) = retry_period {
            write(dir, "cpu.cfs_period_us", &period)?;
        }
    }
    if let Some(burst) = cpu.burst() {
        match write(dir, "cpu.cfs_burst_us", &burst.to_string()) {
            // Kernels before 5.14 lack burst; asking for none is not an error there.
            Err(e) if e.errno() == Some(libc::ENOENT) && burst == 0 => {}
            r => r?,
        }
    }
    // The period bounds the runtime, so it goes first.
    if let Some(p) = cpu.realtime_period() {
        write(dir, "cpu.rt_period_us", &p.to_string())?;
    }
    if let Some(r) = cpu.realtime_runtime() {
        write(dir, "cpu.rt_runtime_us", &r.to_string())?;
    }
    if let Some(idle) = cpu.idle() {
        write(dir, "cpu.idle", &idle.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{cpu, fake, get};

    #[test]
    fn writes_cfs_and_rt() {
        let files = [
            "cpu.shares",
            "cpu.cfs_period_us",
            "cpu.cfs_quota_us",
            "cpu.cfs_burst_us",
            "cpu.rt_period_us",
            "cpu.rt_runtime_us",
        ];
        let d = fake(&files);
        let c = cpu(r#"{"shares":512,"quota":50000,"period":100000,"burst":1000,
                        "realtimeRuntime":950,"realtimePeriod":1000}"#);
        assert!(needed(&c));
        apply(d.path(), &c).unwrap();
        assert_eq!(get(&d, "cpu.shares"), "512");
        assert_eq!(get(&d, "cpu.cfs_quota_us"), "50000");
        assert_eq!(get(&d, "cpu.cfs_period_us"), "100000");
        assert_eq!(get(&d, "cpu.cfs_burst_us"), "1000");
        assert_eq!(get(&d, "cpu.rt_period_us"), "1000");
        assert_eq!(get(&d, "cpu.rt_runtime_us"), "950");
    }

    #[test]
    fn unlimited_quota_and_missing_burst() {
        let d = fake(&["cpu.cfs_quota_us"]);
        apply(d.path(), &cpu(r#"{"quota":-1,"burst":0}"#)).unwrap();
        assert_eq!(get(&d, "cpu.cfs_quota_us"), "-1");
        let err = apply(d.path(), &cpu(r#"{"burst":5}"#)).unwrap_err();
        assert!(err.to_string().contains("cpu.cfs_burst_us"), "{err}");
        assert!(!needed(&cpu("{}")));
    }
}
