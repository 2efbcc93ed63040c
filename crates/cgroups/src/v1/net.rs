use std::path::Path;

use oci_spec::runtime::LinuxNetwork;

use crate::fs::write;
use crate::CgroupError;

pub fn apply_cls(dir: &Path, net: &LinuxNetwork) -> Result<(), CgroupError> {
    if let Some(id) = net.class_id() {
        write(dir, "net_cls.classid", &id.to_string())?;
    }
    Ok(())
}

pub fn apply_prio(dir: &Path, net: &LinuxNetwork) -> Result<(), CgroupError> {
    for p in net.priorities().as_deref().unwrap_or(&[]) {
        write(
            dir,
            "net_prio.ifpriomap",
            &format!("{} {}", p.name(), p.priority()),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fake, get};

    #[test]
    fn classid_and_priorities() {
        let d = fake(&["net_cls.classid", "net_prio.ifpriomap"]);
        let n: LinuxNetwork = serde_json::from_str(
            r#"{"classID":1048577,"priorities":[{"name":"eth0","priority":5}]}"#,
        )
        .unwrap();
        apply_cls(d.path(), &n).unwrap();
        apply_prio(d.path(), &n).unwrap();
        assert_eq!(get(&d, "net_cls.classid"), "1048577");
        assert_eq!(get(&d, "net_prio.ifpriomap"), "eth0 5");
    }
}
