//! Writing `linux.sysctl` inside the container (keys validated in `spec::validate`).

use std::collections::HashMap;

use crate::error::{Context, Result};

/// Write each sysctl under /proc/sys of the current (container) mount namespace.
pub fn apply(sysctl: &HashMap<String, String>) -> Result<()> {
    for (key, value) in sysctl {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        std::fs::write(&path, value.as_bytes())
            .op(|| format!("setting sysctl {key}={value:?} ({path})"))?;
    }
    Ok(())
}
