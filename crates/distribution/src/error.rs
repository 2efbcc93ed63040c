//! Errors of registry operations. Each names the registry or reference involved and, where
//! there is one, the fix.

use std::path::PathBuf;

use vessel_image::ImageError;

#[derive(Debug, thiserror::Error)]
pub enum DistError {
    #[error("invalid reference {input:?}")]
    Reference {
        input: String,
        #[source]
        source: Box<ImageError>,
    },
    #[error("cannot reach registry {registry}: {detail}")]
    Unreachable { registry: String, detail: String },
    #[error("unauthorized: authentication required for {registry} ({detail}); run `vessel login {registry}`")]
    Unauthorized { registry: String, detail: String },
    #[error("denied: requested access to {repository} is denied ({detail})")]
    Denied { repository: String, detail: String },
    #[error("manifest for {reference} not found: manifest unknown")]
    ManifestUnknown { reference: String },
    #[error("{what} {url}: registry answered {status}: {body}")]
    Status {
        what: &'static str,
        url: String,
        status: u16,
        body: String,
    },
    #[error("invalid WWW-Authenticate challenge from {registry}: {header:?}")]
    Challenge { registry: String, header: String },
    #[error("token server {realm} answered without a token")]
    NoToken { realm: String },
    #[error("{reference}: unsupported manifest media type {media_type:?}")]
    MediaType {
        reference: String,
        media_type: String,
    },
    #[error("{reference}: invalid manifest: {reason}")]
    Manifest { reference: String, reason: String },
    #[error("no matching manifest for {wanted} in {reference}; available platforms: {available}")]
    NoPlatform {
        reference: String,
        wanted: String,
        available: String,
    },
    #[error("invalid platform {0:?}: expected os/arch[/variant]")]
    Platform(String),
    #[error("digest mismatch for {what} of {reference}: expected {expected}, got {actual}")]
    DigestMismatch {
        reference: String,
        what: String,
        expected: String,
        actual: String,
    },
    #[error("size mismatch for blob {digest}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        digest: String,
        expected: u64,
        actual: u64,
    },
    #[error("{what} from {url} is larger than {limit} bytes")]
    TooLarge {
        what: &'static str,
        url: String,
        limit: u64,
    },
    #[error("image store")]
    Store(#[source] Box<ImageError>),
    #[error("layer {digest} of {reference}")]
    Layer {
        reference: String,
        digest: String,
        #[source]
        source: Box<ImageError>,
    },
    #[error("I/O on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reading from registry {url}")]
    Read {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON")]
    ConfigJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("credential helper docker-credential-{helper}: {detail}")]
    CredHelper { helper: String, detail: String },
    #[error("invalid JSON from {url}")]
    Json {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("TLS setup")]
    Tls(#[source] rustls::Error),
    #[error("the pull was cancelled")]
    Cancelled,
}

impl DistError {
    /// An image store failure.
    pub fn store(e: ImageError) -> DistError {
        DistError::Store(Box::new(e))
    }
}

pub type Result<T, E = DistError> = std::result::Result<T, E>;
