//! Shared helpers of the engine's integration tests: a fake image service, a daemon on a
//! unique socket in a temp dir, a raw HTTP client, and the real docker CLI.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

pub mod proc_daemon;

use serde_json::{json, Value};
use vessel_engine::{DaemonConfig, ImageService};
use vessel_image::{ImageDetails, ImageError, ImageSummary, LoadedImage, RemoveEvent};

#[derive(Clone)]
struct FakeImage {
    id: String,
    tags: Vec<String>,
    config: Value,
    config_bytes: Vec<u8>,
    diff_ids: Vec<String>,
    size: u64,
}

/// An in-memory image service that understands docker-archives well enough for the CLI.
#[derive(Default)]
pub struct FakeImages {
    images: Mutex<Vec<FakeImage>>,
}

fn normalize(name: &str) -> String {
    let name = name
        .strip_prefix("docker.io/library/")
        .or_else(|| name.strip_prefix("docker.io/"))
        .unwrap_or(name);
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || name.starts_with("sha256:") {
        name.to_owned()
    } else {
        format!("{name}:latest")
    }
}

impl FakeImages {
    fn find(&self, name: &str) -> Result<FakeImage, ImageError> {
        let images = self.images.lock().unwrap();
        let tag = normalize(name);
        let by_tag = images.iter().find(|i| i.tags.contains(&tag));
        let by_id = || {
            let hex = name.strip_prefix("sha256:").unwrap_or(name);
            let found: Vec<_> = images
                .iter()
                .filter(|i| !hex.is_empty() && i.id[7..].starts_with(hex))
                .collect();
            (found.len() == 1).then(|| found[0])
        };
        by_tag
            .or_else(by_id)
            .cloned()
            .ok_or_else(|| ImageError::NotFound(name.to_owned()))
    }

    fn summary(i: &FakeImage) -> ImageSummary {
        ImageSummary {
            id: i.id.clone(),
            repo_tags: i.tags.clone(),
            repo_digests: vec![],
            created: 1_795_322_886,
            size: i.size,
            labels: HashMap::new(),
        }
    }
}

impl ImageService for FakeImages {
    fn list(&self) -> Result<Vec<ImageSummary>, ImageError> {
        Ok(self
            .images
            .lock()
            .unwrap()
            .iter()
            .map(Self::summary)
            .collect())
    }

    fn inspect(&self, name: &str) -> Result<ImageDetails, ImageError> {
        let i = self.find(name)?;
        Ok(ImageDetails {
            summary: Self::summary(&i),
            config: i.config.clone(),
            diff_ids: i.diff_ids.clone(),
        })
    }

    fn load(&self, archive: &mut dyn Read) -> Result<Vec<LoadedImage>, ImageError> {
        let mut files: HashMap<String, Vec<u8>> = HashMap::new();
        let mut sizes: HashMap<String, u64> = HashMap::new();
        let mut tar = tar::Archive::new(archive);
        let bad = |what: &str| ImageError::NotFound(format!("bad archive: {what}"));
        for entry in tar.entries().map_err(|_| bad("not a tar"))? {
            let mut entry = entry.map_err(|_| bad("entry"))?;
            let path = entry
                .path()
                .map_err(|_| bad("path"))?
                .to_string_lossy()
                .into_owned();
            sizes.insert(path.clone(), entry.size());
            if path.ends_with(".json") {
                let mut data = Vec::new();
                entry.read_to_end(&mut data).map_err(|_| bad("read"))?;
                files.insert(path, data);
            }
        }
        let manifest: Value = serde_json::from_slice(
            files
                .get("manifest.json")
                .ok_or_else(|| bad("no manifest.json"))?,
        )
        .map_err(|_| bad("manifest"))?;
        let mut loaded = Vec::new();
        let mut images = self.images.lock().unwrap();
        for m in manifest.as_array().ok_or_else(|| bad("manifest shape"))? {
            let config_name = m["Config"].as_str().ok_or_else(|| bad("Config"))?;
            let config_bytes = files.get(config_name).ok_or_else(|| bad("config"))?.clone();
            let config: Value = serde_json::from_slice(&config_bytes).map_err(|_| bad("config"))?;
            let hex = config_name
                .trim_end_matches(".json")
                .rsplit('/')
                .next()
                .unwrap();
            let id = format!("sha256:{hex}");
            let tags: Vec<String> = m["RepoTags"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).map(normalize).collect())
                .unwrap_or_default();
            let size = m["Layers"]
                .as_array()
                .map(|l| l.iter().filter_map(|p| sizes.get(p.as_str()?)).sum())
                .unwrap_or(0);
            for other in images.iter_mut() {
                other.tags.retain(|t| !tags.contains(t));
            }
            images.retain(|i| i.id != id);
            let diff_ids = config["rootfs"]["diff_ids"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            images.push(FakeImage {
                id: id.clone(),
                tags: tags.clone(),
                config,
                config_bytes,
                diff_ids,
                size,
            });
            loaded.push(LoadedImage {
                id,
                repo_tags: tags,
            });
        }
        Ok(loaded)
    }

