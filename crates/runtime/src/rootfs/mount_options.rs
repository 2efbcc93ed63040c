//! OCI mount options (config.md "Mounts": fstab-style strings) parsed into mount(2) flags.
//! Pure functions, no syscalls: everything here is unit-tested without root.

use nix::mount::MsFlags;
use nix::sys::statvfs::FsFlags;

/// Per-mount attributes of `mount_setattr(2)` (linux/mount.h); libc does not export them.
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;

/// Flags that a bind mount ignores on the first mount(2) and only honours on a
/// `MS_BIND|MS_REMOUNT` (mount(2): "the remaining bits in mountflags are ignored").
pub const BIND_REMOUNT_FLAGS: MsFlags = MsFlags::MS_RDONLY
    .union(MsFlags::MS_NOSUID)
    .union(MsFlags::MS_NODEV)
    .union(MsFlags::MS_NOEXEC)
    .union(MsFlags::MS_NOATIME)
    .union(MsFlags::MS_NODIRATIME)
    .union(MsFlags::MS_RELATIME)
    .union(MsFlags::MS_STRICTATIME);

/// How a bind mount was requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bind {
    /// "bind": only the mount at the source.
    Single,
    /// "rbind": the source and every mount below it.
    Recursive,
}

/// The parsed form of one mount's `options` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// Flags for the mount(2) call (for binds: for the remount that follows).
    pub flags: MsFlags,
    /// Flags an option explicitly asked to clear ("rw", "suid", "atime", ...).
    pub cleared: MsFlags,
    /// Propagation changes, applied in order with separate mount(2) calls.
    pub propagation: Vec<MsFlags>,
    pub bind: Option<Bind>,
    /// `MOUNT_ATTR_*` bits to set on the whole subtree ("rro", "rnosuid", ...).
    pub recursive_attr_set: u64,
    /// runc/crun extension: populate a new tmpfs with the directory it covers.
    pub tmpcopyup: bool,
    /// Filesystem-specific options, comma-joined for mount(2)'s data argument.
    pub data: String,
}

impl Default for MountOptions {
    fn default() -> Self {
        Self {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: Vec::new(),
            bind: None,
            recursive_attr_set: 0,
            tmpcopyup: false,
            data: String::new(),
        }
    }
}

impl MountOptions {
    /// Flags a bind mount must apply with a second `MS_BIND|MS_REMOUNT` call, if any.
    pub fn bind_remount_flags(&self) -> Option<MsFlags> {
        let wanted = self.flags & BIND_REMOUNT_FLAGS;
        (!wanted.is_empty()).then_some(wanted)
    }

    /// For "rbind" + "ro", the read-only bit must reach every submount: mount(2)'s remount
    /// only touches the top one, so ask mount_setattr(AT_RECURSIVE) for it.
    pub fn recursive_attrs(&self) -> u64 {
        let mut attrs = self.recursive_attr_set;
        if self.bind == Some(Bind::Recursive) && self.flags.contains(MsFlags::MS_RDONLY) {
            attrs |= MOUNT_ATTR_RDONLY;
        }
        attrs
    }
}

/// Per-mount flags as statvfs(3) reports them, in mount(2) terms.
pub fn statvfs_flags(flags: FsFlags) -> MsFlags {
    const MAP: &[(FsFlags, MsFlags)] = &[
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    MAP.iter()
        .filter(|(st, _)| flags.contains(*st))
        .fold(MsFlags::empty(), |acc, (_, ms)| acc | *ms)
}

/// Flags for the `MS_BIND|MS_REMOUNT` that applies `wanted` to an existing mount whose
/// current flags are `existing`. A remount replaces all per-mount flags, so flags the
/// mount has and the options did not clear are repeated: otherwise a "nosuid" bind of a
/// read-only source would silently turn it writable, and inside a user namespace the
/// kernel refuses (EPERM) a remount that drops flags locked by the parent namespace.
pub fn remount_flags(wanted: MsFlags, cleared: MsFlags, existing: MsFlags) -> MsFlags {
    let keep = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let atime = MsFlags::MS_NOATIME
        | MsFlags::MS_NODIRATIME
        | MsFlags::MS_RELATIME
        | MsFlags::MS_STRICTATIME;
    let mut flags = (wanted & BIND_REMOUNT_FLAGS) | (existing & keep & !cleared);
    if ((wanted | cleared) & atime).is_empty() {
        flags |= existing & atime;
    }
    flags | MsFlags::MS_BIND | MsFlags::MS_REMOUNT
}

/// An option Vessel recognises but refuses to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedOption {
    pub option: String,
    pub reason: &'static str,
}

