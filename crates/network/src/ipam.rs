//! Address allocation for one subnet of one network. Plain data (serialised into the network's
//! state file), so it survives daemon restarts and is testable without a kernel.
//!
//! Allocation is deterministic: the lowest free address of `ip_range` (or the subnet), skipping
//! the network address, the IPv4 broadcast address and the gateway. Docker's allocator is
//! sequential too; lowest-free keeps addresses stable across recreate cycles in tests.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipam {
    pub network: String,
    pub subnet: IpNet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<IpNet>,
    pub gateway: IpAddr,
    /// address -> owner (container id)
    #[serde(default)]
    pub allocated: BTreeMap<IpAddr, String>,
}

fn to_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_u128(v: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(v))
    } else {
        IpAddr::V4(Ipv4Addr::from(v as u32))
    }
}

/// First usable gateway of a subnet: network address + 1 (Docker's default).
pub fn default_gateway(subnet: &IpNet) -> Result<IpAddr> {
    let first = to_u128(subnet.network()) + 1;
    let gw = from_u128(first, subnet.network().is_ipv6());
    if subnet.contains(&gw) && gw != subnet.broadcast() {
        Ok(gw)
    } else {
        Err(Error::InvalidSpec(format!(
            "subnet {subnet} is too small to hold a gateway and containers"
        )))
    }
}

impl Ipam {
    pub fn new(
        network: &str,
        subnet: IpNet,
        ip_range: Option<IpNet>,
        gateway: Option<IpAddr>,
    ) -> Result<Self> {
        let subnet = subnet.trunc();
        if subnet.prefix_len() > subnet.max_prefix_len().saturating_sub(2) {
            return Err(Error::InvalidSpec(format!(
                "subnet {subnet} is too small; use at most a /{} prefix",
                subnet.max_prefix_len() - 2
            )));
        }
        if let Some(r) = ip_range {
            if !subnet.contains(&r) {
                return Err(Error::InvalidSpec(format!(
                    "ip_range {r} is not inside subnet {subnet}"
                )));
            }
        }
        let gateway = match gateway {
            Some(g) => {
                if !subnet.contains(&g) {
                    return Err(Error::InvalidSpec(format!(
                        "gateway {g} is not inside subnet {subnet}"
                    )));
                }
                if g == subnet.network() || (g.is_ipv4() && g == subnet.broadcast()) {
                    return Err(Error::InvalidSpec(format!(
                        "gateway {g} is the network or broadcast address of {subnet}"
                    )));
                }
                g
            }
            None => default_gateway(&subnet)?,
        };
        Ok(Ipam {
            network: network.to_string(),
            subnet,
            ip_range: ip_range.map(|r| r.trunc()),
            gateway,
            allocated: BTreeMap::new(),
        })
    }

    pub fn is_reserved(&self, ip: IpAddr) -> bool {
        ip == self.subnet.network()
            || ip == self.gateway
            || (ip.is_ipv4() && ip == self.subnet.broadcast())
    }

    /// Allocates `requested` (must be inside the subnet and free) or the lowest free address.
    pub fn allocate(&mut self, owner: &str, requested: Option<IpAddr>) -> Result<IpAddr> {
        if let Some(ip) = requested {
            if ip.is_ipv4() != self.subnet.network().is_ipv4() {
                return Err(Error::WrongFamily {
                    ip,
                    family: if ip.is_ipv4() { 4 } else { 6 },
                    network: self.network.clone(),
                });
            }
            if !self.subnet.contains(&ip) {
                return Err(Error::IpOutsideSubnet {
                    ip,
                    subnet: self.subnet.to_string(),
                    network: self.network.clone(),
                });
            }
            if self.is_reserved(ip) {
                return Err(Error::IpReserved {
                    ip,
                    network: self.network.clone(),
                });
            }
            if let Some(holder) = self.allocated.get(&ip) {
                if holder != owner {
                    return Err(Error::IpTaken {
                        ip,
                        network: self.network.clone(),
                        holder: holder.clone(),
                    });
                }
            }
            self.allocated.insert(ip, owner.to_string());
            return Ok(ip);
        }
        let range = self.ip_range.unwrap_or(self.subnet);
        let v6 = range.network().is_ipv6();
        let start = to_u128(range.network());
        let end = to_u128(range.broadcast());
        // Every candidate skipped is reserved or allocated, so this loop runs at most
        // allocated.len() + 4 times before it finds a free address or reaches `end`.
        let mut cand = start;
        while cand <= end {
            let ip = from_u128(cand, v6);
            if !self.is_reserved(ip) && !self.allocated.contains_key(&ip) {
                self.allocated.insert(ip, owner.to_string());
                return Ok(ip);
            }
            if cand == u128::MAX {
                break;
            }
            cand += 1;
        }
        Err(Error::PoolExhausted {
            range: range.to_string(),
            network: self.network.clone(),
        })
    }

    /// Frees every address held by `owner`; returns how many were freed.
    pub fn release_owner(&mut self, owner: &str) -> usize {
        let before = self.allocated.len();
        self.allocated.retain(|_, o| o != owner);
        before - self.allocated.len()
    }

