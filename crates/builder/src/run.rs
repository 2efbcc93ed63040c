//! RUN: the command as a container (vessel-runtime, Docker's default security profile from
//! specgen) on an overlay rootfs of the step's parent image; output streamed line by line;
//! the overlay upper directory becomes the step's layer.

use crate::error::BuildError;
use crate::fsroot;
use crate::instructions::Network;
use crate::lock::Flock;
use crate::progress::{Event, Progress};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use vessel_image::ImageStore;

/// Where RUN steps find the runtime and keep its state.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The `vessel-runtime` binary.
    pub runtime_bin: PathBuf,
    /// Runtime state (`runtime/`) and bundles (`bundles/<id>/config.json`).
    pub state_dir: PathBuf,
}

impl RunConfig {
    /// `VESSEL_RUNTIME_BIN`, else `vessel-runtime` next to this executable (or one directory
    /// up, as for test binaries in `target/debug/deps`), else from `PATH`.
    pub fn default_for(store_root: &Path) -> RunConfig {
        let bin = std::env::var_os("VESSEL_RUNTIME_BIN")
            .map(PathBuf::from)
            .or_else(|| {
                let exe = std::env::current_exe().ok()?;
                exe.ancestors()
                    .skip(1)
                    .take(2)
                    .map(|d| d.join("vessel-runtime"))
                    .find(|c| c.is_file())
            })
            .unwrap_or_else(|| PathBuf::from("vessel-runtime"));
        RunConfig {
            runtime_bin: bin,
            state_dir: store_root.join("build-run"),
        }
    }
}

/// A container rootfs for one step, unmounted and removed on drop (even on failure).
pub(crate) struct StepRootfs<'a> {
    store: &'a ImageStore,
    pub id: String,
    pub merged: PathBuf,
    /// Held while the rootfs exists; see [`sweep_stale`].
    _lock: Flock,
}

const ID_PREFIX: &str = "vessel-build-";

fn lock_path(store: &ImageStore, id: &str) -> PathBuf {
    store.root().join("build-locks").join(format!("{id}.lock"))
}

impl<'a> StepRootfs<'a> {
    pub(crate) fn prepare(
        store: &'a ImageStore,
        image_id: &str,
        line: usize,
    ) -> Result<StepRootfs<'a>, BuildError> {
        let id = format!("{ID_PREFIX}{}", crate::unique_id());
        // The lock comes first, so a step rootfs without a held lock is always stale.
        let lock = Flock::take(&lock_path(store, &id)).map_err(|e| BuildError::RunSetup {
            line,
            reason: format!("locking the step rootfs: {e}"),
        })?;
        let mut guard = StepRootfs {
            store,
            id,
            merged: PathBuf::new(),
            _lock: lock,
        };
        guard.merged =
            store
                .prepare_rootfs(image_id, &guard.id)
                .map_err(|e| BuildError::RunSetup {
                    line,
                    reason: format!("preparing the rootfs of {image_id}: {e}"),
                })?;
        Ok(guard)
    }

    pub(crate) fn upper(&self, line: usize) -> Result<PathBuf, BuildError> {
        self.store
            .rootfs_upper(&self.id)
            .map_err(|e| BuildError::RunSetup {
                line,
                reason: format!("{e}: builds need an overlay-capable store"),
            })
    }
}

impl Drop for StepRootfs<'_> {
    fn drop(&mut self) {
        let _ = self.store.remove_rootfs(&self.id);
        let _ = fs::remove_file(lock_path(self.store, &self.id));
        // The lock itself is released when `_lock` drops, after the removal.
    }
}

/// Remove what builds that died (daemon killed mid-step) left: step rootfs whose lock nobody
/// holds, with their runtime container and bundle. Builds in progress hold their locks.
pub(crate) fn sweep_stale(store: &ImageStore, cfg: &RunConfig) {
    let Ok(entries) = fs::read_dir(store.root().join("containers")) else {
        return;
    };
    for ent in entries.flatten() {
        let name = ent.file_name().to_string_lossy().into_owned();
        if !name.starts_with(ID_PREFIX) {
            continue;
        }
        let lp = lock_path(store, &name);
        if let Ok(Some(_held)) = Flock::try_take(&lp) {
            drop(Container {
                cfg,
                id: name.clone(),
                bundle: cfg.state_dir.join("bundles").join(&name),
            });
            let _ = store.remove_rootfs(&name);
            let _ = fs::remove_file(&lp);
        }
    }
}

/// What the runtime may create as mount points; dropped from the layer when they were not in
/// the image (Docker keeps them in an init layer that is never committed).
const MOUNT_POINTS: &[&str] = &["proc", "sys", "dev", "dev/pts", "dev/shm", "dev/mqueue"];

/// One RUN step's container.
pub(crate) struct RunSpec<'s> {
    pub line: usize,
    pub argv: Vec<String>,
    pub env: Vec<String>,
    pub user: String,
    pub workdir: String,
    pub network: Network,
    pub display: &'s str,
}

