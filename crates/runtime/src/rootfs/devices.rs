//! /dev contents when the spec does not bind-mount /dev: config-linux.md "Devices",
//! "Default Devices" and the /dev symlinks of "Default Filesystems"/runc.

use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::mount::MsFlags;
use nix::sys::stat::{fchmodat, makedev, mknodat, FchmodatFlags, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, Gid, Uid};
use oci_spec::runtime::{LinuxDeviceType, Spec};

use super::error::RootfsError;
use super::mounts::{mount_on_fd, Target};
use super::safe_path::{
    clean_rooted, open_dest, resolve_lexically, verify_inside, Create, Resolved, Rootfs,
};

/// One device node to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Container path, e.g. /dev/null; also the host node bound in a user namespace.
    pub path: PathBuf,
    pub kind: SFlag,
    pub major: u64,
    pub minor: u64,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// config-linux.md "Default Devices".
pub fn default_devices() -> Vec<Device> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(name, major, minor)| Device {
        path: Path::new("/dev").join(name),
        kind: SFlag::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

fn device_kind(kind: LinuxDeviceType, path: &Path) -> Result<SFlag, RootfsError> {
    match kind {
        LinuxDeviceType::C | LinuxDeviceType::U => Ok(SFlag::S_IFCHR),
        LinuxDeviceType::B => Ok(SFlag::S_IFBLK),
        LinuxDeviceType::P => Ok(SFlag::S_IFIFO),
        LinuxDeviceType::A => Err(RootfsError::InvalidDeviceType {
            path: path.to_path_buf(),
            kind: kind.as_str().to_string(),
        }),
    }
}

/// The default devices followed by `linux.devices`; a spec entry with the same path
/// replaces the default one.
pub fn devices_for(spec: &Spec) -> Result<Vec<Device>, RootfsError> {
    let mut devices = default_devices();
    let listed = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    for d in listed.into_iter().flatten() {
        let device = Device {
            path: d.path().clone(),
            kind: device_kind(d.typ(), d.path())?,
            major: u64::try_from(d.major()).unwrap_or(0),
            minor: u64::try_from(d.minor()).unwrap_or(0),
            // runc: the mode defaults to 0666; only permission bits are taken.
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        devices.retain(|existing| clean_rooted(&existing.path) != clean_rooted(&device.path));
        devices.push(device);
    }
    Ok(devices)
}

fn is_dev(destination: &Path) -> bool {
    clean_rooted(destination) == [OsStr::new("dev")]
}

/// The spec brings its own /dev (a bind mount); runc then creates nothing in it.
pub fn spec_binds_dev(spec: &Spec) -> bool {
    spec.mounts().iter().flatten().any(|m| {
        let bind = m.typ().as_deref() == Some("bind")
            || m.options()
                .iter()
                .flatten()
                .any(|o| o == "bind" || o == "rbind");
        bind && is_dev(m.destination())
    })
}

fn split_parent(resolved: &Resolved) -> Option<(Resolved, &OsStr)> {
    let name = resolved.relative.file_name()?;
    let parent = Resolved {
        relative: resolved
            .relative
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
        via_symlink: resolved.via_symlink,
    };
    Some((parent, name))
}

/// Create every device: mknod, or (in a user namespace, or when mknod is refused) bind
/// the host's node onto an empty file, as unprivileged namespaces cannot mknod.
pub fn create_devices(
    root: &Rootfs,
    devices: &[Device],
    in_user_ns: bool,
) -> Result<(), RootfsError> {
    for device in devices {
        // Resolving in-root refuses /dev entries whose symlinks lead out of the rootfs.
        let resolved = resolve_lexically(root, &device.path)?;
        let Some((parent, name)) = split_parent(&resolved) else {
            continue;
        };
        let dir = open_dest(root, &parent, Create::Dir)?;
        verify_inside(root, &dir, &device.path)?;
        if in_user_ns {
            bind_device(root, device, &resolved)?;
            continue;
        }
        let mode = Mode::from_bits_truncate(device.mode);
        let dev = makedev(device.major, device.minor);
        match mknodat(dir.as_fd(), name, device.kind, mode, dev) {
            Ok(()) => {}
            // An image's own node is kept, as runc does.
            Err(Errno::EEXIST) => continue,
            Err(Errno::EPERM) => {
                bind_device(root, device, &resolved)?;
                continue;
            }
            Err(errno) => return Err(RootfsError::path("mknod", &device.path, errno)),
        }
        let (uid, gid) = (Uid::from_raw(device.uid), Gid::from_raw(device.gid));
        fchownat(
            dir.as_fd(),
            name,
            Some(uid),
            Some(gid),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| RootfsError::path("chown", &device.path, e))?;
        // mknod applied the umask; the spec's fileMode is exact.
        fchmodat(dir.as_fd(), name, mode, FchmodatFlags::FollowSymlink)
            .map_err(|e| RootfsError::path("chmod", &device.path, e))?;
    }
    Ok(())
}

fn bind_device(root: &Rootfs, device: &Device, resolved: &Resolved) -> Result<(), RootfsError> {
    let fd = open_dest(root, resolved, Create::File)?;
    verify_inside(root, &fd, &device.path)?;
    let target = Target {
        destination: &device.path,
        fstype: "bind",
    };
    let host = device.path.to_string_lossy();
    mount_on_fd(target, &fd, &host, None, MsFlags::MS_BIND, "")
}

/// The /dev symlinks runc creates (name under /dev, target).
pub fn dev_symlinks(spec: &Spec, kcore_exists: bool) -> Vec<(&'static str, &'static str)> {
    let mut links = vec![
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ];
    // kcore can be compiled out (CONFIG_PROC_KCORE); link it only if the host has one.
    if kcore_exists {
        links.push(("core", "/proc/kcore"));
    }
    let devpts = spec.mounts().iter().flatten().any(|m| {
        m.typ().as_deref() == Some("devpts")
            && clean_rooted(m.destination()) == [OsStr::new("dev"), OsStr::new("pts")]
    });
    if devpts {
        // A private devpts instance is only reachable through its own ptmx.
        links.push(("ptmx", "pts/ptmx"));
    }
    links
}

/// Create the /dev symlinks, leaving any existing entry alone.
pub fn create_symlinks(root: &Rootfs, spec: &Spec) -> Result<(), RootfsError> {
    let resolved = resolve_lexically(root, Path::new("/dev"))?;
    let dev = open_dest(root, &resolved, Create::Dir)?;
    verify_inside(root, &dev, Path::new("/dev"))?;
    for (name, target) in dev_symlinks(spec, Path::new("/proc/kcore").exists()) {
        match symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(errno) => {
                return Err(RootfsError::path(
                    "symlink",
                    Path::new("/dev").join(name),
                    errno,
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxBuilder, LinuxDeviceBuilder, MountBuilder, SpecBuilder};

    fn spec_with(
        devices: Vec<oci_spec::runtime::LinuxDevice>,
        mounts: Vec<oci_spec::runtime::Mount>,
    ) -> Spec {
        let linux = LinuxBuilder::default().devices(devices).build();
        let spec = linux.and_then(|l| SpecBuilder::default().linux(l).mounts(mounts).build());
        match spec {
            Ok(spec) => spec,
            Err(e) => panic!("spec: {e}"),
        }
    }

    fn mount(dest: &str, typ: &str, options: &[&str]) -> oci_spec::runtime::Mount {
        let options: Vec<String> = options.iter().map(|o| o.to_string()).collect();
        match MountBuilder::default()
            .destination(dest)
            .typ(typ)
            .options(options)
            .build()
        {
            Ok(m) => m,
            Err(e) => panic!("mount: {e}"),
        }
    }

    #[test]
    fn defaults_are_the_oci_six() {
        let d = default_devices();
        assert_eq!(d.len(), 6);
        assert!(d
            .iter()
            .all(|d| d.mode == 0o666 && d.kind == SFlag::S_IFCHR));
        assert!(d
            .iter()
            .any(|d| d.path == Path::new("/dev/tty") && (d.major, d.minor) == (5, 0)));
    }

    #[test]
    fn spec_devices_override_defaults() {
        let fuse = LinuxDeviceBuilder::default()
            .path("/dev/fuse")
            .typ(LinuxDeviceType::C)
            .major(10)
            .minor(229)
            .file_mode(0o20600u32)
            .uid(1000u32)
            .build();
        let null = LinuxDeviceBuilder::default()
            .path("/dev/null")
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .file_mode(0o600u32)
            .build();
        let (Ok(fuse), Ok(null)) = (fuse, null) else {
            panic!("devices")
        };
        let devices = match devices_for(&spec_with(vec![fuse, null], vec![])) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(devices.len(), 7);
        let fuse = devices.iter().find(|d| d.path == Path::new("/dev/fuse"));
        assert_eq!(
            fuse.map(|d| (d.mode, d.uid)),
            Some((0o600, 1000)),
            "type bits are dropped"
        );
        let nulls: Vec<_> = devices
            .iter()
            .filter(|d| d.path == Path::new("/dev/null"))
            .collect();
        assert_eq!(nulls.len(), 1);
        assert_eq!(nulls[0].mode, 0o600);
    }

    #[test]
    fn type_a_is_refused() {
        let all = LinuxDeviceBuilder::default()
            .path("/dev/x")
            .typ(LinuxDeviceType::A)
            .build();
        let Ok(all) = all else { panic!("device") };
        assert!(matches!(
            devices_for(&spec_with(vec![all], vec![])),
            Err(RootfsError::InvalidDeviceType { .. })
        ));
    }

    #[test]
    fn dev_bind_and_ptmx_detection() {
        let bound = spec_with(vec![], vec![mount("/dev/", "bind", &["rbind"])]);
        assert!(spec_binds_dev(&bound));
        let tmpfs = spec_with(
            vec![],
            vec![
                mount("/dev", "tmpfs", &["mode=755"]),
                mount("/dev/pts", "devpts", &["newinstance"]),
            ],
        );
        assert!(!spec_binds_dev(&tmpfs));
        let links = dev_symlinks(&tmpfs, false);
        assert!(links.contains(&("ptmx", "pts/ptmx")));
        assert!(!links.iter().any(|(name, _)| *name == "core"));
        assert!(dev_symlinks(&bound, true).contains(&("core", "/proc/kcore")));
        assert!(!dev_symlinks(&bound, true)
            .iter()
            .any(|(name, _)| *name == "ptmx"));
    }
}
