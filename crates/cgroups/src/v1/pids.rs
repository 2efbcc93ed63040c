use std::path::Path;

use oci_spec::runtime::LinuxPids;

use crate::fs::write;
use crate::CgroupError;

/// Shared by v1 and v2: both take `pids.max`, with "max" for no limit.
pub fn apply(dir: &Path, pids: &LinuxPids) -> Result<(), CgroupError> {
    let value = if pids.limit() > 0 {
        pids.limit().to_string()
    } else {
        "max".to_string()
    };
    write(dir, "pids.max", &value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fake, get};

    #[test]
    fn limit_and_unlimited() {
        let d = fake(&["pids.max"]);
        let p: LinuxPids = serde_json::from_str(r#"{"limit":32}"#).unwrap();
        apply(d.path(), &p).unwrap();
        assert_eq!(get(&d, "pids.max"), "32");
        for l in ["0", "-1"] {
            let p: LinuxPids = serde_json::from_str(&format!(r#"{{"limit":{l}}}"#)).unwrap();
            apply(d.path(), &p).unwrap();
            assert_eq!(get(&d, "pids.max"), "max");
        }
    }
}
