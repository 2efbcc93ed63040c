//! seccomp: compile an OCI `linux.seccomp` section to a BPF program once (cached on disk by
//! the hash of its JSON), and load it in the container's init right before exec.
//! OWNED BY: seccomp helper — interface below is fixed.

use std::os::fd::OwnedFd;
use std::path::Path;

use oci_spec::runtime::LinuxSeccomp;

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp: {0}")]
    Invalid(String),
}

/// A filter ready to load: the BPF program plus the flags for seccomp(2).
#[derive(Debug, Clone)]
pub struct CompiledFilter {
    /// Raw `struct sock_filter` array.
    pub program: Vec<libc::sock_filter>,
    /// SECCOMP_FILTER_FLAG_* bits.
    pub flags: libc::c_ulong,
    /// True when some rule uses SCMP_ACT_NOTIFY: loading returns a listener fd.
    pub wants_listener: bool,
}

/// Compile `seccomp` (in the runtime, before the container is cloned). `cache_dir`, when
/// given, holds programs keyed by the hash of the section so a repeat start skips libseccomp.
pub fn compile(seccomp: &LinuxSeccomp, cache_dir: Option<&Path>) -> Result<CompiledFilter, SeccompError> {
    let _ = (seccomp, cache_dir);
    Err(SeccompError::Invalid("not implemented".into()))
}

/// Load `filter` into the calling thread (container init, after no_new_privs or while it
/// still holds CAP_SYS_ADMIN). Returns the notify listener fd when the filter asked for one.
pub fn load(filter: &CompiledFilter) -> Result<Option<OwnedFd>, SeccompError> {
    let _ = filter;
    Err(SeccompError::Invalid("not implemented".into()))
}
