//! Resolution of OCI `linux.cgroupsPath` (config-linux.md "Cgroups Path").

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::CgroupError;

/// The runtime's own cgroups, parsed from `/proc/self/cgroup`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnCgroups {
    /// The `0::/path` line (cgroup v2 or the hybrid `unified` mount).
    pub unified: Option<PathBuf>,
    /// v1 controller (or `name=systemd`) → path relative to that hierarchy's root.
    pub controllers: HashMap<String, PathBuf>,
}

impl OwnCgroups {
    pub fn parse(content: &str) -> Self {
        let mut own = Self::default();
        for line in content.lines() {
            let mut parts = line.splitn(3, ':');
            let (Some(_id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let path = PathBuf::from(path);
            if ctrls.is_empty() {
                own.unified = Some(path);
                continue;
            }
            for c in ctrls.split(',') {
                own.controllers.insert(c.to_string(), path.clone());
            }
        }
        own
    }

    pub fn read_self() -> Result<Self, CgroupError> {
        let path = PathBuf::from("/proc/self/cgroup");
        let content =
            std::fs::read_to_string(&path).map_err(|source| CgroupError::Read { path, source })?;
        Ok(Self::parse(&content))
    }
}

/// Rejects `..` so a spec cannot place the container's cgroup outside the hierarchy
/// (or outside the runtime's subtree for relative paths).
pub(crate) fn validate(path: &Path) -> Result<(), CgroupError> {
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(CgroupError::InvalidPath {
            path: path.to_path_buf(),
            reason: "\"..\" components are not allowed",
        });
    }
    Ok(())
}

/// The requested path before per-controller resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Requested {
    /// From the hierarchy root, always starting with `/`.
    Absolute(PathBuf),
    /// Below the runtime's own cgroup.
    Relative(PathBuf),
}

pub(crate) fn requested(
    cgroups_path: Option<&Path>,
    container_id: &str,
) -> Result<Requested, CgroupError> {
    match cgroups_path {
        Some(p) if !p.as_os_str().is_empty() => {
            validate(p)?;
            if p.is_absolute() {
                Ok(Requested::Absolute(p.to_path_buf()))
            } else {
                Ok(Requested::Relative(p.to_path_buf()))
            }
        }
        _ => {
            if container_id.is_empty() || container_id.contains('/') || container_id == ".." {
                return Err(CgroupError::InvalidPath {
                    path: PathBuf::from(container_id),
                    reason: "container id is not a single path component",
                });
            }
            Ok(Requested::Absolute(Path::new("/vessel").join(container_id)))
        }
    }
}

impl Requested {
    /// The cgroup path relative to the hierarchy root, given the runtime's own cgroup
    /// in that hierarchy (needed only for relative paths).
    pub(crate) fn resolve(&self, own: Option<&Path>) -> Option<PathBuf> {
        match self {
            Requested::Absolute(p) => Some(p.clone()),
            Requested::Relative(p) => Some(own?.join(p)),
        }
    }
}

/// Join a hierarchy-relative cgroup path onto the directory where that hierarchy's
/// `mount_root` is mounted (containers often mount a subtree, e.g. root `/docker/x`).
pub(crate) fn join_mount(mount_point: &Path, mount_root: &Path, cgroup: &Path) -> PathBuf {
    let rel = cgroup.strip_prefix(mount_root).unwrap_or(cgroup);
    let rel = rel.strip_prefix("/").unwrap_or(rel);
    mount_point.join(rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "9:name=systemd:/\n4:memory:/process_api/abc\n2:cpu,cpuacct:/user\n0::/\n";

    #[test]
    fn parses_proc_self_cgroup() {
        let own = OwnCgroups::parse(HYBRID);
        assert_eq!(own.unified, Some(PathBuf::from("/")));
        assert_eq!(own.controllers["memory"], PathBuf::from("/process_api/abc"));
        assert_eq!(own.controllers["cpu"], PathBuf::from("/user"));
        assert_eq!(own.controllers["cpuacct"], PathBuf::from("/user"));
        assert_eq!(own.controllers["name=systemd"], PathBuf::from("/"));
    }

    #[test]
    fn default_path_uses_container_id() {
        let r = requested(None, "c1").unwrap();
        assert_eq!(r.resolve(None), Some(PathBuf::from("/vessel/c1")));
        let r = requested(Some(Path::new("")), "c1").unwrap();
        assert_eq!(r, Requested::Absolute(PathBuf::from("/vessel/c1")));
        assert!(requested(None, "a/b").is_err());
        assert!(requested(None, "..").is_err());
    }

    #[test]
    fn absolute_ignores_own_cgroup() {
        let r = requested(Some(Path::new("/a/b")), "c").unwrap();
        assert_eq!(
            r.resolve(Some(Path::new("/x"))),
            Some(PathBuf::from("/a/b"))
        );
    }

    #[test]
    fn relative_goes_below_own_cgroup() {
        let own = OwnCgroups::parse(HYBRID);
        let r = requested(Some(Path::new("ctr/1")), "c").unwrap();
        let mem = r.resolve(own.controllers.get("memory").map(PathBuf::as_path));
        assert_eq!(mem, Some(PathBuf::from("/process_api/abc/ctr/1")));
        assert_eq!(r.resolve(None), None);
    }

    #[test]
    fn rejects_dotdot() {
        for p in ["/a/../b", "../x", "a/.."] {
            let err = requested(Some(Path::new(p)), "c").unwrap_err();
            assert!(matches!(err, CgroupError::InvalidPath { .. }), "{p}");
        }
    }

    #[test]
    fn joins_mount_root() {
        let j = join_mount(
            Path::new("/sys/fs/cgroup/memory"),
            Path::new("/"),
            Path::new("/a/b"),
        );
        assert_eq!(j, PathBuf::from("/sys/fs/cgroup/memory/a/b"));
        let j = join_mount(
            Path::new("/sys/fs/cgroup/memory"),
            Path::new("/docker/x"),
            Path::new("/docker/x/a"),
        );
        assert_eq!(j, PathBuf::from("/sys/fs/cgroup/memory/a"));
    }
}
