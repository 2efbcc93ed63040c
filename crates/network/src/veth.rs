//! Endpoint naming and MAC addresses.

use std::net::IpAddr;

use crate::error::{Error, Result};

/// Host-side veth name: `veth` + 11 hex digits of a hash of (container, network): 15 bytes,
/// stable across daemon restarts so reconcile can find and delete it.
pub fn host_veth_name(container_id: &str, network_id: &str) -> String {
    // FNV-1a 64: tiny, deterministic, good enough to spread names; collisions are caught by
    // the kernel (EEXIST) and the manager's own state.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in container_id.bytes().chain([0u8]).chain(network_id.bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("veth{:011x}", h & 0x0fff_ffff_ffff)
}

/// Container interface name: eth0 for the first network, eth1... for the next.
pub fn container_ifname(index: usize) -> String {
    format!("eth{index}")
}

/// Docker's MAC: `02:42` (locally administered, unicast) followed by the IPv4 address, so the
/// MAC is unique wherever the address is.
pub fn mac_for_ip(ip: IpAddr) -> [u8; 6] {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            [0x02, 0x42, o[0], o[1], o[2], o[3]]
        }
        IpAddr::V6(a) => {
            let o = a.octets();
            [0x02, 0x42, o[12], o[13], o[14], o[15]]
        }
    }
}

pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 6 {
        return Err(Error::InvalidMac(s.to_string()));
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return Err(Error::InvalidMac(s.to_string()));
        }
        mac[i] = u8::from_str_radix(p, 16).map_err(|_| Error::InvalidMac(s.to_string()))?;
    }
    // A multicast MAC on an interface breaks ARP for it; the kernel would reject it anyway.
    if mac[0] & 1 == 1 || mac == [0; 6] {
        return Err(Error::InvalidMac(s.to_string()));
    }
    Ok(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_style_mac() {
        let mac = mac_for_ip("172.17.0.2".parse().unwrap());
        assert_eq!(format_mac(&mac), "02:42:ac:11:00:02");
    }

    #[test]
    fn mac_parsing() {
        assert_eq!(
            parse_mac("02:42:AC:11:00:02").unwrap(),
            [2, 0x42, 0xac, 0x11, 0, 2]
        );
        assert!(parse_mac("02:42:ac:11:00").is_err());
        assert!(parse_mac("01:00:5e:00:00:01").is_err());
        assert!(parse_mac("zz:42:ac:11:00:02").is_err());
    }

    #[test]
    fn veth_names_are_stable_and_short() {
        let a = host_veth_name("c1", "n1");
        assert_eq!(a, host_veth_name("c1", "n1"));
        assert_ne!(a, host_veth_name("c1", "n2"));
        assert_ne!(a, host_veth_name("c", "1n1"));
        assert_eq!(a.len(), 15);
        assert_eq!(container_ifname(1), "eth1");
    }
}
