//! nftables rules, generated as plain nft script text and applied through `nft -f -`.
//!
//! Layout: one table of our own per family, `table ip vessel` and `table ip6 vessel`, with four
//! base chains (prerouting/output/postrouting nat, forward filter). Nothing else is touched.
//! Every rule carries a comment that is its owner key:
//!   `vessel:n=<net12>`           network rules (masquerade, isolation)
//!   `vessel:n=<net12>:c=<cid>`  a container's published ports on that network
//! Removal lists the table as JSON and deletes rules by handle whose key matches, so rules of
//! other networks/containers (and of other managers sharing the table in tests) are never hit.

use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::ports::PortMapping;

pub const TABLE: &str = "vessel";
/// Named set of every Vessel bridge (`type ifname`), for isolation rules.
pub const BRIDGE_SET: &str = "bridges";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Ip,
    Ip6,
}

impl Family {
    fn as_str(self) -> &'static str {
        match self {
            Family::Ip => "ip",
            Family::Ip6 => "ip6",
        }
    }
}

/// One rule as listed by `nft -j list table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRule {
    pub family: Family,
    pub chain: String,
    pub handle: u64,
    pub comment: Option<String>,
}

/// What the rule generator needs to know about a network.
pub struct NetworkRules<'a> {
    pub id: &'a str,
    pub bridge: &'a str,
    pub subnet: Ipv4Net,
    pub subnet6: Option<Ipv6Net>,
    pub internal: bool,
}

/// What the rule generator needs to know about a container's endpoint.
pub struct EndpointRules<'a> {
    pub network_id: &'a str,
    pub container_id: &'a str,
    pub ip: IpAddr,
    pub ports: &'a [PortMapping],
}

pub fn network_key(network_id: &str) -> String {
    format!("vessel:n={}", &network_id[..12.min(network_id.len())])
}

pub fn endpoint_key(network_id: &str, container_id: &str) -> String {
    // nft comments are limited to 128 bytes; container ids are at most 64 here.
    let cid = &container_id[..64.min(container_id.len())];
    format!("{}:c={cid}", network_key(network_id))
}

/// True when `comment` belongs to `key` or to a key nested under it.
pub fn key_matches(comment: &str, key: &str) -> bool {
    comment == key
        || comment
            .strip_prefix(key)
            .is_some_and(|r| r.starts_with(':'))
}

/// Idempotent: `add table`/`add chain` do not fail or flush when the objects exist.
pub fn base_script() -> String {
    let mut s = String::new();
    for fam in ["ip", "ip6"] {
        s.push_str(&format!(
            "add table {fam} {TABLE}\n\
             add chain {fam} {TABLE} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}\n\
             add chain {fam} {TABLE} output {{ type nat hook output priority -100; policy accept; }}\n\
             add chain {fam} {TABLE} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}\n\
             add chain {fam} {TABLE} forward {{ type filter hook forward priority filter; policy accept; }}\n\
             add set {fam} {TABLE} {BRIDGE_SET} {{ type ifname; }}\n"
        ));
    }
    s
}

fn rule(out: &mut String, fam: &str, chain: &str, body: &str, key: &str) {
    out.push_str(&format!(
        "add rule {fam} {TABLE} {chain} {body} comment \"{key}\"\n"
    ));
}

pub fn network_script(n: &NetworkRules<'_>) -> String {
    let key = network_key(n.id);
    let br = n.bridge;
    let mut s = String::new();
    let mut fams: Vec<(&str, &str, IpNet)> = vec![("ip", "ip", IpNet::V4(n.subnet))];
    if let Some(v6) = n.subnet6 {
        fams.push(("ip6", "ip6", IpNet::V6(v6)));
    }
    for (fam, _, _) in &fams {
        // `add element` is idempotent, so open/reconcile can replay it.
        s.push_str(&format!(
            "add element {fam} {TABLE} {BRIDGE_SET} {{ \"{br}\" }}\n"
        ));
    }
    for (fam, proto, subnet) in fams {
        if n.internal {
            // Internal: nothing leaves or enters the bridge except bridge-local traffic.
            rule(
                &mut s,
                fam,
                "forward",
                &format!("iifname \"{br}\" oifname != \"{br}\" drop"),
                &key,
            );
            rule(
                &mut s,
                fam,
                "forward",
                &format!("oifname \"{br}\" iifname != \"{br}\" drop"),
                &key,
            );
            continue;
        }
        rule(
            &mut s,
            fam,
            "postrouting",
            &format!("{proto} saddr {subnet} oifname != \"{br}\" masquerade"),
            &key,
        );
        // Isolation between networks (Docker's DOCKER-ISOLATION-STAGE-1/2): nothing from this
        // bridge to any other of ours. The set holds every Vessel bridge, whatever its name.
        rule(
            &mut s,
            fam,
            "forward",
            &format!("iifname \"{br}\" oifname != \"{br}\" oifname @{BRIDGE_SET} drop"),
            &key,
        );
    }
    if !n.internal {
        // Published ports reached via 127.0.0.1: after output DNAT the source is still
        // 127.0.0.1, which the container could not answer; masquerade it to the gateway
        // (needs route_localnet=1 on the bridge, as Docker sets with userland-proxy off).
        rule(
            &mut s,
            "ip",
            "postrouting",
            &format!("oifname \"{br}\" ip saddr 127.0.0.0/8 masquerade"),
            &key,
        );
        // Hairpin: a container reaching a published port (its own or a neighbour's) through a
        // host address is DNAT-ed back into its own subnet; without masquerade the reply would
        // go straight to the client from the container's address and be dropped. No iifname
        // match: with br_netfilter the bridged packet reaches postrouting without an input
        // interface.
        rule(
            &mut s,
            "ip",
            "postrouting",
            &format!(
                "oifname \"{br}\" ip saddr {} ct status dnat masquerade",
                n.subnet
            ),
            &key,
        );
    }
    s
}

