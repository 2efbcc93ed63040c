//! [`NetworkManager`]: the engine's entry point. It owns the durable state (one file per network:
//! its info, IPAM and endpoints), drives the kernel through [`NetKernel`], keeps our nft rules
//! in line with the state and runs one embedded DNS server per user network.
//!
//! Every method is blocking (netlink round trips, one `nft` run): call it from
//! `tokio::task::spawn_blocking` in the daemon. One mutex serialises changes, which keeps IPAM,
//! port reservations and rules consistent without cross-structure locking.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use ipnet::{IpNet, Ipv6Net};
use serde::{Deserialize, Serialize};

use crate::bridge;
use crate::dns::DnsServer;
use crate::error::{io_err, Error, Result, Teardown};
use crate::firewall;
use crate::ipam::Ipam;
use crate::kernel::{BridgeSetup, NetKernel, RealKernel};
use crate::resolvconf;
use crate::types::*;

/// One network's durable state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NetworkRecord {
    pub(crate) info: NetworkInfo,
    pub(crate) ipam: Ipam,
    pub(crate) ipam6: Option<Ipam>,
    pub(crate) endpoints: BTreeMap<String, EndpointInfo>,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub(crate) nets: BTreeMap<String, NetworkRecord>,
    pub(crate) dns: BTreeMap<String, DnsServer>,
    pub(crate) warnings: Vec<String>,
}

pub struct NetworkManager {
    kernel: Arc<dyn NetKernel>,
    state_dir: PathBuf,
    run_dir: PathBuf,
    config: ManagerConfig,
    inner: Mutex<Inner>,
}

/// Container ids and network names become file names, nft comments and DNS names: keep them
/// to a safe alphabet (Docker's own name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`).
pub(crate) fn check_name(kind: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidSpec(format!(
            "{kind} {s:?} must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 128 characters)"
        )))
    }
}

