//! The five capability sets. Names are resolved against the running kernel before the
//! container is cloned, so an unknown or unsupported capability fails `create` cleanly.

use oci_spec::runtime::{Capabilities, LinuxCapabilities};

use crate::error::{Context, Result, RuntimeError};

/// Capability sets as bit masks, ready for prctl/capset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapabilitySets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// Highest capability number the kernel knows.
pub fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

fn mask(set: Option<&Capabilities>, last: u32) -> Result<u64> {
    let mut bits = 0u64;
    for cap in set.into_iter().flatten() {
        let name = serde_json::to_value(cap)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let parsed: caps::Capability =
            name.parse().map_err(|_| RuntimeError::UnknownCapability {
                name: name.clone(),
                last,
            })?;
        let index = u32::from(parsed.index());
        if index > last {
            return Err(RuntimeError::UnknownCapability { name, last });
        }
        bits |= 1 << index;
    }
    Ok(bits)
}

impl CapabilitySets {
    /// Resolve the spec's sets. The inheritable set stays empty unless the spec names it
    /// (an inherited capability survives exec of a file with matching file capabilities).
    pub fn from_spec(spec: Option<&LinuxCapabilities>, last: u32) -> Result<Self> {
        let Some(spec) = spec else {
            return Ok(CapabilitySets::default());
        };
        Ok(CapabilitySets {
            bounding: mask(spec.bounding().as_ref(), last)?,
            effective: mask(spec.effective().as_ref(), last)?,
            permitted: mask(spec.permitted().as_ref(), last)?,
            inheritable: mask(spec.inheritable().as_ref(), last)?,
            ambient: mask(spec.ambient().as_ref(), last)?,
        })
    }

    /// Drop every bounding capability not kept. Needs CAP_SETPCAP, so it runs before the
    /// uid change and capset.
    pub fn drop_bounding(&self, last: u32) -> Result<()> {
        for cap in 0..=last {
            if self.bounding & (1 << cap) == 0 {
                // SAFETY: prctl with integer arguments only.
                let rc =
                    unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
                if rc != 0 {
                    let err = std::io::Error::last_os_error();
                    // EINVAL: the kernel does not know this capability; nothing to drop.
                    if err.raw_os_error() != Some(libc::EINVAL) {
                        return Err(err).op(|| format!("dropping bounding capability {cap}"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Set effective, permitted and inheritable in one capset, then raise ambient ones.
    pub fn apply(&self, last: u32) -> Result<()> {
        let header = CapHeader {
            version: LINUX_CAPABILITY_VERSION_3,
            pid: 0,
        };
        let lo = |m: u64| m as u32;
        let hi = |m: u64| (m >> 32) as u32;
        let data = [
            CapData {
                effective: lo(self.effective),
                permitted: lo(self.permitted),
                inheritable: lo(self.inheritable),
            },
            CapData {
                effective: hi(self.effective),
                permitted: hi(self.permitted),
                inheritable: hi(self.inheritable),
            },
        ];
        // SAFETY: capset reads a header and two data structs laid out as the kernel's
        // __user_cap_header_struct / __user_cap_data_struct (version 3).
        let rc =
            unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error()).op(|| "capset".to_string());
        }
        // SAFETY: prctl with integer arguments only.
        unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            )
        };
        for cap in 0..=last {
            if self.ambient & (1 << cap) != 0 {
                // SAFETY: prctl with integer arguments only.
                let rc = unsafe {
                    libc::prctl(
                        libc::PR_CAP_AMBIENT,
                        libc::PR_CAP_AMBIENT_RAISE,
                        cap as libc::c_ulong,
                        0,
                        0,
                    )
                };
                // An ambient capability must also be permitted and inheritable; the spec
                // lets the runtime skip ones that cannot be raised, as runc does.
                let _ = rc;
            }
        }
        Ok(())
    }
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Names of the capabilities set in `mask`, for `features` and messages.
pub fn names(mask: u64) -> Vec<String> {
    caps::all()
        .into_iter()
        .filter(|c| mask & (1 << c.index()) != 0)
        .map(|c| c.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names_to_bits() {
        let spec: LinuxCapabilities = serde_json::from_value(serde_json::json!({
            "bounding": ["CAP_KILL", "CAP_CHOWN"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_KILL"]
        }))
        .unwrap();
        let sets = CapabilitySets::from_spec(Some(&spec), 40).unwrap();
        assert_eq!(sets.bounding, (1 << 5) | 1);
        assert_eq!(sets.effective, 1 << 5);
        assert_eq!(sets.inheritable, 0);
        assert_eq!(sets.ambient, 0);
    }

    #[test]
    fn capability_beyond_kernel_is_rejected() {
        let spec: LinuxCapabilities =
            serde_json::from_value(serde_json::json!({"bounding": ["CAP_CHECKPOINT_RESTORE"]}))
                .unwrap();
        let err = CapabilitySets::from_spec(Some(&spec), 37).unwrap_err();
        assert!(err.to_string().contains("CAP_CHECKPOINT_RESTORE"), "{err}");
    }
}
