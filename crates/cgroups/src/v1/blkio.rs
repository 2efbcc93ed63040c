use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use crate::fs::write;
use crate::CgroupError;

pub fn needed(b: &LinuxBlockIo) -> bool {
    b.weight().is_some_and(|w| w != 0)
        || b.leaf_weight().is_some_and(|w| w != 0)
        || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
        || throttles(b).any(|(_, v)| !v.is_empty())
}

pub(crate) fn throttles(
    b: &LinuxBlockIo,
) -> impl Iterator<Item = (&'static str, &[LinuxThrottleDevice])> {
    [
        ("read_bps_device", b.throttle_read_bps_device()),
        ("write_bps_device", b.throttle_write_bps_device()),
        ("read_iops_device", b.throttle_read_iops_device()),
        ("write_iops_device", b.throttle_write_iops_device()),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.as_deref().unwrap_or(&[])))
}

pub fn apply(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    // CFQ (blkio.weight) was removed in 5.0; BFQ exposes the same 10-1000 scale.
    let (weight_file, weight_dev_file) = if dir.join("blkio.weight").exists() {
        ("blkio.weight", "blkio.weight_device")
    } else {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    };
    // 0 means "not set" (dockerd always sends weight 0); the kernel rejects it with ERANGE.
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        write(dir, weight_file, &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight().filter(|&w| w != 0) {
        write(dir, "blkio.leaf_weight", &w.to_string())?;
    }
    for d in b.weight_device().as_deref().unwrap_or(&[]) {
        if let Some(w) = d.weight() {
            write(
                dir,
                weight_dev_file,
                &format!("{}:{} {}", d.major(), d.minor(), w),
            )?;
        }
        if let Some(w) = d.leaf_weight() {
            let v = format!("{}:{} {}", d.major(), d.minor(), w);
            write(dir, "blkio.leaf_weight_device", &v)?;
        }
    }
    for (kind, devs) in throttles(b) {
        let file = format!("blkio.throttle.{kind}");
        for d in devs {
            write(
                dir,
                &file,
                &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fake, get};

    #[test]
    fn weights_and_throttles() {
        let d = fake(&[
            "blkio.weight",
            "blkio.weight_device",
            "blkio.leaf_weight",
            "blkio.leaf_weight_device",
            "blkio.throttle.read_bps_device",
            "blkio.throttle.write_iops_device",
        ]);
        let b: LinuxBlockIo = serde_json::from_str(
            r#"{"weight":500,"leafWeight":300,
                "weightDevice":[{"major":8,"minor":0,"weight":600,"leafWeight":200}],
                "throttleReadBpsDevice":[{"major":8,"minor":0,"rate":1048576}],
                "throttleWriteIOPSDevice":[{"major":8,"minor":16,"rate":100}]}"#,
        )
        .unwrap();
        assert!(needed(&b));
        apply(d.path(), &b).unwrap();
        assert_eq!(get(&d, "blkio.weight"), "500");
        assert_eq!(get(&d, "blkio.leaf_weight"), "300");
        assert_eq!(get(&d, "blkio.weight_device"), "8:0 600");
        assert_eq!(get(&d, "blkio.leaf_weight_device"), "8:0 200");
        assert_eq!(get(&d, "blkio.throttle.read_bps_device"), "8:0 1048576");
        assert_eq!(get(&d, "blkio.throttle.write_iops_device"), "8:16 100");
    }

    #[test]
    fn bfq_fallback() {
        let d = fake(&["blkio.bfq.weight"]);
        let b: LinuxBlockIo = serde_json::from_str(r#"{"weight":100}"#).unwrap();
        apply(d.path(), &b).unwrap();
        assert_eq!(get(&d, "blkio.bfq.weight"), "100");
    }

    #[test]
    fn zero_weight_means_unset() {
        let d = fake(&["blkio.bfq.weight"]);
        let b: LinuxBlockIo = serde_json::from_str(r#"{"weight":0,"leafWeight":0}"#).unwrap();
        apply(d.path(), &b).unwrap();
        assert_eq!(get(&d, "blkio.bfq.weight"), "");
    }
}
