//! Keeping the kernel in line with the state: reconcile, nft rule sync, DNS servers.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::{bridge_setup, Inner, NetworkManager, NetworkRecord};
use crate::dns::{DnsRecords, DnsServer};
use crate::error::{Error, Result, Teardown};
use crate::firewall::{self, EndpointRules, NetworkRules};
use crate::resolvconf;
use crate::types::*;

impl NetworkManager {
    /// After a daemon crash: releases every endpoint and namespace of containers not in
    /// `live` (every container whose network must survive: running, paused, or created with a
    /// namespace), and rebuilds our nft rules from state so nothing leaks or goes missing.
    pub fn reconcile(&self, live: &[&str]) -> Result<ReconcileReport> {
        let live: BTreeSet<&str> = live.iter().copied().collect();
        let mut inner = self.lock();
        let mut report = ReconcileReport::default();
        let mut t = Teardown::default();
        let dead: BTreeSet<(String, String)> = inner
            .nets
            .iter()
            .flat_map(|(id, r)| {
                r.endpoints
                    .keys()
                    .filter(|c| !live.contains(c.as_str()))
                    .map(move |c| (c.clone(), id.clone()))
            })
            .collect();
        for (cid, id) in &dead {
            if t.step(self.detach_locked(&mut inner, cid, id)).is_some() {
                report.removed_endpoints.push((cid.clone(), id.clone()));
            }
        }
        // Namespaces under our run dir whose container is gone.
        let ns_dir = self.run_dir.join("netns");
        if let Ok(entries) = std::fs::read_dir(&ns_dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !live.contains(name.as_str())
                    && t.step(self.kernel.remove_netns(&e.path())).is_some()
                {
                    report.removed_netns.push(e.path());
                }
            }
        }
        let ids: Vec<String> = inner.nets.keys().cloned().collect();
        for id in &ids {
            if let Some(rec) = inner.nets.get(id) {
                t.step(self.kernel.ensure_bridge(&bridge_setup(&rec.info)));
                // A bridge recreated by open/ensure_bridge has no ports: put live veths back.
                for ep in rec.endpoints.values() {
                    t.step(self.kernel.reattach_veth(&ep.host_veth, &rec.info.bridge));
                }
            }
            if !inner.dns.contains_key(id) {
                self.start_dns(&mut inner, id);
            }
            self.refresh_dns(&inner, id);
        }
        if let Some(n) = t.step(self.sync_rules(&inner, None)) {
            report.removed_rules = n;
        }
        t.finish().map(|()| report)
    }

    pub(crate) fn network_rules_text(&self, rec: &NetworkRecord) -> String {
        let mut s = firewall::network_script(&NetworkRules {
            id: &rec.info.id,
            bridge: &rec.info.bridge,
            subnet: rec.info.subnet,
            subnet6: rec.info.subnet6,
            internal: rec.info.internal,
        });
        for ep in rec.endpoints.values() {
            s.push_str(&endpoint_rules_text(ep));
        }
        s
    }

    pub(crate) fn apply_endpoint_rules(&self, ep: &EndpointInfo) -> Result<()> {
        let text = endpoint_rules_text(ep);
        if text.is_empty() {
            return Ok(());
        }
        self.kernel
            .nft_apply(&format!("{}{text}", firewall::base_script()))
    }

    /// Deletes every rule whose key is (or nests under) one of `keys`.
    pub(crate) fn delete_rules(&self, keys: &[String]) -> Result<()> {
        self.delete_rules_and(keys, "")
    }

    /// Same, plus `extra` script in the same transaction.
    pub(crate) fn delete_rules_and(&self, keys: &[String], extra: &str) -> Result<()> {
        let listed = self.kernel.nft_list()?;
        let doomed: Vec<_> = listed
            .into_iter()
            .filter(|r| {
                r.comment
                    .as_deref()
                    .is_some_and(|c| keys.iter().any(|k| firewall::key_matches(c, k)))
            })
            .collect();
        let mut script = firewall::delete_script(&doomed);
        if !extra.is_empty() {
            script = format!("{}{script}{extra}", firewall::base_script());
        }
        self.kernel.nft_apply(&script)
    }

    /// Replaces the rules of one network (or of all, plus strays when the table is ours
    /// alone) with the ones the state implies, in one nft transaction. Returns how many old
    /// rules were deleted.
    pub(crate) fn sync_rules(&self, inner: &Inner, only: Option<&str>) -> Result<usize> {
        let recs: Vec<&NetworkRecord> = inner
            .nets
            .values()
            .filter(|r| match only {
                Some(id) => r.info.id == id,
                None => true,
            })
            .collect();
        let keys: Vec<String> = recs
            .iter()
            .map(|r| firewall::network_key(&r.info.id))
            .collect();
        let listed = self.kernel.nft_list()?;
        let doomed: Vec<_> = listed
            .into_iter()
            .filter(|r| {
                let Some(c) = r.comment.as_deref() else {
                    return false;
                };
                keys.iter().any(|k| firewall::key_matches(c, k))
                    || (only.is_none() && self.config.exclusive_table && c.starts_with("vessel:"))
            })
            .collect();
        let mut script = firewall::base_script();
        script.push_str(&firewall::delete_script(&doomed));
        if only.is_none() && self.config.exclusive_table {
            // Sole owner: drop bridges of networks we no longer know; the scripts below
            // re-add ours.
            for fam in ["ip", "ip6"] {
                script.push_str(&format!(
                    "flush set {fam} {} {}\n",
                    firewall::TABLE,
                    firewall::BRIDGE_SET
                ));
            }
        }
        for rec in recs {
            script.push_str(&self.network_rules_text(rec));
        }
        self.kernel.nft_apply(&script)?;
        Ok(doomed.len())
    }

    /// The names of one network, plus, for each container also on other networks, the
    /// names it can see there.
    pub(crate) fn records_for(&self, inner: &Inner, rec: &NetworkRecord) -> DnsRecords {
        let mut r = own_records(rec);
        for ep in rec.endpoints.values() {
            for other in inner.nets.values() {
                if other.info.id == rec.info.id
                    || !other
                        .endpoints
                        .values()
                        .any(|e| e.container_id == ep.container_id)
                {
                    continue;
                }
                r.add_visible(IpAddr::V4(ep.ip), &own_records(other));
            }
        }
        r
    }

    pub(crate) fn upstreams(&self) -> Vec<SocketAddr> {
        match &self.config.dns_upstreams {
            Some(u) => u.clone(),
            None => resolvconf::upstreams(
                &std::fs::read_to_string(&self.config.host_resolv_conf).unwrap_or_default(),
            ),
        }
    }

    pub(crate) fn dns_server_for(&self, inner: &Inner, id: &str) -> Result<DnsServer> {
        let Some(rec) = inner.nets.get(id) else {
            return Err(Error::NetworkNotFound(id.to_string()));
        };
        let addr = SocketAddr::new(IpAddr::V4(rec.info.gateway), self.config.dns_port);
        let records = Arc::new(ArcSwap::from_pointee(self.records_for(inner, rec)));
        DnsServer::start(addr, records, self.upstreams()).map_err(|source| Error::DnsBind {
            network: rec.info.name.clone(),
            addr,
            source,
        })
    }

    /// Starts a network's DNS server, recording a warning instead of failing (used on open and
    /// reconcile, where one busy port must not take every network down).
    pub(crate) fn start_dns(&self, inner: &mut Inner, id: &str) {
        let enabled = inner.nets.get(id).is_some_and(|r| r.info.dns_enabled);
        if !enabled || inner.dns.contains_key(id) {
            return;
        }
        match self.dns_server_for(inner, id) {
            Ok(s) => {
                inner.dns.insert(id.to_string(), s);
            }
            Err(e) => inner.warnings.push(crate::error::error_chain(&e)),
        }
    }

    /// Rebuild the DNS tables after `id` changed. Every network is refreshed: a container on
    /// several networks makes one network's names visible from the others.
    pub(crate) fn refresh_dns(&self, inner: &Inner, id: &str) {
        let _ = id;
        for (net, server) in &inner.dns {
            if let Some(rec) = inner.nets.get(net) {
                server.update(self.records_for(inner, rec));
            }
        }
    }
}

fn own_records(rec: &NetworkRecord) -> DnsRecords {
    let mut r = DnsRecords::default();
    for ep in rec.endpoints.values() {
        for n in &ep.dns_names {
            r.insert(n, IpAddr::V4(ep.ip));
            if let Some(ip6) = ep.ip6 {
                r.insert(n, IpAddr::V6(ip6));
            }
        }
    }
    r
}

pub(crate) fn endpoint_rules_text(ep: &EndpointInfo) -> String {
    firewall::endpoint_script(&EndpointRules {
        network_id: &ep.network_id,
        container_id: &ep.container_id,
        ip: IpAddr::V4(ep.ip),
        ports: &ep.ports,
    })
}
