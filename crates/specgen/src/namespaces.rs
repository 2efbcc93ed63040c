//! linux.namespaces from `--network`, `--pid`, `--ipc`, `--uts`, `--cgroupns`, `--userns`.

use crate::create::{non_empty, HostConfig};
use crate::SpecError;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};
use std::path::PathBuf;

/// Namespace paths the engine resolved for `container:<id>` modes and joined networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JoinPaths {
    /// The network namespace to join (a bridge network's netns, or `container:` mode).
    pub net: Option<PathBuf>,
    pub pid: Option<PathBuf>,
    pub ipc: Option<PathBuf>,
}

/// What the container gets for one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NsMode {
    New,
    Host,
    Join(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespaces {
    pub net: NsMode,
    pub pid: NsMode,
    pub ipc: NsMode,
    pub uts: NsMode,
    pub cgroup: NsMode,
    /// `--ipc none`: private namespace and no /dev/shm.
    pub ipc_none: bool,
}

fn container_mode<'a>(flag: &'static str, mode: &'a str) -> Result<Option<&'a str>, SpecError> {
    match mode.strip_prefix("container:") {
        Some("") => Err(SpecError::InvalidNamespaceMode {
            flag,
            value: mode.to_string(),
            reason: "missing container name or id",
        }),
        other => Ok(other),
    }
}

fn join(flag: &'static str, mode: &str, path: &Option<PathBuf>) -> Result<NsMode, SpecError> {
    path.clone()
        .map(NsMode::Join)
        .ok_or_else(|| SpecError::InvalidNamespaceMode {
            flag,
            value: mode.to_string(),
            reason: "the engine did not resolve the namespace path",
        })
}

/// Decide every namespace. `private_cgroupns_default` is the host default for an unset
/// `CgroupnsMode`: Docker uses a private cgroup namespace on cgroup v2 hosts, the host's on v1.
pub fn decide(
    hc: &HostConfig,
    join_paths: &JoinPaths,
    private_cgroupns_default: bool,
) -> Result<Namespaces, SpecError> {
    let net_mode = non_empty(&hc.network_mode).unwrap_or("default");
    let net = if net_mode == "host" {
        NsMode::Host
    } else if let Some(p) = &join_paths.net {
        NsMode::Join(p.clone())
    } else if container_mode("network", net_mode)?.is_some() {
        return Err(SpecError::InvalidNamespaceMode {
            flag: "network",
            value: net_mode.to_string(),
            reason: "the engine did not resolve the namespace path",
        });
    } else {
        // "none", or a network the engine attaches after creation.
        NsMode::New
    };

    let pid_mode = non_empty(&hc.pid_mode).unwrap_or("");
    let pid = match pid_mode {
        "" | "private" => NsMode::New,
        "host" => NsMode::Host,
        m if container_mode("pid", m)?.is_some() => join("pid", m, &join_paths.pid)?,
        m => {
            return Err(SpecError::InvalidNamespaceMode {
                flag: "pid",
                value: m.into(),
                reason: "unknown mode",
            })
        }
    };

    let ipc_mode = non_empty(&hc.ipc_mode).unwrap_or("private");
    let (ipc, ipc_none) = match ipc_mode {
        "private" | "shareable" => (NsMode::New, false),
        "none" => (NsMode::New, true),
        "host" => (NsMode::Host, false),
        m if container_mode("ipc", m)?.is_some() => (join("ipc", m, &join_paths.ipc)?, false),
        m => {
            return Err(SpecError::InvalidNamespaceMode {
                flag: "ipc",
                value: m.into(),
                reason: "unknown mode",
            })
        }
    };

    let uts = match non_empty(&hc.uts_mode).unwrap_or("") {
        "" => NsMode::New,
        "host" => NsMode::Host,
        m => {
            return Err(SpecError::InvalidNamespaceMode {
                flag: "uts",
                value: m.into(),
                reason: "unknown mode",
            })
        }
    };

    let cgroup = match non_empty(&hc.cgroupns_mode).unwrap_or("") {
        "" if private_cgroupns_default => NsMode::New,
        "" => NsMode::Host,
        "private" => NsMode::New,
        "host" => NsMode::Host,
        m => {
            return Err(SpecError::InvalidNamespaceMode {
                flag: "cgroupns",
                value: m.into(),
                reason: "unknown mode",
            })
        }
    };

    match non_empty(&hc.userns_mode).unwrap_or("") {
        "" | "host" => {}
        m => {
            return Err(SpecError::InvalidNamespaceMode {
                flag: "userns",
                value: m.into(),
                reason: "user namespace remapping is not supported",
            })
        }
    }
    Ok(Namespaces {
        net,
        pid,
        ipc,
        uts,
        cgroup,
        ipc_none,
    })
}

impl Namespaces {
    /// In moby's order: mount, network, uts, pid, ipc, cgroup.
    pub fn to_oci(&self) -> Vec<LinuxNamespace> {
        let mut out = vec![ns(LinuxNamespaceType::Mount, None)];
        for (typ, mode) in [
            (LinuxNamespaceType::Network, &self.net),
            (LinuxNamespaceType::Uts, &self.uts),
            (LinuxNamespaceType::Pid, &self.pid),
            (LinuxNamespaceType::Ipc, &self.ipc),
            (LinuxNamespaceType::Cgroup, &self.cgroup),
        ] {
            match mode {
                NsMode::New => out.push(ns(typ, None)),
                NsMode::Join(p) => out.push(ns(typ, Some(p.clone()))),
                NsMode::Host => {}
            }
        }
        out
    }
}

fn ns(typ: LinuxNamespaceType, path: Option<PathBuf>) -> LinuxNamespace {
    let mut n = LinuxNamespace::default();
    n.set_typ(typ).set_path(path);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(f: impl FnOnce(&mut HostConfig)) -> HostConfig {
        let mut h = HostConfig::default();
        f(&mut h);
        h
    }

    fn types(n: &Namespaces) -> Vec<LinuxNamespaceType> {
        n.to_oci().iter().map(|n| n.typ()).collect()
    }

    #[test]
    fn defaults() {
        let n = decide(&HostConfig::default(), &JoinPaths::default(), true).unwrap();
        use LinuxNamespaceType::*;
        assert_eq!(types(&n), [Mount, Network, Uts, Pid, Ipc, Cgroup]);
        let n = decide(&HostConfig::default(), &JoinPaths::default(), false).unwrap();
        assert_eq!(types(&n), [Mount, Network, Uts, Pid, Ipc]);
    }

    #[test]
    fn host_and_join_modes() {
        use LinuxNamespaceType::*;
        let h = hc(|h| {
            h.network_mode = Some("host".into());
            h.pid_mode = Some("host".into());
            h.ipc_mode = Some("host".into());
            h.uts_mode = Some("host".into());
            h.cgroupns_mode = Some("host".into());
        });
        assert_eq!(
            types(&decide(&h, &JoinPaths::default(), true).unwrap()),
            [Mount]
        );

        let jp = JoinPaths {
            net: Some("/run/netns/x".into()),
            ..Default::default()
        };
        let n = decide(&hc(|h| h.network_mode = Some("bridge".into())), &jp, true).unwrap();
        let net = n.to_oci().into_iter().find(|n| n.typ() == Network).unwrap();
        assert_eq!(
            net.path().as_deref(),
            Some(std::path::Path::new("/run/netns/x"))
        );

        let n = decide(
            &hc(|h| h.network_mode = Some("none".into())),
            &JoinPaths::default(),
            true,
        )
        .unwrap();
        assert_eq!(n.net, NsMode::New);

        let e = decide(
            &hc(|h| h.pid_mode = Some("container:abc".into())),
            &JoinPaths::default(),
            true,
        );
        assert!(matches!(
            e,
            Err(SpecError::InvalidNamespaceMode { flag: "pid", .. })
        ));
        let jp = JoinPaths {
            pid: Some("/proc/1/ns/pid".into()),
            ..Default::default()
        };
        let n = decide(
            &hc(|h| h.pid_mode = Some("container:abc".into())),
            &jp,
            true,
        )
        .unwrap();
        assert_eq!(n.pid, NsMode::Join("/proc/1/ns/pid".into()));

        let n = decide(
            &hc(|h| h.ipc_mode = Some("none".into())),
            &JoinPaths::default(),
            true,
        )
        .unwrap();
        assert!(n.ipc_none && n.ipc == NsMode::New);
        assert!(decide(
            &hc(|h| h.userns_mode = Some("keep-id".into())),
            &JoinPaths::default(),
            true
        )
        .is_err());
        assert!(decide(
            &hc(|h| h.uts_mode = Some("bogus".into())),
            &JoinPaths::default(),
            true
        )
        .is_err());
    }
}
