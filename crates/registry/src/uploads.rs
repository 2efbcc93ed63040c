//! Upload sessions (`uploads/<uuid>/data`): streamed appends with the running sha256 kept in
//! memory, so finishing a session does not re-read it (after a restart it is re-read once).
//! Sessions idle longer than the TTL are removed at start and by a periodic sweep.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use futures_util::StreamExt;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use crate::error::{ApiError, Code, RegistryError};
use crate::names::Digest;
use crate::storage::Storage;

pub struct Session {
    pub repo: String,
    pub size: u64,
    /// None when the session was found on disk after a restart.
    hasher: Option<Sha256>,
    /// Set once finished or cancelled: a request that waited on the lock must not use it.
    gone: bool,
}

pub type SessionRef = Arc<tokio::sync::Mutex<Session>>;

pub struct Uploads {
    dir: PathBuf,
    ttl: Duration,
    live: Mutex<HashMap<String, SessionRef>>,
}

fn valid_id(id: &str) -> bool {
    uuid::Uuid::try_parse(id).is_ok() && !id.contains('/')
}

impl Uploads {
    pub fn new(store: &Storage, ttl: Duration) -> Self {
        Uploads {
            dir: store.uploads_dir(),
            ttl,
            live: Mutex::new(HashMap::new()),
        }
    }

    fn session_dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    pub fn data_path(&self, id: &str) -> PathBuf {
        self.session_dir(id).join("data")
    }

    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionRef>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn start(&self, repo: &str) -> Result<String, ApiError> {
        let id = uuid::Uuid::new_v4().to_string();
        let dir = self.session_dir(&id);
        tokio::fs::create_dir_all(&dir).await?;
        tokio::fs::write(dir.join("repo"), repo).await?;
        tokio::fs::File::create(dir.join("data")).await?;
        let s = Session {
            repo: repo.to_string(),
            size: 0,
            hasher: Some(Sha256::new()),
            gone: false,
        };
        self.live()
            .insert(id.clone(), Arc::new(tokio::sync::Mutex::new(s)));
        Ok(id)
    }

