//! Pull: manifest (index → platform), config, then layers streamed concurrently into the
//! store's ingest (hash → decompress → unpack); the image becomes visible only at commit,
//! after every digest and size checked out.

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use vessel_image::{Digest, ImageStore, Reference};

use crate::auth::{repo_scope, Credentials};
use crate::blob::BlobReader;
use crate::cache::{BlobCache, BlobSource};
use crate::client::{Body, RegistryClient, RegistryOptions};
use crate::error::{DistError, Result};
use crate::manifest::{choose_platform, ImageManifest, Manifest, Platform, ACCEPT};
use crate::progress::{short_id, Progress};

/// Largest manifest accepted (the distribution spec suggests 4 MiB).
const MANIFEST_LIMIT: u64 = 4 << 20;
/// Largest image config accepted.
const CONFIG_LIMIT: u64 = 32 << 20;

#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Default: the host's platform.
    pub platform: Option<Platform>,
    pub creds: Option<Credentials>,
    pub registry: RegistryOptions,
    /// Layers downloaded at once.
    pub concurrency: usize,
    /// Directory of the blob-source cache (see [`crate::cache`]).
    pub cache_dir: Option<PathBuf>,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: None,
            creds: None,
            registry: RegistryOptions::default(),
            concurrency: 3,
            cache_dir: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct PulledImage {
    /// `sha256:` image id.
    pub id: String,
    /// What it is tagged as (`busybox:latest`), or the digest reference.
    pub reference: String,
    /// Digest of the image manifest (of the index when the reference named one).
    pub manifest_digest: String,
    /// Whether the tag now points at a different image than before.
    pub updated: bool,
}

/// Callback for progress lines; called from several download threads.
pub type ProgressFn<'a> = &'a (dyn Fn(Progress) + Sync);

pub(crate) fn parse_reference(input: &str) -> Result<Reference> {
    Reference::parse(input).map_err(|source| DistError::Reference {
        input: input.to_string(),
        source: Box::new(source),
    })
}

/// What a manifest request resolved to.
struct Resolved {
    manifest: ImageManifest,
    /// Digest of the document the reference names (index or manifest): RepoDigests.
    digest: String,
    /// Chosen from an index by platform (else a single-platform manifest).
    from_index: bool,
}

