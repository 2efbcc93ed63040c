//! `RegistryClient`: one registry's transport (scheme choice, TLS, redirects, retries) and
//! authentication (challenge from `GET /v2/`, Basic, Bearer tokens cached per scope).
//!
//! Blocking `ureq` is used on purpose: the image store is blocking (`put_layer` takes a
//! `Read`), so every caller is already inside `spawn_blocking` or a plain thread; an async
//! client would need a bridge for every byte and gain nothing for a handful of connections.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use crate::auth::{parse_challenge, Challenge, Credentials, TokenReply};
use crate::error::{DistError, Result};

/// Where registries are and how to reach them (daemon.json's keys).
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// `insecure-registries`: hosts (`host[:port]`) or IPv4 CIDRs reached over plain HTTP or
    /// unverified TLS. Loopback registries are always insecure, as in Docker.
    pub insecure: Vec<String>,
    /// `registry-mirrors`: URLs tried first for Docker Hub images.
    pub mirrors: Vec<String>,
}

/// Whether `host[:port]` may be reached without TLS verification.
pub fn is_insecure(host: &str, opts: &RegistryOptions) -> bool {
    let name = host_without_port(host);
    if name == "localhost" || name == "::1" || name.starts_with("127.") {
        return true;
    }
    opts.insecure.iter().any(|entry| {
        let entry = entry
            .trim()
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/');
        entry == host || entry == name || cidr_contains(entry, name)
    })
}

fn host_without_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    }
}

fn cidr_contains(cidr: &str, ip: &str) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else {
        return false;
    };
    let (Ok(net), Ok(bits), Ok(ip)) = (
        net.parse::<std::net::Ipv4Addr>(),
        bits.parse::<u32>(),
        ip.parse::<std::net::Ipv4Addr>(),
    ) else {
        return false;
    };
    if bits > 32 {
        return false;
    }
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from(net) & mask == u32::from(ip) & mask
}

/// The API endpoint host of a registry name: Docker Hub's is not `docker.io`.
pub fn endpoint_host(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" => "registry-1.docker.io",
        other => other,
    }
}

/// A request body that can be sent again (after a 401 or a redirect).
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// `len` bytes of a file from `offset`.
    File {
        path: &'a std::path::Path,
        offset: u64,
        len: u64,
    },
}

/// A reply: status, the headers we use, and the body as a reader.
pub struct Reply {
    pub status: u16,
    pub url: String,
    inner: ureq::Response,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner.header(name)
    }

    pub fn into_reader(self) -> Box<dyn Read + Send + Sync + 'static> {
        self.inner.into_reader()
    }

    /// The body, refusing more than `limit` bytes (manifests, configs, errors).
    pub fn bytes(self, what: &'static str, limit: u64) -> Result<Vec<u8>> {
        let url = self.url.clone();
        let mut buf = Vec::new();
        self.inner
            .into_reader()
            .take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(|source| DistError::Read {
                url: url.clone(),
                source,
            })?;
        if buf.len() as u64 > limit {
            return Err(DistError::TooLarge { what, url, limit });
        }
        Ok(buf)
    }

    /// A short description of an error reply (its body's first line, bounded).
    pub fn error_text(self) -> String {
        let status = self.status;
        let body = self.bytes("error body", 64 * 1024).unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            if let Some(e) = v.get("errors").and_then(|e| e.get(0)) {
                let code = e.get("code").and_then(|c| c.as_str()).unwrap_or_default();
                let msg = e
                    .get("message")
                    .and_then(|c| c.as_str())
                    .unwrap_or_default();
                return format!("{code}: {msg}")
                    .trim_matches([':', ' '])
                    .to_string();
            }
        }
        let t = text.trim();
        if t.is_empty() {
            format!("HTTP {status}")
        } else {
            t.chars().take(300).collect()
        }
    }
}

const MAX_REDIRECTS: usize = 10;
/// Attempts of an idempotent request on transport errors and 429/5xx replies.
const ATTEMPTS: u32 = 4;

