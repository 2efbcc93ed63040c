//! Typed errors. Each variant names the input that failed and, where there is one, the fix.

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("netlink {op} on {target} failed")]
    Netlink {
        op: &'static str,
        target: String,
        #[source]
        source: io::Error,
    },
    #[error("network namespace {path}: {op} failed")]
    Netns {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: {op} failed")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("state file {path} is not valid")]
    StateCorrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "`nft` was not found: install the Debian package `nftables` (apt-get install nftables)"
    )]
    NftMissing,
    #[error("nft rejected the ruleset (exit {status}): {stderr}")]
    Nft { status: i32, stderr: String },
    #[error("could not run nft")]
    NftSpawn(#[source] io::Error),
    #[error("nft listing could not be parsed")]
    NftOutput(#[source] serde_json::Error),
    #[error("network {0:?} not found")]
    NetworkNotFound(String),
    #[error("network name {0:?} is already in use; choose another name or remove it first")]
    NetworkExists(String),
    #[error("network {network:?} still has endpoints ({containers}); detach them first")]
    NetworkInUse { network: String, containers: String },
    #[error("container {container:?} is already attached to network {network:?}")]
    AlreadyAttached { container: String, network: String },
    #[error("container {container:?} is not attached to network {network:?}")]
    NotAttached { container: String, network: String },
    #[error("invalid network spec: {0}")]
    InvalidSpec(String),
    #[error("subnet {subnet} overlaps {other}; pick a subnet that is not in use")]
    SubnetOverlap { subnet: String, other: String },
    #[error("no free subnet left in the address pools (every candidate overlaps a host route or network); pass an explicit subnet")]
    NoFreeSubnet,
    #[error("address {ip} is outside subnet {subnet} of network {network:?}")]
    IpOutsideSubnet {
        ip: IpAddr,
        subnet: String,
        network: String,
    },
    #[error("address {ip} on network {network:?} is already in use by {holder:?}")]
    IpTaken {
        ip: IpAddr,
        network: String,
        holder: String,
    },
    #[error(
        "address {ip} is reserved on network {network:?} (network, broadcast or gateway address)"
    )]
    IpReserved { ip: IpAddr, network: String },
    #[error(
        "no free address left in {range} on network {network:?}; use a larger subnet or ip_range"
    )]
    PoolExhausted { range: String, network: String },
    #[error("address {ip} is IPv{family} but network {network:?} has no IPv{family} subnet; create it with one or omit the address")]
    WrongFamily {
        ip: IpAddr,
        family: u8,
        network: String,
    },
    #[error("invalid port spec {spec:?}: {reason} (expected [ip:][hostport:]containerport[/tcp|udp], ranges as 8000-8001)")]
    PortSpec { spec: String, reason: String },
    #[error("host port {host_ip}:{port}/{proto} is already in use; choose another host port")]
    PortTaken {
        host_ip: IpAddr,
        port: u16,
        proto: &'static str,
        #[source]
        source: Option<io::Error>,
    },
    #[error("invalid MAC address {0:?} (expected six hex pairs like 02:42:ac:11:00:02)")]
    InvalidMac(String),
    #[error("embedded DNS for network {network:?} could not listen on {addr}")]
    DnsBind {
        network: String,
        addr: std::net::SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("{} step(s) failed: {}", .0.len(), join_errors(.0))]
    Multiple(Vec<Error>),
}

fn join_errors(errors: &[Error]) -> String {
    errors
        .iter()
        .map(error_chain)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The error with its causes, `a: b: c`, so collected teardown errors keep their detail.
pub fn error_chain(e: &Error) -> String {
    let mut out = e.to_string();
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(e);
    // Bounded: source chains are finite, but guard against a cyclic custom source anyway.
    for _ in 0..16 {
        match cur {
            Some(s) => {
                out.push_str(": ");
                out.push_str(&s.to_string());
                cur = s.source();
            }
            None => break,
        }
    }
    out
}

/// Collects errors from teardown steps so every step runs and all failures are reported.
#[derive(Default)]
pub struct Teardown {
    errors: Vec<Error>,
}

impl Teardown {
    pub fn step<T>(&mut self, r: Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(Error::Multiple(many)) => {
                self.errors.extend(many);
                None
            }
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    /// For failure paths that already hold at least one error: the single error, or all.
    pub fn into_error(mut self) -> Error {
        if self.errors.len() == 1 {
            self.errors.remove(0)
        } else {
            Error::Multiple(self.errors)
        }
    }

    pub fn finish(mut self) -> Result<()> {
        match self.errors.len() {
            0 => Ok(()),
            1 => Err(self.errors.remove(0)),
            _ => Err(Error::Multiple(self.errors)),
        }
    }
}

pub(crate) fn io_err(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}