fn random_hex(bytes: usize) -> Result<String> {
    let path = "/dev/urandom";
    let mut buf = vec![0u8; bytes];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(io_err("read", path))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A ULA /64 derived from the network id, for `enable_ipv6` without a subnet.
fn ula_for(id: &str) -> Result<Ipv6Net> {
    let b = |i: usize| u16::from_str_radix(id.get(i..i + 4).unwrap_or("0000"), 16).unwrap_or(0);
    let addr = Ipv6Addr::new(0xfd00 | (b(0) & 0xff), b(4), b(8), 0, 0, 0, 0, 0);
    Ipv6Net::new(addr, 64).map_err(|e| Error::InvalidSpec(e.to_string()))
}

impl NetworkManager {
    /// Opens the manager with the real kernel: loads state, recreates missing bridges, rules and
    /// DNS servers, and creates the default network if configured.
    pub fn open(state_dir: &Path, run_dir: &Path, config: ManagerConfig) -> Result<Self> {
        Self::open_with(Arc::new(RealKernel::new()), state_dir, run_dir, config)
    }

    pub fn open_with(
        kernel: Arc<dyn NetKernel>,
        state_dir: &Path,
        run_dir: &Path,
        config: ManagerConfig,
    ) -> Result<Self> {
        let mut nets = BTreeMap::new();
        for path in crate::state::list_json(&state_dir.join("networks"))? {
            let rec: NetworkRecord = crate::state::load(&path)?;
            nets.insert(rec.info.id.clone(), rec);
        }
        let mgr = NetworkManager {
            kernel,
            state_dir: state_dir.to_path_buf(),
            run_dir: run_dir.to_path_buf(),
            config,
            inner: Mutex::new(Inner {
                nets,
                ..Default::default()
            }),
        };
        {
            let mut inner = mgr.lock();
            let ids: Vec<String> = inner.nets.keys().cloned().collect();
            let mut t = Teardown::default();
            for id in &ids {
                if let Some(rec) = inner.nets.get(id) {
                    t.step(mgr.kernel.ensure_bridge(&bridge_setup(&rec.info)));
                }
            }
            t.step(mgr.sync_rules(&inner, None));
            if inner.nets.values().any(|r| !r.info.internal) {
                t.step(mgr.kernel.enable_ip_forward());
            }
            for id in &ids {
                mgr.start_dns(&mut inner, id);
            }
            t.finish()?;
        }
        if mgr.config.default_network && !mgr.lock().nets.values().any(|r| r.info.is_default) {
            mgr.create_network_inner(
                NetworkSpec {
                    name: "bridge".to_string(),
                    bridge_name: Some(mgr.config.default_bridge.clone()),
                    ..Default::default()
                },
                true,
            )?;
        }
        Ok(mgr)
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data that is still consistent on disk;
        // keep serving rather than poisoning every later call.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn net_path(&self, id: &str) -> PathBuf {
        self.state_dir.join("networks").join(format!("{id}.json"))
    }

    pub(crate) fn save(&self, rec: &NetworkRecord) -> Result<()> {
        crate::state::save(&self.net_path(&rec.info.id), rec)
    }

    /// Problems that did not stop `open` (e.g. a DNS port already taken).
    pub fn warnings(&self) -> Vec<String> {
        self.lock().warnings.clone()
    }

    // ---- networks -------------------------------------------------------------------------

    pub fn create_network(&self, spec: NetworkSpec) -> Result<NetworkInfo> {
        self.create_network_inner(spec, false)
    }

    fn create_network_inner(&self, spec: NetworkSpec, is_default: bool) -> Result<NetworkInfo> {
        check_name("network name", &spec.name)?;
        match spec.driver.as_deref() {
            None | Some("") | Some("bridge") => {}
            Some(d) => {
                return Err(Error::InvalidSpec(format!(
                    "driver {d:?} is not supported; only \"bridge\""
                )))
            }
        }
        let mut inner = self.lock();
        if inner.nets.values().any(|r| r.info.name == spec.name) {
            return Err(Error::NetworkExists(spec.name));
        }
        let id = random_hex(32)?;
        let existing: Vec<IpNet> = inner
            .nets
            .values()
            .map(|r| IpNet::V4(r.info.subnet))
            .collect();
        let subnet = match spec.subnet {
            Some(s) => {
                let s = s.trunc();
                bridge::check_overlap(&IpNet::V4(s), &existing)?;
                s
            }
            None => {
                let mut in_use = self.kernel.host_routes()?;
                in_use.extend(existing);
                bridge::pick_subnet(&self.config.address_pools, &in_use)?
            }
        };
        let ipam = Ipam::new(
            &spec.name,
            IpNet::V4(subnet),
            spec.ip_range.map(IpNet::V4),
            spec.gateway.map(IpAddr::V4),
        )?;
        let subnet6 = match (spec.subnet6, spec.enable_ipv6) {
            (Some(s), _) => Some(s.trunc()),
            (None, true) => Some(ula_for(&id)?),
            (None, false) => None,
        };
        let ipam6 = subnet6
            .map(|s| {
                Ipam::new(
                    &spec.name,
                    IpNet::V6(s),
                    None,
                    spec.gateway6.map(IpAddr::V6),
                )
            })
            .transpose()?;
        let bridge_name = match spec.bridge_name {
            Some(b) => b,
            None => bridge::bridge_name(&self.config.bridge_prefix, &id),
        };
        if bridge_name.is_empty() || bridge_name.len() > bridge::IFNAME_MAX {
            return Err(Error::InvalidSpec(format!(
                "bridge name {bridge_name:?} must be 1-15 bytes"
            )));
        }
        if inner.nets.values().any(|r| r.info.bridge == bridge_name)
            || (!is_default && self.kernel.link_exists(&bridge_name)?)
        {
            return Err(Error::InvalidSpec(format!(
                "bridge {bridge_name:?} already exists; choose another bridge name"
            )));
        }
        let gateway = match ipam.gateway {
            IpAddr::V4(g) => g,
            IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        };
        let gateway6 = ipam6.as_ref().and_then(|i| match i.gateway {
            IpAddr::V6(g) => Some(g),
            IpAddr::V4(_) => None,
        });
        let info = NetworkInfo {
            id: id.clone(),
            name: spec.name,
            driver: "bridge".to_string(),
            bridge: bridge_name,
            subnet,
            gateway,
            ip_range: spec.ip_range,
            subnet6,
            gateway6,
            internal: spec.internal,
            mtu: spec.mtu.unwrap_or(self.config.default_mtu),
            labels: spec.labels,
            is_default,
            // Docker's default bridge has no embedded DNS; user networks do.
            dns_enabled: !is_default,
            created: now(),
        };
        let rec = NetworkRecord {
            info: info.clone(),
            ipam,
            ipam6,
            endpoints: BTreeMap::new(),
        };
        // State first: a crash after this point is repaired by open/reconcile instead of
        // leaking a bridge nobody knows about.
        self.save(&rec)?;
        inner.nets.insert(id.clone(), rec);
        let setup = (|| -> Result<()> {
            self.kernel.ensure_bridge(&bridge_setup(&info))?;
            self.sync_rules(&inner, Some(&id))?;
            if !info.internal {
                self.kernel.enable_ip_forward()?;
            }
            if info.dns_enabled {
                let server = self.dns_server_for(&inner, &id)?;
                inner.dns.insert(id.clone(), server);
            }
            Ok(())
        })();
        if let Err(e) = setup {
            let mut t = Teardown::default();
            t.step::<()>(Err(e));
            if let Some(rec) = inner.nets.remove(&id) {
                inner.dns.remove(&id);
                t.step(self.delete_rules_and(
                    &[firewall::network_key(&id)],
                    &firewall::bridge_removal_script(&rec.info.bridge),
                ));
                t.step(self.kernel.delete_link(&rec.info.bridge));
                t.step(crate::state::remove(&self.net_path(&id)));
            }
            t.finish()?;
        }
        Ok(info)
    }

    /// Removes a network with no endpoints: DNS server, rules, bridge, state. Every step runs;
    /// if a kernel step fails the network is kept so the call can be retried.
    pub fn remove_network(&self, id_or_name: &str) -> Result<()> {
        let mut inner = self.lock();
        let id = find_id(&inner, id_or_name)?;
        let Some(rec) = inner.nets.get(&id) else {
            return Err(Error::NetworkNotFound(id_or_name.to_string()));
        };
        if rec.info.is_default {
            return Err(Error::InvalidSpec(format!(
                "{:?} is the pre-defined default network and cannot be removed",
                rec.info.name
            )));
        }
        if !rec.endpoints.is_empty() {
            return Err(Error::NetworkInUse {
                network: rec.info.name.clone(),
                containers: rec.endpoints.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        let bridge = rec.info.bridge.clone();
        inner.dns.remove(&id);
        let mut t = Teardown::default();
        let rules_ok = t
            .step(self.delete_rules_and(
                &[firewall::network_key(&id)],
                &firewall::bridge_removal_script(&bridge),
            ))
            .is_some();
        let link_ok = t.step(self.kernel.delete_link(&bridge)).is_some();
        if rules_ok && link_ok && t.step(crate::state::remove(&self.net_path(&id))).is_some() {
            inner.nets.remove(&id);
        }
        t.finish()
    }

    pub fn list(&self) -> Vec<NetworkInfo> {
        self.lock().nets.values().map(|r| r.info.clone()).collect()
    }

    /// By full id, name, or unique id prefix (as `docker network inspect` accepts).
    pub fn get(&self, id_or_name: &str) -> Result<NetworkInfo> {
        let inner = self.lock();
        let id = find_id(&inner, id_or_name)?;
        inner
            .nets
            .get(&id)
            .map(|r| r.info.clone())
            .ok_or_else(|| Error::NetworkNotFound(id_or_name.to_string()))
    }

    pub fn endpoints(&self, id_or_name: &str) -> Result<Vec<EndpointInfo>> {
        let inner = self.lock();
        let id = find_id(&inner, id_or_name)?;
        Ok(inner
            .nets
            .get(&id)
            .map(|r| r.endpoints.values().cloned().collect())
            .unwrap_or_default())
    }

    pub fn container_endpoints(&self, container_id: &str) -> Vec<EndpointInfo> {
        self.lock()
            .nets
            .values()
            .filter_map(|r| r.endpoints.get(container_id).cloned())
            .collect()
    }

    // ---- namespaces -----------------------------------------------------------------------

    /// Creates `<run_dir>/netns/<container_id>` for the runtime's `linux.namespaces` path.
    pub fn create_netns(&self, container_id: &str) -> Result<PathBuf> {
        check_name("container id", container_id)?;
        let path = crate::netns::path_for(&self.run_dir, container_id);
        self.kernel.create_netns(&path)?;
        Ok(path)
    }

    pub fn remove_netns(&self, container_id: &str) -> Result<()> {
        check_name("container id", container_id)?;
        self.kernel
            .remove_netns(&crate::netns::path_for(&self.run_dir, container_id))
    }

    /// Content for the container's /etc/resolv.conf on `network`.
    pub fn resolv_conf(&self, network: &str) -> Result<String> {
        let info = self.get(network)?;
        let path = &self.config.host_resolv_conf;
        let host = std::fs::read_to_string(path).unwrap_or_default();
        Ok(if info.dns_enabled {
            resolvconf::for_user_network(&host, IpAddr::V4(info.gateway))
        } else {
            resolvconf::for_default_network(&host)
        })
    }

    /// Content for the container's /etc/hosts: its own addresses under `hostname`.
    pub fn hosts(&self, container_id: &str, hostname: &str, extra: &[(String, IpAddr)]) -> String {
        let ips: Vec<IpAddr> = self
            .container_endpoints(container_id)
            .iter()
            .flat_map(|e| std::iter::once(IpAddr::V4(e.ip)).chain(e.ip6.map(IpAddr::V6)))
            .collect();
        resolvconf::hosts(hostname, &ips, extra)
    }
}

pub(crate) fn bridge_setup(info: &NetworkInfo) -> BridgeSetup {
    let mut addresses = vec![(IpAddr::V4(info.gateway), info.subnet.prefix_len())];
    if let (Some(g6), Some(s6)) = (info.gateway6, info.subnet6) {
        addresses.push((IpAddr::V6(g6), s6.prefix_len()));
    }
    BridgeSetup {
        name: info.bridge.clone(),
        mtu: info.mtu,
        addresses,
    }
}

pub(crate) fn find_id(inner: &Inner, id_or_name: &str) -> Result<String> {
    if inner.nets.contains_key(id_or_name) {
        return Ok(id_or_name.to_string());
    }
    if let Some(r) = inner.nets.values().find(|r| r.info.name == id_or_name) {
        return Ok(r.info.id.clone());
    }
    let matches: Vec<&String> = inner
        .nets
        .keys()
        .filter(|id| !id_or_name.is_empty() && id.starts_with(id_or_name))
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        _ => Err(Error::NetworkNotFound(id_or_name.to_string())),
    }
}

mod endpoints;
mod sync;

#[cfg(test)]
mod tests;