pub fn pull(
    store: &ImageStore,
    reference: &str,
    opts: &PullOptions,
    progress: ProgressFn<'_>,
) -> Result<PulledImage> {
    let r = parse_reference(reference)?;
    let tag_or_digest = r
        .digest
        .clone()
        .or_else(|| r.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let want = opts.platform.clone().unwrap_or_else(Platform::host);
    let scopes = vec![repo_scope(&r.repository, "pull")];

    // Docker Hub mirrors first; any failure to resolve there falls back to the registry.
    let mut resolved = None;
    if r.registry == "docker.io" {
        for m in &opts.registry.mirrors {
            let attempt = RegistryClient::mirror(m, None, &opts.registry)
                .and_then(|c| resolve(&c, &r, &tag_or_digest, &scopes, &want).map(|res| (c, res)));
            match attempt {
                Ok(found) => {
                    resolved = Some(found);
                    break;
                }
                Err(e) => tracing::info!("mirror {m} failed for {}: {e}", r.name()),
            }
        }
    }
    let (client, res) = match resolved {
        Some(found) => found,
        None => {
            let c = RegistryClient::new(&r.registry, opts.creds.clone(), &opts.registry)?;
            let res = resolve(&c, &r, &tag_or_digest, &scopes, &want)?;
            (c, res)
        }
    };

    // After the manifest resolved, as docker does: an unknown image fails before any
    // output, so the API can still answer with a plain 404.
    progress(Progress::layer(
        r.tag.as_deref().unwrap_or(&tag_or_digest),
        format!("Pulling from {}", pretty_repo(&r)),
    ));
    let config = fetch_config(&client, &r, &res.manifest, &scopes)?;
    let config_digest =
        Digest::parse(&res.manifest.config.digest).map_err(|source| DistError::Reference {
            input: res.manifest.config.digest.clone(),
            source: Box::new(source),
        })?;
    if let Some(want) = opts.platform.as_ref().filter(|_| !res.from_index) {
        check_config_platform(&r, &config, want)?;
    }
    let diff_ids = diff_ids_of(&r, &config)?;
    if diff_ids.len() != res.manifest.layers.len() {
        return Err(DistError::Manifest {
            reference: r.familiar(),
            reason: format!(
                "{} layers in the manifest but {} diff ids in the config",
                res.manifest.layers.len(),
                diff_ids.len()
            ),
        });
    }

    let ingest = store.ingest();
    let new_layers = fetch_layers(
        store,
        &client,
        &r,
        &res.manifest,
        &diff_ids,
        &ingest,
        &scopes,
        opts,
        progress,
    )?;

    let tags: Vec<String> = match &r.tag {
        Some(_) if r.digest.is_none() => {
            vec![r.name() + ":" + r.tag.as_deref().unwrap_or("latest")]
        }
        _ => vec![],
    };
    let before = tags.first().and_then(|t| store.resolve(t).ok());
    let loaded = ingest
        .commit(&config, Some(&config_digest), &tags)
        .map_err(DistError::store)?;
    let repo_digest = format!("{}@{}", r.name(), res.digest);
    store
        .add_repo_digest(&loaded.id, &repo_digest)
        .map_err(DistError::store)?;
    BlobCache::new(opts.cache_dir.as_deref()).record(&new_layers);

    let shown = match &r.digest {
        Some(d) => format!("{}@{d}", r.familiar_name()),
        None => r.familiar(),
    };
    progress(Progress::status(format!("Digest: {}", res.digest)));
    let updated = before.as_deref() != Some(loaded.id.as_str());
    progress(Progress::status(
        if updated || r.digest.is_some() && !new_layers.is_empty() {
            format!("Status: Downloaded newer image for {shown}")
        } else {
            format!("Status: Image is up to date for {shown}")
        },
    ));
    Ok(PulledImage {
        id: loaded.id,
        reference: shown,
        manifest_digest: res.digest,
        updated,
    })
}

/// Docker shows the repository path without the registry: "Pulling from library/busybox".
fn pretty_repo(r: &Reference) -> String {
    r.repository.clone()
}

fn resolve(
    c: &RegistryClient,
    r: &Reference,
    tag_or_digest: &str,
    scopes: &[String],
    want: &Platform,
) -> Result<Resolved> {
    let (media, body, digest) = fetch_manifest(c, r, tag_or_digest, scopes)?;
    if let Some(expected) = &r.digest {
        check_digest(r, "manifest", expected, &digest)?;
    }
    match Manifest::parse(&r.familiar(), &media, &body)? {
        Manifest::Image(m) => Ok(Resolved {
            manifest: m,
            digest,
            from_index: false,
        }),
        Manifest::Index(idx) => {
            let entry = choose_platform(&r.familiar(), &idx, want)?;
            let (media, body, got) = fetch_manifest(c, r, &entry.digest, scopes)?;
            check_digest(r, "platform manifest", &entry.digest, &got)?;
            match Manifest::parse(&r.familiar(), &media, &body)? {
                Manifest::Image(m) => Ok(Resolved {
                    manifest: m,
                    digest,
                    from_index: true,
                }),
                Manifest::Index(_) => Err(DistError::Manifest {
                    reference: r.familiar(),
                    reason: "an index entry is itself an index".into(),
                }),
            }
        }
    }
}

fn check_digest(r: &Reference, what: &str, expected: &str, actual: &str) -> Result<()> {
    if expected != actual {
        return Err(DistError::DigestMismatch {
            reference: r.familiar(),
            what: what.to_string(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// (Content-Type, body, sha256 of the body).
fn fetch_manifest(
    c: &RegistryClient,
    r: &Reference,
    tag_or_digest: &str,
    scopes: &[String],
) -> Result<(String, Vec<u8>, String)> {
    let url = c.url(&r.repository, &format!("manifests/{tag_or_digest}"))?;
    let reply = c.send(
        "GET",
        &url,
        scopes,
        &[("Accept", ACCEPT.to_string())],
        Body::Empty,
    )?;
    match reply.status {
        200 => {}
        404 => {
            return Err(DistError::ManifestUnknown {
                reference: format!("{}:{tag_or_digest}", r.name()).replace(":sha256:", "@sha256:"),
            })
        }
        403 => {
            return Err(DistError::Denied {
                repository: r.name(),
                detail: reply.error_text(),
            })
        }
        status => {
            return Err(DistError::Status {
                what: "manifest",
                url,
                status,
                body: reply.error_text(),
            })
        }
    }
    let media = reply.header("content-type").unwrap_or_default().to_string();
    let body = reply.bytes("manifest", MANIFEST_LIMIT)?;
    let digest = sha256(&body);
    Ok((media, body, digest))
}

fn fetch_config(
    c: &RegistryClient,
    r: &Reference,
    m: &ImageManifest,
    scopes: &[String],
) -> Result<Vec<u8>> {
    if m.config.size > CONFIG_LIMIT {
        return Err(DistError::TooLarge {
            what: "image config",
            url: m.config.digest.clone(),
            limit: CONFIG_LIMIT,
        });
    }
    let url = c.url(&r.repository, &format!("blobs/{}", m.config.digest))?;
    let mut reader = BlobReader::new(
        c,
        url.clone(),
        scopes.to_vec(),
        &m.config.digest,
        m.config.size,
    );
    let mut body = Vec::new();
    reader
        .read_to_end(&mut body)
        .map_err(|source| DistError::Read { url, source })?;
    if body.len() as u64 != m.config.size {
        return Err(DistError::SizeMismatch {
            digest: m.config.digest.clone(),
            expected: m.config.size,
            actual: body.len() as u64,
        });
    }
    check_digest(r, "image config", &m.config.digest, &sha256(&body))?;
    Ok(body)
}

/// A single-platform image asked for with `--platform`: its config must match. (An index
/// entry was chosen by its platform already; its config is not second-guessed.)
fn check_config_platform(r: &Reference, config: &[u8], want: &Platform) -> Result<()> {
    let v: serde_json::Value = serde_json::from_slice(config).unwrap_or_default();
    let field = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let (os, arch) = (field("os"), field("architecture"));
    if os.is_empty() || arch.is_empty() {
        return Ok(());
    }
    let variant = Some(field("variant")).filter(|s| !s.is_empty());
    let actual = Platform {
        os,
        architecture: arch,
        variant,
    };
    let fits = actual.os == want.os
        && actual.architecture == want.architecture
        && (want.variant.is_none() || actual.variant.is_none() || actual.variant == want.variant);
    if fits {
        return Ok(());
    }
    Err(DistError::NoPlatform {
        reference: r.familiar(),
        wanted: want.to_string(),
        available: actual.to_string(),
    })
}

fn diff_ids_of(r: &Reference, config: &[u8]) -> Result<Vec<Digest>> {
    let bad = |reason: String| DistError::Manifest {
        reference: r.familiar(),
        reason,
    };
    let v: serde_json::Value =
        serde_json::from_slice(config).map_err(|e| bad(format!("config is not JSON: {e}")))?;
    v.pointer("/rootfs/diff_ids")
        .and_then(|d| d.as_array())
        .ok_or_else(|| bad("config has no rootfs.diff_ids".into()))?
        .iter()
        .map(|d| {
            d.as_str()
                .and_then(|s| Digest::parse(s).ok())
                .ok_or_else(|| bad(format!("invalid diff id {d}")))
        })
        .collect()
}

/// Download and unpack the missing layers, `concurrency` at a time. Returns the blob
/// sources of what was downloaded (for the push cache).
#[allow(clippy::too_many_arguments)]
fn fetch_layers(
    store: &ImageStore,
    c: &RegistryClient,
    r: &Reference,
    m: &ImageManifest,
    diff_ids: &[Digest],
    ingest: &vessel_image::Ingest<'_>,
    scopes: &[String],
    opts: &PullOptions,
    progress: ProgressFn<'_>,
) -> Result<Vec<(String, BlobSource)>> {
    let mut todo = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, layer) in m.layers.iter().enumerate() {
        let id = short_id(&layer.digest);
        // A layer repeated in one image (rare, e.g. empty layers) is fetched once.
        if store.has_layer(&diff_ids[i]) || !seen.insert(diff_ids[i].to_string()) {
            progress(Progress::layer(&id, "Already exists"));
        } else {
            progress(Progress::layer(&id, "Pulling fs layer"));
            todo.push(i);
        }
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<DistError>> = Mutex::new(None);
    let done: Mutex<Vec<(String, BlobSource)>> = Mutex::new(Vec::new());
    let workers = opts.concurrency.clamp(1, 8).min(todo.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if failed.load(Ordering::Relaxed) {
                    return;
                }
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = todo.get(k) else { return };
                match fetch_layer(c, r, m, i, diff_ids, ingest, scopes, progress) {
                    Ok(src) => lock(&done).push((diff_ids[i].to_string(), src)),
                    Err(e) => {
                        failed.store(true, Ordering::Relaxed);
                        lock(&first_error).get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    if let Some(e) = lock(&first_error).take() {
        return Err(e);
    }
    let done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(done)
}

#[allow(clippy::too_many_arguments)]
fn fetch_layer(
    c: &RegistryClient,
    r: &Reference,
    m: &ImageManifest,
    i: usize,
    diff_ids: &[Digest],
    ingest: &vessel_image::Ingest<'_>,
    scopes: &[String],
    progress: ProgressFn<'_>,
) -> Result<BlobSource> {
    let layer = &m.layers[i];
    let id = short_id(&layer.digest);
    let blob = Digest::parse(&layer.digest).map_err(|source| DistError::Reference {
        input: layer.digest.clone(),
        source: Box::new(source),
    })?;
    let url = match layer
        .urls
        .iter()
        .find(|u| u.starts_with("https://") || u.starts_with("http://"))
    {
        Some(u) if layer.is_foreign() => u.clone(),
        _ => c.url(&r.repository, &format!("blobs/{}", layer.digest))?,
    };
    let reader = BlobReader::new(c, url.clone(), scopes.to_vec(), &layer.digest, layer.size);
    let mut counted = Counting {
        inner: reader,
        id: &id,
        total: layer.size,
        last: Instant::now() - Duration::from_secs(1),
        progress,
    };
    let name = format!("{}@{}", r.name(), layer.digest);
    ingest
        .put_layer(&mut counted, &diff_ids[..=i], Some(&blob), &name)
        .map_err(|source| DistError::Layer {
            reference: r.familiar(),
            digest: layer.digest.clone(),
            source: Box::new(source),
        })?;
    if counted.inner.position() != layer.size {
        return Err(DistError::SizeMismatch {
            digest: layer.digest.clone(),
            expected: layer.size,
            actual: counted.inner.position(),
        });
    }
    progress(Progress::layer(&id, "Download complete"));
    progress(Progress::layer(&id, "Pull complete"));
    Ok(BlobSource {
        digest: layer.digest.clone(),
        media_type: layer.media_type.clone(),
        size: layer.size,
        repository: r.name(),
    })
}

/// Reports "Downloading" at most every 100 ms per layer.
struct Counting<'a, 'c> {
    inner: BlobReader<'c>,
    id: &'a str,
    total: u64,
    last: Instant,
    progress: ProgressFn<'a>,
}

impl Read for Counting<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let pos = self.inner.position();
        if self.last.elapsed() >= Duration::from_millis(100) || (n > 0 && pos == self.total) {
            self.last = Instant::now();
            (self.progress)(Progress::bytes(self.id, "Downloading", pos, self.total));
        }
        Ok(n)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
