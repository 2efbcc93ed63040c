use std::path::Path;

use oci_spec::runtime::LinuxCpu;

use crate::fs::{create_dir_all, read_opt, write};
use crate::CgroupError;

pub fn needed(cpu: &LinuxCpu) -> bool {
    cpu.cpus().is_some() || cpu.mems().is_some()
}

pub fn apply(dir: &Path, cpu: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(cpus) = cpu.cpus() {
        write(dir, "cpuset.cpus", cpus)?;
    }
    if let Some(mems) = cpu.mems() {
        write(dir, "cpuset.mems", mems)?;
    }
    Ok(())
}

/// Create `dir` level by level below `mount_point`. A new v1 cpuset starts with empty
/// cpus/mems and refuses tasks (ENOSPC) until they are set, so each new level inherits
/// its parent's values.
pub fn create(mount_point: &Path, dir: &Path) -> Result<(), CgroupError> {
    let rel = dir.strip_prefix(mount_point).unwrap_or(Path::new(""));
    let mut cur = mount_point.to_path_buf();
    for comp in rel.components() {
        let parent = cur.clone();
        cur.push(comp);
        create_dir_all(&cur)?;
        for file in ["cpuset.cpus", "cpuset.mems"] {
            // A missing file only happens on fake trees; the kernel always creates them.
            match read_opt(&cur, file)? {
                Some(mine) if mine.trim().is_empty() => {}
                _ => continue,
            }
            if let Some(theirs) = read_opt(&parent, file)? {
                let theirs = theirs.trim();
                if !theirs.is_empty() {
                    write(&cur, file, theirs)?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{cpu, fake, get};

    #[test]
    fn writes_cpus_and_mems() {
        let d = fake(&["cpuset.cpus", "cpuset.mems"]);
        apply(d.path(), &cpu(r#"{"cpus":"0-1","mems":"0"}"#)).unwrap();
        assert_eq!(get(&d, "cpuset.cpus"), "0-1");
        assert_eq!(get(&d, "cpuset.mems"), "0");
    }

    #[test]
    fn create_copies_parent_values() {
        let d = fake(&[]);
        std::fs::write(d.path().join("cpuset.cpus"), "0-3\n").unwrap();
        std::fs::write(d.path().join("cpuset.mems"), "0\n").unwrap();
        // The kernel creates these files empty on mkdir; emulate that for each level.
        for sub in ["a", "a/b"] {
            let p = d.path().join(sub);
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("cpuset.cpus"), "").unwrap();
            std::fs::write(p.join("cpuset.mems"), "\n").unwrap();
        }
        std::fs::write(d.path().join("a/cpuset.mems"), "0\n").unwrap();
        create(d.path(), &d.path().join("a/b")).unwrap();
        assert_eq!(get(&d, "a/cpuset.cpus"), "0-3");
        assert_eq!(get(&d, "a/b/cpuset.cpus"), "0-3");
        assert_eq!(get(&d, "a/b/cpuset.mems"), "0");
    }
}
