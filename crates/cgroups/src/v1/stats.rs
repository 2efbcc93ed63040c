//! v1 statistics, one reader per controller directory.

use std::path::Path;

use crate::fs::{read_flat_keyed, read_opt, read_u64_opt};
use crate::stats::{
    parse_blkio_v1, parse_cpu_list, parse_u64_list, Blkio, BlkioEntry, Cpu, CpuSet, Hugetlb,
    Memory, MemoryEntry, Pids,
};
use crate::CgroupError;

/// cpuacct.stat is in USER_HZ ticks, which Linux fixes at 100 for userspace.
const NS_PER_TICK: u64 = 1_000_000_000 / 100;

fn u64_list(dir: &Path, file: &str) -> Result<Vec<u64>, CgroupError> {
    match read_opt(dir, file)? {
        None => Ok(Vec::new()),
        Some(s) => parse_u64_list(&s).ok_or(CgroupError::Parse {
            path: dir.join(file),
            content: s,
        }),
    }
}

pub fn cpuacct(dir: &Path, cpu: &mut Cpu) -> Result<(), CgroupError> {
    cpu.usage.total = read_u64_opt(dir, "cpuacct.usage")?;
    cpu.usage.percpu = u64_list(dir, "cpuacct.usage_percpu")?;
    cpu.usage.percpu_kernel = u64_list(dir, "cpuacct.usage_percpu_sys")?;
    cpu.usage.percpu_user = u64_list(dir, "cpuacct.usage_percpu_user")?;
    let st = read_flat_keyed(dir, "cpuacct.stat")?;
    cpu.usage.user = st.get("user").copied().unwrap_or(0) * NS_PER_TICK;
    cpu.usage.kernel = st.get("system").copied().unwrap_or(0) * NS_PER_TICK;
    Ok(())
}

pub fn cpu(dir: &Path, cpu: &mut Cpu) -> Result<(), CgroupError> {
    let st = read_flat_keyed(dir, "cpu.stat")?;
    let get = |k: &str| st.get(k).copied().unwrap_or(0);
    cpu.throttling.periods = get("nr_periods");
    cpu.throttling.throttled_periods = get("nr_throttled");
    cpu.throttling.throttled_time = get("throttled_time");
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
    out.cpus = list("cpuset.cpus")?;
    out.mems = list("cpuset.mems")?;
    out.cpu_exclusive = read_u64_opt(dir, "cpuset.cpu_exclusive")?;
    out.mem_exclusive = read_u64_opt(dir, "cpuset.mem_exclusive")?;
    out.mem_hardwall = read_u64_opt(dir, "cpuset.mem_hardwall")?;
    out.memory_migrate = read_u64_opt(dir, "cpuset.memory_migrate")?;
    out.memory_spread_page = read_u64_opt(dir, "cpuset.memory_spread_page")?;
    out.memory_spread_slab = read_u64_opt(dir, "cpuset.memory_spread_slab")?;
    out.memory_pressure = read_u64_opt(dir, "cpuset.memory_pressure")?;
    out.sched_load_balance = read_u64_opt(dir, "cpuset.sched_load_balance")?;
    if let Some(s) = read_opt(dir, "cpuset.sched_relax_domain_level")? {
        out.sched_relax_domain_level = s.trim().parse().unwrap_or(-1);
    }
    Ok(())
}

fn memory_entry(dir: &Path, prefix: &str) -> Result<MemoryEntry, CgroupError> {
    let f = |name: &str| read_u64_opt(dir, &format!("{prefix}{name}"));
    Ok(MemoryEntry {
        limit: f("limit_in_bytes")?,
        usage: f("usage_in_bytes")?,
        max: f("max_usage_in_bytes")?,
        failcnt: f("failcnt")?,
    })
}

