//! The container's init, from the clone to execve. Runs in the child; every error before
//! `Ready` is sent to the runtime, which reports it and cleans up.

use nix::sched::CloneFlags;

use super::clone::{fork, Forked};
use super::sync::{ChildMessage, ParentMessage, SyncSocket};
use super::InitConfig;
use crate::error::{Context, Result, RuntimeError};
use crate::hooks::{self, HookKind};
use crate::namespaces;
use crate::rootfs;

/// Entry point of the cloned child. Never returns.
pub fn run(cfg: &InitConfig, sync: &SyncSocket) -> ! {
    let code = match setup(cfg, sync) {
        Ok(Step::Exit) => 0,
        Ok(Step::Exec) => match wait_and_exec(cfg, sync) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("vessel-runtime: container {}: {e}", cfg.id);
                127
            }
        },
        Err(e) => {
            let _ = sync.send(&ChildMessage::Error(e.to_string()), None);
            1
        }
    };
    // SAFETY: _exit skips Rust destructors and atexit handlers of the forked copy, which
    // belong to the runtime process.
    unsafe { libc::_exit(code) }
}

enum Step {
    /// The intermediate process: its job ended once the init was forked.
    Exit,
    /// The init proper: wait for start, then exec.
    Exec,
}

fn wait_for_parent(sync: &SyncSocket) -> Result<ParentMessage> {
    match sync.recv::<ParentMessage>()? {
        Some((m, _)) => Ok(m),
        None => Err(RuntimeError::Init(
            "the runtime went away during setup".into(),
        )),
    }
}

fn setup(cfg: &InitConfig, sync: &SyncSocket) -> Result<Step> {
    crate::terminal::unblock_signals();
    wait_for_parent(sync)?;
    if cfg.intermediate {
        if cfg.plan.joins(CloneFlags::CLONE_NEWPID) {
            // Processes of the joined pid namespace can see us: keep them from opening our
            // /proc/pid/exe or ptracing us until execve (CVE-2019-5736).
            // SAFETY: prctl with integer arguments only.
            unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
        }
        namespaces::join_all(&cfg.join_fds)?;
        let mut unshare_flags = cfg.plan.new;
        if cfg.plan.creates(CloneFlags::CLONE_NEWUSER) {
            nix::sched::unshare(CloneFlags::CLONE_NEWUSER)
                .op(|| "unshare user namespace".into())?;
            sync.send(&ChildMessage::NeedIdMaps, None)?;
            wait_for_parent(sync)?;
            unshare_flags.remove(CloneFlags::CLONE_NEWUSER);
        }
        if !unshare_flags.is_empty() {
            nix::sched::unshare(unshare_flags)
                .op(|| format!("unshare namespaces {:#x}", unshare_flags.bits()))?;
        }
        if let Some(offsets) = &cfg.time_offsets {
            std::fs::write("/proc/self/timens_offsets", offsets)
                .op(|| "linux.timeOffsets".into())?;
        }
        let pid_or_time =
            CloneFlags::CLONE_NEWPID | CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);
        if cfg.plan.new.intersects(pid_or_time) || cfg.plan.joins(CloneFlags::CLONE_NEWPID) {
            match fork()? {
                Forked::Parent { child } => {
                    sync.send(&ChildMessage::Pid(child), None)?;
                    return Ok(Step::Exit);
                }
                Forked::Child => {}
            }
        }
    } else {
        namespaces::join_all(&cfg.join_fds)?;
    }
    if cfg.plan.has(CloneFlags::CLONE_NEWUSER) && cfg.user_ns_root_mapped {
        let root = nix::unistd::Uid::from_raw(0);
        let root_gid = nix::unistd::Gid::from_raw(0);
        nix::unistd::setresgid(root_gid, root_gid, root_gid)
            .op(|| "setgid 0 in the user namespace".into())?;
        nix::unistd::setresuid(root, root, root).op(|| "setuid 0 in the user namespace".into())?;
    }
    if !cfg.no_new_keyring {
        join_session_keyring(&cfg.id);
    }
    if cfg.plan.creates(CloneFlags::CLONE_NEWUTS) || cfg.plan.joins(CloneFlags::CLONE_NEWUTS) {
        if let Some(h) = cfg.hostname.as_deref().filter(|h| !h.is_empty()) {
            nix::unistd::sethostname(h).op(|| format!("hostname {h:?}"))?;
        }
        if let Some(d) = cfg.domainname.as_deref().filter(|d| !d.is_empty()) {
            set_domainname(d)?;
        }
    }
    let in_user_ns = cfg.plan.has(CloneFlags::CLONE_NEWUSER);
    rootfs::prepare(&cfg.spec, &cfg.rootfs, in_user_ns)?;
    if cfg.runtime_hooks || !cfg.create_container_hooks.is_empty() {
        // The runtime runs prestart/createRuntime hooks and answers with the state the
        // createContainer hooks get (it knows our host pid; we may be pid 1 here).
        sync.send(&ChildMessage::RunRuntimeHooks, None)?;
        if let ParentMessage::State(state) = wait_for_parent(sync)? {
            for hook in &cfg.create_container_hooks {
                hooks::run(HookKind::CreateContainer, hook, state.as_bytes())?;
            }
        }
    }
    rootfs::switch_root(&cfg.rootfs, cfg.no_pivot)?;
    if let Some(p) = &cfg.process {
        p.setup_terminal(sync)?;
    }
    crate::sysctl::apply(&cfg.sysctl)?;
    rootfs::finalize(&cfg.spec)?;
    if let Some(p) = &cfg.process {
        p.enter_cwd()?;
        p.resolve_program()?;
        p.drop_privileges(Some(sync))?;
    }
    sync.send(&ChildMessage::Ready, None)?;
    Ok(Step::Exec)
}

/// After `Ready`: wait for `start`, run startContainer hooks, exec.
fn wait_and_exec(cfg: &InitConfig, sync: &SyncSocket) -> Result<()> {
    let state = if cfg.start_container_hooks.is_empty() {
        None
    } else {
        match wait_for_parent(sync)? {
            ParentMessage::State(s) => Some(s),
            ParentMessage::Continue => None,
        }
    };
    if let Some(fifo) = &cfg.exec_fifo {
        let mut byte = [0u8; 1];
        loop {
            match nix::unistd::read(fifo, &mut byte) {
                Ok(_) => break,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).op(|| "waiting on the exec fifo".into()),
            }
        }
    }
    let Some(process) = &cfg.process else {
        // `start` refuses a container without a process, so this only runs if the fifo was
        // written by something else.
        return Err(RuntimeError::InvalidConfig {
            field: "process".into(),
            message: "is required to start the container".into(),
        });
    };
    if let Some(state) = state {
        for hook in &cfg.start_container_hooks {
            hooks::run(HookKind::StartContainer, hook, state.as_bytes())?;
        }
    }
    let program = process.resolve_program()?;
    Err(process.exec(&program))
}

fn set_domainname(name: &str) -> Result<()> {
    // SAFETY: setdomainname reads `len` bytes from a buffer we own.
    let rc = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).op(|| format!("domainname {name:?}"));
    }
    Ok(())
}

/// A fresh session keyring per container keeps keys of one container from another.
/// Kernels or user namespaces without keyring support simply keep the inherited one.
fn join_session_keyring(id: &str) {
    let name =
        std::ffi::CString::new(format!("_ses.{}", &id[..id.len().min(64)])).unwrap_or_default();
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl reads a NUL-terminated name we own.
    unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
}
