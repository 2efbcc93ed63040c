//! Published ports: `docker run -p` spec parsing, expansion of ranges, and the host-port check.
//!
//! Why probe-and-release instead of holding a listening socket per published port (as Docker's
//! userland proxy does): with userland-proxy off, traffic never reaches a host socket — the
//! DNAT rules in prerouting/output divert it first — so a held socket only reserves the port.
//! Held sockets would die with the daemon anyway (and reconcile could not re-acquire them
//! atomically), so the reservation they give is weaker than it looks. We probe by binding and
//! releasing, and the manager additionally refuses host ports it has already published itself
//! (the probe cannot see those: a DNAT-ed port has no socket).

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the host port of one mapping is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HostPort {
    Fixed(u16),
    /// `-p 80`: any free port (the kernel picks one).
    Random,
    /// `-p 8000-8010:80`: the first free port of the range.
    OneOf(u16, u16),
}

/// One container port to publish, before the host port is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRequest {
    /// 0.0.0.0 = every local address
    pub host_ip: IpAddr,
    pub host_port: HostPort,
    pub container_port: u16,
    pub proto: Proto,
}

/// A resolved mapping: what the firewall rules and `docker port` show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PortMapping {
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

impl PortMapping {
    /// Two mappings clash when they use the same host port and protocol on overlapping
    /// addresses (0.0.0.0 overlaps everything).
    pub fn clashes(&self, host_ip: IpAddr, host_port: u16, proto: Proto) -> bool {
        self.proto == proto
            && self.host_port == host_port
            && (self.host_ip == host_ip
                || self.host_ip.is_unspecified()
                || host_ip.is_unspecified())
    }
}

fn spec_err(spec: &str, reason: impl Into<String>) -> Error {
    Error::PortSpec {
        spec: spec.to_string(),
        reason: reason.into(),
    }
}

fn parse_range(spec: &str, s: &str) -> Result<(u16, u16)> {
    let one = |p: &str| -> Result<u16> {
        match p.parse::<u16>() {
            Ok(0) | Err(_) => Err(spec_err(
                spec,
                format!("{p:?} is not a port number 1-65535"),
            )),
            Ok(n) => Ok(n),
        }
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if a > b {
                return Err(spec_err(spec, format!("range {s} is reversed")));
            }
            Ok((a, b))
        }
        None => {
            let p = one(s)?;
            Ok((p, p))
        }
    }
}

/// Parses one `-p` value: `80`, `8080:80`, `127.0.0.1:8080:80/udp`, `127.0.0.1::80`,
/// `8000-8001:80-81`, `[::1]:8080:80`.
pub fn parse(spec: &str) -> Result<Vec<PortRequest>> {
    let (body, proto) = match spec.rsplit_once('/') {
        Some((b, "tcp")) => (b, Proto::Tcp),
        Some((b, "udp")) => (b, Proto::Udp),
        Some((_, p)) => return Err(spec_err(spec, format!("protocol {p:?} is not tcp or udp"))),
        None => (spec, Proto::Tcp),
    };
    // An IPv6 host address is bracketed; split it off first so its colons do not count.
    let (ip_part, rest) = if let Some(stripped) = body.strip_prefix('[') {
        let (ip, rest) = stripped
            .split_once("]:")
            .ok_or_else(|| spec_err(spec, "unterminated [ipv6] host address"))?;
        (Some(ip), rest)
    } else {
        let parts: Vec<&str> = body.split(':').collect();
        match parts.len() {
            1 | 2 => (None, body),
            3 => (
                Some(parts[0]),
                body.split_once(':').map(|(_, r)| r).unwrap_or(body),
            ),
            _ => return Err(spec_err(spec, "too many ':' separated parts")),
        }
    };
    let host_ip: IpAddr = match ip_part {
        None | Some("") => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Some(ip) => ip
            .parse()
            .map_err(|_| spec_err(spec, format!("{ip:?} is not an IP address")))?,
    };
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (if h.is_empty() { None } else { Some(h) }, c),
        None => (None, rest),
    };
    let (c0, c1) = parse_range(spec, container)?;
    let count = (c1 - c0) as usize + 1;
    let host = host.map(|h| parse_range(spec, h)).transpose()?;
    let mut out = Vec::with_capacity(count);
    for (i, cport) in (c0..=c1).enumerate() {
        let host_port = match host {
            None => HostPort::Random,
            Some((h0, h1)) if h0 == h1 && count == 1 => HostPort::Fixed(h0),
            Some((h0, h1)) if (h1 - h0) as usize + 1 == count => HostPort::Fixed(h0 + i as u16),
            Some((h0, h1)) if count == 1 => HostPort::OneOf(h0, h1),
            Some(_) => {
                return Err(spec_err(
                    spec,
                    "host and container port ranges have different lengths",
                ))
            }
        };
        out.push(PortRequest {
            host_ip,
            host_port,
            container_port: cport,
            proto,
        });
    }
    Ok(out)
}

