//! The Docker Engine API as typed calls: version negotiation, the path prefix, error bodies.

use std::cell::RefCell;
use std::io::Read;
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::http::{Body, Conn, Hijacked, HttpError, Response};

pub const DEFAULT_SOCKET: &str = "/run/vessel/vessel.sock";
/// The highest API version this client speaks; a newer daemon is asked for this one.
const CLIENT_API: (u32, u32) = (1, 41);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("Cannot connect to the Vessel daemon at unix://{}. Is the vessel daemon running?", .path.display())]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Error response from daemon: {message}")]
    Api { status: u16, message: String },
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("cannot decode the daemon's reply to {what}: {source}")]
    Decode {
        what: String,
        #[source]
        source: serde_json::Error,
    },
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

pub type Result<T> = std::result::Result<T, ClientError>;

/// Where the daemon listens.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    pub socket: PathBuf,
    /// True when nothing chose the host, so the CLI may start the daemon itself.
    pub is_default: bool,
}

impl Host {
    /// `-H`, then `VESSEL_HOST`, then `DOCKER_HOST`, then the default socket.
    pub fn resolve(flag: Option<&str>) -> std::result::Result<Host, String> {
        let chosen = flag
            .map(str::to_string)
            .or_else(|| std::env::var("VESSEL_HOST").ok().filter(|s| !s.is_empty()))
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|s| !s.is_empty()));
        match chosen {
            None => Ok(Host {
                socket: PathBuf::from(DEFAULT_SOCKET),
                is_default: true,
            }),
            Some(h) => Host::parse(&h),
        }
    }

    pub fn parse(h: &str) -> std::result::Result<Host, String> {
        let path = if let Some(p) = h.strip_prefix("unix://") {
            p
        } else if h.starts_with('/') {
            h
        } else {
            return Err(format!(
                "invalid host {h:?}: only unix sockets are supported (unix:///path/to/sock)"
            ));
        };
        if path.is_empty() {
            return Err(format!("invalid host {h:?}: empty socket path"));
        }
        Ok(Host {
            socket: PathBuf::from(path),
            is_default: path == DEFAULT_SOCKET,
        })
    }
}

pub struct Client {
    pub host: Host,
    prefix: RefCell<Option<String>>,
    idle: RefCell<Option<Conn>>,
}

fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.trim().split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

impl Client {
    pub fn new(host: Host) -> Client {
        Client {
            host,
            prefix: RefCell::new(None),
            idle: RefCell::new(None),
        }
    }

    /// A client for another thread: same host and negotiated version, its own connections.
    pub fn fork(&self) -> Client {
        Client {
            host: self.host.clone(),
            prefix: RefCell::new(self.prefix.borrow().clone()),
            idle: RefCell::new(None),
        }
    }

    /// A fresh connection (attach, wait and start each need their own, as docker does).
    pub fn connect(&self) -> Result<Conn> {
        match Conn::connect(&self.host.socket) {
            Ok(c) => Ok(c),
            Err(e) if crate::autostart::should_start(&self.host, &e) => {
                crate::autostart::start(&self.host.socket).map_err(|source| {
                    ClientError::Connect {
                        path: self.host.socket.clone(),
                        source,
                    }
                })?;
                Conn::connect(&self.host.socket).map_err(|source| ClientError::Connect {
                    path: self.host.socket.clone(),
                    source,
                })
            }
            Err(source) => Err(ClientError::Connect {
                path: self.host.socket.clone(),
                source,
            }),
        }
    }

    fn conn(&self) -> Result<Conn> {
        match self.idle.borrow_mut().take() {
            Some(c) => Ok(c),
            None => self.connect(),
        }
    }

    /// Gives a finished response's connection back for keep-alive reuse.
    pub fn recycle(&self, resp: Response) {
        if let Some(c) = resp.into_conn() {
            *self.idle.borrow_mut() = Some(c);
        }
    }

    /// `HEAD /_ping` (then `GET` on 404) and `min(server, client)` like the docker CLI.
    fn negotiate(&self) -> Result<String> {
        if let Some(p) = self.prefix.borrow().as_ref() {
            return Ok(p.clone());
        }
        let mut version = None;
        for method in ["HEAD", "GET"] {
            let mut c = self.conn()?;
            c.send(method, "/_ping", &[], Body::Empty)?;
            let mut resp = c.read_response(method)?;
            let _ = resp.read_all();
            let status = resp.status;
            version = resp.header("Api-Version").map(str::to_string);
            self.recycle(resp);
            if status != 404 {
                break;
            }
        }
        let v = match version.as_deref().and_then(parse_version) {
            Some(v) if v < CLIENT_API => v,
            Some(_) => CLIENT_API,
            None => (1, 24),
        };
        let p = format!("/v{}.{}", v.0, v.1);
        *self.prefix.borrow_mut() = Some(p.clone());
        Ok(p)
    }