/// Client of one registry; shared by the threads of a pull (all state is behind locks).
pub struct RegistryClient {
    registry: String,
    host: String,
    insecure: bool,
    secure: ureq::Agent,
    unverified: Option<ureq::Agent>,
    creds: Option<Credentials>,
    /// `https://host` or `http://host`, fixed by the first successful contact.
    base: Mutex<Option<String>>,
    /// The `GET /v2/` challenge (None: the registry needs no auth).
    challenge: Mutex<Option<Option<Challenge>>>,
    /// Bearer tokens by the joined scopes they were issued for.
    tokens: Mutex<HashMap<String, String>>,
}

fn agent(tls: Option<std::sync::Arc<rustls::ClientConfig>>) -> ureq::Agent {
    let mut b = ureq::AgentBuilder::new()
        .redirects(0)
        .timeout_connect(Duration::from_secs(15))
        // A stalled transfer is retried (with Range) rather than waited on forever.
        .timeout_read(Duration::from_secs(60))
        .timeout_write(Duration::from_secs(120))
        .user_agent(concat!("vessel/", env!("CARGO_PKG_VERSION")));
    if let Some(tls) = tls {
        b = b.tls_config(tls);
    }
    b.build()
}

impl RegistryClient {
    /// A client of `registry` (a reference's registry part: `docker.io`, `host:5000`).
    pub fn new(
        registry: &str,
        creds: Option<Credentials>,
        opts: &RegistryOptions,
    ) -> Result<RegistryClient> {
        Self::with_host(registry, endpoint_host(registry), creds, opts)
    }

    /// A client of a mirror URL (`https://mirror.example` or `http://127.0.0.1:5001`).
    pub fn mirror(
        url: &str,
        creds: Option<Credentials>,
        opts: &RegistryOptions,
    ) -> Result<RegistryClient> {
        let url = url.trim_end_matches('/');
        let (scheme, host) = match url.split_once("://") {
            Some((s, h)) => (Some(s), h.split('/').next().unwrap_or(h)),
            None => (None, url),
        };
        let c = Self::with_host(host, host, creds, opts)?;
        if let Some(s) = scheme {
            *lock(&c.base) = Some(format!("{s}://{host}"));
        }
        Ok(c)
    }

