//! Mounts of type "cgroup": show the container its own cgroups.
//!
//! cgroup v1 (and hybrid hosts, whose cgroup2 at /sys/fs/cgroup/unified has no
//! controllers): a tmpfs at the destination holding, per host hierarchy, a bind of the
//! container's own cgroup directory (from /proc/self/cgroup: the parent has already placed
//! this process), plus the "cpu -> cpu,cpuacct" style links the host has. In a new cgroup
//! namespace each hierarchy is mounted fresh instead, which the kernel roots at the
//! namespace. cgroup v2: mount cgroup2, or bind the container's directory when the kernel
//! refuses (EPERM/EBUSY: user namespace without its own cgroup namespace), as runc does.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;
use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
use nix::unistd::symlinkat;

use super::error::RootfsError;
use super::mount_options::{Bind, MountOptions};
use super::mounts::{bind_mount, mount_on_fd, remount, reopen, MountCtx, Target};
use super::safe_path::{open_dest, verify_inside, Create, Resolved};

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// One line of /proc/self/cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcCgroup {
    /// Sorted; empty for the v2 ("0::") line; "name=systemd" for named hierarchies.
    pub controllers: Vec<String>,
    pub path: String,
}

pub fn parse_proc_cgroup(text: &str) -> Vec<ProcCgroup> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_id, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let mut controllers: Vec<String> = controllers
                .split(',')
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect();
            controllers.sort();
            Some(ProcCgroup {
                controllers,
                path: path.to_string(),
            })
        })
        .collect()
}

/// A v1 hierarchy mounted on the host, from /proc/self/mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Hierarchy {
    pub mountpoint: PathBuf,
    /// The cgroup that is this mount's root (usually "/").
    pub root: String,
    /// Sorted controller names (or "name=...").
    pub controllers: Vec<String>,
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|_| bytes[i] == b'\\');
        match octal.and_then(|o| u8::from_str_radix(std::str::from_utf8(o).ok()?, 8).ok()) {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Super options of a cgroup v1 mount that are not controllers.
const NOT_CONTROLLERS: &[&str] = &[
    "rw",
    "ro",
    "xattr",
    "clone_children",
    "noprefix",
    "cpuset_v2_mode",
];

pub fn parse_v1_hierarchies(mountinfo: &str) -> Vec<V1Hierarchy> {
    let mut found: Vec<V1Hierarchy> = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        let (Some(root), Some(mountpoint), Some(&"cgroup"), Some(superopts)) =
            (left.get(3), left.get(4), right.first(), right.get(2))
        else {
            continue;
        };
        let mut controllers: Vec<String> = superopts
            .split(',')
            .filter(|o| !NOT_CONTROLLERS.contains(o))
            .filter(|o| !o.contains('=') || o.starts_with("name="))
            .map(str::to_string)
            .collect();
        controllers.sort();
        let hierarchy = V1Hierarchy {
            mountpoint: PathBuf::from(unescape(mountpoint)),
            root: unescape(root),
            controllers,
        };
        // A hierarchy may be mounted more than once; prefer the copy under /sys/fs/cgroup.
        match found
            .iter_mut()
            .find(|h| h.controllers == hierarchy.controllers)
        {
            Some(existing) if !existing.mountpoint.starts_with(CGROUP_ROOT) => {
                *existing = hierarchy
            }
            Some(_) => {}
            None => found.push(hierarchy),
        }
    }
    found
}

/// What to put under the cgroup tmpfs for one hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V1Entry {
    /// Name under the destination, as on the host ("cpu,cpuacct", "systemd", ...).
    pub dir_name: String,
    /// Host directory of this process's cgroup in the hierarchy.
    pub host_dir: PathBuf,
    /// Comma-separated hierarchy list for a fresh mount in a new cgroup namespace.
    pub mount_data: String,
    /// Links to create next to `dir_name` for a co-mounted hierarchy ("cpu", "cpuacct").
    pub links: Vec<String>,
}

