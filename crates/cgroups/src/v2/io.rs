use std::collections::BTreeMap;
use std::path::Path;

use oci_spec::runtime::LinuxBlockIo;

use crate::fs::write;
use crate::v1::throttles;
use crate::CgroupError;

/// runc's mapping of blkio weight [10, 1000] onto io.weight [1, 10000]; 0 means unset.
pub fn blkio_weight_to_io(w: u64) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (w.clamp(10, 1000) - 10) * 9999 / 990
}

/// io.max keys in the order the kernel prints them.
const IO_MAX_KEYS: [(&str, &str); 4] = [
    ("read_bps_device", "rbps"),
    ("write_bps_device", "wbps"),
    ("read_iops_device", "riops"),
    ("write_iops_device", "wiops"),
];

/// One `MAJ:MIN k=v …` line per device. v1's 0 meant "no limit", which v2 spells max.
pub fn io_max_lines(b: &LinuxBlockIo) -> Vec<String> {
    let mut per_dev: BTreeMap<(i64, i64), Vec<String>> = BTreeMap::new();
    for (kind, devs) in throttles(b) {
        let key = IO_MAX_KEYS
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, v)| *v);
        let Some(key) = key else { continue };
        for d in devs {
            let rate = if d.rate() == 0 {
                "max".to_string()
            } else {
                d.rate().to_string()
            };
            per_dev
                .entry((d.major(), d.minor()))
                .or_default()
                .push(format!("{key}={rate}"));
        }
    }
    per_dev
        .into_iter()
        .map(|((ma, mi), kv)| format!("{ma}:{mi} {}", kv.join(" ")))
        .collect()
}

pub fn apply(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    // With BFQ active io.bfq.weight takes the v1 scale unchanged; otherwise io.weight.
    let bfq = dir.join("io.bfq.weight").exists();
    let weight = |w: u16| {
        if bfq {
            u64::from(w)
        } else {
            blkio_weight_to_io(u64::from(w))
        }
    };
    let file = if bfq { "io.bfq.weight" } else { "io.weight" };
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        write(dir, file, &weight(w).to_string())?;
    }
    for d in b.weight_device().as_deref().unwrap_or(&[]) {
        if let Some(w) = d.weight().filter(|w| *w != 0) {
            write(
                dir,
                file,
                &format!("{}:{} {}", d.major(), d.minor(), weight(w)),
            )?;
        }
    }
    for line in io_max_lines(b) {
        write(dir, "io.max", &line)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fake, get};

    fn blkio(json: &str) -> LinuxBlockIo {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn conversion_matches_runc() {
        assert_eq!(blkio_weight_to_io(0), 0);
        assert_eq!(blkio_weight_to_io(10), 1);
        assert_eq!(blkio_weight_to_io(500), 4950);
        assert_eq!(blkio_weight_to_io(1000), 10000);
    }

    #[test]
    fn io_max_combines_per_device() {
        let b = blkio(
            r#"{"throttleReadBpsDevice":[{"major":8,"minor":0,"rate":100}],
                "throttleWriteBpsDevice":[{"major":8,"minor":0,"rate":0}],
                "throttleWriteIOPSDevice":[{"major":8,"minor":16,"rate":7}],
                "throttleReadIOPSDevice":[{"major":8,"minor":0,"rate":5}]}"#,
        );
        assert_eq!(
            io_max_lines(&b),
            ["8:0 rbps=100 wbps=max riops=5", "8:16 wiops=7"]
        );
        let d = fake(&["io.max", "io.weight"]);
        apply(d.path(), &b).unwrap();
        assert_eq!(get(&d, "io.max"), "8:16 wiops=7");
    }

    #[test]
    fn weight_files() {
        let d = fake(&["io.weight"]);
        apply(d.path(), &blkio(r#"{"weight":500}"#)).unwrap();
        assert_eq!(get(&d, "io.weight"), "4950");
        apply(
            d.path(),
            &blkio(r#"{"weightDevice":[{"major":8,"minor":0,"weight":10}]}"#),
        )
        .unwrap();
        assert_eq!(get(&d, "io.weight"), "8:0 1");
        let d = fake(&["io.bfq.weight"]);
        apply(d.path(), &blkio(r#"{"weight":500}"#)).unwrap();
        assert_eq!(get(&d, "io.bfq.weight"), "500");
    }
}
