//! seccomp: compile an OCI `linux.seccomp` section to a BPF program once (cached on disk by
//! the hash of its JSON), and load it in the container's init right before exec.
//!
//! The split matters for start latency and for the init: libseccomp runs only in the runtime
//! process ([`compile`]); the container init needs nothing but the seccomp(2) syscall
//! ([`load`]), which allocates nothing and so is safe after clone/fork.

mod build;
mod cache;
#[cfg(test)]
mod tests;

use std::io::{self, IoSlice, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag};

use build::{FilterBuilder, Libseccomp};

/// libseccomp's own error type, kept as the `source` of our variants.
pub type LibseccompError = libseccomp::error::SeccompError;

/// The kernel refuses programs longer than this (`BPF_MAXINSNS`, include/uapi/linux/bpf_common.h).
pub const BPF_MAXINSNS: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp: SCMP_ACT_NOTIFY cannot be the default action (the kernel would notify on every syscall, including the ones the init needs to hand over the listener)")]
    NotifyDefaultAction,
    #[error("seccomp: SCMP_ACT_NOTIFY cannot be used for `{syscall}`: the container init makes that syscall after loading the filter and would wait on an agent that has no listener yet")]
    NotifyForbidden { syscall: String },
    #[error(
        "seccomp: errnoRet {errno} for {syscall} is out of range (the kernel caps errno at 4095)"
    )]
    InvalidErrno { syscall: String, errno: u32 },
    #[error("seccomp: SCMP_ACT_TRACE value {value} for {syscall} does not fit in 16 bits")]
    InvalidTraceValue { syscall: String, value: u32 },
    #[error(
        "seccomp: argument index {index} for {syscall} is out of range (syscalls have 6 arguments)"
    )]
    InvalidArgIndex { syscall: String, index: usize },
    #[error("seccomp: architecture {arch} is not supported by the installed libseccomp")]
    UnsupportedArch {
        arch: Arch,
        #[source]
        source: LibseccompError,
    },
    #[error("seccomp: libseccomp rejected the default action {action}")]
    Context {
        action: LinuxSeccompAction,
        #[source]
        source: LibseccompError,
    },
    #[error("seccomp: cannot set libseccomp filter attribute {attr}")]
    Attribute {
        attr: &'static str,
        #[source]
        source: LibseccompError,
    },
    #[error("seccomp: cannot add the {action} rule for syscall {syscall}")]
    AddRule {
        syscall: String,
        action: LinuxSeccompAction,
        #[source]
        source: LibseccompError,
    },
    #[error("seccomp: cannot export the BPF program from libseccomp")]
    Export {
        #[source]
        source: LibseccompError,
    },
    #[error("seccomp: cannot read back the exported BPF program")]
    ExportRead {
        #[source]
        source: io::Error,
    },
    #[error("seccomp: exported BPF program has {len} bytes, not a whole number of instructions")]
    MalformedProgram { len: usize },
    #[error("seccomp: BPF program has {len} instructions; the kernel accepts 1 to {BPF_MAXINSNS}")]
    ProgramSize { len: usize },
    #[error("seccomp: seccomp(SECCOMP_SET_MODE_FILTER) failed")]
    Load {
        #[source]
        source: io::Error,
    },
    #[error("seccomp: SECCOMP_FILTER_FLAG_TSYNC failed: thread {tid} cannot be synchronised")]
    Tsync { tid: i64 },
    #[error("seccomp: the container process state sent to the listener must not be empty")]
    EmptyState,
    #[error("seccomp: cannot connect to the seccomp agent at {}", path.display())]
    ListenerConnect {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("seccomp: cannot send the listener fd to the seccomp agent at {}", path.display())]
    ListenerSend {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// One BPF instruction, laid out exactly like the kernel's `struct sock_filter`
/// (include/uapi/linux/filter.h). Our own type so it can derive `Debug`/`Eq`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockFilter {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

// `load` hands a `*const SockFilter` to the kernel as `struct sock_filter *`.
const _: () =
    assert!(std::mem::size_of::<SockFilter>() == std::mem::size_of::<libc::sock_filter>());
const _: () =
    assert!(std::mem::align_of::<SockFilter>() == std::mem::align_of::<libc::sock_filter>());

/// A filter ready to load: the BPF program plus the flags for seccomp(2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledFilter {
    /// The `struct sock_filter` array, as libseccomp exported it.
    pub program: Vec<SockFilter>,
    /// SECCOMP_FILTER_FLAG_* bits from the spec's `flags` (without NEW_LISTENER).
    pub flags: libc::c_ulong,
    /// True when some rule uses SCMP_ACT_NOTIFY: loading returns a listener fd.
    pub wants_listener: bool,
}