/// Pair each host hierarchy with this process's cgroup in it. Err names the hierarchy
/// the process has no cgroup for.
pub fn plan_v1(
    hierarchies: &[V1Hierarchy],
    cgroups: &[ProcCgroup],
) -> Result<Vec<V1Entry>, String> {
    hierarchies
        .iter()
        .filter(|h| !h.controllers.is_empty())
        .map(|h| {
            let own = cgroups
                .iter()
                .find(|c| c.controllers == h.controllers)
                .ok_or_else(|| h.controllers.join(","))?;
            // The mount's root is a prefix of the process's path when the host itself runs
            // in a container whose hierarchy is bind-mounted from a sub-cgroup.
            let relative = own.path.strip_prefix(h.root.as_str()).unwrap_or(&own.path);
            let dir_name = h.mountpoint.file_name().map_or_else(
                || h.controllers.join(","),
                |n| n.to_string_lossy().into_owned(),
            );
            let links = if h.controllers.len() > 1 {
                h.controllers
                    .iter()
                    .filter(|c| !c.starts_with("name=") && **c != dir_name)
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            };
            Ok(V1Entry {
                host_dir: h.mountpoint.join(relative.trim_start_matches('/')),
                mount_data: h.controllers.join(","),
                dir_name,
                links,
            })
        })
        .collect()
}

/// The v2 ("0::") path of this process, if any.
pub fn v2_path(cgroups: &[ProcCgroup]) -> Option<&str> {
    cgroups
        .iter()
        .find(|c| c.controllers.is_empty())
        .map(|c| c.path.as_str())
}

fn read(path: &str) -> Result<String, RootfsError> {
    std::fs::read_to_string(path).map_err(|e| RootfsError::io("read", path, &e))
}

pub fn mount_cgroup(
    ctx: &mut MountCtx<'_>,
    target: Target<'_>,
    resolved: &Resolved,
    opts: &MountOptions,
) -> Result<(), RootfsError> {
    let unified = statfs(CGROUP_ROOT)
        .map(|st| st.filesystem_type() == CGROUP2_SUPER_MAGIC)
        .map_err(|e| RootfsError::path("statfs", CGROUP_ROOT, e))?;
    let cgroups = parse_proc_cgroup(&read("/proc/self/cgroup")?);
    if unified {
        mount_v2(ctx, target, resolved, opts, &cgroups)
    } else {
        mount_v1(ctx, target, resolved, opts, &cgroups)
    }
}

fn mount_v2(
    ctx: &mut MountCtx<'_>,
    target: Target<'_>,
    resolved: &Resolved,
    opts: &MountOptions,
    cgroups: &[ProcCgroup],
) -> Result<(), RootfsError> {
    let fd = open_dest(ctx.root, resolved, Create::Dir)?;
    verify_inside(ctx.root, &fd, target.destination)?;
    match mount_on_fd(
        target,
        &fd,
        "cgroup2",
        Some("cgroup2"),
        opts.flags,
        &opts.data,
    ) {
        Err(RootfsError::Mount {
            errno: Errno::EPERM | Errno::EBUSY,
            ..
        }) => {
            let own = v2_path(cgroups).unwrap_or("/").trim_start_matches('/');
            let mut bind = opts.clone();
            bind.bind = Some(Bind::Recursive);
            bind_mount(
                ctx.root,
                target,
                resolved,
                &Path::new(CGROUP_ROOT).join(own),
                &bind,
            )
        }
        other => other,
    }
}

