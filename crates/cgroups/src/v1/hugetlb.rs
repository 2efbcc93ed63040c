use std::path::Path;

use oci_spec::runtime::LinuxHugepageLimit;

use crate::fs::write;
use crate::CgroupError;

/// The page size becomes part of a file name, so it must be a plain token like `2MB`.
pub(crate) fn check_page_size(size: &str) -> Result<(), CgroupError> {
    if size.is_empty() || !size.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(CgroupError::InvalidValue {
            field: "hugepageLimits.pageSize",
            value: size.to_string(),
            reason: "expected a size such as 2MB or 1GB",
        });
    }
    Ok(())
}

pub fn apply(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    for l in limits {
        check_page_size(l.page_size())?;
        let file = format!("hugetlb.{}.limit_in_bytes", l.page_size());
        write(dir, &file, &l.limit().to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fake, get};

    #[test]
    fn writes_limit_per_size() {
        let d = fake(&["hugetlb.2MB.limit_in_bytes", "hugetlb.1GB.limit_in_bytes"]);
        let l: Vec<LinuxHugepageLimit> = serde_json::from_str(
            r#"[{"pageSize":"2MB","limit":4194304},{"pageSize":"1GB","limit":0}]"#,
        )
        .unwrap();
        apply(d.path(), &l).unwrap();
        assert_eq!(get(&d, "hugetlb.2MB.limit_in_bytes"), "4194304");
        assert_eq!(get(&d, "hugetlb.1GB.limit_in_bytes"), "0");
        let bad: Vec<LinuxHugepageLimit> =
            serde_json::from_str(r#"[{"pageSize":"../x","limit":1}]"#).unwrap();
        assert!(apply(d.path(), &bad).is_err());
    }
}
