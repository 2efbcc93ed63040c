//! Shared test harness: an in-process server on 127.0.0.1:0, a raw HTTP/1.1 client, and a
//! one-layer busybox image written as an OCI layout for skopeo and podman.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use vessel_registry::RegistryConfig;

/// A running registry; stopped (and its root removed) on drop, even when a test fails.
pub struct Server {
    pub addr: SocketAddr,
    pub root: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    pub fn start(configure: impl FnOnce(&mut RegistryConfig)) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Self::start_at(&dir.path().join("root"), configure);
        s._dir = Some(dir);
        s
    }

    /// A server on a root the caller owns (to restart on the same storage).
    pub fn start_at(root: &Path, configure: impl FnOnce(&mut RegistryConfig)) -> Server {
        let root = root.to_path_buf();
        let mut cfg = RegistryConfig::new(&root);
        configure(&mut cfg);
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std_listener.set_nonblocking(true).unwrap();
        let addr = std_listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                let _ = ready_tx.send(());
                vessel_registry::serve(listener, cfg, async {
                    let _ = rx.await;
                })
                .await
                .expect("serve");
            });
        });
        ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        // The root is created by serve; wait until the server answers.
        for _ in 0..100 {
            if TcpStream::connect(addr).is_ok() && root.join("blobs").exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Server {
            addr,
            root,
            stop: Some(tx),
            thread: Some(thread),
            _dir: None,
        }
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn get(&self, path: &str) -> Resp {
        http(self.addr, "GET", path, &[], b"")
    }

    pub fn req(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        http(self.addr, method, path, headers, body)
    }

    /// Pushes a blob monolithically; returns its digest.
    pub fn push_blob(&self, repo: &str, data: &[u8]) -> String {
        let d = digest(data);
        let r = self.req(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
            &[],
            data,
        );
        assert_eq!(r.status, 201, "{}", r.text());
        d
    }

    /// Pushes a manifest; returns the response.
    pub fn push_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Resp {
        self.req(
            "PUT",
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("Content-Type", media_type)],
            body,
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
    /// The first error code of a spec error body.
    pub fn code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// One HTTP/1.1 request on a fresh connection, the path sent exactly as given.
pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
    out
}

pub fn digest(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A unique-enough suffix for names in this process.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .get(..8)
            .unwrap_or("x")
    )
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// An image: one uncompressed layer holding /bin/busybox (plus `marker`, so images differ).
pub struct Image {
    pub layer: Vec<u8>,
    pub config: Vec<u8>,
    pub manifest: Vec<u8>,
}

impl Image {
    pub fn busybox(marker: &str) -> Image {
        let mut tb = tar::Builder::new(Vec::new());
        tb.append_path_with_name("/bin/busybox", "bin/busybox")
            .expect("/bin/busybox (busybox-static)");
        let mut h = tar::Header::new_gnu();
        h.set_size(marker.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tb.append_data(&mut h, "marker", marker.as_bytes()).unwrap();
        let layer = tb.into_inner().unwrap();
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/busybox", "sh"]},
            "rootfs": {"type": "layers", "diff_ids": [digest(&layer)]}
        })
        .to_string()
        .into_bytes();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(&layer), "size": layer.len()}]
        })
        .to_string()
        .into_bytes();
        Image {
            layer,
            config,
            manifest,
        }
    }

    pub fn manifest_digest(&self) -> String {
        digest(&self.manifest)
    }

    /// Writes an OCI image layout with the image under `tag`.
    pub fn write_layout(&self, dir: &Path, tag: &str) {
        let blobs = dir.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        for b in [&self.layer, &self.config, &self.manifest] {
            std::fs::write(blobs.join(&digest(b)[7..]), b).unwrap();
        }
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": OCI_MANIFEST,
                "digest": self.manifest_digest(),
                "size": self.manifest.len(),
                "annotations": {"org.opencontainers.image.ref.name": tag}
            }]
        });
        std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    }

    /// Pushes the image through the raw API.
    pub fn push(&self, s: &Server, repo: &str, tag: &str) {
        s.push_blob(repo, &self.layer);
        s.push_blob(repo, &self.config);
        let r = s.push_manifest(repo, tag, OCI_MANIFEST, &self.manifest);
        assert_eq!(r.status, 201, "{}", r.text());
    }
}

/// Runs a command, returning (success, stdout, stderr).
pub fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success())
}

/// skopeo with its own registries/auth configuration so nothing on the host leaks in.
pub fn skopeo(tmp: &Path) -> Command {
    let mut c = Command::new("skopeo");
    let auth = tmp.join("auth.json");
    if !auth.exists() {
        std::fs::write(&auth, "{}").unwrap();
    }
    c.env("REGISTRY_AUTH_FILE", &auth);
    c
}

/// An htpasswd file with one bcrypt user, made with apache2-utils' htpasswd.
pub fn htpasswd(dir: &Path, user: &str, pass: &str) -> PathBuf {
    let p = dir.join("htpasswd");
    let (ok, out, err) = run(Command::new("htpasswd").args(["-Bbn", user, pass]));
    assert!(ok, "htpasswd: {err}");
    std::fs::write(&p, out).unwrap();
    p
}