    pub fn api_version(&self) -> Result<String> {
        Ok(self.negotiate()?.trim_start_matches("/v").to_string())
    }

    fn url(&self, path: &str) -> Result<String> {
        Ok(format!("{}{}", self.negotiate()?, path))
    }

    /// Sends a request and returns the response if its status is a success.
    pub fn request(&self, method: &str, path: &str, body: Body<'_>) -> Result<Response> {
        self.request_with(method, path, &[], body)
    }

    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<Response> {
        let url = self.url(path)?;
        let mut c = self.conn()?;
        c.send(method, &url, headers, body)?;
        check(c.read_response(method)?)
    }

    /// Like `request` on a new connection, so the caller may hold the response open (wait).
    pub fn request_fresh(&self, method: &str, path: &str, body: Body<'_>) -> Result<Response> {
        let url = self.url(path)?;
        let mut c = self.connect()?;
        c.send(method, &url, &[], body)?;
        check(c.read_response(method)?)
    }

    pub fn hijack(&self, method: &str, path: &str, body: Option<&[u8]>) -> Result<Hijacked> {
        let url = self.url(path)?;
        match self.connect()?.upgrade(method, &url, body)? {
            Ok(h) => Ok(h),
            Err(resp) => Err(check(resp).err().unwrap_or(ClientError::Api {
                status: 500,
                message: "upgrade failed".into(),
            })),
        }
    }

    /// Request and read the body whole.
    pub fn call(&self, method: &str, path: &str, body: Body<'_>) -> Result<Vec<u8>> {
        let mut resp = self.request(method, path, body)?;
        let b = resp.read_all()?;
        self.recycle(resp);
        Ok(b)
    }

    pub fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let b = self.call("GET", path, Body::Empty)?;
        decode(path, &b)
    }

    pub fn post_json<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T> {
        let data = serde_json::to_vec(body).expect("a Value always serializes");
        let b = self.call("POST", path, Body::Bytes(&data, "application/json"))?;
        decode(path, &b)
    }

    pub fn post(&self, path: &str) -> Result<Vec<u8>> {
        self.call("POST", path, Body::Empty)
    }

    pub fn delete(&self, path: &str) -> Result<Vec<u8>> {
        self.call("DELETE", path, Body::Empty)
    }
}

pub fn decode<T: DeserializeOwned>(what: &str, b: &[u8]) -> Result<T> {
    serde_json::from_slice(b).map_err(|source| ClientError::Decode {
        what: what.to_string(),
        source,
    })
}

/// Turns an error status into `ClientError::Api` with the daemon's `message`.
fn check(mut resp: Response) -> Result<Response> {
    if resp.status < 400 {
        return Ok(resp);
    }
    let mut body = Vec::new();
    let _ = resp.read_to_end(&mut body);
    let message = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
    let message = if message.is_empty() {
        format!("HTTP status {}", resp.status)
    } else {
        message
    };
    Err(ClientError::Api {
        status: resp.status,
        message,
    })
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds `?a=b&c=d` from the pairs whose value is `Some`.
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", enc(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// `--filter k=v` flags as the CLI's JSON map of bools.
pub fn filters_json(filters: &[String]) -> std::result::Result<Option<String>, String> {
    if filters.is_empty() {
        return Ok(None);
    }
    let mut map = serde_json::Map::new();
    for f in filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| format!("bad format of filter (expected name=value): {f}"))?;
        let entry = map
            .entry(k.trim().to_lowercase())
            .or_insert_with(|| Value::Object(Default::default()));
        entry
            .as_object_mut()
            .expect("inserted as an object")
            .insert(v.to_string(), Value::Bool(true));
    }
    Ok(Some(Value::Object(map).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(
            Host::parse("unix:///tmp/x.sock").unwrap().socket,
            PathBuf::from("/tmp/x.sock")
        );
        assert!(
            Host::parse("unix:///run/vessel/vessel.sock")
                .unwrap()
                .is_default
        );
        assert!(Host::parse("tcp://1.2.3.4:2375")
            .unwrap_err()
            .contains("only unix sockets"));
    }

    #[test]
    fn query_encoding() {
        assert_eq!(
            query(&[
                ("fromImage", Some("docker.io/library/bb".into())),
                ("x", None),
                ("tag", Some("latest".into()))
            ]),
            "?fromImage=docker.io%2Flibrary%2Fbb&tag=latest"
        );
        assert_eq!(
            filters_json(&["status=exited".into(), "name=logger".into()])
                .unwrap()
                .unwrap(),
            r#"{"name":{"logger":true},"status":{"exited":true}}"#
        );
        assert!(filters_json(&["nope".into()]).is_err());
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("1.41"), Some((1, 41)));
        assert_eq!(parse_version("x"), None);
    }
}