/// DNAT rules for one endpoint's published ports. IPv4 only (see docs/networking.md).
pub fn endpoint_script(e: &EndpointRules<'_>) -> String {
    let key = endpoint_key(e.network_id, e.container_id);
    let mut s = String::new();
    let IpAddr::V4(cip) = e.ip else {
        return s;
    };
    for m in e.ports {
        let dst = match m.host_ip {
            IpAddr::V4(a) if !a.is_unspecified() => format!("ip daddr {a}"),
            _ => "fib daddr type local".to_string(),
        };
        let body = format!(
            "{dst} {proto} dport {hp} dnat to {cip}:{cp}",
            proto = m.proto,
            hp = m.host_port,
            cp = m.container_port
        );
        // prerouting: from other hosts and containers; output: from the host itself.
        rule(&mut s, "ip", "prerouting", &body, &key);
        rule(&mut s, "ip", "output", &body, &key);
    }
    s
}

/// Takes a bridge out of the isolation set in both families. Adding first makes the delete
/// succeed whether or not the element is there (a missing element would fail the whole
/// transaction), so teardown stays idempotent.
pub fn bridge_removal_script(bridge: &str) -> String {
    ["ip", "ip6"]
        .iter()
        .map(|fam| {
            format!(
                "add element {fam} {TABLE} {BRIDGE_SET} {{ \"{bridge}\" }}\n\
                 delete element {fam} {TABLE} {BRIDGE_SET} {{ \"{bridge}\" }}\n"
            )
        })
        .collect()
}

pub fn delete_script(rules: &[ListedRule]) -> String {
    rules
        .iter()
        .map(|r| {
            format!(
                "delete rule {} {TABLE} {} handle {}\n",
                r.family.as_str(),
                r.chain,
                r.handle
            )
        })
        .collect()
}