struct Container<'a> {
    cfg: &'a RunConfig,
    id: String,
    bundle: PathBuf,
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = Command::new(&self.cfg.runtime_bin)
            .arg("--root")
            .arg(self.cfg.state_dir.join("runtime"))
            .args(["delete", "--force", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = fs::remove_dir_all(&self.bundle);
    }
}

fn setup_err(line: usize, reason: impl std::fmt::Display) -> BuildError {
    BuildError::RunSetup {
        line,
        reason: reason.to_string(),
    }
}

/// Run `spec` on `rootfs`; on success the upper directory holds the step's changes.
pub(crate) fn run(
    cfg: &RunConfig,
    rootfs: &StepRootfs,
    spec: &RunSpec,
    progress: &mut dyn Progress,
) -> Result<(), BuildError> {
    let line = spec.line;
    let upper = rootfs.upper(line)?;
    let absent: Vec<&str> = MOUNT_POINTS
        .iter()
        .copied()
        .filter(|p| fs::symlink_metadata(rootfs.merged.join(p)).is_err())
        .collect();
    if !spec.workdir.is_empty() {
        let w = fsroot::resolve(&rootfs.merged, &spec.workdir, true)
            .map_err(|e| setup_err(line, format!("WORKDIR {}: {e}", spec.workdir)))?;
        fs::create_dir_all(&w)
            .map_err(|e| setup_err(line, format!("WORKDIR {}: {e}", spec.workdir)))?;
    }
    let create = serde_json::json!({
        "Cmd": spec.argv,
        "Env": spec.env,
        "User": spec.user,
        "WorkingDir": if spec.workdir.is_empty() { "/" } else { spec.workdir.as_str() },
        "HostConfig": {"NetworkMode": match spec.network { Network::Host => "host", Network::None | Network::Default => "none" }},
    });
    let create: vessel_specgen::ContainerCreate =
        serde_json::from_value(create).map_err(|e| setup_err(line, e))?;
    let image = vessel_specgen::ImageConfig::default();
    let mut input =
        vessel_specgen::SpecInput::new(&create, &image, rootfs.merged.clone(), rootfs.id.clone());
    input.cgroups_path = format!("/vessel-build/{}", rootfs.id);
    input.private_cgroupns_default = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    input.host_root = Some(PathBuf::from("/"));
    let oci = vessel_specgen::generate(&input).map_err(|e| setup_err(line, e))?;
    let bundle = cfg.state_dir.join("bundles").join(&rootfs.id);
    fs::create_dir_all(&bundle)
        .map_err(|e| setup_err(line, format!("{}: {e}", bundle.display())))?;
    let container = Container {
        cfg,
        id: rootfs.id.clone(),
        bundle,
    };
    let text = serde_json::to_vec(&oci).map_err(|e| setup_err(line, e))?;
    fs::write(container.bundle.join("config.json"), text)
        .map_err(|e| setup_err(line, format!("writing the bundle: {e}")))?;

    let (mut reader, writer) = std::io::pipe().map_err(|e| setup_err(line, e))?;
    let mut child = {
        let mut c = Command::new(&cfg.runtime_bin);
        c.arg("--root")
            .arg(cfg.state_dir.join("runtime"))
            .args(["run", "--bundle"])
            .arg(&container.bundle)
            .arg(&container.id)
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                writer.try_clone().map_err(|e| setup_err(line, e))?,
            ))
            .stderr(Stdio::from(writer));
        c.spawn().map_err(|e| {
            setup_err(
                line,
                format!(
                    "starting {}: {e} (set VESSEL_RUNTIME_BIN)",
                    cfg.runtime_bin.display()
                ),
            )
        })?
        // The Command (and our copies of the pipe's write end) is dropped here, so the read
        // below ends when the container's last writer exits.
    };
    let mut buf = [0u8; 8192];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        pending.extend_from_slice(&buf[..n]);
        while let Some(p) = pending.iter().position(|&b| b == b'\n') {
            let l: Vec<u8> = pending.drain(..=p).collect();
            progress.emit(Event::Stream(String::from_utf8_lossy(&l).into_owned()));
        }
    }
    if !pending.is_empty() {
        let mut s = String::from_utf8_lossy(&pending).into_owned();
        s.push('\n');
        progress.emit(Event::Stream(s));
    }
    let status = child.wait().map_err(|e| setup_err(line, e))?;
    drop(container);
    let code = status.code().unwrap_or_else(|| {
        128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)
    });
    if code != 0 {
        return Err(BuildError::RunFailed {
            command: spec.display.to_string(),
            code,
        });
    }
    // Deepest first, so dev/pts goes before dev.
    for p in absent.iter().rev() {
        let u = upper.join(p);
        if let Ok(md) = fs::symlink_metadata(&u) {
            if md.is_dir() {
                let _ = fs::remove_dir(&u);
            }
        }
    }
    Ok(())
}
