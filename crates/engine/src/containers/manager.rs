//! The container lifecycle: create (rootfs, files, OCI spec), start (monitor + runtime
//! start), exit handling, stop/kill/pause, remove, and reconciliation after a daemon restart.
//! Blocking work (mounts, process spawns, the store) runs on the blocking pool.

use std::collections::HashMap;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use vessel_runtime::container::Runtime;
use vessel_specgen::ImageConfig;

use super::error::ContainerError;
use super::record::{valid_name, ContainerRecord, Status};
use crate::errors::ApiError;
use crate::image_service::ImageService;
use crate::store::{Store, Table};

/// Live, in-memory companions of stored records: change notifications and attach clients
/// waiting for the monitor.
#[derive(Default)]
pub struct Live {
    /// Bumped on every state change; `None` once the container is removed.
    pub events: Option<watch::Sender<u64>>,
    pub attach_waiters: Vec<oneshot::Sender<oneshot::Sender<()>>>,
    /// Exit code remembered for `wait?condition=removed` after the record is gone.
    pub last_exit: i32,
    pub health: Option<super::health::Health>,
}

pub struct Containers {
    pub(super) store: Store,
    pub(super) images: Arc<dyn ImageService>,
    /// `<root>/containers`: records' files, bundle, logs (persistent).
    pub(super) data_dir: PathBuf,
    /// `<exec_root>/containers`: monitor state and sockets.
    pub(super) run_dir: PathBuf,
    pub(super) volumes_dir: PathBuf,
    pub(super) runtime: Runtime,
    pub(super) runtime_root: PathBuf,
    pub(super) runtime_bin: PathBuf,
    pub(super) monitor_bin: PathBuf,
    pub(super) log_max_size: u64,
    pub(super) log_max_files: u32,
    pub(super) live: Mutex<HashMap<String, Live>>,
    pub(super) names: Mutex<()>,
    pub execs: Mutex<HashMap<String, super::exec::ExecInstance>>,
    /// Serializes start, stop and policy restarts of one container, so a restart that is
    /// already under way cannot undo a concurrent `docker stop`.
    pub(super) lifecycle: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pub(super) events: crate::events::EventBus,
    /// Bridge networks; `None` when the host cannot provide them (then only `none`/`host`).
    pub(super) networks: Option<Arc<vessel_network::NetworkManager>>,
    /// The network a container joins when it names none (`bridge`), if the daemon has one.
    pub(super) default_network: Option<String>,
}

pub type Result<T> = std::result::Result<T, ApiError>;

impl Containers {
    pub fn new(
        store: Store,
        images: Arc<dyn ImageService>,
        root: &Path,
        exec_root: &Path,
        log_opts: &std::collections::BTreeMap<String, String>,
        networks: Option<Arc<vessel_network::NetworkManager>>,
        default_network: Option<String>,
    ) -> Containers {
        let runtime_root = exec_root.join("runtime");
        Containers {
            store,
            images,
            data_dir: root.join("containers"),
            run_dir: exec_root.join("c"),
            volumes_dir: root.join("volumes"),
            runtime: Runtime::new(&runtime_root, false),
            runtime_root,
            runtime_bin: find_binary("VESSEL_RUNTIME_BIN", "vessel-runtime"),
            monitor_bin: find_binary("VESSEL_MONITOR_BIN", "vessel-monitor"),
            log_max_size: log_opts
                .get("max-size")
                .and_then(|s| parse_size(s))
                .unwrap_or(10 << 20),
            log_max_files: log_opts
                .get("max-file")
                .and_then(|s| s.parse().ok())
                .unwrap_or(3),
            live: Mutex::new(HashMap::new()),
            names: Mutex::new(()),
            execs: Mutex::new(HashMap::new()),
            lifecycle: Mutex::new(HashMap::new()),
            events: crate::events::EventBus::default(),
            networks,
            default_network,
        }
    }

    /// Hold this while changing whether a container runs (see `lifecycle`).
    pub async fn lock_lifecycle(&self, id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self
            .lifecycle
            .lock()
            .expect("lifecycle map")
            .entry(id.to_string())
            .or_default()
            .clone();
        lock.lock_owned().await
    }

