//! Mounts: Docker's default filesystems, the network files, and the user's `Binds` /
//! `Mounts` / `Tmpfs` / `VOLUME`s (moby `volume/mounts/linux_parser.go` and
//! `daemon/oci_linux.go` `WithMounts`).

use crate::args::clean_path;
use crate::SpecError;
use oci_spec::runtime::Mount;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// What the engine turned a volume (or any mount it manages) into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedMount {
    pub source: PathBuf,
    pub destination: String,
    pub readonly: bool,
    pub kind: MountKind,
    /// Extra OCI mount options (for tmpfs: the tmpfs data, e.g. `size=1m`).
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
}

/// One user mount as requested in the create body (or an image `VOLUME`), before the engine
/// resolves volume names to host paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountRequest {
    pub kind: MountKind,
    /// Bind: absolute host path. Volume: its name, `None` for an anonymous volume. Tmpfs: `None`.
    pub source: Option<String>,
    pub destination: String,
    pub readonly: bool,
    /// `rprivate`, `rshared`, … (binds default to `rprivate`).
    pub propagation: Option<String>,
    pub non_recursive: bool,
    /// Volume `nocopy`: do not copy the image's content into a new volume.
    pub nocopy: bool,
    pub subpath: Option<String>,
    /// Tmpfs data options (`size=…`, `mode=…`, flags).
    pub tmpfs_options: Vec<String>,
}

impl MountRequest {
    fn new(kind: MountKind, source: Option<String>, destination: String) -> Self {
        Self {
            kind,
            source,
            destination,
            readonly: false,
            propagation: None,
            non_recursive: false,
            nocopy: false,
            subpath: None,
            tmpfs_options: Vec::new(),
        }
    }
}

/// How /dev/shm is provided (from `--ipc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shm {
    /// A private tmpfs of this many bytes.
    Tmpfs(i64),
    /// Bind this host path (`--ipc host` binds /dev/shm, `container:` the other's shm).
    Bind(PathBuf),
    /// `--ipc none`: no /dev/shm at all.
    None,
}