    fn with_host(
        registry: &str,
        host: &str,
        creds: Option<Credentials>,
        opts: &RegistryOptions,
    ) -> Result<RegistryClient> {
        let insecure = is_insecure(host, opts);
        Ok(RegistryClient {
            registry: registry.to_string(),
            host: host.to_string(),
            insecure,
            secure: agent(None),
            unverified: if insecure {
                Some(agent(Some(crate::tls::unverified_config()?)))
            } else {
                None
            },
            creds: creds.filter(|c| !c.is_empty()),
            base: Mutex::new(None),
            challenge: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    pub fn registry(&self) -> &str {
        &self.registry
    }

    fn agent_for(&self, url: &str) -> &ureq::Agent {
        match &self.unverified {
            Some(a) if url.starts_with("https://") && url_host(url) == self.host => a,
            _ => &self.secure,
        }
    }

    /// `GET /v2/`: fixes the scheme and learns the auth challenge. Insecure registries are
    /// tried over HTTPS first, then plain HTTP (Docker's order).
    pub fn ping(&self) -> Result<()> {
        if lock(&self.challenge).is_some() {
            return Ok(());
        }
        let known = lock(&self.base).clone();
        let bases = match known {
            Some(b) => vec![b],
            None if self.insecure => {
                vec![
                    format!("https://{}", self.host),
                    format!("http://{}", self.host),
                ]
            }
            None => vec![format!("https://{}", self.host)],
        };
        let mut last = String::new();
        for base in bases {
            let url = format!("{base}/v2/");
            match self.agent_for(&url).get(&url).call() {
                Ok(_) => return self.set_ping(base, None),
                Err(ureq::Error::Status(401, resp)) => {
                    let header = resp
                        .header("www-authenticate")
                        .unwrap_or_default()
                        .to_string();
                    let challenge =
                        parse_challenge(&header).ok_or_else(|| DistError::Challenge {
                            registry: self.registry.clone(),
                            header,
                        })?;
                    return self.set_ping(base, Some(challenge));
                }
                // Some registries answer 404 on /v2/ but serve the API: treat as no auth.
                Err(ureq::Error::Status(code, _)) if code < 500 => {
                    return self.set_ping(base, None)
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(DistError::Unreachable {
            registry: self.registry.clone(),
            detail: last,
        })
    }

    fn set_ping(&self, base: String, challenge: Option<Challenge>) -> Result<()> {
        *lock(&self.base) = Some(base);
        *lock(&self.challenge) = Some(challenge);
        Ok(())
    }

    fn base(&self) -> Result<String> {
        self.ping()?;
        lock(&self.base)
            .clone()
            .ok_or_else(|| DistError::Unreachable {
                registry: self.registry.clone(),
                detail: "no endpoint".into(),
            })
    }

    /// `/v2/<repository>/<rest>` as a full URL.
    pub fn url(&self, repository: &str, rest: &str) -> Result<String> {
        Ok(format!("{}/v2/{repository}/{rest}", self.base()?))
    }

    /// Resolve a `Location` header (absolute, or relative to the registry).
    pub fn resolve_location(&self, location: &str) -> Result<String> {
        if location.starts_with("http://") || location.starts_with("https://") {
            Ok(location.to_string())
        } else if location.starts_with('/') {
            Ok(format!("{}{location}", self.base()?))
        } else {
            Ok(format!("{}/{location}", self.base()?))
        }
    }

    /// Verify the credentials: a token (Bearer) or a `GET /v2/` (Basic) must succeed.
    pub fn login(&self) -> Result<()> {
        self.ping()?;
        let challenge = lock(&self.challenge).clone().flatten();
        match challenge {
            None => Ok(()),
            Some(Challenge::Bearer { .. }) => {
                if self.creds.is_none() {
                    return Err(DistError::Unauthorized {
                        registry: self.registry.clone(),
                        detail: "no username given".into(),
                    });
                }
                self.authorization(&[]).map(|_| ())
            }
            Some(Challenge::Basic { .. }) => {
                let url = format!("{}/v2/", self.base()?);
                let r = self.send("GET", &url, &[], &[], Body::Empty)?;
                if r.status == 200 {
                    Ok(())
                } else {
                    Err(DistError::Unauthorized {
                        registry: self.registry.clone(),
                        detail: r.error_text(),
                    })
                }
            }
        }
    }

    /// The Authorization header for `scopes` (None when the registry wants none).
    pub fn authorization(&self, scopes: &[String]) -> Result<Option<String>> {
        self.ping()?;
        let challenge = lock(&self.challenge).clone().flatten();
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic { .. }) => {
                match self.creds.as_ref().and_then(Credentials::basic_header) {
                    Some(h) => Ok(Some(h)),
                    None => Err(DistError::Unauthorized {
                        registry: self.registry.clone(),
                        detail: "the registry requires a username and password".into(),
                    }),
                }
            }
            Some(Challenge::Bearer { realm, service, .. }) => {
                if let Some(t) = self
                    .creds
                    .as_ref()
                    .map(|c| &c.registrytoken)
                    .filter(|t| !t.is_empty())
                {
                    return Ok(Some(format!("Bearer {t}")));
                }
                let key = scopes.join(" ");
                if let Some(t) = lock(&self.tokens).get(&key) {
                    return Ok(Some(format!("Bearer {t}")));
                }
                let token = self.fetch_token(&realm, service.as_deref(), scopes)?;
                lock(&self.tokens).insert(key, token.clone());
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    /// The token flow of the distribution spec: `GET realm?service=…&scope=…` with Basic
    /// credentials if we have them; with an identity token, OAuth2's refresh grant.
    fn fetch_token(&self, realm: &str, service: Option<&str>, scopes: &[String]) -> Result<String> {
        let agent = self.agent_for(realm);
        let unauthorized = |detail: String| DistError::Unauthorized {
            registry: self.registry.clone(),
            detail,
        };
        let result = match self.creds.as_ref().filter(|c| !c.identitytoken.is_empty()) {
            Some(c) => {
                let mut form: Vec<(&str, &str)> = vec![
                    ("grant_type", "refresh_token"),
                    ("refresh_token", c.identitytoken.as_str()),
                    ("client_id", "vessel"),
                ];
                if let Some(s) = service {
                    form.push(("service", s));
                }
                let joined = scopes.join(" ");
                if !scopes.is_empty() {
                    form.push(("scope", joined.as_str()));
                }
                agent.post(realm).send_form(&form)
            }
            None => {
                let mut req = agent.get(realm);
                if let Some(s) = service {
                    req = req.query("service", s);
                }
                for s in scopes {
                    req = req.query("scope", s);
                }
                if let Some(c) = &self.creds {
                    if !c.username.is_empty() {
                        req = req.query("account", &c.username);
                    }
                    if let Some(h) = c.basic_header() {
                        req = req.set("Authorization", &h);
                    }
                }
                req.call()
            }
        };
        let resp = match result {
            Ok(r) => r,
            Err(ureq::Error::Status(401 | 403, r)) => {
                let text = Reply {
                    status: r.status(),
                    url: realm.to_string(),
                    inner: r,
                }
                .error_text();
                return Err(unauthorized(text));
            }
            Err(ureq::Error::Status(code, r)) => {
                let body = Reply {
                    status: code,
                    url: realm.to_string(),
                    inner: r,
                }
                .error_text();
                return Err(DistError::Status {
                    what: "token request",
                    url: realm.to_string(),
                    status: code,
                    body,
                });
            }
            Err(e) => {
                return Err(DistError::Unreachable {
                    registry: realm.to_string(),
                    detail: e.to_string(),
                })
            }
        };
        let reply = Reply {
            status: 200,
            url: realm.to_string(),
            inner: resp,
        };
        let body = reply.bytes("token reply", 1 << 20)?;
        let parsed: TokenReply =
            serde_json::from_slice(&body).map_err(|source| DistError::Json {
                url: realm.to_string(),
                source,
            })?;
        parsed.into_token().ok_or_else(|| DistError::NoToken {
            realm: realm.to_string(),
        })
    }

    /// One request with auth for `scopes`, following redirects (the Authorization header
    /// is only sent to the registry's own host: blob storage gets signed URLs). Idempotent
    /// methods are retried with backoff on transport errors and 429/5xx. Every status is
    /// returned as a [`Reply`]; callers decide what is an error.
    pub fn send(
        &self,
        method: &str,
        url: &str,
        scopes: &[String],
        headers: &[(&str, String)],
        body: Body<'_>,
    ) -> Result<Reply> {
        let auth = self.authorization(scopes)?;
        let idempotent = matches!(method, "GET" | "HEAD");
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send_once(method, url, auth.as_deref(), headers, body) {
                Ok(r)
                    if idempotent && attempt < ATTEMPTS && (r.status == 429 || r.status >= 500) =>
                {
                    tracing::debug!("{method} {url}: {} (attempt {attempt})", r.status);
                }
                Ok(r) => return Ok(r),
                Err(e @ DistError::Unreachable { .. }) if idempotent && attempt < ATTEMPTS => {
                    tracing::debug!("{method} {url}: {e} (attempt {attempt})");
                }
                Err(e) => return Err(e),
            }
            backoff(attempt);
        }
    }

    fn send_once(
        &self,
        method: &str,
        url: &str,
        auth: Option<&str>,
        headers: &[(&str, String)],
        body: Body<'_>,
    ) -> Result<Reply> {
        let mut url = url.to_string();
        let mut method = method.to_string();
        for _ in 0..MAX_REDIRECTS {
            let mut req = self.agent_for(&url).request(&method, &url);
            if let Some(a) = auth.filter(|_| url_host(&url) == self.host) {
                req = req.set("Authorization", a);
            }
            for (k, v) in headers {
                req = req.set(k, v);
            }
            let result = match body {
                Body::Empty if method == "PUT" || method == "POST" || method == "PATCH" => {
                    req.set("Content-Length", "0").send_bytes(&[])
                }
                Body::Empty => req.call(),
                Body::Bytes(b) => req.send_bytes(b),
                Body::File { path, offset, len } => {
                    let file = open_at(path, offset).map_err(|source| DistError::Io {
                        path: PathBuf::from(path),
                        source,
                    })?;
                    req.set("Content-Length", &len.to_string())
                        .send(file.take(len))
                }
            };
            let resp = match result {
                Ok(r) => r,
                Err(ureq::Error::Status(_, r)) => r,
                Err(ureq::Error::Transport(t)) => {
                    return Err(DistError::Unreachable {
                        registry: self.registry.clone(),
                        detail: format!("{method} {url}: {t}"),
                    })
                }
            };
            let status = resp.status();
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                if let Some(loc) = resp.header("location") {
                    url = if loc.starts_with("http://") || loc.starts_with("https://") {
                        loc.to_string()
                    } else {
                        let origin = origin_of(&url);
                        format!(
                            "{origin}{}",
                            if loc.starts_with('/') {
                                loc.to_string()
                            } else {
                                format!("/{loc}")
                            }
                        )
                    };
                    if status == 303 {
                        method = "GET".into();
                    }
                    continue;
                }
            }
            if status == 401 {
                let detail = Reply {
                    status,
                    url: url.clone(),
                    inner: resp,
                }
                .error_text();
                return Err(DistError::Unauthorized {
                    registry: self.registry.clone(),
                    detail,
                });
            }
            return Ok(Reply {
                status,
                url,
                inner: resp,
            });
        }
        Err(DistError::Unreachable {
            registry: self.registry.clone(),
            detail: format!("more than {MAX_REDIRECTS} redirects from {url}"),
        })
    }
}

fn open_at(path: &std::path::Path, offset: u64) -> std::io::Result<std::fs::File> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(offset))?;
    Ok(f)
}

/// Exponential backoff: 200 ms, 400 ms, 800 ms, … capped at 5 s.
pub(crate) fn backoff(attempt: u32) {
    let ms = (200u64 << attempt.min(5).saturating_sub(1)).min(5000);
    std::thread::sleep(Duration::from_millis(ms));
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `https://host:5000/a/b` → `host:5000`.
pub fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    authority.rsplit_once('@').map_or(authority, |(_, h)| h)
}

fn origin_of(url: &str) -> String {
    let scheme = url.split_once("://").map_or("https", |(s, _)| s);
    format!("{scheme}://{}", url_host(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_defaults_and_config() {
        let none = RegistryOptions::default();
        assert!(is_insecure("localhost:5000", &none));
        assert!(is_insecure("127.0.0.1:5000", &none));
        assert!(is_insecure("[::1]:5000", &none));
        assert!(!is_insecure("registry-1.docker.io", &none));
        let opts = RegistryOptions {
            insecure: vec![
                "reg.lan:5000".into(),
                "10.0.0.0/8".into(),
                "http://other".into(),
            ],
            mirrors: vec![],
        };
        assert!(is_insecure("reg.lan:5000", &opts));
        assert!(!is_insecure("reg.lan:6000", &opts));
        assert!(is_insecure("10.1.2.3:5000", &opts));
        assert!(!is_insecure("11.1.2.3", &opts));
        assert!(is_insecure("other", &opts));
    }

    #[test]
    fn endpoints_and_urls() {
        assert_eq!(endpoint_host("docker.io"), "registry-1.docker.io");
        assert_eq!(endpoint_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(url_host("https://a.b:5000/v2/x?y"), "a.b:5000");
        assert_eq!(url_host("http://u:p@s3.example/b"), "s3.example");
        assert_eq!(origin_of("http://h:1/v2/x"), "http://h:1");
        let c = RegistryClient::new("127.0.0.1:5000", None, &RegistryOptions::default()).unwrap();
        // Fix the scheme without a network round trip.
        c.set_ping("http://127.0.0.1:5000".into(), None).unwrap();
        assert_eq!(
            c.url("library/busybox", "manifests/latest").unwrap(),
            "http://127.0.0.1:5000/v2/library/busybox/manifests/latest"
        );
        assert_eq!(
            c.resolve_location("/v2/x/blobs/uploads/abc?_state=1")
                .unwrap(),
            "http://127.0.0.1:5000/v2/x/blobs/uploads/abc?_state=1"
        );
        assert_eq!(c.resolve_location("https://s3/x").unwrap(), "https://s3/x");
    }
}