    fn forget_lifecycle(&self, id: &str) {
        self.lifecycle.lock().expect("lifecycle map").remove(id);
    }

    /// Short on purpose: the monitor's sockets live here and unix socket paths are limited
    /// to 108 bytes; 12 hex digits of a random id are as unique as Docker's short ids.
    pub fn runtime_command(&self) -> std::process::Command {
        let mut cmd = Command::new(&self.runtime_bin);
        cmd.arg("--root").arg(&self.runtime_root);
        cmd
    }

    /// Run a blocking manager operation from an async handler (store and disk I/O go to the
    /// blocking pool).
    pub async fn call<R: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Containers) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let this = self.clone();
        crate::api::blocking(move || f(&this)).await
    }

    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.run_dir.join(&id[..id.len().min(12)])
    }

    pub fn all(&self) -> Result<Vec<ContainerRecord>> {
        Ok(self
            .store
            .list::<ContainerRecord>(Table::Containers)?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    /// Full id, exact name, or unique id prefix — Docker's lookup order.
    pub fn find(&self, name: &str) -> Result<ContainerRecord> {
        let name = name.trim_start_matches('/');
        if let Some(r) = self.store.get::<ContainerRecord>(Table::Containers, name)? {
            return Ok(r);
        }
        let all = self.all()?;
        if let Some(r) = all.iter().find(|r| r.name == name) {
            return Ok(r.clone());
        }
        let matches: Vec<&ContainerRecord> =
            all.iter().filter(|r| r.id.starts_with(name)).collect();
        match matches.len() {
            1 if !name.is_empty() => Ok(matches[0].clone()),
            0 | 1 => Err(ContainerError::NotFound(name.to_string()).into()),
            _ => Err(ContainerError::Ambiguous(name.to_string()).into()),
        }
    }

    pub(super) fn save(&self, record: &ContainerRecord) -> Result<()> {
        self.store.put(Table::Containers, &record.id, record)?;
        self.notify(&record.id);
        Ok(())
    }

    /// Subscribe to state changes of `id` (a fresh channel if none exists yet).
    pub fn subscribe(&self, id: &str) -> watch::Receiver<u64> {
        let mut live = self.live.lock().expect("live map");
        let entry = live.entry(id.to_string()).or_default();
        entry
            .events
            .get_or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    pub fn health(&self, id: &str) -> Option<super::health::Health> {
        self.live
            .lock()
            .expect("live map")
            .get(id)
            .and_then(|l| l.health.clone())
    }

    pub fn set_health(&self, id: &str, health: Option<super::health::Health>) {
        self.live
            .lock()
            .expect("live map")
            .entry(id.to_string())
            .or_default()
            .health = health;
    }

    /// The health check of a container: its own, else its image's.
    pub fn healthcheck(
        &self,
        record: &ContainerRecord,
    ) -> Option<vessel_specgen::create::Healthcheck> {
        if let Some(h) = record.create.config.healthcheck.clone() {
            return Some(h);
        }
        let details = self.images.inspect(&record.image_id).ok()?;
        let image =
            ImageConfig::from_image_document(&serde_json::to_vec(&details.config).ok()?).ok()?;
        image.healthcheck
    }

    pub fn last_exit(&self, id: &str) -> i32 {
        self.live
            .lock()
            .expect("live map")
            .get(id)
            .map(|l| l.last_exit)
            .unwrap_or(0)
    }

    /// The network manager, when bridge networking is available.
    pub fn networks(&self) -> Option<&Arc<vessel_network::NetworkManager>> {
        self.networks.as_ref()
    }

    /// The network of containers that name none.
    pub fn default_network(&self) -> Option<&str> {
        self.default_network.as_deref()
    }

    /// The endpoints of a container (empty without managed networking).
    pub fn endpoints(&self, id: &str) -> Vec<vessel_network::EndpointInfo> {
        self.networks
            .as_ref()
            .map(|n| n.container_endpoints(id))
            .unwrap_or_default()
    }

    /// The daemon's event stream (`GET /events`).
    pub fn events(&self) -> &crate::events::EventBus {
        &self.events
    }

    /// A container event with Docker's attributes: name, image and the labels.
    pub fn emit(&self, record: &ContainerRecord, action: &str, extra: &[(&str, String)]) {
        let mut attrs: HashMap<String, String> = record
            .labels()
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        attrs.insert("name".into(), record.name.clone());
        attrs.insert("image".into(), record.image.clone());
        for (k, v) in extra {
            attrs.insert(k.to_string(), v.clone());
        }
        self.events.emit("container", action, &record.id, attrs);
    }

    fn notify(&self, id: &str) {
        let mut live = self.live.lock().expect("live map");
        let entry = live.entry(id.to_string()).or_default();
        if let Some(tx) = &entry.events {
            tx.send_modify(|g| *g += 1);
        }
    }

    /// An attach client waits here until the monitor's socket exists; it answers through
    /// the inner sender once connected so `start` can go on.
    pub fn wait_for_monitor(&self, id: &str) -> oneshot::Receiver<oneshot::Sender<()>> {
        let (tx, rx) = oneshot::channel();
        self.live
            .lock()
            .expect("live map")
            .entry(id.to_string())
            .or_default()
            .attach_waiters
            .push(tx);
        rx
    }

    /// Start the monitor (which creates the container through the runtime). Blocking.
    pub fn spawn_monitor(&self, mut record: ContainerRecord) -> Result<ContainerRecord> {
        let rootfs = self.images.prepare_rootfs(&record.image_id, &record.id)?;
        record.rootfs = rootfs;
        let run_dir = self.run_dir(&record.id);
        let _ = std::fs::remove_dir_all(&run_dir);
        let _ = self.runtime.delete(&record.id, true);
        let (log_max_size, log_max_files) = self.log_limits(&record);
        let mut cmd = Command::new(&self.monitor_bin);
        cmd.arg("--id")
            .arg(&record.id)
            .arg("--bundle")
            .arg(&record.dir)
            .arg("--runtime")
            .arg(&self.runtime_bin)
            .arg("--runtime-root")
            .arg(&self.runtime_root)
            .arg("--dir")
            .arg(&run_dir)
            .arg("--log-path")
            .arg(&record.log_path)
            .arg("--log-max-size")
            .arg(log_max_size.to_string())
            .arg("--log-max-files")
            .arg(log_max_files.to_string());
        if record.tty() {
            cmd.arg("--tty");
        }
        if record.open_stdin() {
            cmd.arg("--stdin");
        }
        let out = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| {
                ContainerError::io(format!("starting {}", self.monitor_bin.display()), e)
            })?;
        if !out.status.success() {
            let text = String::from_utf8_lossy(&out.stderr).trim().to_string();
            let text = text
                .strip_prefix(&format!("vessel-monitor: create {}: ", record.id))
                .unwrap_or(&text)
                .to_string();
            let message = format!("OCI runtime create failed: {text}: unknown");
            record.state.exit_code =
                if text.contains("executable file not found") || text.contains("no such file") {
                    127
                } else if text.contains("permission denied") {
                    126
                } else {
                    128
                };
            record.state.error = message.clone();
            self.save(&record)?;
            return Err(ContainerError::StartFailed { message }.into());
        }
        record.state.monitor_pid = read_pid(&run_dir.join("monitor.pid")).unwrap_or(0);
        record.state.pid = read_pid(&run_dir.join("init.pid")).unwrap_or(0);
        Ok(record)
    }

    /// The container's `HostConfig.LogConfig.Config` (`max-size`, `max-file`) over the
    /// daemon's `log-opts`; a value that does not parse keeps the daemon's.
    fn log_limits(&self, record: &ContainerRecord) -> (u64, u32) {
        let opts = record
            .create
            .host_config
            .as_ref()
            .and_then(|h| h.log_config.as_ref())
            .and_then(|l| l.config.as_ref());
        let size = opts
            .and_then(|o| o.get("max-size"))
            .and_then(|s| parse_size(s))
            .unwrap_or(self.log_max_size);
        let files = opts
            .and_then(|o| o.get("max-file"))
            .and_then(|s| s.parse().ok())
            .unwrap_or(self.log_max_files);
        (size, files)
    }

    /// A start that failed: attach clients waiting for the monitor are let go (their
    /// connections close), and an --rm container is removed as Docker does, so that
    /// `wait?condition=removed` returns. Blocking.
    pub fn start_failed(&self, id: &str) {
        if let Some(live) = self.live.lock().expect("live map").get_mut(id) {
            live.attach_waiters.clear();
        }
        if self.find(id).map(|r| r.auto_remove()).unwrap_or(false) {
            if let Err(e) = self.remove(id, true, false) {
                tracing::warn!(
                    container = id,
                    "auto-remove after failed start: {}",
                    e.message()
                );
            }
        }
    }

    /// Let attach clients connect to the monitor before the process runs.
    pub async fn release_attach_waiters(&self, id: &str) {
        let waiters = std::mem::take(
            &mut self
                .live
                .lock()
                .expect("live map")
                .entry(id.to_string())
                .or_default()
                .attach_waiters,
        );
        for w in waiters {
            let (ack_tx, ack_rx) = oneshot::channel();
            if w.send(ack_tx).is_ok() {
                let _ = tokio::time::timeout(Duration::from_secs(2), ack_rx).await;
            }
        }
    }

    /// Run the user process (the runtime's `start`) and record it running. Blocking.
    pub fn run_started(&self, mut record: ContainerRecord) -> Result<ContainerRecord> {
        if let Err(e) = self.runtime.start(&record.id) {
            let _ = self.runtime.delete(&record.id, true);
            record.state.error = e.to_string();
            record.state.exit_code = 128;
            self.save(&record)?;
            return Err(ContainerError::StartFailed {
                message: e.to_string(),
            }
            .into());
        }
        record.state.status = Status::Running;
        record.state.started_at = crate::timefmt::now_rfc3339_nano();
        record.state.error.clear();
        record.state.exit_code = 0;
        record.state.oom_killed = false;
        self.save(&record)?;
        self.emit(&record, "start", &[]);
        Ok(record)
    }

    /// Watch the monitor; when it exits, record the exit and apply --rm.
    pub fn watch_exit(self: &Arc<Self>, id: String, monitor_pid: i32) {
        let this = self.clone();
        tokio::spawn(async move {
            if let Some(fd) = pidfd_open(monitor_pid) {
                // SAFETY: the pidfd is owned by the AsyncFd, which deregisters it before it
                // is closed on drop.
                if let Ok(afd) = unsafe { tokio::io::unix::AsyncFd::register(fd) } {
                    let _ = afd.readable().await;
                }
            }
            let worker = this.clone();
            let id2 = id.clone();
            let delay = tokio::task::spawn_blocking(move || worker.handle_exit(&id2))
                .await
                .ok()
                .flatten();
            if let Some(delay) = delay {
                this.restart_after(id, delay);
            }
        });
    }

    /// Record the exit from the monitor's exit.json; remove the container if --rm. Returns
    /// the delay before a restart when the restart policy asks for one.
    pub fn handle_exit(&self, id: &str) -> Option<Duration> {
        let Ok(mut record) = self.find(id) else {
            return None;
        };
        if !record.state.status.is_live() {
            return None;
        }
        let exit: serde_json::Value = std::fs::read(self.run_dir(id).join("exit.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| serde_json::json!({"exit_code": 255}));
        record.state.status = Status::Exited;
        record.state.exit_code = exit["exit_code"].as_i64().unwrap_or(255) as i32;
        record.state.oom_killed = exit["oom_killed"].as_bool().unwrap_or(false);
        record.state.finished_at = exit["finished_at"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(crate::timefmt::now_rfc3339_nano);
        record.state.pid = 0;
        if let Err(e) = self.runtime.delete(id, true) {
            tracing::warn!(container = id, "runtime delete after exit: {e}");
        }
        if record.state.oom_killed {
            self.emit(&record, "oom", &[]);
        }
        self.emit(
            &record,
            "die",
            &[("exitCode", record.state.exit_code.to_string())],
        );
        self.live
            .lock()
            .expect("live map")
            .entry(id.to_string())
            .or_default()
            .last_exit = record.state.exit_code;
        if record.auto_remove() {
            let _ = self.save(&record);
            if let Err(e) = self.remove(id, true, false) {
                tracing::warn!(container = id, "auto-remove: {}", e.message());
            }
            return None;
        }
        let delay = super::restart::restart_delay(&record);
        if delay.is_some() {
            record.state.status = Status::Restarting;
        }
        let _ = self.save(&record);
        delay
    }

    /// Cgroup statistics of a live container.
    pub fn cgroup_stats(&self, id: &str) -> Result<vessel_cgroups::Stats> {
        let record = self.find(id)?;
        if !record.state.status.is_live() {
            return Err(ContainerError::NotRunning(record.id).into());
        }
        self.runtime
            .stats(&record.id)
            .map_err(|e| ContainerError::Runtime(e).into())
    }

    /// Host pids of every process in a live container.
    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        let record = self.find(id)?;
        if !record.state.status.is_live() {
            return Err(ContainerError::NotRunning(record.id).into());
        }
        self.runtime
            .pids(&record.id)
            .map_err(|e| ContainerError::Runtime(e).into())
    }

    /// `docker rename`: same rules as a name given at create.
    pub fn rename(&self, id: &str, new_name: &str) -> Result<ContainerRecord> {
        let new_name = new_name.trim_start_matches('/').to_string();
        if !valid_name(&new_name) {
            return Err(ContainerError::InvalidName(new_name).into());
        }
        let _names = self.names.lock().expect("names lock");
        let mut record = self.find(id)?;
        if let Some(other) = self
            .all()?
            .into_iter()
            .find(|r| r.name == new_name && r.id != record.id)
        {
            return Err(ContainerError::NameInUse {
                name: new_name,
                id: other.id,
            }
            .into());
        }
        let old = std::mem::replace(&mut record.name, new_name);
        self.save(&record)?;
        self.emit(&record, "rename", &[("oldName", format!("/{old}"))]);
        Ok(record)
    }

    /// Mount the container's rootfs again if it is not (after a host reboot); idempotent.
    pub fn ensure_rootfs(&self, record: &ContainerRecord) -> Result<()> {
        self.images
            .prepare_rootfs(&record.image_id, &record.id)
            .map(|_| ())
            .map_err(ApiError::Image)
    }

    /// `docker start`: the user wants it running again, so restart policies apply again.
    pub fn clear_stopped(&self, id: &str) -> Result<()> {
        let mut record = self.find(id)?;
        if record.manually_stopped {
            record.manually_stopped = false;
            self.save(&record)?;
        }
        Ok(())
    }

    /// `docker stop`: remember it, so restart policies leave the container stopped.
    pub fn mark_stopped(&self, id: &str) -> Result<()> {
        let mut record = self.find(id)?;
        record.manually_stopped = true;
        if record.state.status == Status::Restarting {
            record.state.status = Status::Exited;
        }
        self.save(&record)
    }

    /// Send a signal to the container's init.
    pub fn kill(&self, id: &str, signal: i32) -> Result<()> {
        let record = self.find(id)?;
        if !record.state.status.is_live() {
            return Err(ContainerError::NotRunning(record.id).into());
        }
        self.runtime
            .kill(&record.id, signal, false)
            .map_err(ContainerError::Runtime)?;
        self.emit(&record, "kill", &[("signal", signal.to_string())]);
        Ok(())
    }

    pub fn pause(&self, id: &str, pause: bool) -> Result<()> {
        let mut record = self.find(id)?;
        match (pause, &record.state.status) {
            (true, Status::Running) => {
                self.runtime
                    .pause(&record.id)
                    .map_err(ContainerError::Runtime)?;
                record.state.status = Status::Paused;
                self.emit(&record, "pause", &[]);
            }
            (false, Status::Paused) => {
                self.runtime
                    .resume(&record.id)
                    .map_err(ContainerError::Runtime)?;
                record.state.status = Status::Running;
                self.emit(&record, "unpause", &[]);
            }
            (true, Status::Paused) => return Err(ContainerError::Paused(record.id).into()),
            (false, _) => return Err(ContainerError::NotPaused(record.id).into()),
            (true, _) => return Err(ContainerError::NotRunning(record.id).into()),
        }
        self.save(&record)
    }

    /// Remove the container: kill it if `force`, then runtime state, rootfs, files, record.
    /// Every step runs even when one fails.
    pub fn remove(&self, id: &str, force: bool, volumes: bool) -> Result<()> {
        let record = self.find(id)?;
        if record.state.status.is_live() {
            if !force {
                return Err(ContainerError::RemoveRunning(record.id).into());
            }
            let _ = self.runtime.kill(&record.id, libc::SIGKILL, true);
            if record.state.status == Status::Paused {
                let _ = self.runtime.resume(&record.id);
            }
            let monitor = record.state.monitor_pid;
            for _ in 0..200 {
                if monitor <= 0 || !process_alive(monitor) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.runtime.delete(&record.id, true);
        let mut errors = Vec::new();
        if let Some(net) = &self.networks {
            if let Err(e) = net.release_container(&record.id) {
                errors.push(format!("network: {e}"));
            }
        }
        if let Err(e) = self.images.remove_rootfs(&record.id) {
            errors.push(e.to_string());
        }
        for dir in [record.dir.clone(), self.run_dir(&record.id)] {
            if let Err(e) = std::fs::remove_dir_all(&dir) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    errors.push(format!("removing {}: {e}", dir.display()));
                }
            }
        }
        if volumes {
            for m in record
                .mounts
                .iter()
                .filter(|m| m.kind == "volume" && m.name.len() == 64)
            {
                let _ = std::fs::remove_dir_all(self.volumes_dir.join(&m.name));
            }
        }
        self.store.delete(Table::Containers, &record.id)?;
        self.forget_lifecycle(&record.id);
        self.emit(&record, "destroy", &[]);
        {
            let mut live = self.live.lock().expect("live map");
            let entry = live.entry(record.id.clone()).or_default();
            entry.last_exit = record.state.exit_code;
            // Dropping the sender tells waiters the container is gone.
            entry.events = None;
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ContainerError::io(
                format!("removing container {}: {}", record.id, errors.join("; ")),
                std::io::Error::other("cleanup incomplete"),
            )
            .into())
        }
    }
}

pub(super) fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| ContainerError::io(format!("writing {}", path.display()), e).into())
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether `pid` still runs. A zombie does not: the monitors are orphans, and an init that
/// reaps lazily (some VM and container inits wait a second or more) would otherwise make
/// `rm -f` wait for the reaping instead of the exit.
pub(super) fn process_alive(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks existence.
    if unsafe { libc::kill(pid, 0) } != 0 {
        return false;
    }
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(true)
}

pub(super) fn is_monitor(pid: i32, id: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            let text = String::from_utf8_lossy(&c);
            text.contains("vessel-monitor") && text.contains(id)
        })
        .unwrap_or(false)
}

fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes integers; a non-negative result is a new fd we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel returned this descriptor to us.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    let got = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if got != n as isize {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (t.as_nanos() >> ((i % 16) * 8)) as u8 ^ (i as u8);
        }
    }
    buf
}

pub fn random_id() -> String {
    random_bytes(32)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// "10m", "1k", "512" → bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.trim_end_matches('b');
    let (num, mult) = match t.chars().last()? {
        'k' => (&t[..t.len() - 1], 1u64 << 10),
        'm' => (&t[..t.len() - 1], 1 << 20),
        'g' => (&t[..t.len() - 1], 1 << 30),
        _ => (t, 1),
    };
    num.trim().parse::<u64>().ok().map(|n| n * mult)
}

/// The binary next to ours (installed together), next to our parent dir (cargo's
/// target/*/deps for tests), or on PATH; an env var overrides.
fn find_binary(env: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1).take(2) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10m"), Some(10 << 20));
        assert_eq!(parse_size("1k"), Some(1024));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn ids_are_64_hex() {
        let id = random_id();
        assert_eq!(id.len(), 64);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(id, random_id());
    }
}