const PROPAGATIONS: [&str; 6] = [
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

fn oci_mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Mount {
    let mut m = Mount::default();
    m.set_destination(dest.into())
        .set_typ(Some(typ.into()))
        .set_source(Some(source.into()))
        .set_options(Some(options.iter().map(|s| s.to_string()).collect()));
    m
}

/// `size=` as moby formats `--mount type=tmpfs,tmpfs-size=`: the largest of g/m/k that divides
/// evenly, else bytes.
pub fn format_size(bytes: i64) -> String {
    for (suffix, unit) in [("g", 1i64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
        if bytes >= unit && bytes % unit == 0 {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    bytes.to_string()
}

/// /dev/shm's size option, in KiB like runc's defaults (`size=65536k` for Docker's 64 MiB).
fn shm_size_option(bytes: i64) -> String {
    if bytes % 1024 == 0 {
        format!("size={}k", bytes / 1024)
    } else {
        format!("size={bytes}")
    }
}

/// Docker's default mounts (moby `oci.DefaultLinuxSpec` + `WithMounts`).
pub fn default_mounts(privileged: bool, writable_cgroups: bool, shm: &Shm) -> Vec<Mount> {
    let ro = if privileged { "rw" } else { "ro" };
    let cg = if privileged || writable_cgroups {
        "rw"
    } else {
        "ro"
    };
    let mut m = vec![
        oci_mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        oci_mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        oci_mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        oci_mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", ro]),
        oci_mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &[cg, "nosuid", "noexec", "nodev"],
        ),
        oci_mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
    ];
    match shm {
        Shm::Tmpfs(size) => {
            let size = shm_size_option(*size);
            m.push(oci_mount(
                "/dev/shm",
                "tmpfs",
                "shm",
                &["nosuid", "noexec", "nodev", "mode=1777", &size],
            ));
        }
        Shm::Bind(path) => {
            let mut b = oci_mount(
                "/dev/shm",
                "bind",
                "",
                &["rbind", "nosuid", "noexec", "nodev"],
            );
            b.set_source(Some(path.clone()));
            m.push(b);
        }
        Shm::None => {}
    }
    m
}

/// A bind mount as moby writes it: `[rbind|bind, ro?, propagation?, extra…]`.
pub fn bind_mount(
    source: PathBuf,
    dest: &str,
    readonly: bool,
    propagation: Option<&str>,
    non_recursive: bool,
    extra: &[String],
) -> Mount {
    let mut opts = vec![if non_recursive { "bind" } else { "rbind" }.to_string()];
    if readonly {
        opts.push("ro".into());
    }
    if let Some(p) = propagation {
        opts.push(p.into());
    }
    opts.extend(extra.iter().cloned());
    let mut m = Mount::default();
    m.set_destination(dest.into())
        .set_typ(Some("bind".into()))
        .set_source(Some(source))
        .set_options(Some(opts));
    m
}

/// A tmpfs as moby writes it: `noexec,nosuid,nodev,rprivate` overridden by the user's options.
pub fn tmpfs_mount(dest: &str, data: &[String]) -> Result<Mount, SpecError> {
    let mut options: Vec<String> = ["noexec", "nosuid", "nodev", "rprivate"]
        .map(String::from)
        .to_vec();
    options.extend(data.iter().filter(|s| !s.is_empty()).cloned());
    let merged = merge_tmpfs_options(&options).map_err(|reason| SpecError::InvalidTmpfs {
        value: format!("{dest}:{}", data.join(",")),
        reason,
    })?;
    let mut m = Mount::default();
    m.set_destination(dest.into())
        .set_typ(Some("tmpfs".into()))
        .set_source(Some("tmpfs".into()))
        .set_options(Some(merged));
    Ok(m)
}

/// Flags that override one another (same mount flag bit), as in moby `mount.MergeTmpfsOptions`.
fn flag_group(opt: &str) -> Option<&'static str> {
    Some(match opt {
        "ro" | "rw" => "ro",
        "exec" | "noexec" => "exec",
        "suid" | "nosuid" => "suid",
        "dev" | "nodev" => "dev",
        "sync" | "async" => "sync",
        "dirsync" => "dirsync",
        "atime" | "noatime" => "atime",
        "diratime" | "nodiratime" => "diratime",
        "relatime" | "norelatime" => "relatime",
        "strictatime" | "nostrictatime" => "strictatime",
        "mand" | "nomand" => "mand",
        "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave" | "unbindable"
        | "runbindable" => "propagation",
        "huge" | "noswap" | "inode64" | "inode32" => return None,
        _ => return None,
    })
}

const TMPFS_DATA_KEYS: [&str; 8] = [
    "size",
    "mode",
    "uid",
    "gid",
    "nr_inodes",
    "nr_blocks",
    "mpol",
    "huge",
];
const TMPFS_PLAIN_FLAGS: [&str; 3] = ["noswap", "inode64", "inode32"];

/// Later options win over earlier ones of the same flag group or data key.
pub fn merge_tmpfs_options(options: &[String]) -> Result<Vec<String>, String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for opt in options.iter().rev() {
        if opt == "defaults" {
            continue;
        }
        let key = if let Some(g) = flag_group(opt) {
            g.to_string()
        } else if TMPFS_PLAIN_FLAGS.contains(&opt.as_str()) {
            opt.clone()
        } else {
            match opt.split_once('=') {
                Some((k, _)) if TMPFS_DATA_KEYS.contains(&k) => k.to_string(),
                _ => return Err(format!("invalid tmpfs option {opt:?}")),
            }
        };
        if seen.insert(key) {
            out.push(opt.clone());
        }
    }
    out.reverse();
    Ok(out)
}

/// The number of path components: parents (fewer) mount before children (moby `sortMounts`).
fn depth(dest: &str) -> usize {
    clean_path(dest).matches('/').count()
}

/// User mounts as OCI mounts. Volume requests take their host path from `resolved` (matched
/// by destination); any `resolved` entry replaces a request for the same destination and
/// entries nobody requested are added as they are.
pub fn user_mounts(
    reqs: &[MountRequest],
    resolved: &[ResolvedMount],
) -> Result<Vec<Mount>, SpecError> {
    let find = |d: &str| resolved.iter().find(|r| clean_path(&r.destination) == d);
    let mut out = Vec::new();
    for req in reqs {
        let d = req.destination.as_str();
        let m = match (req.kind, find(d)) {
            (MountKind::Volume, Some(r)) => bind_mount(
                r.source.clone(),
                d,
                req.readonly || r.readonly,
                req.propagation.as_deref(),
                req.non_recursive,
                &r.options,
            ),
            (MountKind::Volume, None) => {
                return Err(SpecError::UnresolvedVolume {
                    name: req.source.clone().unwrap_or_default(),
                    destination: req.destination.clone(),
                })
            }
            (_, Some(r)) => resolved_mount(r)?,
            (MountKind::Bind, None) => bind_mount(
                PathBuf::from(req.source.clone().unwrap_or_default()),
                d,
                req.readonly,
                req.propagation.as_deref(),
                req.non_recursive,
                &[],
            ),
            (MountKind::Tmpfs, None) => {
                let mut data = req.tmpfs_options.clone();
                if req.readonly {
                    data.push("ro".into());
                }
                tmpfs_mount(d, &data)?
            }
        };
        out.push(m);
    }
    for r in resolved {
        let d = clean_path(&r.destination);
        if !reqs.iter().any(|q| q.destination == d) {
            out.push(resolved_mount(r)?);
        }
    }
    Ok(out)
}

fn resolved_mount(r: &ResolvedMount) -> Result<Mount, SpecError> {
    let d = clean_path(&r.destination);
    match r.kind {
        MountKind::Tmpfs => {
            let mut data = r.options.clone();
            if r.readonly {
                data.push("ro".into());
            }
            tmpfs_mount(&d, &data)
        }
        MountKind::Bind => Ok(bind_mount(
            r.source.clone(),
            &d,
            r.readonly,
            Some("rprivate"),
            false,
            &r.options,
        )),
        MountKind::Volume => Ok(bind_mount(
            r.source.clone(),
            &d,
            r.readonly,
            None,
            false,
            &r.options,
        )),
    }
}

/// Defaults first (minus those a user mount replaces; a user `/dev` replaces everything under
/// it), then the user's mounts sorted so parents mount before children.
pub fn assemble(defaults: Vec<Mount>, mut user: Vec<Mount>) -> Vec<Mount> {
    let dests: BTreeSet<String> = user
        .iter()
        .map(|m| m.destination().to_string_lossy().into_owned())
        .collect();
    let user_dev = dests.contains("/dev");
    let mut out: Vec<Mount> = defaults
        .into_iter()
        .filter(|m| {
            let d = m.destination().to_string_lossy();
            let replaced = dests.contains(d.as_ref()) || (user_dev && d.starts_with("/dev/"));
            !replaced
        })
        .collect();
    user.sort_by_key(|m| depth(&m.destination().to_string_lossy()));
    out.extend(user);
    out
}

/// The root propagation a shared or slave bind needs (moby raises rootfsPropagation so the
/// propagation is visible in the container).
pub fn rootfs_propagation(mounts: &[Mount]) -> Option<String> {
    let opts: Vec<&String> = mounts
        .iter()
        .flat_map(|m| m.options().iter().flatten())
        .collect();
    if opts.iter().any(|o| *o == "shared" || *o == "rshared") {
        Some("shared".into())
    } else if opts.iter().any(|o| *o == "slave" || *o == "rslave") {
        Some("rslave".into())
    } else {
        None
    }
}

mod parse;
pub use parse::{parse_api_mount, parse_bind, requests};

#[cfg(test)]
mod tests;
