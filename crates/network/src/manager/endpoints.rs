//! Endpoints: attach, detach, release, published-port resolution, DNS names.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use super::{check_name, find_id, Inner, NetworkManager};
use crate::error::{Error, Result, Teardown};
use crate::firewall;
use crate::kernel::EndpointSetup;
use crate::ports::{HostPort, PortMapping, PortRequest};
use crate::types::*;
use crate::veth;

impl NetworkManager {
    /// Connects a container's namespace to a network: address, veth, routes, port rules, DNS.
    /// On failure nothing is left behind (address freed, veth deleted, rules removed).
    pub fn attach(
        &self,
        container_id: &str,
        netns: &Path,
        network: &str,
        req: EndpointRequest,
    ) -> Result<EndpointInfo> {
        check_name("container id", container_id)?;
        let mut inner = self.lock();
        let id = find_id(&inner, network)?;
        let mac_override = req.mac.as_deref().map(veth::parse_mac).transpose()?;
        // Interface index and primary flag come from the container's other endpoints.
        let used_ifnames: BTreeSet<String> = inner
            .nets
            .values()
            .filter_map(|r| r.endpoints.get(container_id).map(|e| e.ifname.clone()))
            .collect();
        let primary = used_ifnames.is_empty();
        let ifname = (0..=used_ifnames.len())
            .map(veth::container_ifname)
            .find(|n| !used_ifnames.contains(n))
            .unwrap_or_else(|| veth::container_ifname(used_ifnames.len()));
        let ports = {
            let Some(rec) = inner.nets.get(&id) else {
                return Err(Error::NetworkNotFound(network.to_string()));
            };
            if rec.endpoints.contains_key(container_id) {
                return Err(Error::AlreadyAttached {
                    container: container_id.to_string(),
                    network: rec.info.name.clone(),
                });
            }
            // Internal networks publish nothing (Docker ignores -p there as well).
            if rec.info.internal {
                Vec::new()
            } else {
                self.resolve_ports(&inner, &req.ports)?
            }
        };
        let Some(rec) = inner.nets.get_mut(&id) else {
            return Err(Error::NetworkNotFound(network.to_string()));
        };
        let ip = match rec.ipam.allocate(container_id, req.ip.map(IpAddr::V4))? {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        };
        let ip6 = match rec.ipam6.as_mut() {
            Some(ipam6) => match ipam6.allocate(container_id, req.ip6.map(IpAddr::V6)) {
                Ok(IpAddr::V6(a)) => Some(a),
                Ok(IpAddr::V4(_)) => None,
                Err(e) => {
                    rec.ipam.release_owner(container_id);
                    return Err(e);
                }
            },
            None => match req.ip6 {
                Some(ip6) => {
                    rec.ipam.release_owner(container_id);
                    return Err(Error::WrongFamily {
                        ip: IpAddr::V6(ip6),
                        family: 6,
                        network: rec.info.name.clone(),
                    });
                }
                None => None,
            },
        };
        let mac = mac_override.unwrap_or_else(|| veth::mac_for_ip(IpAddr::V4(ip)));
        let info = &rec.info;
        let ep = EndpointInfo {
            container_id: container_id.to_string(),
            network_id: id.clone(),
            network_name: info.name.clone(),
            ifname,
            host_veth: veth::host_veth_name(container_id, &id),
            netns: netns.to_path_buf(),
            ip,
            prefix_len: info.subnet.prefix_len(),
            gateway: (!info.internal).then_some(info.gateway),
            ip6,
            prefix_len6: ip6.and(info.subnet6.map(|s| s.prefix_len())),
            gateway6: if info.internal {
                None
            } else {
                ip6.and(info.gateway6)
            },
            mac: veth::format_mac(&mac),
            mtu: info.mtu,
            primary,
            dns_names: endpoint_names(container_id, &req),
            ports,
        };
        let setup = EndpointSetup {
            netns: netns.to_path_buf(),
            bridge: info.bridge.clone(),
            host_veth: ep.host_veth.clone(),
            ifname: ep.ifname.clone(),
            mac,
            mtu: ep.mtu,
            addresses: std::iter::once((IpAddr::V4(ip), ep.prefix_len))
                .chain(ip6.map(|a| (IpAddr::V6(a), ep.prefix_len6.unwrap_or(64))))
                .collect(),
            // Only the primary network routes by default; internal networks have no way out.
            gateways: if primary {
                ep.gateway
                    .map(IpAddr::V4)
                    .into_iter()
                    .chain(ep.gateway6.map(IpAddr::V6))
                    .collect()
            } else {
                Vec::new()
            },
        };
        rec.endpoints.insert(container_id.to_string(), ep.clone());
        let rec_snapshot = rec.clone();
        let result = (|| -> Result<()> {
            self.save(&rec_snapshot)?;
            self.kernel.setup_endpoint(&setup)?;
            self.apply_endpoint_rules(&ep)?;
            Ok(())
        })();
        if let Err(e) = result {
            let mut t = Teardown::default();
            t.step::<()>(Err(e));
            t.step(self.delete_rules(&[firewall::endpoint_key(&id, container_id)]));
            t.step(self.kernel.delete_link(&ep.host_veth));
            if let Some(rec) = inner.nets.get_mut(&id) {
                rec.endpoints.remove(container_id);
                rec.ipam.release_owner(container_id);
                if let Some(i6) = rec.ipam6.as_mut() {
                    i6.release_owner(container_id);
                }
                let snapshot = rec.clone();
                t.step(self.save(&snapshot));
            }
            return Err(t.into_error());
        }
        self.refresh_dns(&inner, &id);
        Ok(ep)
    }

