//! The runtime's side of creating a container's init: clone, cgroup, id maps, limits, and
//! serving the init's requests until it is ready.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{Hooks, LinuxIdMapping};
use vessel_cgroups::CgroupManager;

use super::clone::{fork_into, Forked};
use super::sync::{self, ChildMessage, ParentMessage};
use super::{init, InitConfig};
use crate::error::{Context, Result, RuntimeError};
use crate::hooks::{self, HookKind};
use crate::rlimits::{self, Rlimit};
use crate::state::{state_json, Status};

/// What the runtime needs besides the init's own configuration.
pub struct SpawnContext<'a> {
    pub cgroup: &'a dyn CgroupManager,
    pub uid_maps: &'a [LinuxIdMapping],
    pub gid_maps: &'a [LinuxIdMapping],
    pub rlimits: &'a [(String, Rlimit)],
    pub oom_score_adj: Option<i32>,
    pub hooks: Option<&'a Hooks>,
    pub bundle: &'a Path,
    pub annotations: &'a HashMap<String, String>,
    pub console_socket: Option<&'a Path>,
    pub seccomp_listener: Option<PathBuf>,
}

pub struct Spawned {
    pub pid: i32,
    /// The pty master when the process has a terminal and no console socket was given.
    pub console: Option<OwnedFd>,
}

/// Kills what was started if setup fails part-way.
struct ChildGuard {
    pids: Vec<i32>,
    armed: bool,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        for &pid in &self.pids {
            // SAFETY: kill with integer arguments.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            let _ = waitpid(Pid::from_raw(pid), None);
        }
    }
}

pub fn spawn(cfg: &InitConfig, ctx: &SpawnContext) -> Result<Spawned> {
    let (parent_sock, child_sock) = sync::pair()?;
    let flags = if cfg.intermediate {
        CloneFlags::empty()
    } else {
        cfg.plan.new
    };
    let cgroup_fd = ctx.cgroup.clone_into_fd().map(|fd| fd.as_raw_fd());
    let (child, in_cgroup) = match fork_into(flags, cgroup_fd) {
        Ok(f) => (f, cgroup_fd.is_some()),
        // Some v2 setups refuse CLONE_INTO_CGROUP (e.g. a threaded cgroup): move it after.
        Err(_) if cgroup_fd.is_some() => (fork_into(flags, None)?, false),
        Err(e) => return Err(e),
    };
    let child = match child {
        Forked::Child => {
            drop(parent_sock);
            init::run(cfg, &child_sock)
        }
        Forked::Parent { child } => child,
    };
    drop(child_sock);
    let mut guard = ChildGuard {
        pids: vec![child],
        armed: true,
    };
    if !in_cgroup {
        ctx.cgroup.add_process(child)?;
    }
    if !cfg.intermediate && cfg.plan.creates(CloneFlags::CLONE_NEWUSER) {
        write_id_maps(child, ctx.uid_maps, ctx.gid_maps)?;
    }
    rlimits::apply(child, ctx.rlimits)?;
    if let Some(adj) = ctx.oom_score_adj {
        std::fs::write(format!("/proc/{child}/oom_score_adj"), adj.to_string())
            .op(|| format!("process.oomScoreAdj {adj}"))?;
    }
    parent_sock.send(&ParentMessage::Continue, None)?;
    let mut init_pid = child;
    let mut console = None;
    loop {
        let Some((message, fd)) = parent_sock.recv::<ChildMessage>()? else {
            return Err(died(child));
        };
        match message {
            ChildMessage::NeedIdMaps => {
                write_id_maps(child, ctx.uid_maps, ctx.gid_maps)?;
                parent_sock.send(&ParentMessage::Continue, None)?;
            }
            ChildMessage::Pid(pid) => {
                init_pid = pid;
                guard.pids.push(pid);
            }
            ChildMessage::RunRuntimeHooks => {
                let state = state_json(
                    &cfg.id,
                    Status::Creating,
                    init_pid,
                    ctx.bundle,
                    ctx.annotations,
                );
                hooks::run_all(HookKind::Prestart, ctx.hooks, &state)?;
                hooks::run_all(HookKind::CreateRuntime, ctx.hooks, &state)?;
                let text = String::from_utf8_lossy(&state).into_owned();
                parent_sock.send(&ParentMessage::State(text), None)?;
            }
            ChildMessage::Console => {
                let master =
                    fd.ok_or_else(|| RuntimeError::Init("console message without a pty".into()))?;
                match ctx.console_socket {
                    Some(path) => crate::terminal::send_to_console_socket(path, master.as_fd())?,
                    None => console = Some(master),
                }
            }
            ChildMessage::SeccompListener => {
                if let (Some(path), Some(fd)) = (&ctx.seccomp_listener, fd) {
                    let state = listener_state(&cfg.id, init_pid, ctx);
                    crate::seccomp::send_listener_fd(path, fd.as_fd(), &state)?;
                }
            }
            ChildMessage::Ready => break,
            ChildMessage::Error(message) => return Err(RuntimeError::Child(message)),
        }
    }
    if !cfg.start_container_hooks.is_empty() {
        let state = state_json(
            &cfg.id,
            Status::Created,
            init_pid,
            ctx.bundle,
            ctx.annotations,
        );
        let text = String::from_utf8_lossy(&state).into_owned();
        parent_sock.send(&ParentMessage::State(text), None)?;
    }
    if init_pid != child {
        // The intermediate exits once it has reported the init.
        let _ = waitpid(Pid::from_raw(child), None);
    }
    guard.armed = false;
    Ok(Spawned {
        pid: init_pid,
        console,
    })
}

fn died(child: i32) -> RuntimeError {
    let status = waitpid(Pid::from_raw(child), None)
        .map(|s| format!("{s:?}"))
        .unwrap_or_else(|e| e.to_string());
    RuntimeError::Init(format!("container init exited during setup ({status})"))
}

/// The OCI containerProcessState sent with a seccomp listener fd.
fn listener_state(id: &str, pid: i32, ctx: &SpawnContext) -> Vec<u8> {
    let state: serde_json::Value = serde_json::from_slice(&state_json(
        id,
        Status::Creating,
        pid,
        ctx.bundle,
        ctx.annotations,
    ))
    .unwrap_or_default();
    serde_json::to_vec(&serde_json::json!({
        "ociVersion": crate::state::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": "",
        "state": state,
    }))
    .unwrap_or_default()
}

pub fn write_id_maps(
    pid: i32,
    uid_maps: &[LinuxIdMapping],
    gid_maps: &[LinuxIdMapping],
) -> Result<()> {
    let render = |maps: &[LinuxIdMapping]| {
        maps.iter()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect::<String>()
    };
    let uid_path = format!("/proc/{pid}/uid_map");
    std::fs::write(&uid_path, render(uid_maps))
        .op(|| format!("linux.uidMappings: writing {uid_path}"))?;
    let gid_path = format!("/proc/{pid}/gid_map");
    std::fs::write(&gid_path, render(gid_maps))
        .op(|| format!("linux.gidMappings: writing {gid_path}"))?;
    Ok(())
}
