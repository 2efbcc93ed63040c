use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use crate::fs::{limit_v2, parse_u64, read, write};
use crate::CgroupError;

/// OCI `swap` is memory+swap (a v1 notion); v2's memory.swap.max is swap alone.
/// Mirrors runc's ConvertMemorySwapToCgroupV2Value; 0 means "leave unset".
pub fn swap_to_v2(swap: i64, limit: i64) -> Result<i64, CgroupError> {
    let invalid = |reason| CgroupError::InvalidValue {
        field: "memory.swap",
        value: swap.to_string(),
        reason,
    };
    // Unlimited memory with swap unset means "both unlimited", as on v1.
    if limit == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if limit == 0 {
        return Err(invalid("a swap limit requires a memory limit"));
    }
    if limit < 0 {
        return Err(invalid(
            "memory limit must be positive when swap is limited",
        ));
    }
    if swap < limit {
        return Err(invalid("memory+swap must be >= the memory limit"));
    }
    Ok(swap - limit)
}

fn to_str(v: i64) -> Option<String> {
    (v != 0).then(|| limit_v2(v))
}

pub fn apply(dir: &Path, mem: &LinuxMemory) -> Result<(), CgroupError> {
    let limit = mem.limit().unwrap_or(0);
    let swap_in = mem.swap().unwrap_or(0);
    let swap = swap_to_v2(swap_in, limit)?;

    if mem.check_before_update() == Some(true) && limit > 0 {
        let usage = parse_u64(dir, "memory.current", &read(dir, "memory.current")?)?;
        if usage > limit as u64 {
            return Err(CgroupError::MemoryBelowUsage { limit, usage });
        }
    }
    // swap == limit asks for no swap at all: write 0 rather than skipping.
    let swap_str = match to_str(swap) {
        None if swap_in > 0 => Some("0".to_string()),
        s => s,
    };
    if let Some(s) = swap_str {
        match write(dir, "memory.swap.max", &s) {
            // Without swap accounting, "no swap" and "unlimited" are already true.
            Err(e) if e.errno() == Some(libc::ENOENT) && (s == "max" || s == "0") => {}
            r => r?,
        }
    }
    if let Some(v) = to_str(limit) {
        write(dir, "memory.max", &v)?;
    }
    if let Some(v) = mem.reservation().and_then(to_str) {
        write(dir, "memory.low", &v)?;
    }
    // kernel, kernelTCP, swappiness, disableOOMKiller and useHierarchy have no v2
    // equivalent; runc ignores them there too.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fake, get, put};

    fn mem(json: &str) -> LinuxMemory {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn swap_conversion() {
        assert_eq!(swap_to_v2(0, -1).unwrap(), -1);
        assert_eq!(swap_to_v2(-1, 100).unwrap(), -1);
        assert_eq!(swap_to_v2(0, 100).unwrap(), 0);
        assert_eq!(swap_to_v2(300, 100).unwrap(), 200);
        assert!(swap_to_v2(300, 0).is_err());
        assert!(swap_to_v2(50, 100).is_err());
    }

    #[test]
    fn writes_max_low_swap() {
        let d = fake(&["memory.max", "memory.low", "memory.swap.max"]);
        let m = mem(r#"{"limit":1048576,"swap":3145728,"reservation":524288,
                        "swappiness":5,"disableOOMKiller":true,"kernel":1}"#);
        apply(d.path(), &m).unwrap();
        assert_eq!(get(&d, "memory.max"), "1048576");
        assert_eq!(get(&d, "memory.swap.max"), "2097152");
        assert_eq!(get(&d, "memory.low"), "524288");
        apply(d.path(), &mem(r#"{"limit":1048576,"swap":1048576}"#)).unwrap();
        assert_eq!(get(&d, "memory.swap.max"), "0");
        apply(d.path(), &mem(r#"{"limit":-1}"#)).unwrap();
        assert_eq!(get(&d, "memory.max"), "max");
        assert_eq!(get(&d, "memory.swap.max"), "max");
    }

    #[test]
    fn no_swap_accounting_and_check_before_update() {
        let d = fake(&["memory.max"]);
        apply(d.path(), &mem(r#"{"limit":-1}"#)).unwrap();
        put(&d, "memory.current", "9000\n");
        let err = apply(d.path(), &mem(r#"{"limit":4096,"checkBeforeUpdate":true}"#)).unwrap_err();
        assert!(matches!(err, CgroupError::MemoryBelowUsage { .. }));
    }
}