    /// Disconnects a container from one network. Every step runs; if a kernel step fails the
    /// endpoint stays recorded (address still held) so a retry or reconcile can finish it.
    pub fn detach(&self, container_id: &str, network: &str) -> Result<()> {
        let mut inner = self.lock();
        let id = find_id(&inner, network)?;
        self.detach_locked(&mut inner, container_id, &id)
    }

    pub(crate) fn detach_locked(
        &self,
        inner: &mut Inner,
        container_id: &str,
        id: &str,
    ) -> Result<()> {
        let Some(rec) = inner.nets.get(id) else {
            return Err(Error::NetworkNotFound(id.to_string()));
        };
        let Some(ep) = rec.endpoints.get(container_id).cloned() else {
            return Err(Error::NotAttached {
                container: container_id.to_string(),
                network: rec.info.name.clone(),
            });
        };
        let mut t = Teardown::default();
        // Only endpoints with published ports have rules; skipping the nft listing for the rest
        // keeps container stop cheap (reconcile sweeps anything a crash left behind).
        let rules_ok = ep.ports.is_empty()
            || t.step(self.delete_rules(&[firewall::endpoint_key(id, container_id)]))
                .is_some();
        // The peer dies with the host end; if the namespace is already gone so is the pair.
        let link_ok = t.step(self.kernel.delete_link(&ep.host_veth)).is_some();
        if rules_ok && link_ok {
            if let Some(rec) = inner.nets.get_mut(id) {
                rec.endpoints.remove(container_id);
                rec.ipam.release_owner(container_id);
                if let Some(i6) = rec.ipam6.as_mut() {
                    i6.release_owner(container_id);
                }
                let snapshot = rec.clone();
                t.step(self.save(&snapshot));
            }
        }
        self.refresh_dns(inner, id);
        t.finish()
    }

    /// Everything a stopped container holds: all endpoints, their rules and addresses, and its
    /// namespace under our run dir. Every step runs; all errors are returned together.
    pub fn release_container(&self, container_id: &str) -> Result<()> {
        check_name("container id", container_id)?;
        let mut inner = self.lock();
        self.release_locked(&mut inner, container_id)
    }

