//! Container networking for Vessel, Docker-compatible: persistent network namespaces, the bridge
//! driver (one Linux bridge per network, veth per endpoint), IPAM that survives restarts,
//! nftables NAT/isolation/published ports in a table of our own, and an embedded DNS server per
//! user network. See docs/networking.md for the design.
//!
//! Entry point: [`NetworkManager`]. Every side effect goes through [`NetKernel`], so the logic
//! is unit-tested with [`RecordingKernel`] and no root.

pub mod bridge;
pub mod dns;
pub mod error;
pub mod firewall;
pub mod ipam;
pub mod kernel;
pub mod manager;
pub mod netlink;
pub mod netns;
pub mod ports;
pub mod resolvconf;
pub mod state;
pub mod types;
pub mod veth;

pub use error::{Error, Result};
pub use kernel::{NetKernel, RealKernel, RecordingKernel};
pub use manager::NetworkManager;
pub use ports::{PortMapping, PortRequest, Proto};
pub use types::{
    EndpointInfo, EndpointRequest, ManagerConfig, NetworkInfo, NetworkSpec, ReconcileReport,
};
