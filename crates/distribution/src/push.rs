//! Push: layers (already there → skip; known from another repository of the registry →
//! cross-repository mount; else gzip to a temp file and upload, monolithic or chunked), the
//! config, and the manifest by tag last, so the tag never names missing blobs.
//!
//! The store keeps layers uncompressed, so a new blob is made by gzipping the tar. Gzip is
//! what clients expect (and what docker pushes); the encoder is deterministic (no mtime, no
//! name), so pushing the same layer twice gives the same digest and the second is skipped.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use flate2::write::GzEncoder;
use sha2::{Digest as _, Sha256};
use vessel_image::{ImageStore, LayerInfo, Reference};

use crate::auth::{repo_scope, Credentials};
use crate::cache::{BlobCache, BlobSource};
use crate::client::{Body, RegistryClient, RegistryOptions};
use crate::error::{DistError, Result};
use crate::manifest::{
    Descriptor, ImageManifest, DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_CONFIG,
    OCI_LAYER_GZIP, OCI_MANIFEST,
};
use crate::progress::{short_id, Progress};
use crate::pull::{parse_reference, ProgressFn};

/// Layers uploaded at once.
const PUSH_CONCURRENCY: usize = 3;

#[derive(Debug, Clone)]
pub struct PushOptions {
    pub creds: Option<Credentials>,
    pub registry: RegistryOptions,
    pub cache_dir: Option<PathBuf>,
    /// Where compressed layers are staged (default: the system temp dir).
    pub tmp_dir: Option<PathBuf>,
    /// Blobs up to this size go in one PUT; larger ones in PATCH chunks.
    pub monolithic_limit: u64,
    pub chunk_size: u64,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            creds: None,
            registry: RegistryOptions::default(),
            cache_dir: None,
            tmp_dir: None,
            monolithic_limit: 32 << 20,
            chunk_size: 16 << 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedImage {
    pub tag: String,
    /// Manifest digest.
    pub digest: String,
    /// Manifest size in bytes.
    pub size: u64,
}

struct Target<'a> {
    client: &'a RegistryClient,
    r: &'a Reference,
    scopes: Vec<String>,
}

pub fn push(
    store: &ImageStore,
    reference: &str,
    opts: &PushOptions,
    progress: ProgressFn<'_>,
) -> Result<PushedImage> {
    let r = parse_reference(reference)?;
    let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
    let local = r.with_tag(&tag).to_string_full();
    let config = store.config_bytes(&local).map_err(DistError::store)?;
    let layers = store.layers(&local).map_err(DistError::store)?;
    progress(Progress::status(format!(
        "The push refers to repository [{}]",
        r.familiar_name_full()
    )));
    let client = RegistryClient::new(&r.registry, opts.creds.clone(), &opts.registry)?;
    let t = Target {
        client: &client,
        r: &r,
        scopes: vec![repo_scope(&r.repository, "pull,push")],
    };
    // Docker lists layers top first.
    for l in layers.iter().rev() {
        progress(Progress::layer(&short_id(l.diff_id.as_str()), "Preparing"));
    }
    let cache = BlobCache::new(opts.cache_dir.as_deref());
    let descriptors = push_layers(store, &t, &layers, &cache, opts, progress)?;
    let learned: Vec<_> = layers
        .iter()
        .zip(&descriptors)
        .map(|(l, d)| {
            let src = BlobSource {
                digest: d.digest.clone(),
                media_type: d.media_type.clone(),
                size: d.size,
                repository: r.name(),
            };
            (l.diff_id.to_string(), src)
        })
        .collect();
    cache.record(&learned);

    let config_digest = sha256(&config);
    if !blob_exists(&t, &config_digest)? {
        upload_bytes(&t, &config_digest, &config)?;
    }
    let oci = descriptors
        .iter()
        .any(|d| !d.media_type.starts_with("application/vnd.docker."));
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: if oci { OCI_MANIFEST } else { DOCKER_MANIFEST }.to_string(),
        config: Descriptor {
            media_type: if oci { OCI_CONFIG } else { DOCKER_CONFIG }.to_string(),
            digest: config_digest,
            size: config.len() as u64,
            urls: vec![],
            platform: None,
        },
        layers: descriptors
            .into_iter()
            .map(|mut d| {
                if oci && d.media_type == DOCKER_LAYER_GZIP {
                    d.media_type = OCI_LAYER_GZIP.into();
                }
                d
            })
            .collect(),
    };
    let body = serde_json::to_vec_pretty(&manifest).map_err(|source| DistError::Json {
        url: "manifest".into(),
        source,
    })?;
    let url = t.client.url(&r.repository, &format!("manifests/{tag}"))?;
    let reply = t.client.send(
        "PUT",
        &url,
        &t.scopes,
        &[("Content-Type", manifest.media_type.clone())],
        Body::Bytes(&body),
    )?;
    expect(reply, &url, "manifest upload", &[200, 201], &r)?;
    let digest = sha256(&body);
    store
        .add_repo_digest(&local, &format!("{}@{digest}", r.name()))
        .map_err(DistError::store)?;
    progress(Progress::status(format!(
        "{tag}: digest: {digest} size: {}",
        body.len()
    )));
    Ok(PushedImage {
        tag,
        digest,
        size: body.len() as u64,
    })
}

