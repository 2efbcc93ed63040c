use std::collections::HashMap;
use std::path::{Component, Path};

use crate::fs::write;
use crate::CgroupError;

/// Keys are file names in the cgroup directory (config-linux.md "Unified"); anything
/// with a separator could write outside it.
fn check_key(key: &str) -> Result<(), CgroupError> {
    let mut comps = Path::new(key).components();
    let ok = !key.contains('/')
        && matches!(comps.next(), Some(Component::Normal(_)))
        && comps.next().is_none();
    if ok {
        Ok(())
    } else {
        Err(CgroupError::InvalidUnifiedKey {
            key: key.to_string(),
        })
    }
}

pub fn apply(dir: &Path, unified: &HashMap<String, String>) -> Result<(), CgroupError> {
    for key in unified.keys() {
        check_key(key)?;
    }
    // Sorted so a failure is reproducible rather than depending on hash order.
    let mut entries: Vec<_> = unified.iter().collect();
    entries.sort();
    for (k, v) in entries {
        write(dir, k, v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fake, get};

    #[test]
    fn writes_keys_and_rejects_traversal() {
        let d = fake(&["memory.high", "pids.max"]);
        let u: HashMap<String, String> = [
            ("memory.high".into(), "1000".into()),
            ("pids.max".into(), "9".into()),
        ]
        .into();
        apply(d.path(), &u).unwrap();
        assert_eq!(get(&d, "memory.high"), "1000");
        assert_eq!(get(&d, "pids.max"), "9");
        for bad in ["../x", "a/b", "..", ".", "", "/etc"] {
            let u: HashMap<String, String> = [(bad.to_string(), "1".to_string())].into();
            let err = apply(d.path(), &u).unwrap_err();
            assert!(
                matches!(err, CgroupError::InvalidUnifiedKey { .. }),
                "{bad}"
            );
        }
    }
}
