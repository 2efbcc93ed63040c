//! v1 hierarchy mount points from mountinfo. Controllers may be mounted alone
//! (`cpu`, `cpuacct` on this host) or combined (`cpu,cpuacct` elsewhere), so nothing
//! assumes a directory name.

use std::path::{Path, PathBuf};

use crate::CgroupError;

/// One mounted v1 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Mount {
    /// Controllers bound to the hierarchy, including named ones (`name=systemd`).
    pub controllers: Vec<String>,
    pub mount_point: PathBuf,
    /// The hierarchy path visible at `mount_point` (not `/` inside some containers).
    pub root: PathBuf,
}

pub fn read_self(cgroup_root: &Path) -> Result<Vec<V1Mount>, CgroupError> {
    let path = PathBuf::from("/proc/self/mountinfo");
    let content =
        std::fs::read_to_string(&path).map_err(|source| CgroupError::Read { path, source })?;
    Ok(parse_mountinfo(&content, cgroup_root))
}

/// v1 mounts below `cgroup_root`; the first mount of a hierarchy wins, as later ones
/// are usually bind mounts into containers.
pub fn parse_mountinfo(content: &str, cgroup_root: &Path) -> Vec<V1Mount> {
    let mut out: Vec<V1Mount> = Vec::new();
    for line in content.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 || post[0] != "cgroup" {
            continue;
        }
        let mount_point = PathBuf::from(unescape(pre[4]));
        if !mount_point.starts_with(cgroup_root) {
            continue;
        }
        let controllers: Vec<String> = post[2]
            .split(',')
            .filter(|o| is_controller_option(o))
            .map(str::to_string)
            .collect();
        if controllers.is_empty() || out.iter().any(|m| m.controllers == controllers) {
            continue;
        }
        out.push(V1Mount {
            controllers,
            mount_point,
            root: PathBuf::from(unescape(pre[3])),
        });
    }
    out
}

fn is_controller_option(opt: &str) -> bool {
    const NOT_CONTROLLERS: &[&str] = &[
        "rw",
        "ro",
        "noprefix",
        "clone_children",
        "xattr",
        "cpuset_v2_mode",
        "favordynmods",
    ];
    !NOT_CONTROLLERS.contains(&opt) && !opt.starts_with("release_agent=")
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEPARATE: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
90 80 0:32 /x /other/mem\\040dir rw - cgroup cgroup rw,memory
";

    #[test]
    fn separate_cpu_and_cpuacct() {
        let m = parse_mountinfo(SEPARATE, Path::new("/sys/fs/cgroup"));
        let names: Vec<_> = m.iter().map(|m| m.controllers.join(",")).collect();
        assert_eq!(names, ["cpu", "cpuacct", "memory", "name=systemd"]);
        assert_eq!(m[0].mount_point, PathBuf::from("/sys/fs/cgroup/cpu"));
        assert_eq!(m[2].root, PathBuf::from("/"));
    }

    #[test]
    fn combined_cpu_cpuacct_and_subtree_root() {
        let s = "1 0 0:1 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup ro,cpu,cpuacct\n";
        let m = parse_mountinfo(s, Path::new("/sys/fs/cgroup"));
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].controllers, ["cpu", "cpuacct"]);
        assert_eq!(m[0].root, PathBuf::from("/docker/abc"));
        assert_eq!(
            m[0].mount_point,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
        );
    }

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain\\"), "/plain\\");
    }
}