fn mount_v1(
    ctx: &mut MountCtx<'_>,
    target: Target<'_>,
    resolved: &Resolved,
    opts: &MountOptions,
    cgroups: &[ProcCgroup],
) -> Result<(), RootfsError> {
    let hierarchies = parse_v1_hierarchies(&read("/proc/self/mountinfo")?);
    let plan =
        plan_v1(&hierarchies, cgroups).map_err(|controllers| RootfsError::CgroupNotFound {
            destination: target.destination.to_path_buf(),
            controllers,
        })?;
    let fd = open_dest(ctx.root, resolved, Create::Dir)?;
    verify_inside(ctx.root, &fd, target.destination)?;
    let tmpfs_flags = opts.flags - MsFlags::MS_RDONLY;
    let tmpfs_target = Target {
        destination: target.destination,
        fstype: "tmpfs",
    };
    mount_on_fd(
        tmpfs_target,
        &fd,
        "tmpfs",
        Some("tmpfs"),
        tmpfs_flags,
        "mode=755",
    )?;
    let tmpfs_root = reopen(ctx.root, resolved, target.destination)?;
    for entry in &plan {
        let destination = target.destination.join(&entry.dir_name);
        let sub = Resolved {
            relative: resolved.relative.join(&entry.dir_name),
            via_symlink: resolved.via_symlink,
        };
        if ctx.new_cgroup_ns {
            let sub_target = Target {
                destination: &destination,
                fstype: "cgroup",
            };
            let dir = open_dest(ctx.root, &sub, Create::Dir)?;
            mount_on_fd(
                sub_target,
                &dir,
                "cgroup",
                Some("cgroup"),
                opts.flags,
                &entry.mount_data,
            )?;
        } else {
            let sub_target = Target {
                destination: &destination,
                fstype: "bind",
            };
            let mut bind = opts.clone();
            bind.bind = Some(Bind::Single);
            bind_mount(ctx.root, sub_target, &sub, &entry.host_dir, &bind)?;
        }
        for link in &entry.links {
            match symlinkat(entry.dir_name.as_str(), tmpfs_root.as_fd(), link.as_str()) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(errno) => {
                    return Err(RootfsError::path(
                        "symlink",
                        destination.with_file_name(link),
                        errno,
                    ))
                }
            }
        }
    }
    if opts.flags.contains(MsFlags::MS_RDONLY) {
        remount(
            &tmpfs_root,
            target.destination,
            MsFlags::MS_RDONLY,
            opts.cleared,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROC_CGROUP: &str =
        "9:name=systemd:/\n8:pids:/ctr\n4:memory:/ctr\n2:cpu,cpuacct:/ctr\n0::/\n";
    const MOUNTINFO: &str = "\
24 1 0:22 / /sys rw,nosuid shared:7 - sysfs sysfs rw
30 24 0:26 / /sys/fs/cgroup ro shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw shared:10 - cgroup2 cgroup2 rw,nsdelegate
32 30 0:28 / /sys/fs/cgroup/systemd rw shared:11 - cgroup cgroup rw,xattr,name=systemd
33 30 0:29 / /sys/fs/cgroup/pids rw shared:12 - cgroup cgroup rw,pids
34 30 0:30 / /sys/fs/cgroup/memory rw shared:13 - cgroup cgroup rw,memory
35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw shared:14 - cgroup cgroup rw,cpu,cpuacct
36 1 0:30 / /mnt/other\\040copy rw - cgroup cgroup rw,memory
";

    #[test]
    fn parses_proc_cgroup() {
        let cgroups = parse_proc_cgroup(PROC_CGROUP);
        assert_eq!(cgroups.len(), 5);
        assert_eq!(cgroups[3].controllers, vec!["cpu", "cpuacct"]);
        assert_eq!(v2_path(&cgroups), Some("/"));
    }

    #[test]
    fn parses_v1_hierarchies_skipping_cgroup2_and_duplicates() {
        let h = parse_v1_hierarchies(MOUNTINFO);
        let names: Vec<_> = h
            .iter()
            .map(|h| h.mountpoint.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            vec![
                "/sys/fs/cgroup/systemd",
                "/sys/fs/cgroup/pids",
                "/sys/fs/cgroup/memory",
                "/sys/fs/cgroup/cpu,cpuacct"
            ]
        );
        assert_eq!(h[0].controllers, vec!["name=systemd"]);
        assert_eq!(unescape("/a\\040b\\134c"), "/a b\\c");
    }

    #[test]
    fn plans_binds_of_own_cgroup_and_links() {
        let plan = plan_v1(
            &parse_v1_hierarchies(MOUNTINFO),
            &parse_proc_cgroup(PROC_CGROUP),
        );
        let plan = match plan {
            Ok(plan) => plan,
            Err(missing) => panic!("missing {missing}"),
        };
        let cpu = &plan[3];
        assert_eq!(cpu.dir_name, "cpu,cpuacct");
        assert_eq!(
            cpu.host_dir,
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/ctr")
        );
        assert_eq!(cpu.links, vec!["cpu", "cpuacct"]);
        assert_eq!(cpu.mount_data, "cpu,cpuacct");
        assert_eq!(plan[0].host_dir, PathBuf::from("/sys/fs/cgroup/systemd"));
        assert!(plan[0].links.is_empty());
    }

    #[test]
    fn plan_strips_mount_root_and_reports_missing() {
        let h = vec![V1Hierarchy {
            mountpoint: "/sys/fs/cgroup/pids".into(),
            root: "/outer".into(),
            controllers: vec!["pids".into()],
        }];
        let own = parse_proc_cgroup("1:pids:/outer/ctr\n");
        let plan = plan_v1(&h, &own).ok().map(|p| p[0].host_dir.clone());
        assert_eq!(plan, Some(PathBuf::from("/sys/fs/cgroup/pids/ctr")));
        assert_eq!(
            plan_v1(&h, &parse_proc_cgroup("0::/\n")).err(),
            Some("pids".to_string())
        );
    }
}