pub fn memory(dir: &Path, out: &mut Memory) -> Result<(), CgroupError> {
    out.raw = read_flat_keyed(dir, "memory.stat")?;
    out.cache = out.raw.get("cache").copied().unwrap_or(0);
    out.usage = memory_entry(dir, "memory.")?;
    out.swap = memory_entry(dir, "memory.memsw.")?;
    out.kernel = memory_entry(dir, "memory.kmem.")?;
    out.kernel_tcp = memory_entry(dir, "memory.kmem.tcp.")?;
    Ok(())
}

pub fn oom_kills(dir: &Path) -> Result<u64, CgroupError> {
    Ok(read_flat_keyed(dir, "memory.oom_control")?
        .get("oom_kill")
        .copied()
        .unwrap_or(0))
}

pub fn pids(dir: &Path, out: &mut Pids) -> Result<(), CgroupError> {
    out.current = read_u64_opt(dir, "pids.current")?;
    out.limit = read_u64_opt(dir, "pids.max")?;
    // runc reports "max" as 0 (no limit), not u64::MAX.
    if out.limit == u64::MAX {
        out.limit = 0;
    }
    Ok(())
}

fn blkio_file(dir: &Path, file: &str) -> Result<Vec<BlkioEntry>, CgroupError> {
    match read_opt(dir, file)? {
        None => Ok(Vec::new()),
        Some(s) => parse_blkio_v1(&s).ok_or(CgroupError::Parse {
            path: dir.join(file),
            content: s,
        }),
    }
}

/// CFQ/BFQ statistics when the scheduler provides them, else the throttle layer's,
/// which every block device has.
pub fn blkio(dir: &Path, out: &mut Blkio) -> Result<(), CgroupError> {
    let sched = blkio_file(dir, "blkio.io_service_bytes_recursive")?;
    if !sched.is_empty() {
        out.io_service_bytes_recursive = sched;
        out.io_serviced_recursive = blkio_file(dir, "blkio.io_serviced_recursive")?;
        out.io_queued_recursive = blkio_file(dir, "blkio.io_queued_recursive")?;
        out.io_service_time_recursive = blkio_file(dir, "blkio.io_service_time_recursive")?;
        out.io_wait_time_recursive = blkio_file(dir, "blkio.io_wait_time_recursive")?;
        out.io_merged_recursive = blkio_file(dir, "blkio.io_merged_recursive")?;
        out.io_time_recursive = blkio_file(dir, "blkio.time_recursive")?;
        out.sectors_recursive = blkio_file(dir, "blkio.sectors_recursive")?;
        return Ok(());
    }
    out.io_service_bytes_recursive = blkio_file(dir, "blkio.throttle.io_service_bytes_recursive")?;
    out.io_serviced_recursive = blkio_file(dir, "blkio.throttle.io_serviced_recursive")?;
    Ok(())
}

/// Page sizes come from the files present, since hosts differ (2MB, 1GB, 64KB, …).
pub fn hugetlb(dir: &Path) -> Result<Vec<(String, Hugetlb)>, CgroupError> {
    let mut out = Vec::new();
    for size in page_sizes(dir, ".limit_in_bytes")? {
        let f = |name: &str| read_u64_opt(dir, &format!("hugetlb.{size}.{name}"));
        let h = Hugetlb {
            usage: f("usage_in_bytes")?,
            max: f("max_usage_in_bytes")?,
            failcnt: f("failcnt")?,
        };
        out.push((size, h));
    }
    Ok(out)
}

