//! The data the engine passes in and gets back. Plain, serialisable, no kernel handles.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use crate::ports::{PortMapping, PortRequest};

/// Daemon-wide settings.
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    /// Create Docker's default network (`bridge`, on [`ManagerConfig::default_bridge`]) on open.
    pub default_network: bool,
    pub default_bridge: String,
    /// Prefix of generated bridge names; `<prefix><8 hex of id>` must fit 15 bytes.
    pub bridge_prefix: String,
    /// Candidate subnets for networks created without one, in order.
    pub address_pools: Vec<Ipv4Net>,
    pub default_mtu: u32,
    /// Source of upstream resolvers and of the default network's resolv.conf.
    pub host_resolv_conf: PathBuf,
    /// Overrides the upstreams read from `host_resolv_conf` (tests point this at a fake).
    pub dns_upstreams: Option<Vec<SocketAddr>>,
    pub dns_port: u16,
    /// The manager owns `table ip/ip6 vessel` alone: reconcile also deletes rules of networks
    /// it does not know. Off when several managers share the table (parallel tests).
    pub exclusive_table: bool,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig {
            default_network: true,
            default_bridge: crate::bridge::DEFAULT_BRIDGE.to_string(),
            bridge_prefix: "vsl-".to_string(),
            address_pools: crate::bridge::default_pools(),
            default_mtu: 1500,
            host_resolv_conf: PathBuf::from("/etc/resolv.conf"),
            dns_upstreams: None,
            dns_port: 53,
            exclusive_table: true,
        }
    }
}

/// `docker network create` options that the bridge driver honours.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    pub name: String,
    /// Only "bridge" (or empty) is supported.
    #[serde(default)]
    pub driver: Option<String>,
    #[serde(default)]
    pub subnet: Option<Ipv4Net>,
    #[serde(default)]
    pub gateway: Option<Ipv4Addr>,
    #[serde(default)]
    pub ip_range: Option<Ipv4Net>,
    /// Dual stack: set a subnet, or just `enable_ipv6` for a generated ULA /64.
    #[serde(default)]
    pub enable_ipv6: bool,
    #[serde(default)]
    pub subnet6: Option<Ipv6Net>,
    #[serde(default)]
    pub gateway6: Option<Ipv6Addr>,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub mtu: Option<u32>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `com.docker.network.bridge.name`
    #[serde(default)]
    pub bridge_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub bridge: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub ip_range: Option<Ipv4Net>,
    pub subnet6: Option<Ipv6Net>,
    pub gateway6: Option<Ipv6Addr>,
    pub internal: bool,
    pub mtu: u32,
    pub labels: BTreeMap<String, String>,
    /// Docker's default `bridge` network: no embedded DNS, host resolv.conf.
    pub is_default: bool,
    pub dns_enabled: bool,
    /// seconds since the epoch
    pub created: u64,
}

/// What the engine asks for when connecting a container (`docker run --network`,
/// `docker network connect`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRequest {
    /// The container's name, resolvable by DNS on user networks.
    #[serde(default)]
    pub name: Option<String>,
    /// `--ip`
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    /// `--ip6`
    #[serde(default)]
    pub ip6: Option<Ipv6Addr>,
    /// `--mac-address`
    #[serde(default)]
    pub mac: Option<String>,
    /// `--network-alias`
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub hostname: Option<String>,
    /// Extra names, e.g. the compose service name.
    #[serde(default)]
    pub dns_names: Vec<String>,
    /// `-p`, parsed with [`crate::ports::parse`].
    #[serde(default)]
    pub ports: Vec<PortRequest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointInfo {
    pub container_id: String,
    pub network_id: String,
    pub network_name: String,
    /// eth0, eth1…
    pub ifname: String,
    pub host_veth: String,
    pub netns: PathBuf,
    pub ip: Ipv4Addr,
    pub prefix_len: u8,
    /// The default route goes here when `primary`; absent on internal networks.
    pub gateway: Option<Ipv4Addr>,
    pub ip6: Option<Ipv6Addr>,
    pub prefix_len6: Option<u8>,
    pub gateway6: Option<Ipv6Addr>,
    pub mac: String,
    pub mtu: u32,
    /// First network of the container: it owns the default route.
    pub primary: bool,
    /// Every DNS name of this endpoint on its network.
    pub dns_names: Vec<String>,
    pub ports: Vec<PortMapping>,
}

/// What reconcile removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// (container id, network id) endpoints of containers that are no longer alive
    pub removed_endpoints: Vec<(String, String)>,
    pub removed_netns: Vec<PathBuf>,
    pub removed_rules: usize,
}
