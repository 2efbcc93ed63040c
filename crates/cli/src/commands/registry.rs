//! `vessel registry`: serve an OCI distribution registry, or collect its garbage. Needs no
//! daemon; all logic is in `vessel-registry`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use vessel_registry::{AuthConfig, RegistryConfig, DEFAULT_ROOT};

#[derive(clap::Subcommand)]
pub enum Cmd {
    /// Serve an OCI distribution (Docker registry v2) API
    Serve(ServeArgs),
    /// Remove blobs no manifest references (run while the registry is stopped)
    Gc(GcArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    None,
    Htpasswd,
    Token,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Storage root
    #[arg(long, value_name = "DIR", default_value = DEFAULT_ROOT)]
    root: PathBuf,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:5000")]
    addr: SocketAddr,
    /// htpasswd file of bcrypt entries (htpasswd -B)
    #[arg(long, value_name = "FILE")]
    htpasswd: Option<PathBuf>,
    /// Authentication: none, htpasswd (Basic), token (Bearer tokens from /token); default
    /// htpasswd when --htpasswd is given, else none
    #[arg(long, value_enum)]
    auth: Option<AuthMode>,
    /// Key for signing tokens (at least 32 bytes); default: a random key per start
    #[arg(long, value_name = "FILE")]
    token_key: Option<PathBuf>,
    /// PEM certificate chain for TLS
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for TLS
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Refuse every write
    #[arg(long)]
    read_only: bool,
    /// Largest blob accepted, in bytes
    #[arg(long, value_name = "BYTES")]
    max_upload_size: Option<u64>,
    /// Seconds before an idle upload session is removed
    #[arg(long, value_name = "SECS", default_value_t = 86400)]
    upload_ttl: u64,
}

#[derive(clap::Args)]
pub struct GcArgs {
    /// Storage root
    #[arg(long, value_name = "DIR", default_value = DEFAULT_ROOT)]
    root: PathBuf,
    /// Report what would be removed without removing it
    #[arg(long)]
    dry_run: bool,
}

pub fn run(cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Serve(a) => serve(a),
        Cmd::Gc(a) => gc(a),
    }
}

fn serve(a: ServeArgs) -> anyhow::Result<()> {
    let mode = a.auth.unwrap_or(if a.htpasswd.is_some() {
        AuthMode::Htpasswd
    } else {
        AuthMode::None
    });
    let need_file = || {
        a.htpasswd
            .clone()
            .context("--auth htpasswd and --auth token need --htpasswd FILE")
    };
    let auth = match mode {
        AuthMode::None => AuthConfig::None,
        AuthMode::Htpasswd => AuthConfig::Htpasswd {
            htpasswd: need_file()?,
        },
        AuthMode::Token => AuthConfig::Token {
            htpasswd: need_file()?,
            key_file: a.token_key.clone(),
        },
    };
    let mut cfg = RegistryConfig::new(a.root);
    cfg.auth = auth;
    cfg.tls = a.tls_cert.zip(a.tls_key);
    cfg.read_only = a.read_only;
    cfg.max_upload_size = a.max_upload_size;
    cfg.upload_ttl = Duration::from_secs(a.upload_ttl);
    vessel_registry::serve_blocking(a.addr, cfg)?;
    Ok(())
}

fn gc(a: GcArgs) -> anyhow::Result<()> {
    let r = vessel_registry::gc(&a.root, a.dry_run)?;
    let verb = if r.dry_run { "would remove" } else { "removed" };
    println!(
        "{verb} {} blob(s), {} bytes, and {} repository link(s); kept {} blob(s)",
        r.removed_blobs, r.removed_bytes, r.removed_links, r.kept_blobs
    );
    Ok(())
}
