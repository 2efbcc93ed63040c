//! The container's `/etc/resolv.conf` and `/etc/hosts`, and the embedded DNS server's upstreams,
//! all derived from the host's resolv.conf text.

use std::net::{IpAddr, SocketAddr};

/// Docker's fallback when the host has only loopback resolvers, which a container on the
/// default bridge cannot reach.
const FALLBACK: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

fn nameserver(line: &str) -> Option<IpAddr> {
    let mut words = line.split_whitespace();
    if words.next()? != "nameserver" {
        return None;
    }
    // scoped IPv6 ("fe80::1%eth0") cannot be used from a container; parse() rejects it.
    words.next()?.parse().ok()
}

/// Default bridge network: the host's file without loopback nameservers (they would point at
/// the container itself); Google DNS if nothing is left, as Docker does.
pub fn for_default_network(host: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        match nameserver(line) {
            Some(ip) if ip.is_loopback() => continue,
            Some(_) => servers += 1,
            None if line.trim_start().starts_with("nameserver") => continue,
            None => {}
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        for s in FALLBACK {
            out.push_str(&format!("nameserver {s}\n"));
        }
    }
    out
}

/// User-defined network: the embedded DNS server on the gateway is the only nameserver (it
/// forwards everything it does not own); search and options lines are kept from the host.
pub fn for_user_network(host: &str, dns_server: IpAddr) -> String {
    let mut out = format!("nameserver {dns_server}\n");
    for line in host.lines() {
        let t = line.trim_start();
        if t.starts_with("search") || t.starts_with("domain") || t.starts_with("options") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Upstream resolvers for the embedded DNS server. It runs in the host namespace, so loopback
/// resolvers such as systemd-resolved's 127.0.0.53 are kept.
pub fn upstreams(host: &str) -> Vec<SocketAddr> {
    host.lines()
        .filter_map(nameserver)
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// `/etc/hosts` as Docker writes it: localhost entries, then the container's own addresses
/// under its hostname, then extra entries (`--add-host`).
pub fn hosts(hostname: &str, ips: &[IpAddr], extra: &[(String, IpAddr)]) -> String {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\n\
         ff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n",
    );
    for (name, ip) in extra {
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    for ip in ips {
        out.push_str(&format!("{ip}\t{hostname}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch example.com\noptions edns0 trust-ad\n";

    #[test]
    fn default_network_drops_loopback() {
        assert_eq!(
            for_default_network(HOST),
            "# generated\nnameserver 10.0.0.2\nsearch example.com\noptions edns0 trust-ad\n"
        );
        assert_eq!(
            for_default_network("nameserver 127.0.0.53\nnameserver ::1\n"),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
    }

    #[test]
    fn user_network_points_at_gateway() {
        assert_eq!(
            for_user_network(HOST, "10.7.0.1".parse().unwrap()),
            "nameserver 10.7.0.1\nsearch example.com\noptions edns0 trust-ad\n"
        );
    }

    #[test]
    fn upstreams_keep_loopback() {
        let u = upstreams(HOST);
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].to_string(), "127.0.0.53:53");
    }

    #[test]
    fn hosts_file() {
        let h = hosts(
            "web",
            &["10.7.0.2".parse().unwrap()],
            &[("db".to_string(), "10.7.0.9".parse().unwrap())],
        );
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.contains("10.7.0.9\tdb\n"));
        assert!(h.ends_with("10.7.0.2\tweb\n"));
    }
}
