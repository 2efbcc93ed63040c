use std::path::Path;

use oci_spec::runtime::LinuxHugepageLimit;

use crate::fs::{limit_v2, write, write_if_exists};
use crate::v1::check_page_size;
use crate::CgroupError;

pub fn apply(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    for l in limits {
        check_page_size(l.page_size())?;
        let value = limit_v2(l.limit());
        write(dir, &format!("hugetlb.{}.max", l.page_size()), &value)?;
        // Reservations (5.7+) must be limited too, or mmap(MAP_NORESERVE)-less mappings
        // can reserve beyond the limit and fault later.
        write_if_exists(dir, &format!("hugetlb.{}.rsvd.max", l.page_size()), &value)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fake, get};

    #[test]
    fn max_and_rsvd() {
        let d = fake(&["hugetlb.2MB.max", "hugetlb.2MB.rsvd.max", "hugetlb.1GB.max"]);
        let l: Vec<LinuxHugepageLimit> = serde_json::from_str(
            r#"[{"pageSize":"2MB","limit":4194304},{"pageSize":"1GB","limit":-1}]"#,
        )
        .unwrap();
        apply(d.path(), &l).unwrap();
        assert_eq!(get(&d, "hugetlb.2MB.max"), "4194304");
        assert_eq!(get(&d, "hugetlb.2MB.rsvd.max"), "4194304");
        assert_eq!(get(&d, "hugetlb.1GB.max"), "max");
    }
}
