//! clone3(2) used like fork(2): the child continues on a copy of the caller's stack. This
//! creates every new namespace and places the child in its cgroup (v2) in one syscall.

use std::os::fd::RawFd;

use nix::sched::CloneFlags;

use crate::error::{Context, Result};

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Where the child continues.
pub enum Forked {
    Parent { child: i32 },
    Child,
}

/// Fork with `namespaces`; when `cgroup_fd` is given the child starts inside that v2 cgroup.
/// Falls back to clone(2) semantics via fork+unshare is not possible for pid namespaces,
/// so ENOSYS from an old kernel is reported as is.
///
/// The caller must be single-threaded: the child gets a copy of only the calling thread.
pub fn fork_into(namespaces: CloneFlags, cgroup_fd: Option<RawFd>) -> Result<Forked> {
    let mut args = CloneArgs {
        flags: namespaces.bits() as u32 as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 with a null stack behaves like fork: the child resumes here on a
    // copy-on-write copy of our memory. The argument struct matches the kernel's layout and
    // size. The process is single-threaded, so no lock can be held by a vanished thread.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match rc {
        -1 => Err(std::io::Error::last_os_error()).op(|| {
            format!(
                "clone3 (namespaces {:#x}{})",
                namespaces.bits(),
                if cgroup_fd.is_some() {
                    ", into cgroup"
                } else {
                    ""
                }
            )
        }),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent { child: pid as i32 }),
    }
}

/// Plain fork for the intermediate step.
pub fn fork() -> Result<Forked> {
    fork_into(CloneFlags::empty(), None)
}
