use std::path::Path;

use oci_spec::runtime::LinuxMemory;

use crate::fs::{parse_u64, read, write};
use crate::CgroupError;

const LIMIT: &str = "memory.limit_in_bytes";
const MEMSW: &str = "memory.memsw.limit_in_bytes";

/// The kernel requires memory.limit <= memsw.limit at every step, so when raising
/// (new memory+swap above the current memory limit, or unlimited) memsw goes first.
pub(crate) fn swap_first(current_limit: u64, swap: i64) -> bool {
    swap == -1 || (swap > 0 && current_limit < swap as u64)
}

pub fn apply(dir: &Path, mem: &LinuxMemory) -> Result<(), CgroupError> {
    // OCI zero means "unset" for these two, as in runc.
    let limit = mem.limit().unwrap_or(0);
    // OCI `swap` is already memory+swap, which is exactly what memsw takes on v1.
    let mut swap = mem.swap().unwrap_or(0);

    if mem.check_before_update() == Some(true) && limit > 0 {
        let usage = parse_u64(
            dir,
            "memory.usage_in_bytes",
            &read(dir, "memory.usage_in_bytes")?,
        )?;
        if usage > limit as u64 {
            return Err(CgroupError::MemoryBelowUsage { limit, usage });
        }
    }
    let has_memsw = dir.join(MEMSW).exists();
    // An unlimited memory update must also lift memsw, or the old memsw caps it.
    if limit == -1 && swap == 0 && has_memsw {
        swap = -1;
    }
    let write_limit = |v: i64| write(dir, LIMIT, &v.to_string());
    let write_swap = |v: i64| {
        if v == -1 && !has_memsw {
            return Ok(()); // unlimited is already the state without swap accounting
        }
        write(dir, MEMSW, &v.to_string())
    };
    if limit != 0 && swap != 0 {
        let current = parse_u64(dir, LIMIT, &read(dir, LIMIT)?)?;
        if swap_first(current, swap) {
            write_swap(swap)?;
            write_limit(limit)?;
        } else {
            write_limit(limit)?;
            write_swap(swap)?;
        }
    } else {
        if limit != 0 {
            write_limit(limit)?;
        }
        if swap != 0 {
            write_swap(swap)?;
        }
    }

    // Kernel memory accounting is gone or a no-op on modern kernels: best effort only.
    for (value, file) in [
        (mem.kernel(), "memory.kmem.limit_in_bytes"),
        (mem.kernel_tcp(), "memory.kmem.tcp.limit_in_bytes"),
    ] {
        if let Some(v) = value {
            match write(dir, file, &v.to_string()) {
                Err(e) if matches!(e.errno(), Some(libc::ENOENT | libc::EOPNOTSUPP)) => {}
                r => r?,
            }
        }
    }
    if let Some(r) = mem.reservation() {
        write(dir, "memory.soft_limit_in_bytes", &r.to_string())?;
    }
    if let Some(s) = mem.swappiness() {
        if s > 100 {
            return Err(CgroupError::InvalidValue {
                field: "memory.swappiness",
                value: s.to_string(),
                reason: "valid range is 0-100",
            });
        }
        write(dir, "memory.swappiness", &s.to_string())?;
    }
    if mem.disable_oom_killer() == Some(true) {
        write(dir, "memory.oom_control", "1")?;
    }
    if let Some(h) = mem.use_hierarchy() {
        write(dir, "memory.use_hierarchy", if h { "1" } else { "0" })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fake, get, put};

    const FILES: &[&str] = &[
        LIMIT,
        MEMSW,
        "memory.soft_limit_in_bytes",
        "memory.swappiness",
        "memory.oom_control",
        "memory.use_hierarchy",
        "memory.kmem.tcp.limit_in_bytes",
        "memory.usage_in_bytes",
    ];

    fn mem(json: &str) -> LinuxMemory {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn writes_everything() {
        let d = fake(FILES);
        put(&d, LIMIT, "9223372036854771712\n");
        let m = mem(
            r#"{"limit":67108864,"swap":134217728,"reservation":33554432,"kernel":1,
                "kernelTCP":4096,"swappiness":10,"disableOOMKiller":true,"useHierarchy":true}"#,
        );
        apply(d.path(), &m).unwrap();
        assert_eq!(get(&d, LIMIT), "67108864");
        assert_eq!(get(&d, MEMSW), "134217728");
        assert_eq!(get(&d, "memory.soft_limit_in_bytes"), "33554432");
        assert_eq!(get(&d, "memory.kmem.tcp.limit_in_bytes"), "4096");
        assert_eq!(get(&d, "memory.swappiness"), "10");
        assert_eq!(get(&d, "memory.oom_control"), "1");
        assert_eq!(get(&d, "memory.use_hierarchy"), "1");
        assert!(!d.path().join("memory.kmem.limit_in_bytes").exists());
    }

    #[test]
    fn unlimited_memory_lifts_memsw() {
        let d = fake(FILES);
        put(&d, LIMIT, "1000");
        apply(d.path(), &mem(r#"{"limit":-1}"#)).unwrap();
        assert_eq!(get(&d, LIMIT), "-1");
        assert_eq!(get(&d, MEMSW), "-1");
    }

    #[test]
    fn write_order() {
        // Raising 64M → 128M with memsw 256M: memsw first.
        assert!(swap_first(64 << 20, 256 << 20));
        // Lowering 128M → 64M with memsw 96M: memory first.
        assert!(!swap_first(128 << 20, 96 << 20));
        assert!(swap_first(0, -1));
    }

    #[test]
    fn rejects_bad_swappiness_and_checks_usage() {
        let d = fake(FILES);
        let err = apply(d.path(), &mem(r#"{"swappiness":101}"#)).unwrap_err();
        assert!(matches!(err, CgroupError::InvalidValue { .. }));
        put(&d, "memory.usage_in_bytes", "5000\n");
        let err = apply(d.path(), &mem(r#"{"limit":4096,"checkBeforeUpdate":true}"#)).unwrap_err();
        assert!(matches!(
            err,
            CgroupError::MemoryBelowUsage { usage: 5000, .. }
        ));
    }
}