#[derive(Deserialize)]
struct Listing {
    nftables: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct JsonRule {
    family: String,
    chain: String,
    handle: u64,
    #[serde(default)]
    comment: Option<String>,
}

/// Parses `nft -j list table <fam> vessel` output into rules.
pub fn parse_listing(json: &str) -> Result<Vec<ListedRule>> {
    let listing: Listing = serde_json::from_str(json).map_err(Error::NftOutput)?;
    let mut out = Vec::new();
    for item in listing.nftables {
        let Some(r) = item.get("rule") else { continue };
        let r: JsonRule = serde_json::from_value(r.clone()).map_err(Error::NftOutput)?;
        let family = match r.family.as_str() {
            "ip" => Family::Ip,
            "ip6" => Family::Ip6,
            _ => continue,
        };
        out.push(ListedRule {
            family,
            chain: r.chain,
            handle: r.handle,
            comment: r.comment,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Proto;

    fn net<'a>(internal: bool, v6: bool) -> NetworkRules<'a> {
        NetworkRules {
            id: "0123456789abcdef0123",
            bridge: "vsl-01234567",
            subnet: "10.5.0.0/24".parse().unwrap(),
            subnet6: v6.then(|| "fd00:5::/64".parse().unwrap()),
            internal,
        }
    }

    #[test]
    fn network_rules_nat_and_isolation() {
        let s = network_script(&net(false, false));
        assert_eq!(
            s,
            "add element ip vessel bridges { \"vsl-01234567\" }\n\
             add rule ip vessel postrouting ip saddr 10.5.0.0/24 oifname != \"vsl-01234567\" masquerade comment \"vessel:n=0123456789ab\"\n\
             add rule ip vessel forward iifname \"vsl-01234567\" oifname != \"vsl-01234567\" oifname @bridges drop comment \"vessel:n=0123456789ab\"\n\
             add rule ip vessel postrouting oifname \"vsl-01234567\" ip saddr 127.0.0.0/8 masquerade comment \"vessel:n=0123456789ab\"\n\
             add rule ip vessel postrouting oifname \"vsl-01234567\" ip saddr 10.5.0.0/24 ct status dnat masquerade comment \"vessel:n=0123456789ab\"\n"
        );
    }

    #[test]
    fn dual_stack_adds_ip6_rules() {
        let s = network_script(&net(false, true));
        assert!(s.contains("add rule ip6 vessel postrouting ip6 saddr fd00:5::/64 oifname != \"vsl-01234567\" masquerade"));
    }

    #[test]
    fn internal_network_has_no_masquerade() {
        let s = network_script(&net(true, false));
        assert!(!s.contains("masquerade"));
        assert!(s.contains("iifname \"vsl-01234567\" oifname != \"vsl-01234567\" drop"));
        assert!(s.contains("oifname \"vsl-01234567\" iifname != \"vsl-01234567\" drop"));
    }

    #[test]
    fn port_rules_per_port_and_proto() {
        let ports = [
            PortMapping {
                host_ip: "0.0.0.0".parse().unwrap(),
                host_port: 8000,
                container_port: 80,
                proto: Proto::Tcp,
            },
            PortMapping {
                host_ip: "0.0.0.0".parse().unwrap(),
                host_port: 8001,
                container_port: 81,
                proto: Proto::Tcp,
            },
            PortMapping {
                host_ip: "127.0.0.1".parse().unwrap(),
                host_port: 5353,
                container_port: 53,
                proto: Proto::Udp,
            },
        ];
        let s = endpoint_script(&EndpointRules {
            network_id: "0123456789abcdef",
            container_id: "c1",
            ip: "10.5.0.2".parse().unwrap(),
            ports: &ports,
        });
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 6);
        assert_eq!(lines[0], "add rule ip vessel prerouting fib daddr type local tcp dport 8000 dnat to 10.5.0.2:80 comment \"vessel:n=0123456789ab:c=c1\"");
        assert_eq!(lines[1], "add rule ip vessel output fib daddr type local tcp dport 8000 dnat to 10.5.0.2:80 comment \"vessel:n=0123456789ab:c=c1\"");
        assert!(lines[3].contains("tcp dport 8001 dnat to 10.5.0.2:81"));
        assert!(lines[4].contains("ip daddr 127.0.0.1 udp dport 5353 dnat to 10.5.0.2:53"));
    }

    #[test]
    fn keys_match_exactly_or_nested() {
        let n = network_key("0123456789abcdef");
        assert!(key_matches("vessel:n=0123456789ab", &n));
        assert!(key_matches("vessel:n=0123456789ab:c=x", &n));
        assert!(!key_matches("vessel:n=0123456789abX", &n));
        let e = endpoint_key("0123456789abcdef", "c1");
        assert!(key_matches("vessel:n=0123456789ab:c=c1", &e));
        assert!(!key_matches("vessel:n=0123456789ab:c=c10", &e));
    }

    #[test]
    fn parses_json_listing_and_builds_deletes() {
        let json = r#"{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
          {"table": {"family": "ip", "name": "vessel", "handle": 3}},
          {"chain": {"family": "ip", "table": "vessel", "name": "postrouting", "handle": 3}},
          {"rule": {"family": "ip", "table": "vessel", "chain": "postrouting", "handle": 7, "comment": "vessel:n=0123456789ab", "expr": []}},
          {"rule": {"family": "ip", "table": "vessel", "chain": "forward", "handle": 9, "expr": []}}]}"#;
        let rules = parse_listing(json).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].comment.as_deref(), Some("vessel:n=0123456789ab"));
        assert_eq!(
            delete_script(&rules[..1]),
            "delete rule ip vessel postrouting handle 7\n"
        );
    }

    #[test]
    fn base_script_creates_both_families() {
        let s = base_script();
        assert!(s.contains("add table ip vessel"));
        assert!(s.contains("add table ip6 vessel"));
        assert!(s.contains("add chain ip6 vessel forward { type filter hook forward priority filter; policy accept; }"));
        assert!(s.contains("add set ip vessel bridges { type ifname; }"));
        assert_eq!(
            bridge_removal_script("vsl-1"),
            "add element ip vessel bridges { \"vsl-1\" }\ndelete element ip vessel bridges { \"vsl-1\" }\n\
             add element ip6 vessel bridges { \"vsl-1\" }\ndelete element ip6 vessel bridges { \"vsl-1\" }\n"
        );
    }
}