/// Compile `seccomp` (in the runtime, before the container is cloned). `cache_dir`, when
/// given, holds programs keyed by the hash of the section so a repeat start skips libseccomp.
/// The directory must be writable by root only: whoever can write it chooses the filter.
pub fn compile(
    seccomp: &LinuxSeccomp,
    cache_dir: Option<&Path>,
) -> Result<CompiledFilter, SeccompError> {
    compile_with(&Libseccomp, seccomp, cache_dir)
}

fn compile_with(
    builder: &dyn FilterBuilder,
    seccomp: &LinuxSeccomp,
    cache_dir: Option<&Path>,
) -> Result<CompiledFilter, SeccompError> {
    let Some(dir) = cache_dir else {
        return builder.build(seccomp);
    };
    let key = cache::key(seccomp, &builder.library_version());
    if let Some(hit) = cache::read(dir, &key) {
        return Ok(hit);
    }
    let filter = builder.build(seccomp)?;
    // The cache only saves time; a full or read-only disk must not stop the container from
    // starting with a filter that is correct either way.
    let _ = cache::write(dir, &key, &filter);
    Ok(filter)
}

/// seccomp(2) filter flags for the spec's `flags` list.
fn filter_flags(flags: &[LinuxSeccompFilterFlag]) -> libc::c_ulong {
    flags.iter().fold(0, |acc, flag| {
        acc | match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
            }
        }
    })
}

/// Load `filter` into the calling thread (container init, after no_new_privs or while it
/// still holds CAP_SYS_ADMIN). Returns the notify listener fd when the filter asked for one.
///
/// Allocates nothing on success, so it is safe in a child forked from a threaded process.
pub fn load(filter: &CompiledFilter) -> Result<Option<OwnedFd>, SeccompError> {
    let len = filter.program.len();
    if len == 0 || len > BPF_MAXINSNS {
        return Err(SeccompError::ProgramSize { len });
    }
    let mut flags = filter.flags;
    if filter.wants_listener {
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
        // TSYNC reports a failing thread id in the return value, which would be ambiguous
        // with the listener fd; the kernel insists on TSYNC_ESRCH for the pair (kernel 5.7+).
        if flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
            flags |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
        }
    }
    let prog = libc::sock_fprog {
        // Cannot truncate: len <= BPF_MAXINSNS < u16::MAX.
        len: len as libc::c_ushort,
        // The kernel only reads the program; the field is `*mut` for historical reasons.
        filter: filter.program.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `len` initialised instructions whose layout matches
    // `struct sock_filter` (asserted above); the kernel copies them before returning.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        return Err(SeccompError::Load {
            source: io::Error::last_os_error(),
        });
    }
    if !filter.wants_listener {
        if rc > 0 {
            return Err(SeccompError::Tsync { tid: rc });
        }
        return Ok(None);
    }
    // SAFETY: with NEW_LISTENER a successful seccomp(2) returns a fresh fd that nothing else
    // owns; fds fit in RawFd.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(rc as RawFd) }))
}

/// Hand the notify listener `fd` to the seccomp agent listening on `listener_path`, as the
/// OCI runtime spec (config-linux.md, "listenerPath") describes: one connection carrying the
/// `containerProcessState` JSON (`state_json`, built by the caller) with the fd attached via
/// SCM_RIGHTS.
pub fn send_listener_fd(
    listener_path: &Path,
    fd: BorrowedFd,
    state_json: &[u8],
) -> Result<(), SeccompError> {
    // A stream socket drops ancillary data sent with zero bytes of payload.
    if state_json.is_empty() {
        return Err(SeccompError::EmptyState);
    }
    let send_err = |source: io::Error| SeccompError::ListenerSend {
        path: listener_path.to_path_buf(),
        source,
    };
    let mut stream =
        UnixStream::connect(listener_path).map_err(|source| SeccompError::ListenerConnect {
            path: listener_path.to_path_buf(),
            source,
        })?;
    let fds = [fd.as_raw_fd()];
    let sent = loop {
        // MSG_NOSIGNAL: an agent that hung up must give us EPIPE, not kill the runtime.
        match sendmsg::<()>(
            stream.as_raw_fd(),
            &[IoSlice::new(state_json)],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(n) => break n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(errno) => return Err(send_err(errno.into())),
        }
    };
    // The fd travelled with the first byte; a large state may need more writes.
    stream.write_all(&state_json[sent..]).map_err(send_err)
}