    pub fn owner_of(&self, ip: IpAddr) -> Option<&str> {
        self.allocated.get(&ip).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn allocates_lowest_free_skipping_reserved() {
        let mut ipam = Ipam::new("n", net("10.1.2.0/24"), None, None).unwrap();
        assert_eq!(ipam.gateway, "10.1.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(ipam.allocate("a", None).unwrap().to_string(), "10.1.2.2");
        assert_eq!(ipam.allocate("b", None).unwrap().to_string(), "10.1.2.3");
        ipam.release_owner("a");
        assert_eq!(ipam.allocate("c", None).unwrap().to_string(), "10.1.2.2");
    }

    #[test]
    fn custom_gateway_is_skipped() {
        let mut ipam = Ipam::new(
            "n",
            net("10.1.2.0/29"),
            None,
            Some("10.1.2.2".parse().unwrap()),
        )
        .unwrap();
        assert_eq!(ipam.allocate("a", None).unwrap().to_string(), "10.1.2.1");
        assert_eq!(ipam.allocate("b", None).unwrap().to_string(), "10.1.2.3");
    }

    #[test]
    fn ip_range_is_honoured() {
        let mut ipam = Ipam::new("n", net("10.1.0.0/16"), Some(net("10.1.5.0/30")), None).unwrap();
        // 10.1.5.0 is a normal host address in a /16, so it is handed out.
        let got: Vec<String> = (0..4)
            .map(|i| ipam.allocate(&format!("c{i}"), None).unwrap().to_string())
            .collect();
        assert_eq!(got, ["10.1.5.0", "10.1.5.1", "10.1.5.2", "10.1.5.3"]);
        assert!(matches!(
            ipam.allocate("x", None),
            Err(Error::PoolExhausted { .. })
        ));
        // a requested address outside the range but inside the subnet is allowed (Docker does)
        assert_eq!(
            ipam.allocate("y", Some("10.1.9.9".parse().unwrap()))
                .unwrap()
                .to_string(),
            "10.1.9.9"
        );
    }

    #[test]
    fn exhaustion_is_a_clear_error() {
        let mut ipam = Ipam::new("small", net("10.9.0.0/30"), None, None).unwrap();
        assert_eq!(ipam.allocate("a", None).unwrap().to_string(), "10.9.0.2");
        let err = ipam.allocate("b", None).unwrap_err();
        assert!(err
            .to_string()
            .contains("no free address left in 10.9.0.0/30"));
    }

    #[test]
    fn requested_ip_checks() {
        let mut ipam = Ipam::new("n", net("10.1.2.0/24"), None, None).unwrap();
        let ip: IpAddr = "10.1.2.50".parse().unwrap();
        assert_eq!(ipam.allocate("a", Some(ip)).unwrap(), ip);
        let taken = ipam.allocate("b", Some(ip)).unwrap_err();
        assert!(matches!(taken, Error::IpTaken { ref holder, .. } if holder == "a"));
        assert!(taken.to_string().contains("already in use"));
        assert!(matches!(
            ipam.allocate("b", Some("10.1.3.1".parse().unwrap())),
            Err(Error::IpOutsideSubnet { .. })
        ));
        assert!(matches!(
            ipam.allocate("b", Some("10.1.2.1".parse().unwrap())),
            Err(Error::IpReserved { .. })
        ));
        assert!(matches!(
            ipam.allocate("b", Some("10.1.2.255".parse().unwrap())),
            Err(Error::IpReserved { .. })
        ));
        assert!(matches!(
            ipam.allocate("b", Some("fd00::5".parse().unwrap())),
            Err(Error::WrongFamily { .. })
        ));
        // the next automatic allocation skips the static one
        assert_eq!(ipam.allocate("c", None).unwrap().to_string(), "10.1.2.2");
    }

    #[test]
    fn ipv6_allocation() {
        let mut ipam = Ipam::new("n", net("fd00:1::/64"), None, None).unwrap();
        assert_eq!(ipam.gateway.to_string(), "fd00:1::1");
        assert_eq!(ipam.allocate("a", None).unwrap().to_string(), "fd00:1::2");
    }

    #[test]
    fn serde_round_trip() {
        let mut ipam =
            Ipam::new("n", net("10.1.2.0/24"), Some(net("10.1.2.128/25")), None).unwrap();
        ipam.allocate("a", None).unwrap();
        let text = serde_json::to_string(&ipam).unwrap();
        let back: Ipam = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ipam);
    }

    #[test]
    fn rejects_bad_specs() {
        assert!(Ipam::new("n", net("10.0.0.0/31"), None, None).is_err());
        assert!(Ipam::new("n", net("10.0.0.0/24"), Some(net("10.0.1.0/25")), None).is_err());
        assert!(Ipam::new(
            "n",
            net("10.0.0.0/24"),
            None,
            Some("10.0.1.1".parse().unwrap())
        )
        .is_err());
    }
}