/// Map a propagation name (mount option or `linux.rootfsPropagation`) to its flags.
pub fn parse_propagation(name: &str) -> Option<MsFlags> {
    let rec = MsFlags::MS_REC;
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | rec,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | rec,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | rec,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | rec,
        _ => return None,
    })
}

/// (option, clears-the-flag, flag). Order mirrors mount(8).
const FLAG_OPTIONS: &[(&str, bool, MsFlags)] = &[
    ("ro", false, MsFlags::MS_RDONLY),
    ("rw", true, MsFlags::MS_RDONLY),
    ("nosuid", false, MsFlags::MS_NOSUID),
    ("suid", true, MsFlags::MS_NOSUID),
    ("nodev", false, MsFlags::MS_NODEV),
    ("dev", true, MsFlags::MS_NODEV),
    ("noexec", false, MsFlags::MS_NOEXEC),
    ("exec", true, MsFlags::MS_NOEXEC),
    ("sync", false, MsFlags::MS_SYNCHRONOUS),
    ("async", true, MsFlags::MS_SYNCHRONOUS),
    ("dirsync", false, MsFlags::MS_DIRSYNC),
    ("remount", false, MsFlags::MS_REMOUNT),
    ("mand", false, MsFlags::MS_MANDLOCK),
    ("nomand", true, MsFlags::MS_MANDLOCK),
    ("noatime", false, MsFlags::MS_NOATIME),
    ("atime", true, MsFlags::MS_NOATIME),
    ("nodiratime", false, MsFlags::MS_NODIRATIME),
    ("diratime", true, MsFlags::MS_NODIRATIME),
    ("relatime", false, MsFlags::MS_RELATIME),
    ("norelatime", true, MsFlags::MS_RELATIME),
    ("strictatime", false, MsFlags::MS_STRICTATIME),
    ("nostrictatime", true, MsFlags::MS_STRICTATIME),
    ("lazytime", false, MsFlags::MS_LAZYTIME),
    ("nolazytime", true, MsFlags::MS_LAZYTIME),
    ("silent", false, MsFlags::MS_SILENT),
    ("loud", true, MsFlags::MS_SILENT),
    ("iversion", false, MsFlags::MS_I_VERSION),
    ("noiversion", true, MsFlags::MS_I_VERSION),
];

/// Recursive per-mount attributes (runc's "rro", "rnosuid", ... extension).
const RECURSIVE_ATTRS: &[(&str, u64)] = &[
    ("rro", MOUNT_ATTR_RDONLY),
    ("rnosuid", MOUNT_ATTR_NOSUID),
    ("rnodev", MOUNT_ATTR_NODEV),
    ("rnoexec", MOUNT_ATTR_NOEXEC),
];

