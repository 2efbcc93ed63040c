//! `vessel registry`: an OCI Distribution Spec v1.1 registry server on the local filesystem.
//!
//! [`serve`] runs it on a listener until a shutdown future completes; [`gc`] collects
//! unreferenced blobs offline. Modules: [`route`] (path parsing), [`storage`] (layout and
//! atomic writes), [`uploads`] (sessions), [`manifest`] (parsing), [`auth`] (htpasswd and
//! tokens), [`tls`], [`gc`], and the HTTP handlers in `api/`.

mod api;
pub mod auth;
pub mod error;
pub mod gc;
pub mod httputil;
pub mod manifest;
pub mod names;
pub mod route;
mod server;
pub mod storage;
pub mod tls;
pub mod uploads;

use std::path::PathBuf;
use std::time::Duration;

pub use error::RegistryError;
pub use gc::{gc, GcReport};
pub use server::serve;

/// Default storage root of `vessel registry serve`.
pub const DEFAULT_ROOT: &str = "/var/lib/vessel/registry";

/// How clients authenticate.
#[derive(Debug, Clone, Default)]
pub enum AuthConfig {
    #[default]
    None,
    /// HTTP Basic against an htpasswd file of bcrypt entries.
    Htpasswd { htpasswd: PathBuf },
    /// Docker's token flow: `/token` checks Basic credentials against the htpasswd file and
    /// issues HS256 tokens signed with the key file's bytes (or a key made at start).
    Token {
        htpasswd: PathBuf,
        key_file: Option<PathBuf>,
    },
}

#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub root: PathBuf,
    pub auth: AuthConfig,
    /// PEM certificate chain and key; plain HTTP without them.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub read_only: bool,
    /// Largest blob accepted, in bytes.
    pub max_upload_size: Option<u64>,
    /// Upload sessions idle this long are removed.
    pub upload_ttl: Duration,
    /// Lifetime of issued tokens.
    pub token_ttl: Duration,
}

impl RegistryConfig {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RegistryConfig {
            root: root.into(),
            auth: AuthConfig::None,
            tls: None,
            read_only: false,
            max_upload_size: None,
            upload_ttl: Duration::from_secs(24 * 3600),
            token_ttl: Duration::from_secs(300),
        }
    }
}

/// An error and its causes on one line (`a: b: c`).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Runs the server on `addr` in a new runtime until SIGINT or SIGTERM, printing the address
/// it listens on (the port may have been 0). For the `vessel registry serve` command.
pub fn serve_blocking(
    addr: std::net::SocketAddr,
    cfg: RegistryConfig,
) -> Result<(), RegistryError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RegistryError::io("starting the runtime for", &cfg.root))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(RegistryError::Accept)?;
        let local = listener.local_addr().map_err(RegistryError::Accept)?;
        let scheme = if cfg.tls.is_some() { "https" } else { "http" };
        println!(
            "vessel registry listening on {scheme}://{local} (root {})",
            cfg.root.display()
        );
        serve(listener, cfg, shutdown_signal()).await
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
