//! Typed errors of the image store. Every variant names the input it rejects and, where there
//! is one, the fix; causes are chained with `#[source]`, never repeated in the message.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("no such image: {0}")]
    NotFound(String),
    #[error("invalid reference {input:?}: {reason}")]
    InvalidReference { input: String, reason: String },
    #[error("invalid digest {input:?}: {reason}")]
    InvalidDigest { input: String, reason: String },
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error(
        "image id prefix {prefix:?} is ambiguous: it matches {count} images; give more characters"
    )]
    AmbiguousId { prefix: String, count: usize },
    #[error("unsafe entry {entry:?} in layer {layer}: {reason}; the layer was rejected")]
    UnsafeEntry {
        layer: String,
        entry: String,
        reason: String,
    },
    #[error("invalid archive: {path}: {reason}")]
    InvalidArchive { path: String, reason: String },
    #[error("invalid archive: {path} is not valid JSON")]
    ArchiveJson {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("unsupported {what} {value:?}: {hint}")]
    Unsupported {
        what: &'static str,
        value: String,
        hint: &'static str,
    },
    #[error("invalid image config {id}: {reason}")]
    InvalidConfig { id: String, reason: String },
    #[error("conflict: unable to remove {name}: {reason}")]
    Conflict { name: String, reason: String },
    #[error("invalid change {change:?}: {reason}")]
    InvalidChange { change: String, reason: String },
    #[error(
        "invalid container id {0:?}: use 1-128 characters of [A-Za-z0-9_.-], not starting with '.'"
    )]
    InvalidContainerId(String),
    #[error("no rootfs prepared for container {0}")]
    NoRootfs(String),
    #[error("image index {path} is corrupt; restore it or remove it to start with an empty store")]
    CorruptIndex {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("failed to {op} {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("failed to read layer {layer}")]
    LayerRead {
        layer: String,
        #[source]
        source: io::Error,
    },
    #[error("failed to mount overlay rootfs at {target} ({layers} layers)")]
    Mount {
        target: PathBuf,
        layers: usize,
        #[source]
        source: nix::Error,
    },
    #[error("failed to unmount {target}")]
    Unmount {
        target: PathBuf,
        #[source]
        source: nix::Error,
    },
}

impl ImageError {
    pub(crate) fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        ImageError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// `result.ctx("create", path)` wraps an `io::Error` with what was done to which path.
pub(crate) trait IoCtx<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T, ImageError>;
}

impl<T> IoCtx<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T, ImageError> {
        self.map_err(|e| ImageError::io(op, path, e))
    }
}
