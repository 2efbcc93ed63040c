//! The container lifecycle as the OCI runtime spec defines it: create, start, state, kill,
//! delete, plus pause/resume, exec, ps, update and stats.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxResources, Process, Spec};
use vessel_cgroups::{CgroupManager, FreezerState, Hierarchy};

use crate::capabilities::{self, CapabilitySets};
use crate::error::{Context, Result, RuntimeError};
use crate::hooks::{self, HookKind};
use crate::namespaces::NamespacePlan;
use crate::process::exec::{ExecContext, ExecSpawned};
use crate::process::setup::ProcessSetup;
use crate::process::spawn::{SpawnContext, Spawned};
use crate::process::InitConfig;
use crate::state::{self, ContainerRecord, StateOutput, StateRoot, Status};
use crate::user::Identity;
use crate::{rlimits, seccomp, spec};

/// The runtime: a state root plus host-wide choices.
pub struct Runtime {
    pub root: StateRoot,
    pub systemd_cgroup: bool,
}

#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
}

/// Overrides for `exec` on top of the container's own `process`.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// A whole process.json (`--process`); other fields then only add to it.
    pub process: Option<Process>,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub user: Option<(u32, Option<u32>)>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub tty: bool,
    pub no_new_privs: bool,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
}

const CONFIG_COPY: &str = "config.json";

impl Runtime {
    pub fn new(root: impl Into<PathBuf>, systemd_cgroup: bool) -> Self {
        Runtime {
            root: StateRoot::new(root),
            systemd_cgroup,
        }
    }

    fn seccomp_cache(&self) -> PathBuf {
        self.root.path().join(".seccomp-cache")
    }

    /// Create the container: everything up to the point where only exec of the user
    /// process remains. Returns the init pid and, without a console socket, the pty master.
    pub fn create(&self, opts: &CreateOptions) -> Result<Spawned> {
        state::validate_id(&opts.id)?;
        let bundle = spec::load_bundle(&opts.bundle)?;
        let spec = &bundle.spec;
        let linux = spec.linux().as_ref().expect("validated");
        let plan = NamespacePlan::from_spec(linux.namespaces().as_deref().unwrap_or_default());
        if !plan.has(CloneFlags::CLONE_NEWNS) {
            return Err(RuntimeError::InvalidConfig {
                field: "linux.namespaces".into(),
                message: "a mount namespace is required (pivot_root would change the host)".into(),
            });
        }
        let process = match spec.process() {
            Some(p) => Some(self.process_setup(p, spec, opts.preserve_fds)?),
            None => None,
        };
        let rlimits = spec
            .process()
            .as_ref()
            .map(|p| rlimits::resolve(p.rlimits().as_deref().unwrap_or_default()))
            .unwrap_or_default();
        let cgroups_path = self.cgroups_path(linux.cgroups_path().as_deref())?;
        let time_offsets = render_time_offsets(linux.time_offsets().as_ref());
        let intermediate = plan.needs_intermediate(time_offsets.is_some());
        let join_fds = plan.open_joins()?;

        let dir = self.root.reserve(&opts.id)?;
        let mut cleanup = CreateCleanup {
            root: &self.root,
            id: &opts.id,
            cgroup: None,
            armed: true,
        };
        std::fs::write(
            dir.join(CONFIG_COPY),
            serde_json::to_vec(spec).unwrap_or_default(),
        )
        .op(|| format!("saving config of {}", opts.id))?;
        // Even without a process the init waits here, so the container stays "created".
        let exec_fifo = Some(make_exec_fifo(&self.root.exec_fifo(&opts.id))?);
        let hierarchy = vessel_cgroups::detect()?;
        let cgroup = vessel_cgroups::manager(&hierarchy, cgroups_path.as_deref(), &opts.id)?;
        cgroup.create()?;
        let cgroup = cleanup.cgroup.insert(cgroup);
        let resources = crate::devices_cgroup::effective_resources(
            linux.resources().as_ref(),
            linux.devices().as_deref().unwrap_or_default(),
        );
        cgroup.apply(&resources)?;

        let uid_maps = linux.uid_mappings().clone().unwrap_or_default();
        let gid_maps = linux.gid_mappings().clone().unwrap_or_default();
        let user_ns_root_mapped = uid_maps
            .iter()
            .any(|m| m.container_id() == 0 || (m.container_id() < 1 && m.size() > 0));
        let hooks = spec.hooks().as_ref();
        let cfg = InitConfig {
            id: opts.id.clone(),
            rootfs: bundle.rootfs.clone(),
            spec: spec.clone(),
            plan: plan.clone(),
            join_fds,
            intermediate,
            no_pivot: opts.no_pivot,
            no_new_keyring: opts.no_new_keyring,
            hostname: spec.hostname().clone(),
            domainname: spec.domainname().clone(),
            sysctl: linux.sysctl().clone().unwrap_or_default(),
            time_offsets,
            exec_fifo,
            runtime_hooks: hooks.is_some_and(|h| {
                !HookKind::Prestart.select(h).is_empty()
                    || !HookKind::CreateRuntime.select(h).is_empty()
            }),
            create_container_hooks: hooks
                .map(|h| HookKind::CreateContainer.select(h).to_vec())
                .unwrap_or_default(),
            start_container_hooks: hooks
                .map(|h| HookKind::StartContainer.select(h).to_vec())
                .unwrap_or_default(),
            process,
            user_ns_root_mapped,
        };
        let annotations = spec.annotations().clone().unwrap_or_default();
        let ctx = SpawnContext {
            cgroup: cgroup.as_ref(),
            uid_maps: &uid_maps,
            gid_maps: &gid_maps,
            rlimits: &rlimits,
            oom_score_adj: spec.process().as_ref().and_then(|p| p.oom_score_adj()),
            hooks,
            bundle: &bundle.path,
            annotations: &annotations,
            console_socket: opts.console_socket.as_deref(),
            seccomp_listener: linux
                .seccomp()
                .as_ref()
                .and_then(|s| s.listener_path().clone()),
        };
        let spawned = crate::process::spawn::spawn(&cfg, &ctx)?;
        drop(cfg);
        let record = ContainerRecord {
            id: opts.id.clone(),
            pid: spawned.pid,
            pid_start_time: state::process_start_time(spawned.pid).unwrap_or_default(),
            bundle: bundle.path.clone(),
            rootfs: bundle.rootfs.clone(),
            created: state::rfc3339_now(),
            owner: String::new(),
            annotations,
            cgroup_path: cgroup.path().to_path_buf(),
            systemd_cgroup: self.systemd_cgroup,
        };
        self.root.save(&record)?;
        if let Some(pid_file) = &opts.pid_file {
            write_pid_file(pid_file, spawned.pid)?;
        }
        cleanup.armed = false;
        Ok(spawned)
    }

