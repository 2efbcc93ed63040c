//! Vessel's OCI runtime: turns an OCI bundle (`config.json` + rootfs) into a running,
//! isolated process. The `vessel-runtime` binary is a thin runc-compatible CLI over this
//! library; the engine calls the library directly.

pub mod capabilities;
pub mod container;
pub mod devices_cgroup;
pub mod error;
pub mod hooks;
pub mod namespaces;
pub mod process;
pub mod rlimits;
pub mod rootfs;
pub mod seccomp;
pub mod signals;
pub mod spec;
pub mod state;
pub mod sysctl;
pub mod terminal;
pub mod user;

pub use error::RuntimeError;
