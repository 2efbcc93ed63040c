//! OCI Distribution client: pull, push and login against registries.
//!
//! Everything here is blocking (see [`client`] for why); the daemon runs it inside
//! `spawn_blocking`.

pub mod auth;
pub mod blob;
pub mod cache;
pub mod client;
pub mod docker_config;
pub mod error;
pub mod manifest;
pub mod progress;
pub mod pull;
pub mod push;
mod tls;

pub use auth::Credentials;
pub use client::{RegistryClient, RegistryOptions};
pub use error::{DistError, Result};
pub use manifest::Platform;
pub use progress::Progress;
pub use pull::{pull, PullOptions, PulledImage};
pub use push::{push, PushOptions, PushedImage};

/// Check credentials against `server` (`host[:port]`, or a URL as docker accepts it).
pub fn login(server: &str, creds: &Credentials, opts: &RegistryOptions) -> Result<()> {
    let registry = registry_of_server(server);
    let client = RegistryClient::new(&registry, Some(creds.clone()), opts)?;
    client.login()
}

/// `https://index.docker.io/v1/` → `docker.io`; `http://h:5000/` → `h:5000`; empty → docker.io.
pub fn registry_of_server(server: &str) -> String {
    let s = server.trim();
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "" | "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".into(),
        h => h.to_string(),
    }
}

/// An error and its causes on one line, as users and the API stream see them.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn servers() {
        assert_eq!(
            super::registry_of_server("https://index.docker.io/v1/"),
            "docker.io"
        );
        assert_eq!(super::registry_of_server(""), "docker.io");
        assert_eq!(
            super::registry_of_server("http://127.0.0.1:5000/"),
            "127.0.0.1:5000"
        );
        assert_eq!(super::registry_of_server("reg:5000"), "reg:5000");
    }
}
