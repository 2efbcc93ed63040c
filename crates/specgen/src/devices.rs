//! linux.devices and the device cgroup (moby `oci/devices_linux.go`, runc's allowed list).

use crate::create::DeviceMapping;
use crate::SpecError;
use oci_spec::runtime::{LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType};
use std::io;
use std::path::{Path, PathBuf};

/// What a host path is, as far as device mapping cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostNode {
    Device {
        typ: LinuxDeviceType,
        major: i64,
        minor: i64,
        /// Permission bits of the node.
        mode: u32,
    },
    Directory,
    Other,
}

/// The kernel boundary for devices: stat a path (following symlinks, as `--device` does) and
/// list a directory. Tests pass a fake; the engine passes [`HostDevices`].
pub trait DeviceLookup {
    fn stat(&self, path: &Path) -> io::Result<HostNode>;
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>>;
}

/// The real host.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostDevices;

impl DeviceLookup for HostDevices {
    fn stat(&self, path: &Path) -> io::Result<HostNode> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let md = std::fs::metadata(path)?;
        let ft = md.file_type();
        let rdev = md.rdev();
        // glibc's gnu_dev_major / gnu_dev_minor.
        let major = (((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff)) as i64;
        let minor = ((rdev & 0xff) | ((rdev >> 12) & !0xff)) as i64;
        let mode = md.mode() & 0o7777;
        Ok(if ft.is_char_device() {
            HostNode::Device {
                typ: LinuxDeviceType::C,
                major,
                minor,
                mode,
            }
        } else if ft.is_block_device() {
            HostNode::Device {
                typ: LinuxDeviceType::B,
                major,
                minor,
                mode,
            }
        } else if ft.is_dir() {
            HostNode::Directory
        } else {
            HostNode::Other
        })
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<io::Result<_>>()?;
        v.sort();
        Ok(v)
    }
}

fn rule(
    allow: bool,
    typ: Option<LinuxDeviceType>,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(allow)
        .set_typ(typ)
        .set_major(major)
        .set_minor(minor)
        .set_access(Some(access.to_string()));
    r
}

/// Docker's device cgroup for an unprivileged container: deny everything, allow mknod of any
/// node, then the standard nodes (null, zero, full, random, urandom, tty, console, ptmx, pts,
/// tun), and deny fuse explicitly.
pub fn default_cgroup_rules() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{B, C};
    let c = |maj: i64, min: Option<i64>| rule(true, Some(C), Some(maj), min, "rwm");
    vec![
        rule(false, None, None, None, "rwm"),
        rule(true, Some(C), None, None, "m"),
        rule(true, Some(B), None, None, "m"),
        c(1, Some(3)),
        c(1, Some(5)),
        c(1, Some(7)),
        c(1, Some(8)),
        c(1, Some(9)),
        c(5, Some(0)),
        c(5, Some(1)),
        c(5, Some(2)),
        c(136, None),
        c(10, Some(200)),
        rule(false, Some(C), Some(10), Some(229), "rwm"),
    ]
}

/// `--privileged`: every device.
pub fn privileged_cgroup_rules() -> Vec<LinuxDeviceCgroup> {
    vec![rule(true, None, None, None, "rwm")]
}