    /// Resolve `--systemd-cgroup` and the spec's cgroupsPath into a cgroupfs path.
    fn cgroups_path(&self, path: Option<&Path>) -> Result<Option<PathBuf>> {
        if !self.systemd_cgroup {
            return Ok(path.map(Path::to_path_buf));
        }
        if !Path::new("/run/systemd/system").exists() {
            return Err(RuntimeError::Unsupported(
                "--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); \
                 use the cgroupfs driver by dropping --systemd-cgroup"
                    .into(),
            ));
        }
        Ok(path.map(|p| systemd_to_cgroupfs(&p.to_string_lossy())))
    }

    /// The process to exec, with every name resolved and the seccomp filter compiled.
    fn process_setup(&self, p: &Process, spec: &Spec, preserve_fds: i32) -> Result<ProcessSetup> {
        let last_cap = capabilities::last_cap();
        let caps = CapabilitySets::from_spec(p.capabilities().as_ref(), last_cap)?;
        let seccomp = match spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
            Some(s) => Some(seccomp::compile(s, Some(&self.seccomp_cache()))?),
            None => None,
        };
        Ok(ProcessSetup {
            args: p.args().clone().unwrap_or_default(),
            env: p.env().clone().unwrap_or_default(),
            cwd: p.cwd().clone(),
            identity: Identity::from_spec(p.user()),
            caps,
            last_cap,
            no_new_privileges: p.no_new_privileges().unwrap_or(false),
            seccomp,
            terminal: p.terminal().unwrap_or(false),
            console_size: p
                .console_size()
                .map(|b| (b.height() as u16, b.width() as u16)),
            preserve_fds,
            setgroups_allowed: true,
            oom_score_adj: None,
        })
    }

    /// Start the user process of a created container and run poststart hooks.
    pub fn start(&self, id: &str) -> Result<()> {
        let _lock = self.root.lock(id)?;
        let record = self.root.load(id)?;
        let status = self.status(&record);
        if status != Status::Created {
            return Err(wrong_state(id, status, "start", "created"));
        }
        let spec = self.stored_spec(id)?;
        if spec.process().is_none() {
            return Err(RuntimeError::InvalidConfig {
                field: "process".into(),
                message: "is required to start the container".into(),
            });
        }
        let fifo_path = self.root.exec_fifo(id);
        let fifo = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&fifo_path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENXIO) => {
                    RuntimeError::Init(format!("container {id}: the init process is not running"))
                }
                _ => RuntimeError::Io {
                    operation: format!("opening {}", fifo_path.display()),
                    cause: e,
                },
            })?;
        nix::unistd::write(&fifo, b"0").op(|| format!("starting container {id}"))?;
        drop(fifo);
        std::fs::remove_file(&fifo_path).op(|| format!("removing {}", fifo_path.display()))?;
        if let Some(hooks) = spec
            .hooks()
            .as_ref()
            .filter(|h| !HookKind::Poststart.select(h).is_empty())
        {
            // poststart hooks run after the user process is executed, i.e. after the
            // init's startContainer hooks: wait until the init has exec'd.
            wait_for_exec(record.pid, Duration::from_secs(60));
            let state = state::state_json(
                id,
                Status::Running,
                record.pid,
                &record.bundle,
                &record.annotations,
            );
            hooks::run_all_warn(HookKind::Poststart, Some(hooks), &state);
        }
        Ok(())
    }

    fn stored_spec(&self, id: &str) -> Result<Spec> {
        spec::parse_config_file(&self.root.container_dir(id).join(CONFIG_COPY))
    }

    fn cgroup_of(&self, record: &ContainerRecord) -> Result<Box<dyn CgroupManager>> {
        let hierarchy: Hierarchy = vessel_cgroups::detect()?;
        Ok(vessel_cgroups::manager(
            &hierarchy,
            Some(&record.cgroup_path),
            &record.id,
        )?)
    }

    pub fn status(&self, record: &ContainerRecord) -> Status {
        if !state::init_alive(record) {
            return Status::Stopped;
        }
        if self.root.exec_fifo(&record.id).exists() {
            return Status::Created;
        }
        match self.cgroup_of(record).and_then(|c| Ok(c.freezer_state()?)) {
            Ok(FreezerState::Frozen) | Ok(FreezerState::Freezing) => Status::Paused,
            _ => Status::Running,
        }
    }

    pub fn state(&self, id: &str) -> Result<StateOutput> {
        let record = self.root.load(id)?;
        Ok(self.state_of(&record))
    }

    fn state_of(&self, record: &ContainerRecord) -> StateOutput {
        let status = self.status(record);
        StateOutput {
            oci_version: state::OCI_VERSION.to_string(),
            id: record.id.clone(),
            pid: if status == Status::Stopped {
                0
            } else {
                record.pid
            },
            status,
            bundle: record.bundle.clone(),
            rootfs: record.rootfs.clone(),
            created: record.created.clone(),
            annotations: record.annotations.clone(),
            owner: record.owner.clone(),
        }
    }

    pub fn list(&self) -> Result<Vec<StateOutput>> {
        let mut out = Vec::new();
        for id in self.root.list()? {
            if let Ok(record) = self.root.load(&id) {
                out.push(self.state_of(&record));
            }
        }
        Ok(out)
    }

    /// Send `signal` to the init, or with `all` to every process of the container.
    pub fn kill(&self, id: &str, signal: i32, all: bool) -> Result<()> {
        let record = self.root.load(id)?;
        let status = self.status(&record);
        if !matches!(status, Status::Created | Status::Running | Status::Paused) {
            return Err(wrong_state(id, status, "kill", "created or running"));
        }
        if all {
            let cgroup = self.cgroup_of(&record)?;
            for pid in cgroup.pids()? {
                // SAFETY: kill with integer arguments.
                unsafe { libc::kill(pid, signal) };
            }
            if status == Status::Paused && signal == libc::SIGKILL {
                let _ = cgroup.thaw();
            }
            return Ok(());
        }
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(record.pid),
            nix::sys::signal::Signal::try_from(signal).ok(),
        )
        .op(|| format!("sending signal {signal} to container {id}"))
    }

    /// Delete a stopped container (or, with `force`, kill it first): cgroup, state, then
    /// poststop hooks. Every step runs even when an earlier one fails.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        state::validate_id(id)?;
        let record = match self.root.load(id) {
            Ok(r) => r,
            Err(RuntimeError::ContainerNotFound { .. }) if force => {
                // A create cut short leaves a directory without state: remove it.
                return self.root.remove(id);
            }
            Err(RuntimeError::ContainerNotFound { id }) => {
                let _ = self.root.remove(&id);
                return Err(RuntimeError::ContainerNotFound { id });
            }
            Err(e) => return Err(e),
        };
        let _lock = self.root.lock(id)?;
        let status = self.status(&record);
        let cgroup = self.cgroup_of(&record);
        if status != Status::Stopped {
            if !force {
                return Err(wrong_state(
                    id,
                    status,
                    "delete",
                    "stopped (or use --force)",
                ));
            }
            if let Ok(cg) = &cgroup {
                if status == Status::Paused {
                    let _ = cg.thaw();
                }
                for pid in cg.pids().unwrap_or_default() {
                    // SAFETY: kill with integer arguments.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
            // SAFETY: kill with integer arguments.
            unsafe { libc::kill(record.pid, libc::SIGKILL) };
            wait_until_dead(&record, Duration::from_secs(10));
        }
        let spec = self.stored_spec(id).ok();
        let mut errors = Vec::new();
        match cgroup {
            Ok(cg) => {
                if let Err(e) = cg.destroy() {
                    errors.push(e.to_string());
                }
            }
            Err(e) => errors.push(e.to_string()),
        }
        if let Err(e) = self.root.remove(id) {
            errors.push(e.to_string());
        }
        let state = state::state_json(id, Status::Stopped, 0, &record.bundle, &record.annotations);
        hooks::run_all_warn(
            HookKind::Poststop,
            spec.as_ref().and_then(|s| s.hooks().as_ref()),
            &state,
        );
        if errors.is_empty() {
            Ok(())
        } else {
            Err(RuntimeError::Init(format!(
                "deleting {id}: {}",
                errors.join("; ")
            )))
        }
    }

    pub fn pause(&self, id: &str) -> Result<()> {
        let record = self.root.load(id)?;
        let status = self.status(&record);
        if status != Status::Running {
            return Err(wrong_state(id, status, "pause", "running"));
        }
        Ok(self.cgroup_of(&record)?.freeze()?)
    }

    pub fn resume(&self, id: &str) -> Result<()> {
        let record = self.root.load(id)?;
        let status = self.status(&record);
        if status != Status::Paused {
            return Err(wrong_state(id, status, "resume", "paused"));
        }
        Ok(self.cgroup_of(&record)?.thaw()?)
    }

    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        let record = self.root.load(id)?;
        let status = self.status(&record);
        if status == Status::Stopped {
            return Ok(Vec::new());
        }
        Ok(self.cgroup_of(&record)?.pids()?)
    }

    pub fn update(&self, id: &str, resources: &LinuxResources) -> Result<()> {
        let record = self.root.load(id)?;
        let status = self.status(&record);
        if status == Status::Stopped {
            return Err(wrong_state(
                id,
                status,
                "update",
                "created, running or paused",
            ));
        }
        Ok(self.cgroup_of(&record)?.apply(resources)?)
    }

    pub fn stats(&self, id: &str) -> Result<vessel_cgroups::Stats> {
        let record = self.root.load(id)?;
        let status = self.status(&record);
        if status == Status::Stopped {
            return Err(wrong_state(id, status, "events", "running"));
        }
        Ok(self.cgroup_of(&record)?.stats()?)
    }

    /// Start another process inside a running container.
    pub fn exec(&self, id: &str, opts: &ExecOptions) -> Result<ExecSpawned> {
        let record = self.root.load(id)?;
        let status = self.status(&record);
        if status != Status::Running && status != Status::Created {
            return Err(wrong_state(id, status, "exec", "running"));
        }
        let spec = self.stored_spec(id)?;
        let process = exec_process(&spec, opts)?;
        let mut setup = self.process_setup(&process, &spec, opts.preserve_fds)?;
        setup.oom_score_adj = process.oom_score_adj();
        let rlimits = rlimits::resolve(process.rlimits().as_deref().unwrap_or_default());
        let cgroup = self.cgroup_of(&record)?;
        let ctx = ExecContext {
            container_pid: record.pid,
            cgroup: cgroup.as_ref(),
            rlimits: &rlimits,
            console_socket: opts.console_socket.as_deref(),
        };
        let spawned = crate::process::exec::spawn(&setup, &ctx)?;
        if let Some(pid_file) = &opts.pid_file {
            write_pid_file(pid_file, spawned.pid)?;
        }
        Ok(spawned)
    }
}

