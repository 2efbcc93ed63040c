//! The kernel boundary: every side effect the manager has (netlink, namespaces, nft, sysctls,
//! port probes) goes through [`NetKernel`]. [`RealKernel`] does the work; [`RecordingKernel`]
//! records calls for unit tests that run without root.

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use ipnet::IpNet;

use crate::error::{io_err, Error, Result};
use crate::firewall::{self, ListedRule};
use crate::netlink::{nl_err, Netlink, VethSpec};
use crate::ports::{self, Proto};

/// A bridge as it should exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSetup {
    pub name: String,
    pub mtu: u32,
    /// gateway addresses with their prefix lengths
    pub addresses: Vec<(IpAddr, u8)>,
}

/// One container interface as it should exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSetup {
    pub netns: PathBuf,
    pub bridge: String,
    pub host_veth: String,
    pub ifname: String,
    pub mac: [u8; 6],
    pub mtu: u32,
    pub addresses: Vec<(IpAddr, u8)>,
    /// default routes to install (primary network only)
    pub gateways: Vec<IpAddr>,
}

pub trait NetKernel: Send + Sync {
    /// Creates the bridge if missing, (re)applies its addresses, brings it up and sets
    /// route_localnet on it.
    fn ensure_bridge(&self, setup: &BridgeSetup) -> Result<()>;
    /// Deletes a link; absent is fine.
    fn delete_link(&self, name: &str) -> Result<()>;
    fn link_exists(&self, name: &str) -> Result<bool>;
    /// Re-attaches an existing host veth to its bridge; `false` if the veth is gone.
    fn reattach_veth(&self, veth: &str, bridge: &str) -> Result<bool>;
    fn create_netns(&self, path: &Path) -> Result<()>;
    fn remove_netns(&self, path: &Path) -> Result<()>;
    /// Creates the veth pair and configures the container side. On failure nothing is left.
    fn setup_endpoint(&self, setup: &EndpointSetup) -> Result<()>;
    fn host_routes(&self) -> Result<Vec<IpNet>>;
    /// Applies an nft script atomically (one transaction).
    fn nft_apply(&self, script: &str) -> Result<()>;
    /// Rules currently in our tables (both families); empty when the tables do not exist.
    fn nft_list(&self) -> Result<Vec<ListedRule>>;
    fn enable_ip_forward(&self) -> Result<()>;
    fn probe_port(&self, host_ip: IpAddr, port: u16, proto: Proto) -> Result<()>;
    fn random_port(&self, host_ip: IpAddr, proto: Proto) -> Result<u16>;
}

/// The real kernel: raw rtnetlink, bind-mounted namespaces, the `nft` binary, /proc/sys.
pub struct RealKernel {
    nft: PathBuf,
}

impl Default for RealKernel {
    fn default() -> Self {
        Self::new()
    }
}

impl RealKernel {
    pub fn new() -> Self {
        RealKernel {
            nft: PathBuf::from("nft"),
        }
    }

    /// Uses another `nft` binary (a full path, or a name looked up in PATH).
    pub fn with_nft(nft: impl Into<PathBuf>) -> Self {
        RealKernel { nft: nft.into() }
    }

    fn root(&self) -> Result<Netlink> {
        Netlink::open().map_err(nl_err("open socket", "host namespace"))
    }