/// Parse one mount's options. Unknown options are filesystem data (e.g. "mode=755",
/// "newinstance"), passed to the kernel verbatim, as config.md asks.
pub fn parse_options<S: AsRef<str>>(options: &[S]) -> Result<MountOptions, UnsupportedOption> {
    let mut parsed = MountOptions::default();
    let mut data: Vec<&str> = Vec::new();
    for option in options {
        let option = option.as_ref();
        if let Some(&(_, clear, flag)) = FLAG_OPTIONS.iter().find(|(name, ..)| *name == option) {
            if clear {
                parsed.flags.remove(flag);
                parsed.cleared.insert(flag);
            } else {
                parsed.flags.insert(flag);
                parsed.cleared.remove(flag);
            }
            continue;
        }
        if let Some(&(_, attr)) = RECURSIVE_ATTRS.iter().find(|(name, _)| *name == option) {
            parsed.recursive_attr_set |= attr;
            continue;
        }
        if let Some(propagation) = parse_propagation(option) {
            parsed.propagation.push(propagation);
            continue;
        }
        match option {
            "" | "defaults" => {}
            "bind" => parsed.bind = Some(parsed.bind.unwrap_or(Bind::Single)),
            "rbind" => parsed.bind = Some(Bind::Recursive),
            "tmpcopyup" => parsed.tmpcopyup = true,
            "idmap" | "ridmap" => {
                return Err(UnsupportedOption {
                    option: option.to_string(),
                    reason: "id-mapped mounts are not supported by Vessel yet",
                })
            }
            other => data.push(other),
        }
    }
    parsed.data = data.join(",");
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(options: &[&str]) -> MountOptions {
        match parse_options(options) {
            Ok(parsed) => parsed,
            Err(err) => panic!("{options:?} should parse: {err:?}"),
        }
    }

    #[test]
    fn flags_and_data_split() {
        let o = parse(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME);
        assert_eq!(o.data, "mode=755,size=65536k");
        assert_eq!(o.bind, None);
        assert!(o.propagation.is_empty());
    }

    #[test]
    fn later_option_wins() {
        let o = parse(&["ro", "rw", "noexec", "exec", "nodev"]);
        assert_eq!(o.flags, MsFlags::MS_NODEV);
        assert!(o.cleared.contains(MsFlags::MS_RDONLY | MsFlags::MS_NOEXEC));
        let o = parse(&["rw", "ro"]);
        assert_eq!(o.flags, MsFlags::MS_RDONLY);
        assert!(!o.cleared.contains(MsFlags::MS_RDONLY));
    }

    #[test]
    fn every_flag_option_is_known() {
        for (name, clear, flag) in FLAG_OPTIONS {
            let o = parse(&[name]);
            assert_eq!(o.data, "", "{name} must not become data");
            if *clear {
                assert!(o.cleared.contains(*flag), "{name}");
            } else {
                assert!(o.flags.contains(*flag), "{name}");
            }
        }
    }

    #[test]
    fn devpts_options_pass_through() {
        let o = parse(&[
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5",
        ]);
        assert_eq!(o.flags, MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC);
        assert_eq!(o.data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    }

    #[test]
    fn bind_variants() {
        assert_eq!(parse(&["bind"]).bind, Some(Bind::Single));
        assert_eq!(parse(&["rbind"]).bind, Some(Bind::Recursive));
        assert_eq!(parse(&["rbind", "bind"]).bind, Some(Bind::Recursive));
        let o = parse(&["rbind", "ro", "nosuid"]);
        assert_eq!(
            o.bind_remount_flags(),
            Some(MsFlags::MS_RDONLY | MsFlags::MS_NOSUID)
        );
        assert_eq!(o.recursive_attrs(), MOUNT_ATTR_RDONLY);
        let o = parse(&["bind", "ro"]);
        assert_eq!(o.recursive_attrs(), 0, "plain bind+ro is not recursive");
        assert_eq!(parse(&["bind", "rw"]).bind_remount_flags(), None);
        assert_eq!(
            parse(&["bind", "rnoexec"]).recursive_attrs(),
            MOUNT_ATTR_NOEXEC
        );
    }

    #[test]
    fn propagation_options_are_ordered() {
        let o = parse(&["rbind", "rprivate", "slave"]);
        assert_eq!(
            o.propagation,
            vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC, MsFlags::MS_SLAVE]
        );
        assert!(o.flags.is_empty());
    }

    #[test]
    fn propagation_names() {
        assert_eq!(
            parse_propagation("rslave"),
            Some(MsFlags::MS_SLAVE | MsFlags::MS_REC)
        );
        assert_eq!(parse_propagation("shared"), Some(MsFlags::MS_SHARED));
        assert_eq!(
            parse_propagation("runbindable"),
            Some(MsFlags::MS_UNBINDABLE | MsFlags::MS_REC)
        );
        assert_eq!(parse_propagation("private"), Some(MsFlags::MS_PRIVATE));
        assert_eq!(parse_propagation("rPrivate"), None);
        assert_eq!(parse_propagation(""), None);
    }

    #[test]
    fn tmpcopyup_and_idmap() {
        let o = parse(&["tmpcopyup", "mode=1777"]);
        assert!(o.tmpcopyup);
        assert_eq!(o.data, "mode=1777");
        for option in ["idmap", "ridmap"] {
            let err = parse_options(&["rbind", option]).err();
            assert_eq!(err.map(|e| e.option), Some(option.to_string()));
        }
    }

    #[test]
    fn defaults_and_empty_are_ignored() {
        let o = parse(&["defaults", ""]);
        assert_eq!(o, MountOptions::default());
    }
    #[test]
    fn remount_keeps_existing_flags_unless_cleared() {
        let ro = MsFlags::MS_RDONLY;
        let base = MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
        let existing = MsFlags::MS_RDONLY | MsFlags::MS_NODEV | MsFlags::MS_RELATIME;
        let o = parse(&["bind", "nosuid"]);
        assert_eq!(
            remount_flags(o.flags, o.cleared, existing),
            base | MsFlags::MS_NOSUID | existing,
            "a nosuid bind of a read-only source stays read-only"
        );
        let o = parse(&["bind", "rw", "noatime"]);
        assert_eq!(
            remount_flags(o.flags, o.cleared, existing),
            base | MsFlags::MS_NOATIME | MsFlags::MS_NODEV,
            "rw clears ro; an explicit atime option replaces the existing one"
        );
        assert_eq!(
            remount_flags(ro, MsFlags::empty(), MsFlags::empty()),
            base | ro
        );
    }

    #[test]
    fn statvfs_flags_map() {
        let st = FsFlags::ST_RDONLY | FsFlags::ST_NOSUID | FsFlags::ST_NOATIME;
        assert_eq!(
            statvfs_flags(st),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NOATIME
        );
    }
}