    fn save(&self, names: &[String], out: &mut dyn Write) -> Result<(), ImageError> {
        let mut builder = tar::Builder::new(out);
        let mut manifest = Vec::new();
        for name in names {
            let i = self.find(name)?;
            let file = format!("{}.json", &i.id[7..]);
            let mut h = tar::Header::new_gnu();
            h.set_size(i.config_bytes.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            builder
                .append_data(&mut h, &file, i.config_bytes.as_slice())
                .map_err(|e| ImageError::NotFound(e.to_string()))?;
            manifest.push(json!({"Config": file, "RepoTags": i.tags, "Layers": []}));
        }
        let data = serde_json::to_vec(&manifest).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        builder
            .append_data(&mut h, "manifest.json", data.as_slice())
            .and_then(|()| builder.finish())
            .map_err(|e| ImageError::NotFound(e.to_string()))
    }

    fn tag(&self, source: &str, target: &str) -> Result<(), ImageError> {
        let src = self.find(source)?;
        let target = normalize(target);
        let mut images = self.images.lock().unwrap();
        for i in images.iter_mut() {
            i.tags.retain(|t| *t != target);
            if i.id == src.id {
                i.tags.push(target.clone());
            }
        }
        Ok(())
    }

    fn remove(&self, name: &str, _force: bool) -> Result<Vec<RemoveEvent>, ImageError> {
        let img = self.find(name)?;
        let tag = normalize(name);
        let mut images = self.images.lock().unwrap();
        let mut events = Vec::new();
        let entry = images.iter_mut().find(|i| i.id == img.id).unwrap();
        if entry.tags.contains(&tag) {
            entry.tags.retain(|t| *t != tag);
            events.push(RemoveEvent::Untagged(tag));
        } else {
            events.extend(entry.tags.drain(..).map(RemoveEvent::Untagged));
        }
        if entry.tags.is_empty() {
            events.push(RemoveEvent::Deleted(img.id.clone()));
            images.retain(|i| i.id != img.id);
        }
        Ok(events)
    }
}

/// A daemon serving on a unique socket in its own temp dir, stopped on drop.
pub struct TestDaemon {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub root: PathBuf,
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<Result<(), vessel_engine::EngineError>>>,
}

pub fn config_in(dir: &Path) -> DaemonConfig {
    DaemonConfig {
        socket: dir.join("vessel.sock"),
        root: dir.join("root"),
        exec_root: dir.join("run"),
        debug: true,
        // Many test daemons run at once: no default bridge, and the nft table is shared.
        bridge: "none".into(),
        shared_firewall_table: true,
        ..DaemonConfig::default()
    }
}

impl TestDaemon {
    pub fn start() -> Self {
        Self::start_with(Arc::new(FakeImages::default()))
    }

    pub fn start_with(images: Arc<dyn ImageService>) -> Self {
        Self::start_inner(Some(images))
    }

    /// A daemon over the real image store under `<root>/image`.
    pub fn start_real() -> Self {
        Self::start_inner(None)
    }

