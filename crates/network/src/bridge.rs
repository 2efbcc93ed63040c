//! Bridge naming and subnet selection. Pure functions over data the kernel boundary supplies
//! (host routes, existing networks), so they are unit-tested without root.

use std::net::Ipv4Addr;

use ipnet::{IpNet, Ipv4Net};

use crate::error::{Error, Result};

/// Docker's default bridge is `docker0`; ours is `vessel0`.
pub const DEFAULT_BRIDGE: &str = "vessel0";
/// Linux interface names are at most IFNAMSIZ - 1 = 15 bytes.
pub const IFNAME_MAX: usize = 15;

/// `vsl-` + the first 8 hex digits of the network id: 12 bytes, unique in practice, and
/// recognisable as ours in `ip link`.
pub fn bridge_name(prefix: &str, network_id: &str) -> String {
    let mut name = format!("{prefix}{}", &network_id[..8.min(network_id.len())]);
    name.truncate(IFNAME_MAX);
    name
}

/// Docker's default address pools: 172.17-31.0.0/16, then 192.168.0.0/16 cut into /20s.
pub fn default_pools() -> Vec<Ipv4Net> {
    let mut pools = Vec::new();
    for b in 17..=31u8 {
        if let Ok(n) = Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16) {
            pools.push(n);
        }
    }
    for c in (0..=240u8).step_by(16) {
        if let Ok(n) = Ipv4Net::new(Ipv4Addr::new(192, 168, c, 0), 20) {
            pools.push(n);
        }
    }
    pools
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first pool subnet that overlaps none of `in_use` (host routes and existing networks).
/// The default route (prefix 0) is ignored: every subnet "overlaps" it.
pub fn pick_subnet(pools: &[Ipv4Net], in_use: &[IpNet]) -> Result<Ipv4Net> {
    pools
        .iter()
        .find(|cand| {
            let c = IpNet::V4(**cand);
            in_use
                .iter()
                .filter(|r| r.prefix_len() > 0)
                .all(|r| !overlaps(&c, r))
        })
        .copied()
        .ok_or(Error::NoFreeSubnet)
}

/// Checks an explicitly requested subnet against networks we already manage (Docker refuses
/// overlapping user networks; host routes are not checked for explicit subnets, as in Docker).
pub fn check_overlap(subnet: &IpNet, existing: &[IpNet]) -> Result<()> {
    match existing.iter().find(|e| overlaps(subnet, e)) {
        Some(other) => Err(Error::SubnetOverlap {
            subnet: subnet.to_string(),
            other: other.to_string(),
        }),
        None => Ok(()),
    }
}

/// Parses `/proc/net/route`: destination and mask are little-endian hex u32s.
pub fn parse_proc_net_route(text: &str) -> Vec<IpNet> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let dst = u32::from_str_radix(cols.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(cols.get(7)?, 16).ok()?;
            // The kernel prints the in-memory (network order) u32 as a host-order number.
            let dst = Ipv4Addr::from(dst.to_ne_bytes());
            let prefix = u32::from_be_bytes(mask.to_ne_bytes()).leading_ones() as u8;
            Ipv4Net::new(dst, prefix).ok().map(IpNet::V4)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";

    #[test]
    fn parses_proc_net_route() {
        let routes = parse_proc_net_route(ROUTES);
        let s: Vec<String> = routes.iter().map(|r| r.to_string()).collect();
        assert_eq!(s, ["0.0.0.0/0", "192.0.2.0/24", "172.17.0.0/16"]);
    }

    #[test]
    fn picks_subnet_avoiding_routes_and_networks() {
        let routes = parse_proc_net_route(ROUTES);
        let pools = default_pools();
        assert_eq!(
            pick_subnet(&pools, &routes).unwrap().to_string(),
            "172.18.0.0/16"
        );
        let mut in_use = routes.clone();
        in_use.push("172.18.5.0/24".parse().unwrap());
        // a host route inside a pool entry blocks that entry too
        in_use.push("172.19.0.0/24".parse().unwrap());
        assert_eq!(
            pick_subnet(&pools, &in_use).unwrap().to_string(),
            "172.20.0.0/16"
        );
        // a covering route (e.g. 172.16.0.0/12) blocks all of 172.x
        let wide: Vec<IpNet> = vec!["172.16.0.0/12".parse().unwrap()];
        assert_eq!(
            pick_subnet(&pools, &wide).unwrap().to_string(),
            "192.168.0.0/20"
        );
        let all: Vec<IpNet> = vec![
            "172.16.0.0/12".parse().unwrap(),
            "192.168.0.0/16".parse().unwrap(),
        ];
        assert!(matches!(
            pick_subnet(&pools, &all),
            Err(Error::NoFreeSubnet)
        ));
    }

    #[test]
    fn bridge_names_fit_ifnamsiz() {
        let n = bridge_name("vsl-", "0123456789abcdef");
        assert_eq!(n, "vsl-01234567");
        assert!(bridge_name("a-very-long-prefix-", "0123456789").len() <= IFNAME_MAX);
    }

    #[test]
    fn overlap_check() {
        let existing: Vec<IpNet> = vec!["10.1.0.0/16".parse().unwrap()];
        assert!(check_overlap(&"10.1.2.0/24".parse().unwrap(), &existing).is_err());
        assert!(check_overlap(&"10.2.0.0/24".parse().unwrap(), &existing).is_ok());
    }
}