    fn release_locked(&self, inner: &mut Inner, container_id: &str) -> Result<()> {
        let mut t = Teardown::default();
        let ids: Vec<String> = inner
            .nets
            .iter()
            .filter(|(_, r)| r.endpoints.contains_key(container_id))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            t.step(self.detach_locked(inner, container_id, &id));
        }
        t.step(
            self.kernel
                .remove_netns(&crate::netns::path_for(&self.run_dir, container_id)),
        );
        t.finish()
    }

    /// Replaces the extra DNS names (compose service names…) of an endpoint and swaps the
    /// network's record table.
    pub fn dns_update(&self, container_id: &str, network: &str, names: Vec<String>) -> Result<()> {
        let mut inner = self.lock();
        let id = find_id(&inner, network)?;
        let Some(rec) = inner.nets.get_mut(&id) else {
            return Err(Error::NetworkNotFound(network.to_string()));
        };
        let Some(ep) = rec.endpoints.get_mut(container_id) else {
            return Err(Error::NotAttached {
                container: container_id.to_string(),
                network: rec.info.name.clone(),
            });
        };
        for n in &names {
            check_name("DNS name", n)?;
        }
        let mut all = ep.dns_names.clone();
        all.extend(names);
        all.sort();
        all.dedup();
        ep.dns_names = all;
        let snapshot = rec.clone();
        self.save(&snapshot)?;
        self.refresh_dns(&inner, &id);
        Ok(())
    }

    pub(crate) fn resolve_ports(
        &self,
        inner: &Inner,
        reqs: &[PortRequest],
    ) -> Result<Vec<PortMapping>> {
        let mut taken: Vec<PortMapping> = inner
            .nets
            .values()
            .flat_map(|r| r.endpoints.values().flat_map(|e| e.ports.iter().copied()))
            .collect();
        let mut out = Vec::new();
        for r in reqs {
            if r.host_ip.is_ipv6() {
                return Err(Error::PortSpec {
                    spec: format!("[{}]:...:{}", r.host_ip, r.container_port),
                    reason: "publishing on an IPv6 host address is not supported yet".into(),
                });
            }
            let free = |port: u16, taken: &[PortMapping]| -> Result<()> {
                if taken.iter().any(|m| m.clashes(r.host_ip, port, r.proto)) {
                    return Err(Error::PortTaken {
                        host_ip: r.host_ip,
                        port,
                        proto: r.proto.as_str(),
                        source: None,
                    });
                }
                self.kernel.probe_port(r.host_ip, port, r.proto)
            };
            let port = match r.host_port {
                HostPort::Fixed(p) => {
                    free(p, &taken)?;
                    p
                }
                HostPort::OneOf(a, b) => {
                    let mut last = None;
                    let mut found = None;
                    for p in a..=b {
                        match free(p, &taken) {
                            Ok(()) => {
                                found = Some(p);
                                break;
                            }
                            Err(e) => last = Some(e),
                        }
                    }
                    match (found, last) {
                        (Some(p), _) => p,
                        (None, Some(e)) => return Err(e),
                        (None, None) => {
                            return Err(Error::PortSpec {
                                spec: format!("{a}-{b}"),
                                reason: "empty host port range".into(),
                            })
                        }
                    }
                }
                HostPort::Random => {
                    // The kernel's pick may collide with a port we DNAT (no socket): retry a
                    // bounded number of times.
                    let mut found = None;
                    for _ in 0..32 {
                        let p = self.kernel.random_port(r.host_ip, r.proto)?;
                        if free(p, &taken).is_ok() {
                            found = Some(p);
                            break;
                        }
                    }
                    found.ok_or(Error::PortTaken {
                        host_ip: r.host_ip,
                        port: 0,
                        proto: r.proto.as_str(),
                        source: None,
                    })?
                }
            };
            let m = PortMapping {
                host_ip: r.host_ip,
                host_port: port,
                container_port: r.container_port,
                proto: r.proto,
            };
            taken.push(m);
            out.push(m);
        }
        Ok(out)
    }
}

/// DNS names of an endpoint: container name, hostname, aliases, extra names and the short id
/// (Docker resolves the 12-character id too).
fn endpoint_names(container_id: &str, req: &EndpointRequest) -> Vec<String> {
    let mut names: Vec<String> = req
        .name
        .iter()
        .chain(req.hostname.iter())
        .chain(req.aliases.iter())
        .chain(req.dns_names.iter())
        .map(|n| n.trim_start_matches('/').to_string())
        .collect();
    names.push(container_id[..12.min(container_id.len())].to_string());
    names.sort();
    names.dedup();
    names
}
