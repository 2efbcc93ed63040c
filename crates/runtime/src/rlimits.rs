//! `process.rlimits`, applied by the runtime to the container's init with prlimit(2) while
//! the runtime still holds its host privileges. A hard limit above the runtime's own cannot
//! be granted without CAP_SYS_RESOURCE; that is an error naming the limit.

use oci_spec::runtime::{PosixRlimit, PosixRlimitType};

use crate::error::{Result, RuntimeError};

/// A resolved limit: resource number plus values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

pub fn resource_number(t: PosixRlimitType) -> u32 {
    match t {
        PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

fn type_name(t: PosixRlimitType) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{t:?}"))
}

pub fn resolve(limits: &[PosixRlimit]) -> Vec<(String, Rlimit)> {
    limits
        .iter()
        .map(|l| {
            (
                type_name(l.typ()),
                Rlimit {
                    resource: resource_number(l.typ()),
                    soft: l.soft(),
                    hard: l.hard(),
                },
            )
        })
        .collect()
}

/// Apply every limit to `pid` (0 = the caller).
pub fn apply(pid: i32, limits: &[(String, Rlimit)]) -> Result<()> {
    for (name, l) in limits {
        let new = libc::rlimit64 {
            rlim_cur: l.soft,
            rlim_max: l.hard,
        };
        // SAFETY: prlimit64 reads `new` and writes nothing (old pointer is null).
        let rc = unsafe { libc::prlimit64(pid, l.resource as _, &new, std::ptr::null_mut()) };
        if rc != 0 {
            let errno = nix::errno::Errno::last();
            let mut cur = libc::rlimit64 {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: prlimit64 writes the current limit into `cur`.
            unsafe { libc::prlimit64(pid, l.resource as _, std::ptr::null(), &mut cur) };
            return Err(RuntimeError::Rlimit {
                name: name.clone(),
                soft: l.soft,
                hard: l.hard,
                current_hard: cur.rlim_max,
                errno,
            });
        }
    }
    Ok(())
}
