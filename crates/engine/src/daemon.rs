//! Starting and stopping the daemon: directories, the data-root lock, the state store, the
//! unix socket, serving until SIGTERM/SIGINT, and cleaning up the socket afterwards.

use std::fs::{File, OpenOptions};
use std::future::{Future, IntoFuture};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::ServiceExt as _;
use nix::fcntl::{Flock, FlockArg};
use tokio::net::UnixListener;
use tower::Layer as _;

use crate::api::{router, AppState};
use crate::config::DaemonConfig;
use crate::errors::EngineError;
use crate::image_service::ImageService;
use crate::negotiation::negotiate;
use crate::store::{Store, Table};

/// How long a shutdown waits for open requests (event streams, attaches) before it stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A daemon that holds its lock and listens, ready to [`serve`](Daemon::serve).
pub struct Daemon {
    state: AppState,
    listener: UnixListener,
    socket: PathBuf,
    _lock: Flock<File>,
}

impl Daemon {
    /// Prepares a daemon over the real image store under `<root>/image`.
    pub async fn start(config: DaemonConfig) -> Result<Self, EngineError> {
        Self::start_inner(config, |c| {
            let store =
                vessel_image::ImageStore::open(&c.image_root()).map_err(EngineError::Image)?;
            Ok(Arc::new(store))
        })
        .await
    }

    /// Prepares a daemon over the given image service (tests pass a fake).
    pub async fn start_with_images(
        config: DaemonConfig,
        images: Arc<dyn ImageService>,
    ) -> Result<Self, EngineError> {
        Self::start_inner(config, move |_| Ok(images)).await
    }

    async fn start_inner(
        config: DaemonConfig,
        images: impl FnOnce(&DaemonConfig) -> Result<Arc<dyn ImageService>, EngineError>,
    ) -> Result<Self, EngineError> {
        for key in &config.ignored_keys {
            tracing::warn!("daemon.json: ignoring unsupported key {key:?}");
        }
        create_dir(&config.root, 0o711)?;
        create_dir(&config.exec_root, 0o711)?;
        create_dir(&config.root.join("tmp"), 0o700)?;
        let lock = lock_root(&config)?;
        // Leftovers of imports interrupted by a crash.
        if let Ok(entries) = std::fs::read_dir(config.root.join("tmp")) {
            for e in entries.flatten() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let store = Store::open(&config.store_path()).map_err(EngineError::Store)?;
        let engine_id = engine_id(&store)?;
        let images = images(&config)?;
        if let Some(parent) = config.socket.parent() {
            create_dir(parent, 0o755)?;
        }
        let listener = listen(&config.socket)?;
        let _ = std::fs::write(config.pid_path(), format!("{}\n", std::process::id()));
        tracing::info!(
            socket = %config.socket.display(),
            root = %config.root.display(),
            "vessel daemon listening"
        );
        let socket = config.socket.clone();
        let (networks, default_network) = open_networks(&config);
        Ok(Daemon {
            state: AppState {
                containers: Arc::new(crate::containers::Containers::new(
                    store.clone(),
                    images.clone(),
                    &config.root,
                    &config.exec_root,
                    &config.log_opts,
                    networks,
                    default_network,
                )),
                config: Arc::new(config),
                store,
                images,
                engine_id: engine_id.into(),
            },
            listener,
            socket,
            _lock: lock,
        })
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Serves the API until `shutdown` completes, then removes the socket and pid files.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), EngineError> {
        self.state.containers.reconcile();
        let app = axum::middleware::from_fn(negotiate).layer(router(self.state.clone()));
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(self.listener, app.into_make_service())
            .with_graceful_shutdown(async move {
                shutdown.await;
                tracing::info!("shutting down");
                let _ = stopping_tx.send(());
            })
            .into_future();
        let result = tokio::select! {
            r = server => r.map_err(EngineError::Serve),
            () = async {
                if stopping_rx.await.is_ok() {
                    tokio::time::sleep(SHUTDOWN_GRACE).await;
                } else {
                    std::future::pending::<()>().await;
                }
            } => {
                tracing::warn!("requests still open after {SHUTDOWN_GRACE:?}; stopping anyway");
                Ok(())
            }
        };
        let _ = std::fs::remove_file(&self.socket);
        let _ = std::fs::remove_file(self.state.config.pid_path());
        result
    }
}

/// Runs the daemon until SIGTERM or SIGINT. Call it inside a tokio runtime; the `vessel
/// daemon` command uses [`run_blocking`], which builds a small one.
pub async fn run(config: DaemonConfig) -> Result<(), EngineError> {
    let shutdown = shutdown_signal()?;
    Daemon::start(config).await?.serve(shutdown).await
}

/// Sets up logging and a 2-worker runtime and runs the daemon on it until a signal.
pub fn run_blocking(config: DaemonConfig) -> Result<(), EngineError> {
    crate::logging::init(config.debug);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("vessel-engine")
        .enable_all()
        .build()
        .map_err(EngineError::Runtime)?;
    runtime.block_on(run(config))
}

/// Completes on SIGTERM or SIGINT. Handlers are installed now, so a signal that arrives
/// during start-up is not lost.
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, EngineError> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(EngineError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(EngineError::Signals)?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("received SIGTERM"),
            _ = int.recv() => tracing::info!("received SIGINT"),
        }
    })
}