/// Build the exec'd process: the given process.json, or the container's process with the
/// command line and overrides from flags.
fn exec_process(spec: &Spec, opts: &ExecOptions) -> Result<Process> {
    let mut process = match &opts.process {
        Some(p) => p.clone(),
        None => {
            let mut p = spec.process().clone().unwrap_or_default();
            if opts.args.is_empty() {
                return Err(RuntimeError::InvalidConfig {
                    field: "exec".into(),
                    message: "give a command to run or --process FILE".into(),
                });
            }
            p.set_args(Some(opts.args.clone()));
            p.set_terminal(Some(opts.tty));
            p
        }
    };
    if !opts.env.is_empty() {
        let mut env = process.env().clone().unwrap_or_default();
        for kv in &opts.env {
            let key = kv.split('=').next().unwrap_or_default();
            env.retain(|e| e.split('=').next() != Some(key));
            env.push(kv.clone());
        }
        process.set_env(Some(env));
    }
    if let Some(cwd) = &opts.cwd {
        process.set_cwd(cwd.clone());
    }
    if let Some((uid, gid)) = opts.user {
        let user = process.user_mut();
        user.set_uid(uid);
        if let Some(g) = gid {
            user.set_gid(g);
        }
    }
    if !opts.additional_gids.is_empty() {
        process
            .user_mut()
            .set_additional_gids(Some(opts.additional_gids.clone()));
    }
    if opts.no_new_privs {
        process.set_no_new_privileges(Some(true));
    }
    if !opts.caps.is_empty() {
        let mut caps = process.capabilities().clone().unwrap_or_default();
        let extra: oci_spec::runtime::Capabilities = opts
            .caps
            .iter()
            .map(|c| {
                let name = if c.starts_with("CAP_") {
                    c.clone()
                } else {
                    format!("CAP_{c}")
                };
                serde_json::from_value(serde_json::Value::String(name.to_uppercase())).map_err(
                    |_| RuntimeError::InvalidConfig {
                        field: "--cap".into(),
                        message: format!("{c:?} is not a capability"),
                    },
                )
            })
            .collect::<Result<_>>()?;
        let add = |set: Option<&oci_spec::runtime::Capabilities>| {
            let mut s = set.cloned().unwrap_or_default();
            s.extend(extra.iter().copied());
            Some(s)
        };
        caps.set_bounding(add(caps.bounding().as_ref()));
        caps.set_effective(add(caps.effective().as_ref()));
        caps.set_permitted(add(caps.permitted().as_ref()));
        process.set_capabilities(Some(caps));
    }
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(RuntimeError::InvalidConfig {
            field: "process.args".into(),
            message: "must name the program to run".into(),
        });
    }
    Ok(process)
}

