use std::path::Path;
use std::time::Duration;

use crate::fs::{read_flat_keyed, read_opt, write};
use crate::{CgroupError, FreezerState};

const POLLS: u32 = 1000;

fn events_frozen(dir: &Path) -> Result<Option<bool>, CgroupError> {
    Ok(read_flat_keyed(dir, "cgroup.events")?
        .get("frozen")
        .map(|v| *v == 1))
}

pub fn state(dir: &Path) -> Result<FreezerState, CgroupError> {
    match read_opt(dir, "cgroup.freeze")?.as_deref().map(str::trim) {
        // The root cgroup has no cgroup.freeze and cannot be frozen.
        None | Some("0") => Ok(FreezerState::Thawed),
        Some(_) => match events_frozen(dir)? {
            Some(true) => Ok(FreezerState::Frozen),
            _ => Ok(FreezerState::Freezing),
        },
    }
}

/// cgroup.freeze is a request; cgroup.events reports when every task has stopped.
pub fn set(dir: &Path, want: FreezerState) -> Result<(), CgroupError> {
    let frozen = want != FreezerState::Thawed;
    write(dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
    let mut seen = None;
    for _ in 0..POLLS {
        seen = events_frozen(dir)?;
        if seen == Some(frozen) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    if frozen {
        let _ = write(dir, "cgroup.freeze", "0");
    }
    Err(CgroupError::FreezeTimeout {
        path: dir.join("cgroup.events"),
        wanted: if frozen { "frozen 1" } else { "frozen 0" },
        seen: format!("{seen:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fake, get, put};

    #[test]
    fn freeze_reads_events() {
        let d = fake(&["cgroup.freeze"]);
        put(&d, "cgroup.events", "populated 1\nfrozen 1\n");
        set(d.path(), FreezerState::Frozen).unwrap();
        assert_eq!(get(&d, "cgroup.freeze"), "1");
        assert_eq!(state(d.path()).unwrap(), FreezerState::Frozen);
        put(&d, "cgroup.events", "populated 1\nfrozen 0\n");
        assert_eq!(state(d.path()).unwrap(), FreezerState::Freezing);
        set(d.path(), FreezerState::Thawed).unwrap();
        assert_eq!(state(d.path()).unwrap(), FreezerState::Thawed);
    }
}