fn create_dir(path: &Path, mode: u32) -> Result<(), EngineError> {
    if path.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(path)
        .map_err(|source| EngineError::CreateDir {
            path: path.to_path_buf(),
            source,
        })
}

/// `flock(<root>/daemon.lock)`: one daemon per data root. The holder's pid is written into
/// the file so the refusal can name it.
fn lock_root(config: &DaemonConfig) -> Result<Flock<File>, EngineError> {
    let path = config.lock_path();
    let lock_err = |source| EngineError::LockFile {
        path: path.clone(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(lock_err)?;
    let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((mut file, nix::errno::Errno::EWOULDBLOCK)) => {
            let mut pid = String::new();
            let _ = file.read_to_string(&mut pid);
            let pid = pid.trim();
            return Err(EngineError::AlreadyRunning {
                root: config.root.clone(),
                pid: if pid.is_empty() {
                    "unknown".into()
                } else {
                    pid.to_owned()
                },
            });
        }
        Err((_, errno)) => return Err(lock_err(errno.into())),
    };
    lock.set_len(0).map_err(lock_err)?;
    lock.rewind().map_err(lock_err)?;
    writeln!(lock, "{}", std::process::id()).map_err(lock_err)?;
    Ok(lock)
}

/// Binds the socket (mode 0660). A socket file nobody answers on is a leftover of a crash
/// and is removed; one that answers belongs to a running daemon and is left alone.
fn listen(path: &Path) -> Result<UnixListener, EngineError> {
    if std::fs::symlink_metadata(path).is_ok() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(EngineError::SocketInUse {
                path: path.to_path_buf(),
            });
        }
        tracing::info!("removing stale socket {}", path.display());
        std::fs::remove_file(path).map_err(|source| EngineError::Listen {
            path: path.to_path_buf(),
            source,
        })?;
    }
    let listen_err = |source| EngineError::Listen {
        path: path.to_path_buf(),
        source,
    };
    let listener = UnixListener::bind(path).map_err(listen_err)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(listen_err)?;
    Ok(listener)
}

/// The engine's stable id, made on first start: Docker's colon-separated style.
fn engine_id(store: &Store) -> Result<String, EngineError> {
    store
        .update(|txn| {
            if let Some(id) = txn.get::<String>(Table::Meta, "engine-id")? {
                return Ok(id);
            }
            let id = new_engine_id();
            txn.put(Table::Meta, "engine-id", &id)?;
            txn.put(Table::Meta, "schema-version", &1u32)?;
            Ok(id)
        })
        .map_err(EngineError::Store)
}

fn new_engine_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut raw = [0u8; 48];
    if File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut raw))
        .is_err()
    {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            ^ u128::from(std::process::id());
        for (i, b) in raw.iter_mut().enumerate() {
            *b = (seed >> ((i % 16) * 8)) as u8 ^ (i as u8).wrapping_mul(31);
        }
    }
    let chars: Vec<char> = raw
        .iter()
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join(":")
}

/// Bridge networking, or `None` with a warning when the host cannot provide it (no nft,
/// no netlink): containers then still run with `--network none` or `host`.
fn open_networks(
    config: &DaemonConfig,
) -> (Option<Arc<vessel_network::NetworkManager>>, Option<String>) {
    let mut net_config = vessel_network::ManagerConfig {
        default_network: config.bridge != "none",
        exclusive_table: !config.shared_firewall_table,
        ..Default::default()
    };
    if config.bridge != "none" {
        net_config.default_bridge = config.bridge.clone();
    }
    if let Some(bip) = &config.bip {
        match bip.parse::<ipnet::Ipv4Net>() {
            Ok(net) => net_config.address_pools = vec![net.trunc()],
            Err(e) => tracing::warn!("ignoring bip {bip:?}: {e}"),
        }
    }
    match vessel_network::NetworkManager::open(
        &config.root.join("network"),
        &config.exec_root,
        net_config,
    ) {
        Ok(m) => {
            for w in m.warnings() {
                tracing::warn!("network: {w}");
            }
            let default = (config.bridge != "none").then(|| "bridge".to_string());
            (Some(Arc::new(m)), default)
        }
        Err(e) => {
            tracing::warn!(
                "bridge networking is unavailable ({e}); containers get `none` or `host`"
            );
            (None, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_ids_look_like_dockers() {
        let id = new_engine_id();
        assert_eq!(id.len(), 12 * 4 + 11);
        assert_eq!(id.split(':').count(), 12);
    }

    #[test]
    fn engine_id_is_stable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("engine.redb")).unwrap();
        let a = engine_id(&store).unwrap();
        assert_eq!(engine_id(&store).unwrap(), a);
    }
}
