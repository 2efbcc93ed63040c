//! linux.resources, process.rlimits, linux.sysctl and the OOM score, with moby's validation
//! (`daemon/daemon_unix.go` `verifyPlatformContainerResources`, `adaptContainerSettings`).

use crate::create::{HostConfig, ThrottleDevice, Ulimit};
use crate::devices::{DeviceLookup, HostNode};
use crate::SpecError;
use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources, LinuxThrottleDevice,
    LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder, PosixRlimit, PosixRlimitBuilder,
    PosixRlimitType,
};
use std::collections::HashMap;
use std::path::Path;

/// CFS period Docker uses to express `--cpus`.
pub const CPU_PERIOD: u64 = 100_000;
/// Docker's default /dev/shm size.
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;
const MIN_MEMORY: i64 = 6 << 20;

fn invalid(flag: &'static str, value: impl ToString, reason: &str) -> SpecError {
    SpecError::InvalidResource {
        flag,
        value: value.to_string(),
        reason: reason.to_string(),
    }
}

fn pos(v: Option<i64>) -> Option<i64> {
    v.filter(|v| *v > 0)
}

pub fn memory(hc: &HostConfig) -> Result<Option<LinuxMemory>, SpecError> {
    let limit = pos(hc.memory);
    let swap = hc.memory_swap.filter(|s| *s != 0);
    let reservation = pos(hc.memory_reservation);
    if let Some(l) = limit {
        if l < MIN_MEMORY {
            return Err(invalid("memory", l, "minimum memory limit allowed is 6MB"));
        }
    }
    let swap = match (limit, swap) {
        (_, Some(-1)) => Some(-1),
        (None, Some(_)) => return Err(SpecError::SwapWithoutMemory),
        (Some(l), Some(s)) if s < l => return Err(SpecError::SwapSmallerThanMemory),
        (Some(_), Some(s)) => Some(s),
        // Docker's default: swap (memory + swap) is twice the memory limit.
        (Some(l), None) => Some(l * 2),
        (None, None) => None,
    };
    if let (Some(l), Some(r)) = (limit, reservation) {
        if r > l {
            return Err(SpecError::ReservationAboveMemory);
        }
    }
    let swappiness = match hc.memory_swappiness {
        None | Some(-1) => None,
        Some(s @ 0..=100) => Some(s as u64),
        Some(s) => {
            return Err(invalid(
                "memory-swappiness",
                s,
                "valid memory swappiness range is 0-100",
            ))
        }
    };
    let oom = hc.oom_kill_disable.filter(|d| *d);
    if limit.is_none()
        && swap.is_none()
        && reservation.is_none()
        && swappiness.is_none()
        && oom.is_none()
    {
        return Ok(None);
    }
    let mut m = LinuxMemory::default();
    m.set_limit(limit)
        .set_swap(swap)
        .set_reservation(reservation)
        .set_swappiness(swappiness)
        .set_disable_oom_killer(oom);
    Ok(Some(m))
}

pub fn cpu(hc: &HostConfig) -> Result<Option<LinuxCpu>, SpecError> {
    let nano = pos(hc.nano_cpus);
    let mut quota = pos(hc.cpu_quota);
    let mut period = pos(hc.cpu_period).map(|p| p as u64);
    if let Some(n) = nano {
        if period.is_some() {
            return Err(SpecError::NanoCpusConflict("period"));
        }
        if quota.is_some() {
            return Err(SpecError::NanoCpusConflict("quota"));
        }
        if n < 10_000_000 {
            return Err(invalid("cpus", n as f64 / 1e9, "the minimum is 0.01"));
        }
        period = Some(CPU_PERIOD);
        quota = Some(n * CPU_PERIOD as i64 / 1_000_000_000);
    }
    if let Some(p) = hc.cpu_period.filter(|p| *p != 0) {
        if !(1000..=1_000_000).contains(&p) {
            return Err(invalid("cpu-period", p, "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"));
        }
    }
    if let Some(q) = hc.cpu_quota.filter(|q| *q > 0) {
        if q < 1000 {
            return Err(invalid(
                "cpu-quota",
                q,
                "CPU cfs quota can not be less than 1ms (i.e. 1000)",
            ));
        }
    }
    // The kernel clamps shares to [2, 262144]; moby clamps (with a warning) too.
    let shares = pos(hc.cpu_shares).map(|s| s.clamp(2, 262_144) as u64);
    let cpus = validate_cpuset("cpuset-cpus", hc.cpuset_cpus.as_deref())?;
    let mems = validate_cpuset("cpuset-mems", hc.cpuset_mems.as_deref())?;
    let rt_period = pos(hc.cpu_realtime_period).map(|p| p as u64);
    let rt_runtime = pos(hc.cpu_realtime_runtime);
    if shares.is_none()
        && quota.is_none()
        && period.is_none()
        && cpus.is_none()
        && mems.is_none()
        && rt_period.is_none()
        && rt_runtime.is_none()
    {
        return Ok(None);
    }
    let mut c = LinuxCpu::default();
    c.set_shares(shares)
        .set_quota(quota)
        .set_period(period)
        .set_cpus(cpus)
        .set_mems(mems)
        .set_realtime_period(rt_period)
        .set_realtime_runtime(rt_runtime);
    Ok(Some(c))
}