fn wrong_state(
    id: &str,
    status: Status,
    operation: &'static str,
    needs: &'static str,
) -> RuntimeError {
    RuntimeError::WrongState {
        id: id.to_string(),
        status: status.to_string(),
        operation,
        needs,
    }
}

/// Wait until `pid` no longer runs this runtime's binary (it exec'd or died).
fn wait_for_exec(pid: i32, limit: Duration) {
    let ours = std::fs::metadata("/proc/self/exe").ok();
    let same = |m: &std::fs::Metadata| {
        use std::os::unix::fs::MetadataExt;
        ours.as_ref()
            .is_some_and(|o| o.dev() == m.dev() && o.ino() == m.ino())
    };
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_micros(50);
    while Instant::now() < deadline {
        match std::fs::metadata(format!("/proc/{pid}/exe")) {
            Ok(m) if same(&m) => {}
            _ => return,
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(5));
    }
}

fn wait_until_dead(record: &ContainerRecord, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_micros(100);
    while state::init_alive(record) && Instant::now() < deadline {
        // Reap it if it is our own child (run/exec in the foreground).
        let _ = nix::sys::wait::waitpid(
            nix::unistd::Pid::from_raw(record.pid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        );
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

/// Undoes a create that failed part-way.
struct CreateCleanup<'a> {
    root: &'a StateRoot,
    id: &'a str,
    cgroup: Option<Box<dyn CgroupManager>>,
    armed: bool,
}

impl Drop for CreateCleanup<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(cg) = &self.cgroup {
            let _ = cg.destroy();
        }
        let _ = self.root.remove(self.id);
    }
}