/// Parse a CLI `--device` value (`/dev/x[:/dev/y][:rwm]`) into the API's mapping.
pub fn parse_device_flag(value: &str) -> Result<DeviceMapping, SpecError> {
    let err = |reason: &str| SpecError::InvalidDevice {
        value: value.to_string(),
        reason: reason.to_string(),
    };
    let parts: Vec<&str> = value.split(':').collect();
    let (host, cont, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if is_valid_permissions(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => return Err(err("too many colons")),
    };
    if !is_valid_permissions(perms) {
        return Err(err("invalid device permissions"));
    }
    if !cont.starts_with('/') {
        return Err(err("the container path must be absolute"));
    }
    Ok(DeviceMapping {
        path_on_host: Some(host.into()),
        path_in_container: Some(cont.into()),
        cgroup_permissions: Some(perms.into()),
    })
}

fn is_valid_permissions(p: &str) -> bool {
    !p.is_empty() && p.len() <= 3 && p.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
}

fn device(path: &Path, typ: LinuxDeviceType, major: i64, minor: i64, mode: u32) -> LinuxDevice {
    let mut d = LinuxDevice::default();
    d.set_path(path.to_path_buf())
        .set_typ(typ)
        .set_major(major)
        .set_minor(minor)
        .set_file_mode(Some(mode))
        .set_uid(Some(0))
        .set_gid(Some(0));
    d
}

/// One `HostConfig.Devices` entry: the node(s) and their cgroup permissions. A directory maps
/// every device under it (moby `DevicesFromPath`).
pub fn devices_from_mapping(
    m: &DeviceMapping,
    lookup: &dyn DeviceLookup,
) -> Result<(Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>), SpecError> {
    let host = m.path_on_host.clone().unwrap_or_default();
    let cont = m
        .path_in_container
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| host.clone());
    let perms = m
        .cgroup_permissions
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "rwm".into());
    let err = |reason: &str| SpecError::InvalidDevice {
        value: format!("{host}:{cont}:{perms}"),
        reason: reason.to_string(),
    };
    if host.is_empty() {
        return Err(err("PathOnHost must not be empty"));
    }
    if !is_valid_permissions(&perms) {
        return Err(err("invalid device permissions"));
    }
    if !cont.starts_with('/') {
        return Err(err("the container path must be absolute"));
    }
    let host_path = PathBuf::from(&host);
    let node = lookup
        .stat(&host_path)
        .map_err(|source| SpecError::DeviceLookup {
            path: host_path.clone(),
            source,
        })?;
    let mut devs = Vec::new();
    let mut rules = Vec::new();
    let mut add = |dev: LinuxDevice| {
        rules.push(rule(
            true,
            Some(dev.typ()),
            Some(dev.major()),
            Some(dev.minor()),
            &perms,
        ));
        devs.push(dev);
    };
    match node {
        HostNode::Device {
            typ,
            major,
            minor,
            mode,
        } => add(device(Path::new(&cont), typ, major, minor, mode)),
        HostNode::Directory => {
            for (path, typ, major, minor, mode) in walk(&host_path, lookup, &[])? {
                let rel = path.strip_prefix(&host_path).unwrap_or(&path);
                add(device(&Path::new(&cont).join(rel), typ, major, minor, mode));
            }
        }
        HostNode::Other => return Err(err("not a device node")),
    }
    Ok((devs, rules))
}

type Node = (PathBuf, LinuxDeviceType, i64, i64, u32);

fn walk(dir: &Path, lookup: &dyn DeviceLookup, skip: &[&str]) -> Result<Vec<Node>, SpecError> {
    let mut out = Vec::new();
    let entries = lookup
        .read_dir(dir)
        .map_err(|source| SpecError::DeviceLookup {
            path: dir.to_path_buf(),
            source,
        })?;
    for p in entries {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if skip.contains(&name.as_str()) {
            continue;
        }
        match lookup.stat(&p) {
            Ok(HostNode::Device {
                typ,
                major,
                minor,
                mode,
            }) => out.push((p, typ, major, minor, mode)),
            Ok(HostNode::Directory) => out.extend(walk(&p, lookup, skip)?),
            // Dangling links and vanished nodes are skipped, as runc's HostDevices does.
            _ => {}
        }
    }
    Ok(out)
}

/// Every device under `dir` (the host's /dev) for `--privileged`, skipping the directories
/// the container gets its own instance of and /dev/console (the runtime provides it).
pub fn host_devices(dir: &Path, lookup: &dyn DeviceLookup) -> Result<Vec<LinuxDevice>, SpecError> {
    const SKIP: [&str; 8] = [
        "pts",
        "shm",
        "fd",
        "mqueue",
        ".lxc",
        ".lxd-mounts",
        ".udev",
        "console",
    ];
    Ok(walk(dir, lookup, &SKIP)?
        .into_iter()
        .map(|(p, typ, major, minor, mode)| {
            let rel = p.strip_prefix(dir).unwrap_or(&p);
            device(&Path::new("/dev").join(rel), typ, major, minor, mode)
        })
        .collect())
}

/// `--device-cgroup-rule "c 1:3 rwm"`.
pub fn parse_cgroup_rule(s: &str) -> Result<LinuxDeviceCgroup, SpecError> {
    let bad = || SpecError::InvalidDeviceCgroupRule(s.to_string());
    let fields: Vec<&str> = s.split_whitespace().collect();
    let [typ, nums, access] = fields.as_slice() else {
        return Err(bad());
    };
    let typ = match *typ {
        "a" => LinuxDeviceType::A,
        "b" => LinuxDeviceType::B,
        "c" => LinuxDeviceType::C,
        _ => return Err(bad()),
    };
    let (maj, min) = nums.split_once(':').ok_or_else(bad)?;
    let num = |x: &str| -> Result<Option<i64>, SpecError> {
        if x == "*" {
            Ok(None)
        } else {
            x.parse::<i64>().map(Some).map_err(|_| bad())
        }
    };
    if !is_valid_permissions(access) {
        return Err(bad());
    }
    Ok(rule(true, Some(typ), num(maj)?, num(min)?, access))
}

#[cfg(test)]
pub(crate) mod tests;
