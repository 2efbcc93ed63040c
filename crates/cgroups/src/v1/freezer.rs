use std::path::Path;
use std::time::Duration;

use crate::fs::{read, write};
use crate::{CgroupError, FreezerState};

const STATE: &str = "freezer.state";
const POLLS: u32 = 1000;

pub fn state(dir: &Path) -> Result<FreezerState, CgroupError> {
    let s = read(dir, STATE)?;
    match s.trim() {
        "THAWED" => Ok(FreezerState::Thawed),
        "FREEZING" => Ok(FreezerState::Freezing),
        "FROZEN" => Ok(FreezerState::Frozen),
        _ => Err(CgroupError::Parse {
            path: dir.join(STATE),
            content: s,
        }),
    }
}

/// Write the state and poll until the kernel reports it. Freezing can stall in
/// FREEZING while tasks fork, so the request is re-issued periodically, as runc does.
pub fn set(dir: &Path, want: FreezerState) -> Result<(), CgroupError> {
    let value = match want {
        FreezerState::Frozen | FreezerState::Freezing => "FROZEN",
        FreezerState::Thawed => "THAWED",
    };
    let mut seen = String::new();
    for i in 0..POLLS {
        if i % 50 == 0 {
            write(dir, STATE, value)?;
        }
        seen = read(dir, STATE)?.trim().to_string();
        if seen == value {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // Never leave a container half-frozen after giving up.
    if want != FreezerState::Thawed {
        let _ = write(dir, STATE, "THAWED");
    }
    Err(CgroupError::FreezeTimeout {
        path: dir.join(STATE),
        wanted: value,
        seen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fake, get, put};

    #[test]
    fn freeze_and_thaw() {
        let d = fake(&[STATE]);
        set(d.path(), FreezerState::Frozen).unwrap();
        assert_eq!(get(&d, STATE), "FROZEN");
        assert_eq!(state(d.path()).unwrap(), FreezerState::Frozen);
        set(d.path(), FreezerState::Thawed).unwrap();
        assert_eq!(state(d.path()).unwrap(), FreezerState::Thawed);
        put(&d, STATE, "FREEZING\n");
        assert_eq!(state(d.path()).unwrap(), FreezerState::Freezing);
    }
}