/// `0-3,5,7-8`.
fn validate_cpuset(flag: &'static str, v: Option<&str>) -> Result<Option<String>, SpecError> {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let ok = v.split(',').all(|part| match part.split_once('-') {
        Some((a, b)) => matches!((a.parse::<u32>(), b.parse::<u32>()), (Ok(a), Ok(b)) if a <= b),
        None => part.parse::<u32>().is_ok(),
    });
    if !ok {
        return Err(invalid(flag, v, "invalid format"));
    }
    Ok(Some(v.to_string()))
}

pub fn pids(hc: &HostConfig) -> Option<LinuxPids> {
    pos(hc.pids_limit).map(|l| {
        let mut p = LinuxPids::default();
        p.set_limit(l);
        p
    })
}

fn device_numbers(
    flag: &'static str,
    path: &str,
    lookup: &dyn DeviceLookup,
) -> Result<(i64, i64), SpecError> {
    match lookup.stat(Path::new(path)) {
        Ok(HostNode::Device { major, minor, .. }) => Ok((major, minor)),
        Ok(_) => Err(invalid(flag, path, "not a device node")),
        Err(source) => Err(SpecError::DeviceLookup {
            path: path.into(),
            source,
        }),
    }
}

fn throttles(
    flag: &'static str,
    list: &Option<Vec<ThrottleDevice>>,
    lookup: &dyn DeviceLookup,
) -> Result<Option<Vec<LinuxThrottleDevice>>, SpecError> {
    let list = list.as_deref().unwrap_or_default();
    if list.is_empty() {
        return Ok(None);
    }
    list.iter()
        .map(|t| {
            let (major, minor) =
                device_numbers(flag, t.path.as_deref().unwrap_or_default(), lookup)?;
            Ok(LinuxThrottleDeviceBuilder::default()
                .major(major)
                .minor(minor)
                .rate(t.rate.unwrap_or(0))
                .build()
                .expect("all fields set"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

pub fn block_io(
    hc: &HostConfig,
    lookup: &dyn DeviceLookup,
) -> Result<Option<LinuxBlockIo>, SpecError> {
    let check_weight = |flag, w: u16| {
        if (10..=1000).contains(&w) {
            Ok(w)
        } else {
            Err(invalid(flag, w, "range of blkio weight is from 10 to 1000"))
        }
    };
    let weight = hc
        .blkio_weight
        .filter(|w| *w != 0)
        .map(|w| check_weight("blkio-weight", w))
        .transpose()?;
    let mut weight_devices = Vec::new();
    for wd in hc.blkio_weight_device.iter().flatten() {
        let (major, minor) = device_numbers(
            "blkio-weight-device",
            wd.path.as_deref().unwrap_or_default(),
            lookup,
        )?;
        let mut d = LinuxWeightDeviceBuilder::default()
            .major(major)
            .minor(minor);
        if let Some(w) = wd.weight {
            d = d.weight(check_weight("blkio-weight-device", w)?);
        }
        weight_devices.push(d.build().expect("all fields set"));
    }
    let rbps = throttles("device-read-bps", &hc.blkio_device_read_bps, lookup)?;
    let wbps = throttles("device-write-bps", &hc.blkio_device_write_bps, lookup)?;
    let riops = throttles("device-read-iops", &hc.blkio_device_read_iops, lookup)?;
    let wiops = throttles("device-write-iops", &hc.blkio_device_write_iops, lookup)?;
    if weight.is_none()
        && weight_devices.is_empty()
        && rbps.is_none()
        && wbps.is_none()
        && riops.is_none()
        && wiops.is_none()
    {
        return Ok(None);
    }
    let mut b = LinuxBlockIo::default();
    b.set_weight(weight)
        .set_weight_device((!weight_devices.is_empty()).then_some(weight_devices))
        .set_throttle_read_bps_device(rbps)
        .set_throttle_write_bps_device(wbps)
        .set_throttle_read_iops_device(riops)
        .set_throttle_write_iops_device(wiops);
    Ok(Some(b))
}

/// Everything but the device cgroup, which [`crate::devices`] builds.
pub fn resources(hc: &HostConfig, lookup: &dyn DeviceLookup) -> Result<LinuxResources, SpecError> {
    let mut r = LinuxResources::default();
    r.set_memory(memory(hc)?)
        .set_cpu(cpu(hc)?)
        .set_pids(pids(hc))
        .set_block_io(block_io(hc, lookup)?);
    Ok(r)
}

/// `--ulimit nofile=1024:2048` → `RLIMIT_NOFILE`.
pub fn rlimits(ulimits: &[Ulimit]) -> Result<Vec<PosixRlimit>, SpecError> {
    ulimits
        .iter()
        .map(|u| {
            let name = u.name.clone().unwrap_or_default();
            let typ: PosixRlimitType = format!("RLIMIT_{}", name.to_ascii_uppercase())
                .parse()
                .map_err(|_| SpecError::InvalidUlimit(name.clone()))?;
            let soft = u.soft.unwrap_or(0);
            let hard = u.hard.unwrap_or(soft);
            if soft > hard && hard >= 0 {
                return Err(invalid(
                    "ulimit",
                    format!("{name}={soft}:{hard}"),
                    "soft limit must be less than or equal to the hard limit",
                ));
            }
            // -1 means unlimited (RLIM_INFINITY).
            let conv = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
            Ok(PosixRlimitBuilder::default()
                .typ(typ)
                .soft(conv(soft))
                .hard(conv(hard))
                .build()
                .expect("all fields set"))
        })
        .collect()
}

/// Which namespaces the container owns (sysctls are only allowed in its own ones).
#[derive(Debug, Clone, Copy)]
pub struct PrivateNamespaces {
    pub net: bool,
    pub ipc: bool,
    pub uts: bool,
}

/// linux.sysctl: Docker's defaults for a private network namespace (unprivileged ICMP sockets
/// and low ports, moby ≥ 20.10), then the user's, which must be namespaced sysctls the
/// container owns (moby `ValidateSysctl`).
pub fn sysctls(
    hc: &HostConfig,
    ns: PrivateNamespaces,
) -> Result<HashMap<String, String>, SpecError> {
    let mut out = HashMap::new();
    if ns.net {
        out.insert("net.ipv4.ping_group_range".into(), "0 2147483647".into());
        out.insert("net.ipv4.ip_unprivileged_port_start".into(), "0".into());
    }
    for (k, v) in hc.sysctls.iter().flatten() {
        let ipc = [
            "kernel.msgmax",
            "kernel.msgmnb",
            "kernel.msgmni",
            "kernel.sem",
            "kernel.shmall",
            "kernel.shmmax",
            "kernel.shmmni",
            "kernel.shm_rmid_forced",
        ]
        .contains(&k.as_str())
            || k.starts_with("fs.mqueue.");
        let uts = k == "kernel.domainname" || k == "kernel.hostname";
        let net = k.starts_with("net.");
        let err = |reason| SpecError::InvalidSysctl {
            key: k.clone(),
            reason,
        };
        if net && !ns.net {
            return Err(err("not allowed in the host network namespace"));
        }
        if ipc && !ns.ipc {
            return Err(err("not allowed with a shared IPC namespace"));
        }
        if uts && !ns.uts {
            return Err(err("not allowed in the host UTS namespace"));
        }
        if k == "kernel.hostname" {
            return Err(err("use --hostname instead"));
        }
        if !(net || ipc || uts) {
            return Err(err("not a namespaced sysctl"));
        }
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

pub fn oom_score_adj(hc: &HostConfig) -> Result<i32, SpecError> {
    let v = hc.oom_score_adj.unwrap_or(0);
    if !(-1000..=1000).contains(&v) {
        return Err(invalid("oom-score-adj", v, "valid range is -1000 to 1000"));
    }
    Ok(v as i32)
}

pub fn shm_size(hc: &HostConfig) -> Result<i64, SpecError> {
    match hc.shm_size.unwrap_or(0) {
        0 => Ok(DEFAULT_SHM_SIZE),
        s if s < 0 => Err(invalid("shm-size", s, "SHM size can not be less than 0")),
        s => Ok(s),
    }
}

#[cfg(test)]
mod tests;