    /// The session `id` of repository `repo`, from memory or from disk.
    pub async fn get(&self, repo: &str, id: &str) -> Result<SessionRef, ApiError> {
        let unknown = || ApiError::new(Code::BlobUploadUnknown);
        if !valid_id(id) {
            return Err(unknown());
        }
        let found = self.live().get(id).cloned();
        let s = match found {
            Some(s) => s,
            None => {
                let dir = self.session_dir(id);
                let owner = tokio::fs::read_to_string(dir.join("repo"))
                    .await
                    .map_err(|_| unknown())?;
                let size = tokio::fs::metadata(dir.join("data"))
                    .await
                    .map_err(|_| unknown())?
                    .len();
                let s = Session {
                    repo: owner,
                    size,
                    hasher: None,
                    gone: false,
                };
                self.live()
                    .entry(id.to_string())
                    .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(s)))
                    .clone()
            }
        };
        if s.lock().await.repo != repo {
            return Err(unknown());
        }
        Ok(s)
    }

    /// Appends a request body to the session. `range` is the PATCH's Content-Range start, which
    /// must equal the current size (else 416, the spec's out-of-order chunk).
    pub async fn append(
        &self,
        id: &str,
        s: &mut Session,
        body: Body,
        range_start: Option<u64>,
        max: Option<u64>,
    ) -> Result<(), ApiError> {
        if s.gone {
            return Err(ApiError::new(Code::BlobUploadUnknown));
        }
        if let Some(start) = range_start {
            if start != s.size {
                return Err(ApiError::detail(
                    Code::RangeInvalid,
                    format!("chunk starts at {start}, upload has {} bytes", s.size),
                ));
            }
        }
        let path = self.data_path(id);
        let mut f = tokio::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .await
            .map_err(|_| ApiError::new(Code::BlobUploadUnknown))?;
        let written = write_body(&mut f, body, s.hasher.as_mut(), s.size, max).await;
        // Whatever reached the file counts, so the size stays the file's length.
        let len = f.metadata().await?.len();
        if written.is_err() {
            // Part of a chunk may have reached the file: hash the file at the end instead.
            s.hasher = None;
        }
        s.size = len;
        written.map(|_| ())
    }

    /// Verifies the content against `digest` and moves it into the blob store. On a mismatch
    /// the session is dropped: nothing of it stays.
    pub async fn finish(
        &self,
        store: &Storage,
        id: &str,
        s: &mut Session,
        digest: &Digest,
    ) -> Result<u64, ApiError> {
        if s.gone {
            return Err(ApiError::new(Code::BlobUploadUnknown));
        }
        let path = self.data_path(id);
        let f = tokio::fs::File::open(&path)
            .await
            .map_err(|_| ApiError::new(Code::BlobUploadUnknown))?;
        f.sync_all().await?;
        drop(f);
        let actual = match s.hasher.take() {
            Some(h) => Digest::from_hasher(h),
            None => {
                let p = path.clone();
                tokio::task::spawn_blocking(move || hash_file(&p))
                    .await
                    .map_err(ApiError::internal)??
            }
        };
        if &actual != digest {
            self.remove(id, s).await;
            return Err(ApiError::detail(
                Code::DigestInvalid,
                format!("content has digest {actual}, not {digest}"),
            ));
        }
        let store2 = store.clone();
        let d = digest.clone();
        tokio::task::spawn_blocking(move || store2.commit_blob(&path, &d))
            .await
            .map_err(ApiError::internal)??;
        let size = s.size;
        self.remove(id, s).await;
        Ok(size)
    }

    pub async fn remove(&self, id: &str, s: &mut Session) {
        s.gone = true;
        self.live().remove(id);
        let _ = tokio::fs::remove_dir_all(self.session_dir(id)).await;
    }

    /// Removes sessions idle longer than the TTL. Returns how many went.
    pub fn sweep(&self) -> usize {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let now = SystemTime::now();
        let mut n = 0;
        for e in rd.flatten() {
            let p = e.path();
            let mtime = std::fs::metadata(p.join("data"))
                .or_else(|_| std::fs::metadata(&p))
                .and_then(|m| m.modified());
            let idle = mtime
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            if idle > self.ttl {
                if let Some(id) = e.file_name().to_str() {
                    self.live().remove(id);
                }
                if std::fs::remove_dir_all(&p).is_ok() {
                    n += 1;
                }
            }
        }
        n
    }
}

/// Streams `body` into `f`, hashing it, refusing to go past `max` total bytes (`already` are
/// in the file). Returns the bytes written.
pub async fn write_body(
    f: &mut tokio::fs::File,
    body: Body,
    mut hasher: Option<&mut Sha256>,
    already: u64,
    max: Option<u64>,
) -> Result<u64, ApiError> {
    // hyper hands over small chunks; batch them so each blocking write moves a megabyte.
    let mut f = tokio::io::BufWriter::with_capacity(1 << 20, f);
    let mut stream = body.into_data_stream();
    let mut n = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::detail(
                Code::BlobUploadInvalid,
                format!("reading request body: {e}"),
            )
        })?;
        if let Some(max) = max {
            if already + n + chunk.len() as u64 > max {
                return Err(ApiError::detail(
                    Code::TooLarge,
                    format!("limit is {max} bytes"),
                ));
            }
        }
        f.write_all(&chunk).await?;
        if let Some(h) = hasher.as_deref_mut() {
            h.update(&chunk);
        }
        n += chunk.len() as u64;
    }
    f.flush().await?;
    Ok(n)
}

pub fn hash_file(p: &Path) -> Result<Digest, RegistryError> {
    let mut f = std::fs::File::open(p).map_err(RegistryError::io("opening", p))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(RegistryError::io("reading", p))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(Digest::from_hasher(h))
}