trait RefExt {
    fn to_string_full(&self) -> String;
    fn familiar_name_full(&self) -> String;
}

impl RefExt for Reference {
    fn to_string_full(&self) -> String {
        format!(
            "{}:{}",
            self.name(),
            self.tag.as_deref().unwrap_or("latest")
        )
    }
    /// Docker prints `docker.io/library/busybox` in "The push refers to repository".
    fn familiar_name_full(&self) -> String {
        self.name()
    }
}

/// Layers are pushed 3 at a time (as docker does); the manifest keeps their order.
fn push_layers(
    store: &ImageStore,
    t: &Target<'_>,
    layers: &[LayerInfo],
    cache: &BlobCache,
    opts: &PushOptions,
    progress: ProgressFn<'_>,
) -> Result<Vec<Descriptor>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let slots: Vec<Mutex<Option<Result<Descriptor>>>> =
        layers.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..PUSH_CONCURRENCY.min(layers.len()) {
            s.spawn(|| loop {
                if failed.load(Ordering::Relaxed) {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(l) = layers.get(i) else { return };
                let result = push_layer(store, t, l, cache, opts, progress);
                failed.fetch_or(result.is_err(), Ordering::Relaxed);
                *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
            });
        }
    });
    let mut out = Vec::with_capacity(layers.len());
    let mut first_error = None;
    for slot in slots {
        match slot.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(Ok(d)) => out.push(d),
            Some(Err(e)) => {
                first_error.get_or_insert(e);
            }
            // Not attempted because another layer failed.
            None => {}
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn push_layer(
    store: &ImageStore,
    t: &Target<'_>,
    l: &LayerInfo,
    cache: &BlobCache,
    opts: &PushOptions,
    progress: ProgressFn<'_>,
) -> Result<Descriptor> {
    let id = short_id(l.diff_id.as_str());
    let prefix = format!("{}/", t.r.registry);
    for src in cache.sources(l.diff_id.as_str()) {
        let Some(from) = src.repository.strip_prefix(&prefix) else {
            continue;
        };
        let desc = Descriptor {
            media_type: src.media_type.clone(),
            digest: src.digest.clone(),
            size: src.size,
            urls: vec![],
            platform: None,
        };
        if blob_exists(t, &src.digest)? {
            progress(Progress::layer(&id, "Layer already exists"));
            return Ok(desc);
        }
        if from != t.r.repository && mount(t, &src.digest, from)? {
            progress(Progress::layer(&id, format!("Mounted from {from}")));
            return Ok(desc);
        }
    }
    let staged = gzip_layer(store, l, opts.tmp_dir.as_deref())?;
    let desc = Descriptor {
        media_type: DOCKER_LAYER_GZIP.into(),
        digest: staged.digest.clone(),
        size: staged.size,
        urls: vec![],
        platform: None,
    };
    if blob_exists(t, &staged.digest)? {
        progress(Progress::layer(&id, "Layer already exists"));
        return Ok(desc);
    }
    upload_file(t, &staged, opts, &id, progress)?;
    progress(Progress::layer(&id, "Pushed"));
    Ok(desc)
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn expect(
    reply: crate::client::Reply,
    url: &str,
    what: &'static str,
    ok: &[u16],
    r: &Reference,
) -> Result<crate::client::Reply> {
    if ok.contains(&reply.status) {
        return Ok(reply);
    }
    if reply.status == 403 {
        return Err(DistError::Denied {
            repository: r.name(),
            detail: reply.error_text(),
        });
    }
    let status = reply.status;
    Err(DistError::Status {
        what,
        url: url.to_string(),
        status,
        body: reply.error_text(),
    })
}

fn blob_exists(t: &Target<'_>, digest: &str) -> Result<bool> {
    let url = t.client.url(&t.r.repository, &format!("blobs/{digest}"))?;
    let reply = t.client.send("HEAD", &url, &t.scopes, &[], Body::Empty)?;
    Ok(reply.status == 200)
}

/// `POST …/blobs/uploads/?mount=<digest>&from=<repo>`: 201 means mounted; 202 means the
/// registry started an ordinary upload instead, which we abandon.
fn mount(t: &Target<'_>, digest: &str, from: &str) -> Result<bool> {
    let url = t.client.url(
        &t.r.repository,
        &format!("blobs/uploads/?mount={digest}&from={from}"),
    )?;
    let mut scopes = t.scopes.clone();
    scopes.push(repo_scope(from, "pull"));
    let reply = match t.client.send("POST", &url, &scopes, &[], Body::Empty) {
        Ok(r) => r,
        // No pull right on the source repository: not an error, just no mount.
        Err(DistError::Unauthorized { .. }) => return Ok(false),
        Err(e) => return Err(e),
    };
    if reply.status == 201 {
        return Ok(true);
    }
    if reply.status == 202 {
        if let Some(loc) = reply.header("location").map(str::to_string) {
            let loc = t.client.resolve_location(&loc)?;
            let _ = t.client.send("DELETE", &loc, &t.scopes, &[], Body::Empty);
        }
    }
    Ok(false)
}

struct Staged {
    _file: tempfile::NamedTempFile,
    path: PathBuf,
    digest: String,
    size: u64,
}

/// Gzip a stored layer into a temp file, hashing the compressed bytes on the way.
fn gzip_layer(store: &ImageStore, l: &LayerInfo, tmp: Option<&Path>) -> Result<Staged> {
    let dir = tmp
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    let io_err = |source| DistError::Io {
        path: dir.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(io_err)?;
    let file = tempfile::Builder::new()
        .prefix(".vessel-push-")
        .suffix(".tar.gz")
        .tempfile_in(&dir)
        .map_err(io_err)?;
    let mut tar = store.open_layer(&l.diff_id).map_err(DistError::store)?;
    let out = HashingWriter {
        inner: io::BufWriter::new(file.reopen().map_err(io_err)?),
        hash: Sha256::new(),
        size: 0,
    };
    let mut gz = GzEncoder::new(out, flate2::Compression::default());
    io::copy(&mut tar, &mut gz).map_err(io_err)?;
    let mut out = gz.finish().map_err(io_err)?;
    out.inner.flush().map_err(io_err)?;
    let HashingWriter { inner, hash, size } = out;
    drop(inner);

    let digest = format!("sha256:{}", hex::encode(hash.finalize()));
    Ok(Staged {
        path: file.path().to_path_buf(),
        _file: file,
        digest,
        size,
    })
}

struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `POST …/blobs/uploads/` → the upload's Location.
fn start_upload(t: &Target<'_>) -> Result<String> {
    let url = t.client.url(&t.r.repository, "blobs/uploads/")?;
    let reply = t.client.send("POST", &url, &t.scopes, &[], Body::Empty)?;
    let reply = expect(reply, &url, "upload start", &[202], t.r)?;
    let loc = reply
        .header("location")
        .ok_or_else(|| DistError::Status {
            what: "upload start (no Location)",
            url: url.clone(),
            status: 202,
            body: String::new(),
        })?
        .to_string();
    t.client.resolve_location(&loc)
}

fn with_digest(location: &str, digest: &str) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}

fn upload_bytes(t: &Target<'_>, digest: &str, bytes: &[u8]) -> Result<()> {
    let loc = start_upload(t)?;
    let url = with_digest(&loc, digest);
    let reply = t.client.send(
        "PUT",
        &url,
        &t.scopes,
        &[("Content-Type", "application/octet-stream".into())],
        Body::Bytes(bytes),
    )?;
    expect(reply, &url, "blob upload", &[201], t.r).map(|_| ())
}

fn upload_file(
    t: &Target<'_>,
    s: &Staged,
    opts: &PushOptions,
    id: &str,
    progress: ProgressFn<'_>,
) -> Result<()> {
    let mut loc = start_upload(t)?;
    let octet = [("Content-Type", "application/octet-stream".to_string())];
    if s.size <= opts.monolithic_limit {
        progress(Progress::bytes(id, "Pushing", 0, s.size));
        let url = with_digest(&loc, &s.digest);
        let body = Body::File {
            path: &s.path,
            offset: 0,
            len: s.size,
        };
        let reply = t.client.send("PUT", &url, &t.scopes, &octet, body)?;
        expect(reply, &url, "blob upload", &[201], t.r)?;
        progress(Progress::bytes(id, "Pushing", s.size, s.size));
        return Ok(());
    }
    let chunk = opts.chunk_size.max(1);
    let mut offset = 0;
    while offset < s.size {
        let len = chunk.min(s.size - offset);
        let headers = [
            octet[0].clone(),
            ("Content-Range", format!("{}-{}", offset, offset + len - 1)),
        ];
        let body = Body::File {
            path: &s.path,
            offset,
            len,
        };
        let reply = t.client.send("PATCH", &loc, &t.scopes, &headers, body)?;
        let reply = expect(reply, &loc, "blob chunk upload", &[202], t.r)?;
        if let Some(next) = reply.header("location") {
            loc = t.client.resolve_location(next)?;
        }
        offset += len;
        progress(Progress::bytes(id, "Pushing", offset, s.size));
    }
    let url = with_digest(&loc, &s.digest);
    let reply = t.client.send("PUT", &url, &t.scopes, &[], Body::Empty)?;
    expect(reply, &url, "blob upload completion", &[201], t.r).map(|_| ())
}
