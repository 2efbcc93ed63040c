//! Running an additional process inside a running container (`exec`).

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::sched::CloneFlags;
use vessel_cgroups::CgroupManager;

use super::clone::{fork_into, Forked};
use super::setup::ProcessSetup;
use super::sync::{self, ChildMessage, ParentMessage, SyncSocket};
use crate::error::{Context, Result, RuntimeError};
use crate::namespaces::differing_namespaces;
use crate::rlimits::{self, Rlimit};

pub struct ExecContext<'a> {
    pub container_pid: i32,
    pub cgroup: &'a dyn CgroupManager,
    pub rlimits: &'a [(String, Rlimit)],
    pub console_socket: Option<&'a Path>,
}

pub struct ExecSpawned {
    pub pid: i32,
    pub console: Option<OwnedFd>,
}

fn pidfd_open(pid: i32) -> Result<OwnedFd> {
    // SAFETY: pidfd_open with integer arguments; the returned fd is ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).op(|| format!("pidfd_open({pid})"));
    }
    // SAFETY: the kernel just returned this descriptor to us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

pub fn spawn(process: &ProcessSetup, ctx: &ExecContext) -> Result<ExecSpawned> {
    let pidfd = pidfd_open(ctx.container_pid)?;
    let root = std::fs::File::open(format!("/proc/{}/root", ctx.container_pid)).op(|| {
        format!(
            "opening the root of container process {}",
            ctx.container_pid
        )
    })?;
    let ns = differing_namespaces(ctx.container_pid);
    // Joining the pid (and time) namespace only affects our future children, so do it
    // here: the forked child then starts as a member without a second fork.
    let for_children =
        ns & (CloneFlags::CLONE_NEWPID | CloneFlags::from_bits_retain(libc::CLONE_NEWTIME));
    if !for_children.is_empty() {
        nix::sched::setns(pidfd.as_fd(), for_children)
            .op(|| "joining the container's pid namespace".into())?;
    }
    let (parent_sock, child_sock) = sync::pair()?;
    let cgroup_fd = ctx.cgroup.clone_into_fd().map(|fd| fd.as_raw_fd());
    let (forked, in_cgroup) = match fork_into(CloneFlags::empty(), cgroup_fd) {
        Ok(f) => (f, cgroup_fd.is_some()),
        Err(_) if cgroup_fd.is_some() => (fork_into(CloneFlags::empty(), None)?, false),
        Err(e) => return Err(e),
    };
    let child = match forked {
        Forked::Child => {
            drop(parent_sock);
            let rest = ns - for_children;
            let result = child_main(process, &child_sock, &pidfd, rest, root.as_fd());
            let _ = child_sock.send(&ChildMessage::Error(result.to_string()), None);
            // SAFETY: _exit avoids running the runtime's destructors in the forked copy.
            unsafe { libc::_exit(127) }
        }
        Forked::Parent { child } => child,
    };
    drop(child_sock);
    let kill_child = || {
        // SAFETY: kill with integer arguments.
        unsafe { libc::kill(child, libc::SIGKILL) };
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(child), None);
    };
    let result = (|| {
        if !in_cgroup {
            ctx.cgroup.add_process(child)?;
        }
        rlimits::apply(child, ctx.rlimits)?;
        if let Some(adj) = process.oom_score_adj {
            let _ = std::fs::write(format!("/proc/{child}/oom_score_adj"), adj.to_string());
        }
        parent_sock.send(&ParentMessage::Continue, None)?;
        let mut console = None;
        loop {
            let Some((message, fd)) = parent_sock.recv::<ChildMessage>()? else {
                return Err(RuntimeError::Init(
                    "exec process exited during setup".into(),
                ));
            };
            match message {
                ChildMessage::Console => {
                    let master = fd.ok_or_else(|| {
                        RuntimeError::Init("console message without a pty".into())
                    })?;
                    match ctx.console_socket {
                        Some(path) => {
                            crate::terminal::send_to_console_socket(path, master.as_fd())?
                        }
                        None => console = Some(master),
                    }
                }
                ChildMessage::Ready => return Ok(console),
                ChildMessage::Error(m) => return Err(RuntimeError::Child(m)),
                _ => {}
            }
        }
    })();
    match result {
        Ok(console) => Ok(ExecSpawned {
            pid: child,
            console,
        }),
        Err(e) => {
            kill_child();
            Err(e)
        }
    }
}

/// In the forked child: enter the container and exec. Returns only the error.
fn child_main(
    process: &ProcessSetup,
    sync: &SyncSocket,
    pidfd: &OwnedFd,
    ns: CloneFlags,
    root: std::os::fd::BorrowedFd,
) -> RuntimeError {
    let steps = || -> Result<std::ffi::CString> {
        crate::terminal::unblock_signals();
        // Non-dumpable until execve: container processes cannot open our /proc/pid/exe
        // or ptrace us while we run the runtime's code inside their namespaces
        // (CVE-2019-5736). execve of the target resets it.
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
        match sync.recv::<ParentMessage>()? {
            Some(_) => {}
            None => return Err(RuntimeError::Init("the runtime went away".into())),
        }
        if !ns.is_empty() {
            nix::sched::setns(pidfd.as_fd(), ns)
                .op(|| format!("joining container namespaces {:#x}", ns.bits()))?;
        }
        nix::unistd::fchdir(root).op(|| "entering the container root".into())?;
        nix::unistd::chroot(".").op(|| "chroot to the container root".into())?;
        process.setup_terminal(sync)?;
        process.enter_cwd()?;
        let program = process.resolve_program()?;
        process.drop_privileges(Some(sync))?;
        sync.send(&ChildMessage::Ready, None)?;
        Ok(program)
    };
    match steps() {
        Ok(program) => process.exec(&program),
        Err(e) => e,
    }
}
