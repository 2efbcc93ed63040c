//! The last steps shared by a container's init and by `exec`: terminal, working directory,
//! privileges, seccomp, descriptor hygiene and execve.

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use crate::capabilities::CapabilitySets;
use crate::error::{Context, Result, RuntimeError};
use crate::process::sync::{ChildMessage, SyncSocket};
use crate::seccomp::{self, CompiledFilter};
use crate::terminal;
use crate::user::Identity;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Everything about the process to exec, resolved in the runtime before forking.
#[derive(Debug, Clone)]
pub struct ProcessSetup {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: PathBuf,
    pub identity: Identity,
    pub caps: CapabilitySets,
    pub last_cap: u32,
    pub no_new_privileges: bool,
    pub seccomp: Option<CompiledFilter>,
    pub terminal: bool,
    pub console_size: Option<(u16, u16)>,
    /// Descriptors 3..3+n stay open across exec (runc's --preserve-fds).
    pub preserve_fds: i32,
    /// setgroups(2) is denied in a user namespace whose `setgroups` file says deny.
    pub setgroups_allowed: bool,
    /// Written by the runtime from the host side: lowering it needs host privileges.
    pub oom_score_adj: Option<i32>,
}

impl ProcessSetup {
    /// Create the pty inside the container and hand its master to the runtime.
    pub fn setup_terminal(&self, sync: &SyncSocket) -> Result<()> {
        if !self.terminal {
            return Ok(());
        }
        let master = terminal::open_in_container(self.console_size, &self.identity)?;
        sync.send(&ChildMessage::Console, Some(master.as_raw_fd()))?;
        Ok(())
    }

    /// chdir to the process cwd and make sure it is inside the container's root: a cwd
    /// reached through a leaked host descriptor would escape it (CVE-2024-21626).
    pub fn enter_cwd(&self) -> Result<()> {
        nix::unistd::chdir(&self.cwd)
            .op(|| format!("process.cwd {}: chdir", self.cwd.display()))?;
        let cwd = nix::unistd::getcwd().op(|| "getcwd".to_string())?;
        if !cwd.is_absolute() || cwd.as_os_str().as_bytes().starts_with(b"(unreachable)") {
            return Err(RuntimeError::InvalidConfig {
                field: "process.cwd".into(),
                message: format!("{} resolves outside the container root", self.cwd.display()),
            });
        }
        Ok(())
    }

    /// Find the program the way execvp would, with the container's PATH, and report a
    /// missing one in the words engines look for ("executable file not found").
    pub fn resolve_program(&self) -> Result<CString> {
        let name = &self.args[0];
        let not_found = |detail: String| RuntimeError::Init(format!("exec: {name:?}: {detail}"));
        if name.contains('/') {
            return match check_executable(Path::new(name)) {
                Ok(()) => Ok(cstring(name)),
                Err(e) => Err(not_found(format!(
                    "stat {name}: {}",
                    e.desc().to_lowercase()
                ))),
            };
        }
        let path = self
            .env
            .iter()
            .find_map(|kv| kv.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH);
        for dir in path.split(':').filter(|d| !d.is_empty()) {
            let candidate = Path::new(dir).join(name);
            if check_executable(&candidate).is_ok() {
                return Ok(cstring(&candidate.to_string_lossy()));
            }
        }
        Err(not_found("executable file not found in $PATH".to_string()))
    }

    /// no_new_privs, seccomp (early when it needs CAP_SYS_ADMIN or a listener), the id
    /// switch and the capability sets, in the order that keeps each step permitted.
    pub fn drop_privileges(&self, sync: Option<&SyncSocket>) -> Result<()> {
        if self.no_new_privileges {
            // SAFETY: prctl with integer arguments only.
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                return Err(std::io::Error::last_os_error()).op(|| "prctl(NO_NEW_PRIVS)".into());
            }
        }
        if let Some(filter) = self.early_seccomp() {
            if let Some(listener) = seccomp::load(filter)? {
                match sync {
                    Some(sync) => {
                        sync.send(&ChildMessage::SeccompListener, Some(listener.as_raw_fd()))?
                    }
                    None => drop(listener),
                }
            }
        }
        // Keep permitted capabilities across the uid change; capset trims them after.
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
        self.caps.drop_bounding(self.last_cap)?;
        self.identity.apply(self.setgroups_allowed)?;
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
        self.caps.apply(self.last_cap)
    }

    /// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, so it must happen
    /// before capabilities are dropped; a listener must reach the runtime before it exits.
    fn early_seccomp(&self) -> Option<&CompiledFilter> {
        self.seccomp
            .as_ref()
            .filter(|f| !self.no_new_privileges || f.wants_listener)
    }

    /// Load a late seccomp filter, close stray descriptors and execve. Returns only on error.
    pub fn exec(&self, program: &CString) -> RuntimeError {
        let argv: Vec<CString> = self.args.iter().map(|a| cstring(a)).collect();
        let envp: Vec<CString> = self.env.iter().map(|e| cstring(e)).collect();
        if let Err(e) = mark_fds_cloexec(3 + self.preserve_fds) {
            return e;
        }
        if self.early_seccomp().is_none() {
            if let Some(filter) = &self.seccomp {
                if let Err(e) = seccomp::load(filter) {
                    return e.into();
                }
            }
        }
        match nix::unistd::execve(program, &argv, &envp) {
            Err(errno) => RuntimeError::Init(format!(
                "exec: {:?}: {}",
                program.to_string_lossy(),
                errno.desc().to_lowercase()
            )),
            Ok(never) => match never {},
        }
    }
}

fn cstring(s: &str) -> CString {
    // Interior NULs cannot come from JSON strings the spec allows; strip defensively.
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

fn check_executable(path: &Path) -> std::result::Result<(), Errno> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::ENOENT)))?;
    if meta.is_dir() {
        return Err(Errno::EISDIR);
    }
    nix::unistd::access(path, nix::unistd::AccessFlags::X_OK)
}

/// Every descriptor from `first` up gets close-on-exec, so nothing of the runtime's leaks
/// into the container (CVE-2024-21626).
pub fn mark_fds_cloexec(first: i32) -> Result<()> {
    // SAFETY: close_range with integer arguments; CLOSE_RANGE_CLOEXEC only sets flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    // Kernels before 5.11 lack CLOSE_RANGE_CLOEXEC: walk /proc/self/fd instead.
    let dir = std::fs::read_dir("/proc/self/fd").op(|| "listing /proc/self/fd".to_string())?;
    let fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd >= first)
        .collect();
    for fd in fds {
        // SAFETY: fcntl on a descriptor number; an already-closed one just fails.
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok(())
}