fn make_exec_fifo(path: &Path) -> Result<OwnedFd> {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600))
        .op(|| format!("creating {}", path.display()))?;
    // Read-write so the open does not block; the init then blocks reading it until
    // `start` writes a byte.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .op(|| format!("opening {}", path.display()))?;
    Ok(file.into())
}

/// Written atomically: engines read it as soon as `create` returns.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("pid")
    ));
    std::fs::write(&tmp, pid.to_string()).op(|| format!("writing pid file {}", tmp.display()))?;
    std::fs::rename(&tmp, path).op(|| format!("writing pid file {}", path.display()))
}

fn render_time_offsets(
    offsets: Option<&HashMap<String, oci_spec::runtime::LinuxTimeOffset>>,
) -> Option<String> {
    let offsets = offsets?;
    if offsets.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (clock, o) in offsets {
        out.push_str(&format!(
            "{clock} {} {}\n",
            o.secs().unwrap_or(0),
            o.nanosecs().unwrap_or(0)
        ));
    }
    Some(out)
}

/// systemd's "slice:prefix:name" cgroupsPath as a cgroupfs path: "a-b.slice:docker:id" →
/// "/a.slice/a-b.slice/docker-id.scope".
pub fn systemd_to_cgroupfs(path: &str) -> PathBuf {
    let mut parts = path.splitn(3, ':');
    let (slice, prefix, name) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let mut out = PathBuf::from("/");
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    if slice != "-.slice" {
        let stem = slice.trim_end_matches(".slice");
        let mut acc = String::new();
        for piece in stem.split('-') {
            if !acc.is_empty() {
                acc.push('-');
            }
            acc.push_str(piece);
            out.push(format!("{acc}.slice"));
        }
    }
    if name.ends_with(".slice") {
        out.push(name);
    } else if prefix.is_empty() {
        out.push(format!("{name}.scope"));
    } else {
        out.push(format!("{prefix}-{name}.scope"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemd_paths() {
        assert_eq!(
            systemd_to_cgroupfs("system.slice:docker:abc"),
            PathBuf::from("/system.slice/docker-abc.scope")
        );
        assert_eq!(
            systemd_to_cgroupfs("machine-libpod.slice:libpod:x"),
            PathBuf::from("/machine.slice/machine-libpod.slice/libpod-x.scope")
        );
    }

    #[test]
    fn time_offsets_render() {
        let mut m = HashMap::new();
        m.insert(
            "monotonic".to_string(),
            serde_json::from_value(serde_json::json!({"secs": 10, "nanosecs": 5})).unwrap(),
        );
        assert_eq!(render_time_offsets(Some(&m)).unwrap(), "monotonic 10 5\n");
        assert!(render_time_offsets(None).is_none());
    }

    #[test]
    fn exec_process_overrides() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0",
            "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["A=1", "B=2"]}
        }))
        .unwrap();
        let opts = ExecOptions {
            args: vec!["ls".into()],
            env: vec!["A=9".into()],
            user: Some((5, Some(6))),
            caps: vec!["NET_ADMIN".into()],
            ..Default::default()
        };
        let p = exec_process(&spec, &opts).unwrap();
        assert_eq!(p.args().as_ref().unwrap(), &vec!["ls".to_string()]);
        assert_eq!(
            p.env().as_ref().unwrap(),
            &vec!["B=2".to_string(), "A=9".to_string()]
        );
        assert_eq!((p.user().uid(), p.user().gid()), (5, 6));
        assert!(serde_json::to_string(p.capabilities())
            .unwrap()
            .contains("CAP_NET_ADMIN"));
        let bad = ExecOptions {
            args: vec!["ls".into()],
            caps: vec!["NOPE".into()],
            ..Default::default()
        };
        assert!(exec_process(&spec, &bad).is_err());
    }
}
