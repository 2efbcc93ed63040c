//! Facts about the host for `/version` and `/info`, each read from one file under a root that
//! tests can point at a fake tree.

use std::path::{Path, PathBuf};

/// Where host facts are read from: `/` in the daemon, a temp dir in tests.
#[derive(Debug, Clone)]
pub struct HostFs {
    root: PathBuf,
}

impl Default for HostFs {
    fn default() -> Self {
        HostFs {
            root: PathBuf::from("/"),
        }
    }
}

impl HostFs {
    pub fn at(root: &Path) -> Self {
        HostFs {
            root: root.to_path_buf(),
        }
    }

    fn read(&self, rel: &str) -> Option<String> {
        std::fs::read_to_string(self.root.join(rel)).ok()
    }

    /// "2" when the unified hierarchy is mounted at /sys/fs/cgroup, else "1".
    pub fn cgroup_version(&self) -> &'static str {
        if self.root.join("sys/fs/cgroup/cgroup.controllers").exists() {
            "2"
        } else {
            "1"
        }
    }

    /// `/proc/meminfo` MemTotal in bytes.
    pub fn mem_total(&self) -> u64 {
        self.read("proc/meminfo")
            .and_then(|text| {
                text.lines().find_map(|l| {
                    let rest = l.strip_prefix("MemTotal:")?;
                    let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
                    Some(kb * 1024)
                })
            })
            .unwrap_or(0)
    }

    /// (`PRETTY_NAME`, `VERSION_ID`) from os-release.
    pub fn os_release(&self) -> (String, String) {
        let text = self
            .read("etc/os-release")
            .or_else(|| self.read("usr/lib/os-release"))
            .unwrap_or_default();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').to_owned())
        };
        (
            field("PRETTY_NAME").unwrap_or_else(|| "Linux".into()),
            field("VERSION_ID").unwrap_or_default(),
        )
    }

    /// `/proc/sys/...` flag files such as `net/ipv4/ip_forward`.
    pub fn sysctl_on(&self, key: &str) -> bool {
        self.read(&format!("proc/sys/{key}"))
            .is_some_and(|v| v.trim() == "1")
    }
}

/// Kernel facts from uname(2).
#[derive(Debug, Clone)]
pub struct Uname {
    pub release: String,
    pub machine: String,
    pub nodename: String,
}

pub fn uname() -> Uname {
    let u = nix::sys::utsname::uname();
    match u {
        Ok(u) => Uname {
            release: u.release().to_string_lossy().into_owned(),
            machine: u.machine().to_string_lossy().into_owned(),
            nodename: u.nodename().to_string_lossy().into_owned(),
        },
        Err(_) => Uname {
            release: "unknown".into(),
            machine: std::env::consts::ARCH.into(),
            nodename: "localhost".into(),
        },
    }
}

/// Go's GOARCH name for this build (`/version` `Arch`, image configs).
pub fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

pub fn ncpu() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// Open descriptors of this process (`/info` `NFd`).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Threads of this process (`/info` `NGoroutines` has no better equivalent).
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_fake_tree() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("proc/sys/net/ipv4")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(
            root.join("proc/meminfo"),
            "MemTotal:       24684096 kB\nMemFree: 1 kB\n",
        )
        .unwrap();
        std::fs::write(root.join("proc/sys/net/ipv4/ip_forward"), "1\n").unwrap();
        std::fs::write(
            root.join("etc/os-release"),
            "NAME=\"Debian\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\n",
        )
        .unwrap();
        let h = HostFs::at(root);
        assert_eq!(h.mem_total(), 24_684_096 * 1024);
        assert!(h.sysctl_on("net/ipv4/ip_forward"));
        assert!(!h.sysctl_on("net/bridge/bridge-nf-call-iptables"));
        assert_eq!(
            h.os_release(),
            ("Debian GNU/Linux 12 (bookworm)".into(), "12".into())
        );
        assert_eq!(h.cgroup_version(), "1");
        std::fs::create_dir_all(root.join("sys/fs/cgroup")).unwrap();
        std::fs::write(root.join("sys/fs/cgroup/cgroup.controllers"), "cpu io\n").unwrap();
        assert_eq!(h.cgroup_version(), "2");
    }
}