pub(crate) fn page_sizes(dir: &Path, suffix: &str) -> Result<Vec<String>, CgroupError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CgroupError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut sizes: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let size = name.strip_prefix("hugetlb.")?.strip_suffix(suffix)?;
            (!size.contains('.')).then(|| size.to_string())
        })
        .collect();
    sizes.sort();
    Ok(sizes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Stats;
    use crate::testutil::{fake, put};

    #[test]
    fn cpu_stats() {
        let d = fake(&[]);
        put(&d, "cpuacct.usage", "3000\n");
        put(&d, "cpuacct.usage_percpu", "1000 2000 \n");
        put(&d, "cpuacct.usage_percpu_sys", "10 20\n");
        put(&d, "cpuacct.stat", "user 5\nsystem 2\n");
        put(
            &d,
            "cpu.stat",
            "nr_periods 10\nnr_throttled 3\nthrottled_time 999\n",
        );
        let mut s = Stats::default();
        cpuacct(d.path(), &mut s.cpu).unwrap();
        cpu(d.path(), &mut s.cpu).unwrap();
        assert_eq!(s.cpu.usage.total, 3000);
        assert_eq!(s.cpu.usage.percpu, [1000, 2000]);
        assert_eq!(s.cpu.usage.percpu_kernel, [10, 20]);
        assert!(s.cpu.usage.percpu_user.is_empty());
        assert_eq!(s.cpu.usage.user, 50_000_000);
        assert_eq!(s.cpu.usage.kernel, 20_000_000);
        assert_eq!(s.cpu.throttling.throttled_periods, 3);
        assert_eq!(s.cpu.throttling.throttled_time, 999);
    }

    #[test]
    fn memory_stats() {
        let d = fake(&[]);
        put(
            &d,
            "memory.stat",
            "cache 4096\nrss 8192\ntotal_cache 4096\n",
        );
        put(&d, "memory.usage_in_bytes", "12288\n");
        put(&d, "memory.limit_in_bytes", "67108864\n");
        put(&d, "memory.max_usage_in_bytes", "20000\n");
        put(&d, "memory.failcnt", "2\n");
        put(&d, "memory.memsw.usage_in_bytes", "12288\n");
        put(
            &d,
            "memory.oom_control",
            "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
        );
        let mut m = Memory::default();
        memory(d.path(), &mut m).unwrap();
        assert_eq!(m.cache, 4096);
        assert_eq!(m.raw["rss"], 8192);
        assert_eq!(
            m.usage,
            MemoryEntry {
                limit: 67108864,
                usage: 12288,
                max: 20000,
                failcnt: 2
            }
        );
        assert_eq!(m.swap.usage, 12288);
        assert_eq!(m.kernel, MemoryEntry::default());
        assert_eq!(oom_kills(d.path()).unwrap(), 3);
    }

    #[test]
    fn blkio_throttle_fallback_and_pids() {
        let d = fake(&["blkio.io_service_bytes_recursive"]);
        put(
            &d,
            "blkio.throttle.io_service_bytes_recursive",
            "8:0 Read 100\n8:0 Write 200\nTotal 300\n",
        );
        put(
            &d,
            "blkio.throttle.io_serviced_recursive",
            "8:0 Read 1\nTotal 1\n",
        );
        let mut b = Blkio::default();
        blkio(d.path(), &mut b).unwrap();
        assert_eq!(b.io_service_bytes_recursive.len(), 2);
        assert_eq!(b.io_service_bytes_recursive[1].value, 200);
        assert_eq!(b.io_serviced_recursive[0].op, "Read");

        put(&d, "pids.current", "4\n");
        put(&d, "pids.max", "max\n");
        let mut p = Pids::default();
        pids(d.path(), &mut p).unwrap();
        assert_eq!((p.current, p.limit), (4, 0));
    }

    #[test]
    fn hugetlb_sizes_from_files() {
        let d = fake(&[
            "hugetlb.2MB.limit_in_bytes",
            "hugetlb.2MB.rsvd.limit_in_bytes",
        ]);
        put(&d, "hugetlb.2MB.usage_in_bytes", "2097152\n");
        put(&d, "hugetlb.2MB.failcnt", "1\n");
        let h = hugetlb(d.path()).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].0, "2MB");
        assert_eq!(h[0].1.usage, 2097152);
        assert_eq!(h[0].1.failcnt, 1);
    }
}
