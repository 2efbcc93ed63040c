//! v2 statistics, translated into runc's (v1-shaped) Stats the way runc's fs2 does.

use std::path::Path;

use crate::fs::{read_flat_keyed, read_opt, read_u64_opt};
use crate::stats::{
    parse_cpu_list, parse_dev, Blkio, BlkioEntry, Cpu, CpuSet, Hugetlb, Memory, MemoryEntry, Pids,
};
use crate::v1::stats::page_sizes;
use crate::CgroupError;

pub fn cpu(dir: &Path, out: &mut Cpu) -> Result<(), CgroupError> {
    let st = read_flat_keyed(dir, "cpu.stat")?;
    let get = |k: &str| st.get(k).copied().unwrap_or(0);
    // v2 reports microseconds; runc's schema is nanoseconds.
    out.usage.total = get("usage_usec") * 1000;
    out.usage.user = get("user_usec") * 1000;
    out.usage.kernel = get("system_usec") * 1000;
    out.throttling.periods = get("nr_periods");
    out.throttling.throttled_periods = get("nr_throttled");
    out.throttling.throttled_time = get("throttled_usec") * 1000;
    Ok(())
}

pub fn cpuset(dir: &Path, out: &mut CpuSet) -> Result<(), CgroupError> {
    let list = |file: &str| -> Result<Vec<u16>, CgroupError> {
        let s = read_opt(dir, file)?.unwrap_or_default();
        parse_cpu_list(&s).ok_or(CgroupError::Parse {
            path: dir.join(file),
            content: s,
        })
    };
    out.cpus = list("cpuset.cpus.effective")?;
    out.mems = list("cpuset.mems.effective")?;
    Ok(())
}

pub fn memory(dir: &Path, out: &mut Memory) -> Result<(), CgroupError> {
    out.raw = read_flat_keyed(dir, "memory.stat")?;
    out.cache = out.raw.get("file").copied().unwrap_or(0);
    let events = read_flat_keyed(dir, "memory.events")?;
    out.usage = MemoryEntry {
        usage: read_u64_opt(dir, "memory.current")?,
        limit: read_u64_opt(dir, "memory.max")?,
        max: read_u64_opt(dir, "memory.peak")?,
        failcnt: events.get("max").copied().unwrap_or(0),
    };
    // v1 reported memsw (memory+swap); keep that meaning for consumers of the schema.
    let swap_limit = read_u64_opt(dir, "memory.swap.max")?;
    out.swap = MemoryEntry {
        usage: read_u64_opt(dir, "memory.swap.current")? + out.usage.usage,
        limit: if swap_limit == u64::MAX {
            swap_limit
        } else {
            swap_limit.saturating_add(out.usage.limit)
        },
        max: read_u64_opt(dir, "memory.swap.peak")?,
        failcnt: 0,
    };
    Ok(())
}

pub fn oom_kills(dir: &Path) -> Result<u64, CgroupError> {
    Ok(read_flat_keyed(dir, "memory.events")?
        .get("oom_kill")
        .copied()
        .unwrap_or(0))
}

pub fn pids(dir: &Path, out: &mut Pids) -> Result<(), CgroupError> {
    out.current = read_u64_opt(dir, "pids.current")?;
    out.limit = read_u64_opt(dir, "pids.max")?;
    if out.limit == u64::MAX {
        out.limit = 0;
    }
    Ok(())
}

/// io.stat: `MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N`.
pub(crate) fn parse_io_stat(content: &str) -> Option<Blkio> {
    let mut b = Blkio::default();
    for line in content.lines() {
        let mut it = line.split_whitespace();
        let Some(dev) = it.next() else { continue };
        let (major, minor) = parse_dev(dev)?;
        for kv in it {
            let (k, v) = kv.split_once('=')?;
            let value: u64 = v.parse().ok()?;
            let (list, op) = match k {
                "rbytes" => (&mut b.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut b.io_service_bytes_recursive, "Write"),
                "rios" => (&mut b.io_serviced_recursive, "Read"),
                "wios" => (&mut b.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value,
            });
        }
    }
    Some(b)
}

pub fn io(dir: &Path, out: &mut Blkio) -> Result<(), CgroupError> {
    if let Some(s) = read_opt(dir, "io.stat")? {
        *out = parse_io_stat(&s).ok_or(CgroupError::Parse {
            path: dir.join("io.stat"),
            content: s,
        })?;
    }
    Ok(())
}

pub fn hugetlb(dir: &Path) -> Result<Vec<(String, Hugetlb)>, CgroupError> {
    let mut out = Vec::new();
    for size in page_sizes(dir, ".max")? {
        let events = read_flat_keyed(dir, &format!("hugetlb.{size}.events"))?;
        let h = Hugetlb {
            usage: read_u64_opt(dir, &format!("hugetlb.{size}.current"))?,
            max: read_u64_opt(dir, &format!("hugetlb.{size}.max"))?,
            failcnt: events.get("max").copied().unwrap_or(0),
        };
        out.push((size, h));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Stats;
    use crate::testutil::{fake, put};

    #[test]
    fn cpu_and_memory() {
        let d = fake(&[]);
        put(&d, "cpu.stat", "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 2\nnr_throttled 1\nthrottled_usec 3\n");
        put(&d, "memory.stat", "anon 100\nfile 200\n");
        put(&d, "memory.current", "300\n");
        put(&d, "memory.max", "max\n");
        put(&d, "memory.swap.current", "5\n");
        put(&d, "memory.swap.max", "1000\n");
        put(
            &d,
            "memory.events",
            "low 0\nhigh 0\nmax 4\noom 1\noom_kill 2\n",
        );
        let mut s = Stats::default();
        cpu(d.path(), &mut s.cpu).unwrap();
        memory(d.path(), &mut s.memory).unwrap();
        assert_eq!(s.cpu.usage.total, 10_000);
        assert_eq!(s.cpu.usage.kernel, 4_000);
        assert_eq!(s.cpu.throttling.throttled_time, 3_000);
        assert_eq!(s.memory.cache, 200);
        assert_eq!(s.memory.usage.limit, u64::MAX);
        assert_eq!(s.memory.usage.failcnt, 4);
        assert_eq!(s.memory.swap.usage, 305);
        assert_eq!(s.memory.swap.limit, u64::MAX);
        assert_eq!(oom_kills(d.path()).unwrap(), 2);
    }

    #[test]
    fn io_stat_and_hugetlb() {
        let b = parse_io_stat("8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n").unwrap();
        assert_eq!(b.io_service_bytes_recursive.len(), 2);
        assert_eq!(
            b.io_service_bytes_recursive[0],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 4096
            }
        );
        assert_eq!(b.io_serviced_recursive[0].value, 1);
        assert!(parse_io_stat("8:0 rbytes=x").is_none());

        let d = fake(&[]);
        put(&d, "hugetlb.2MB.max", "max\n");
        put(&d, "hugetlb.2MB.rsvd.max", "max\n");
        put(&d, "hugetlb.2MB.current", "0\n");
        put(&d, "hugetlb.2MB.events", "max 3\n");
        put(&d, "pids.current", "2\n");
        put(&d, "pids.max", "20\n");
        let h = hugetlb(d.path()).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].1.failcnt, 3);
        let mut p = Pids::default();
        pids(d.path(), &mut p).unwrap();
        assert_eq!((p.current, p.limit), (2, 20));
    }
}