    fn run_nft(&self, args: &[&str], stdin: Option<&str>) -> Result<String> {
        let mut child = Command::new(&self.nft)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Error::NftMissing
                } else {
                    Error::NftSpawn(e)
                }
            })?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(text.as_bytes()).map_err(Error::NftSpawn)?;
        }
        let out = child.wait_with_output().map_err(Error::NftSpawn)?;
        if !out.status.success() {
            return Err(Error::Nft {
                status: out.status.code().unwrap_or(-1),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn write_sysctl(path: &str, value: &str) -> Result<()> {
        std::fs::write(path, value).map_err(io_err("write", path))
    }
}

impl NetKernel for RealKernel {
    fn ensure_bridge(&self, setup: &BridgeSetup) -> Result<()> {
        let nl = self.root()?;
        let name = setup.name.as_str();
        match nl.create_bridge(name, setup.mtu) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {}
            Err(e) => return Err(nl_err("create bridge", name)(e)),
        }
        let index = nl
            .link_index(name)
            .map_err(nl_err("look up", name))?
            .ok_or_else(|| {
                nl_err("look up", name)(std::io::Error::from_raw_os_error(libc::ENODEV))
            })?;
        for (ip, prefix) in &setup.addresses {
            nl.add_address(index, *ip, *prefix)
                .map_err(nl_err("add gateway address", name))?;
        }
        nl.set_up(index).map_err(nl_err("set up", name))?;
        // Needed so 127.0.0.1 -> container DNAT is routed out of the bridge (Docker does the
        // same when the userland proxy is off). Scoped to our bridge only.
        Self::write_sysctl(
            &format!("/proc/sys/net/ipv4/conf/{name}/route_localnet"),
            "1",
        )
    }

    fn delete_link(&self, name: &str) -> Result<()> {
        self.root()?
            .delete_link(name)
            .map_err(nl_err("delete link", name))
    }

    fn link_exists(&self, name: &str) -> Result<bool> {
        Ok(self
            .root()?
            .link_index(name)
            .map_err(nl_err("look up", name))?
            .is_some())
    }

    fn reattach_veth(&self, veth: &str, bridge: &str) -> Result<bool> {
        let nl = self.root()?;
        let Some(index) = nl.link_index(veth).map_err(nl_err("look up", veth))? else {
            return Ok(false);
        };
        let master = nl
            .link_index(bridge)
            .map_err(nl_err("look up", bridge))?
            .ok_or_else(|| {
                nl_err("look up bridge", bridge)(std::io::Error::from_raw_os_error(libc::ENODEV))
            })?;
        nl.set_master_up(index, master)
            .map_err(nl_err("attach to bridge", veth))?;
        Ok(true)
    }

    fn create_netns(&self, path: &Path) -> Result<()> {
        crate::netns::create(path)
    }

    fn remove_netns(&self, path: &Path) -> Result<()> {
        crate::netns::remove(path)
    }

    fn setup_endpoint(&self, s: &EndpointSetup) -> Result<()> {
        let nl = self.root()?;
        let bridge_index = nl
            .link_index(&s.bridge)
            .map_err(nl_err("look up", &s.bridge))?
            .ok_or_else(|| {
                nl_err("look up bridge", &s.bridge)(std::io::Error::from_raw_os_error(libc::ENODEV))
            })?;
        let ns = std::fs::File::open(&s.netns).map_err(|source| Error::Netns {
            op: "open",
            path: s.netns.clone(),
            source,
        })?;
        use std::os::fd::AsRawFd;
        nl.create_veth(&VethSpec {
            host_name: &s.host_veth,
            bridge_index,
            peer_name: &s.ifname,
            peer_netns: ns.as_raw_fd(),
            peer_mac: s.mac,
            mtu: s.mtu,
        })
        .map_err(nl_err("create veth", &s.host_veth))?;
        let configure = || -> Result<()> {
            let host_index = nl
                .link_index(&s.host_veth)
                .map_err(nl_err("look up", &s.host_veth))?
                .ok_or_else(|| {
                    nl_err("look up", &s.host_veth)(std::io::Error::from_raw_os_error(libc::ENODEV))
                })?;
            nl.set_up(host_index)
                .map_err(nl_err("set up", &s.host_veth))?;
            // Hairpin mode on the bridge port, as Docker sets it with userland-proxy off: with
            // br_netfilter loaded, a container reaching its own published port through a host
            // address is DNAT-ed at the bridge and must go back out the port it came in on.
            Self::write_sysctl(
                &format!("/sys/class/net/{}/brport/hairpin_mode", s.host_veth),
                "1",
            )?;
            let inner = Netlink::open_in(&s.netns)?;
            let target = format!("{} in {}", s.ifname, s.netns.display());
            if let Some(lo) = inner.link_index("lo").map_err(nl_err("look up", "lo"))? {
                inner.set_up(lo).map_err(nl_err("set up", "lo"))?;
            }
            let idx = inner
                .link_index(&s.ifname)
                .map_err(nl_err("look up", &target))?
                .ok_or_else(|| {
                    nl_err("look up", &target)(std::io::Error::from_raw_os_error(libc::ENODEV))
                })?;
            for (ip, prefix) in &s.addresses {
                inner
                    .add_address(idx, *ip, *prefix)
                    .map_err(nl_err("add address", &target))?;
            }
            inner.set_up(idx).map_err(nl_err("set up", &target))?;
            for gw in &s.gateways {
                inner
                    .add_default_route(idx, *gw)
                    .map_err(nl_err("add default route", &target))?;
            }
            Ok(())
        };
        if let Err(e) = configure() {
            // Deleting the host end deletes the peer too: no half-configured interface stays.
            let _ = nl.delete_link(&s.host_veth);
            return Err(e);
        }
        Ok(())
    }

    fn host_routes(&self) -> Result<Vec<IpNet>> {
        let path = "/proc/net/route";
        let text = std::fs::read_to_string(path).map_err(io_err("read", path))?;
        Ok(crate::bridge::parse_proc_net_route(&text))
    }

    fn nft_apply(&self, script: &str) -> Result<()> {
        if script.is_empty() {
            return Ok(());
        }
        self.run_nft(&["-f", "-"], Some(script)).map(|_| ())
    }

    fn nft_list(&self) -> Result<Vec<ListedRule>> {
        let mut all = Vec::new();
        for fam in ["ip", "ip6"] {
            match self.run_nft(&["-j", "list", "table", fam, firewall::TABLE], None) {
                Ok(json) => all.extend(firewall::parse_listing(&json)?),
                // No table yet: nothing of ours exists.
                Err(Error::Nft { stderr, .. }) if stderr.contains("No such file") => {}
                Err(e) => return Err(e),
            }
        }
        Ok(all)
    }

    fn enable_ip_forward(&self) -> Result<()> {
        let path = "/proc/sys/net/ipv4/ip_forward";
        if std::fs::read_to_string(path)
            .map_err(io_err("read sysctl", path))?
            .trim()
            == "1"
        {
            return Ok(());
        }
        Self::write_sysctl(path, "1")
    }

    fn probe_port(&self, host_ip: IpAddr, port: u16, proto: Proto) -> Result<()> {
        ports::probe(host_ip, port, proto)
    }

    fn random_port(&self, host_ip: IpAddr, proto: Proto) -> Result<u16> {
        ports::random_free(host_ip, proto)
    }
}

/// A fake kernel that records every call (as text) and keeps just enough state (links, rules)
/// for the manager's logic to be tested without root.
#[derive(Default)]
pub struct RecordingKernel {
    pub calls: Mutex<Vec<String>>,
    pub links: Mutex<Vec<String>>,
    pub rules: Mutex<Vec<ListedRule>>,
    pub routes: Vec<IpNet>,
    /// host ports the fake reports as taken
    pub taken_ports: Vec<u16>,
    /// fail setup_endpoint (to test rollback)
    pub fail_endpoint: bool,
    /// last nft rule handle handed out
    pub next_handle: Mutex<u64>,
}

impl RecordingKernel {
    pub fn with_routes(routes: Vec<IpNet>) -> Self {
        RecordingKernel {
            routes,
            ..Default::default()
        }
    }

    fn record(&self, s: String) {
        if let Ok(mut c) = self.calls.lock() {
            c.push(s);
        }
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn rule_comments(&self) -> Vec<String> {
        self.rules
            .lock()
            .map(|r| r.iter().filter_map(|r| r.comment.clone()).collect())
            .unwrap_or_default()
    }

    pub fn has_link(&self, name: &str) -> bool {
        self.links
            .lock()
            .map(|l| l.iter().any(|n| n == name))
            .unwrap_or(false)
    }
}

impl NetKernel for RecordingKernel {
    fn ensure_bridge(&self, setup: &BridgeSetup) -> Result<()> {
        self.record(format!(
            "ensure_bridge {} mtu={} {:?}",
            setup.name, setup.mtu, setup.addresses
        ));
        if let Ok(mut l) = self.links.lock() {
            if !l.contains(&setup.name) {
                l.push(setup.name.clone());
            }
        }
        Ok(())
    }

    fn delete_link(&self, name: &str) -> Result<()> {
        self.record(format!("delete_link {name}"));
        if let Ok(mut l) = self.links.lock() {
            l.retain(|n| n != name);
        }
        Ok(())
    }

    fn link_exists(&self, name: &str) -> Result<bool> {
        Ok(self.has_link(name))
    }

    fn reattach_veth(&self, veth: &str, bridge: &str) -> Result<bool> {
        self.record(format!("reattach_veth {veth} {bridge}"));
        Ok(self.has_link(veth))
    }

    fn create_netns(&self, path: &Path) -> Result<()> {
        self.record(format!("create_netns {}", path.display()));
        Ok(())
    }

    fn remove_netns(&self, path: &Path) -> Result<()> {
        self.record(format!("remove_netns {}", path.display()));
        Ok(())
    }

    fn setup_endpoint(&self, s: &EndpointSetup) -> Result<()> {
        self.record(format!(
            "setup_endpoint {} {} {} {:?} gw={:?} mtu={}",
            s.host_veth, s.bridge, s.ifname, s.addresses, s.gateways, s.mtu
        ));
        if self.fail_endpoint {
            return Err(Error::Netlink {
                op: "create veth",
                target: s.host_veth.clone(),
                source: std::io::Error::from_raw_os_error(libc::EPERM),
            });
        }
        if let Ok(mut l) = self.links.lock() {
            l.push(s.host_veth.clone());
        }
        Ok(())
    }

    fn host_routes(&self) -> Result<Vec<IpNet>> {
        Ok(self.routes.clone())
    }

    fn nft_apply(&self, script: &str) -> Result<()> {
        self.record(format!("nft {script}"));
        // Interpret just enough of our own script language to track rules by comment.
        let (Ok(mut rules), Ok(mut h)) = (self.rules.lock(), self.next_handle.lock()) else {
            return Ok(());
        };
        for line in script.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["add", "rule", fam, _, chain, ..] => {
                    *h += 1;
                    let comment = line
                        .rsplit_once("comment \"")
                        .map(|(_, c)| c.trim_end_matches('"').to_string());
                    rules.push(ListedRule {
                        family: if *fam == "ip6" {
                            firewall::Family::Ip6
                        } else {
                            firewall::Family::Ip
                        },
                        chain: chain.to_string(),
                        handle: *h,
                        comment,
                    });
                }
                ["delete", "rule", _, _, _, "handle", n] => {
                    let n: u64 = n.parse().unwrap_or(0);
                    rules.retain(|r| r.handle != n);
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn nft_list(&self) -> Result<Vec<ListedRule>> {
        Ok(self.rules.lock().map(|r| r.clone()).unwrap_or_default())
    }

    fn enable_ip_forward(&self) -> Result<()> {
        self.record("enable_ip_forward".to_string());
        Ok(())
    }

    fn probe_port(&self, host_ip: IpAddr, port: u16, proto: Proto) -> Result<()> {
        if self.taken_ports.contains(&port) {
            return Err(Error::PortTaken {
                host_ip,
                port,
                proto: proto.as_str(),
                source: None,
            });
        }
        Ok(())
    }

    fn random_port(&self, _host_ip: IpAddr, _proto: Proto) -> Result<u16> {
        Ok(49200)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_nft_names_the_package() {
        let k = RealKernel::with_nft("/nonexistent/nft");
        let err = k.nft_apply("add table ip vessel\n").unwrap_err();
        assert!(matches!(err, Error::NftMissing));
        assert!(err.to_string().contains("apt-get install nftables"));
        assert!(matches!(k.nft_list(), Err(Error::NftMissing)));
    }

    #[test]
    fn recording_kernel_tracks_rules_by_comment() {
        let k = RecordingKernel::default();
        k.nft_apply("add rule ip vessel forward iifname \"a\" drop comment \"vessel:n=x\"\n")
            .unwrap();
        assert_eq!(k.rule_comments(), ["vessel:n=x"]);
        let rules = k.nft_list().unwrap();
        k.nft_apply(&firewall::delete_script(&rules)).unwrap();
        assert!(k.rule_comments().is_empty());
    }
}