/// One entry of the Docker API's `PortBindings` (`{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`):
/// `container` is the map key, the others the entry's fields (empty = any).
pub fn from_binding(container: &str, host_ip: &str, host_port: &str) -> Result<Vec<PortRequest>> {
    let ip = if host_ip.contains(':') {
        format!("[{host_ip}]")
    } else {
        host_ip.to_string()
    };
    let (cport, proto) = container.split_once('/').unwrap_or((container, "tcp"));
    parse(&format!("{ip}:{host_port}:{cport}/{proto}"))
}

fn taken(host_ip: IpAddr, port: u16, proto: Proto, source: Option<io::Error>) -> Error {
    Error::PortTaken {
        host_ip,
        port,
        proto: proto.as_str(),
        source,
    }
}

/// Binds the port and releases it at once: fails if another process holds it.
pub fn probe(host_ip: IpAddr, port: u16, proto: Proto) -> Result<()> {
    let addr = SocketAddr::new(host_ip, port);
    let r = match proto {
        Proto::Tcp => TcpListener::bind(addr).map(drop),
        Proto::Udp => UdpSocket::bind(addr).map(drop),
    };
    r.map_err(|e| taken(host_ip, port, proto, Some(e)))
}

/// A port the kernel considers free right now (bind to port 0), from the ephemeral range.
pub fn random_free(host_ip: IpAddr, proto: Proto) -> Result<u16> {
    let addr = SocketAddr::new(host_ip, 0);
    let r = match proto {
        Proto::Tcp => TcpListener::bind(addr).and_then(|l| l.local_addr()),
        Proto::Udp => UdpSocket::bind(addr).and_then(|s| s.local_addr()),
    };
    r.map(|a| a.port())
        .map_err(|e| taken(host_ip, 0, proto, Some(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(ip: &str, host: HostPort, c: u16, proto: Proto) -> PortRequest {
        PortRequest {
            host_ip: ip.parse().unwrap(),
            host_port: host,
            container_port: c,
            proto,
        }
    }

    #[test]
    fn parses_docker_forms() {
        assert_eq!(
            parse("8080:80").unwrap(),
            [req("0.0.0.0", HostPort::Fixed(8080), 80, Proto::Tcp)]
        );
        assert_eq!(
            parse("127.0.0.1:8080:80/udp").unwrap(),
            [req("127.0.0.1", HostPort::Fixed(8080), 80, Proto::Udp)]
        );
        assert_eq!(
            parse("8000-8001:80-81").unwrap(),
            [
                req("0.0.0.0", HostPort::Fixed(8000), 80, Proto::Tcp),
                req("0.0.0.0", HostPort::Fixed(8001), 81, Proto::Tcp)
            ]
        );
        assert_eq!(
            parse("80").unwrap(),
            [req("0.0.0.0", HostPort::Random, 80, Proto::Tcp)]
        );
        assert_eq!(
            parse("127.0.0.1::80").unwrap(),
            [req("127.0.0.1", HostPort::Random, 80, Proto::Tcp)]
        );
        assert_eq!(
            parse("9000-9010:80/tcp").unwrap(),
            [req("0.0.0.0", HostPort::OneOf(9000, 9010), 80, Proto::Tcp)]
        );
        assert_eq!(
            parse("[::1]:8080:80").unwrap(),
            [req("::1", HostPort::Fixed(8080), 80, Proto::Tcp)]
        );
        assert_eq!(parse("80-82").unwrap().len(), 3);
    }

    #[test]
    fn docker_api_bindings() {
        assert_eq!(
            from_binding("80/tcp", "", "8080").unwrap(),
            [req("0.0.0.0", HostPort::Fixed(8080), 80, Proto::Tcp)]
        );
        assert_eq!(
            from_binding("53/udp", "127.0.0.1", "").unwrap(),
            [req("127.0.0.1", HostPort::Random, 53, Proto::Udp)]
        );
        assert_eq!(
            from_binding("80", "::1", "8000-8010").unwrap(),
            [req("::1", HostPort::OneOf(8000, 8010), 80, Proto::Tcp)]
        );
        assert!(from_binding("80/sctp", "", "").is_err());
    }

    #[test]
    fn rejects_bad_specs() {
        for bad in [
            "",
            "0",
            "70000:80",
            "80/sctp",
            "8000-8002:80-81",
            "a:b:c:d",
            "x:80:80",
            "90-80",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(
                err.to_string().contains("invalid port spec"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn clash_rules() {
        let m = PortMapping {
            host_ip: "0.0.0.0".parse().unwrap(),
            host_port: 8080,
            container_port: 80,
            proto: Proto::Tcp,
        };
        assert!(m.clashes("127.0.0.1".parse().unwrap(), 8080, Proto::Tcp));
        assert!(!m.clashes("127.0.0.1".parse().unwrap(), 8080, Proto::Udp));
        assert!(!m.clashes("127.0.0.1".parse().unwrap(), 8081, Proto::Tcp));
    }

    #[test]
    fn probe_detects_a_taken_port() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let err = probe("127.0.0.1".parse().unwrap(), port, Proto::Tcp).unwrap_err();
        assert!(err.to_string().contains("already in use"));
        drop(l);
        assert!(probe("127.0.0.1".parse().unwrap(), port, Proto::Tcp).is_ok());
        assert!(random_free("127.0.0.1".parse().unwrap(), Proto::Udp).unwrap() > 0);
    }
}