    fn start_inner(images: Option<Arc<dyn ImageService>>) -> Self {
        vessel_engine::logging::init(true);
        let dir = tempfile::Builder::new()
            .prefix("vessel-engine-it-")
            .tempdir()
            .unwrap();
        let config = config_in(dir.path());
        let (socket, root) = (config.socket.clone(), config.root.clone());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let daemon = runtime
            .block_on(async move {
                match images {
                    Some(images) => vessel_engine::Daemon::start_with_images(config, images).await,
                    None => vessel_engine::Daemon::start(config).await,
                }
            })
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = runtime.spawn(daemon.serve(async {
            let _ = stopped.await;
        }));
        TestDaemon {
            dir,
            socket,
            root,
            runtime: Some(runtime),
            stop: Some(stop),
            served: Some(served),
        }
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Runs the real docker CLI against this daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        let out = Command::new(docker_bin())
            .arg("-H")
            .arg(self.host())
            .args(args)
            .env("DOCKER_CONFIG", self.dir.path().join("docker-config"))
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION")
            .output()
            .expect("run docker");
        eprintln!(
            "$ docker {}\n[{}]\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Stops the daemon and waits for `serve` to return.
    pub fn stop(&mut self) -> Result<(), vessel_engine::EngineError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = match (self.runtime.as_ref(), self.served.take()) {
            (Some(rt), Some(served)) => rt.block_on(served).unwrap(),
            _ => Ok(()),
        };
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
        result
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

pub fn docker_bin() -> &'static str {
    if Path::new("/usr/local/bin/docker").exists() {
        "/usr/local/bin/docker"
    } else {
        "/usr/bin/docker"
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A parsed HTTP reply.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// One request on a fresh connection (`Connection: close`); raw bytes go out as given.
pub fn http(socket: &Path, method: &str, path: &str, body: &[u8]) -> Reply {
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: api.moby.localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // The server may answer (413) and close before it has read everything.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_reply(&raw, method == "HEAD")
}

pub fn parse_reply(raw: &[u8], head_only: bool) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
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
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked && !head_only {
        let mut out = Vec::new();
        let mut rest = body.as_slice();
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap().trim(), 16)
                .unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + n]);
            rest = &rest[eol + 2 + n + 2..];
        }
        body = out;
    }
    Reply {
        status,
        headers,
        body,
    }
}

/// A docker-archive (what `docker save` writes) of a busybox image tagged `tag`.
pub fn busybox_archive(dir: &Path, tag: &str) -> PathBuf {
    use sha2::Digest;
    let layer = rootfs_tar();
    let diff_id = hex(&sha2::Sha256::digest(&layer));
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-11-22T04:48:06.424152572Z",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff_id}")]},
        "history": [{"created": "2026-11-22T04:48:06Z", "created_by": "test rootfs"}],
    }))
    .unwrap();
    let config_hex = hex(&sha2::Sha256::digest(&config));
    let manifest = serde_json::to_vec(&json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": [tag],
        "Layers": [format!("{diff_id}/layer.tar")],
    }]))
    .unwrap();
    let path = dir.join(format!("{}.tar", tag.replace([':', '/'], "_")));
    let mut b = tar::Builder::new(std::fs::File::create(&path).unwrap());
    for (name, data) in [
        (format!("{config_hex}.json"), &config),
        (format!("{diff_id}/layer.tar"), &layer),
        ("manifest.json".to_owned(), &manifest),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    b.finish().unwrap();
    path
}

/// A rootfs tar with /bin/busybox and /bin/sh.
pub fn rootfs_tar() -> Vec<u8> {
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static is installed");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    h.set_mode(0o755);
    h.set_cksum();
    b.append_data(&mut h, "bin/", std::io::empty()).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(busybox.len() as u64);
    h.set_mode(0o755);
    h.set_cksum();
    b.append_data(&mut h, "bin/busybox", busybox.as_slice())
        .unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    h.set_mode(0o777);
    b.append_link(&mut h, "bin/sh", "busybox").unwrap();
    b.into_inner().unwrap()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
