//! Library errors (configuration, storage) and the distribution API's error responses.

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};

/// Errors of the library API: starting the server, garbage collection, configuration.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{op} {}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("htpasswd file {}, line {line}: {reason}", path.display())]
    Htpasswd {
        path: PathBuf,
        line: usize,
        reason: &'static str,
    },
    #[error("token key file {} must hold at least 32 bytes", path.display())]
    TokenKey { path: PathBuf },
    #[error("TLS: no certificate in {}", path.display())]
    TlsNoCert { path: PathBuf },
    #[error("TLS: reading PEM from {}", path.display())]
    TlsPem {
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("TLS: invalid certificate or key")]
    Tls(#[source] rustls::Error),
    #[error("manifest {digest} in {} is not valid JSON", path.display())]
    CorruptManifest {
        digest: String,
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("listening")]
    Accept(#[source] std::io::Error),
}

impl RegistryError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| RegistryError::Io { op, path, source }
    }
}

/// The error codes of the OCI distribution spec (section "Error Codes"), plus the few that
/// Docker's registry adds and clients understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    TagInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    RangeInvalid,
    PaginationNumberInvalid,
    TooLarge,
    Unknown,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid | Code::TooLarge => "SIZE_INVALID",
            Code::TagInvalid => "TAG_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
            Code::RangeInvalid => "RANGE_INVALID",
            Code::PaginationNumberInvalid => "PAGINATION_NUMBER_INVALID",
            Code::Unknown => "UNKNOWN",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Code::BlobUnknown
            | Code::BlobUploadUnknown
            | Code::ManifestUnknown
            | Code::NameUnknown => StatusCode::NOT_FOUND,
            Code::Unauthorized => StatusCode::UNAUTHORIZED,
            Code::Denied => StatusCode::FORBIDDEN,
            Code::Unsupported => StatusCode::METHOD_NOT_ALLOWED,
            Code::RangeInvalid => StatusCode::RANGE_NOT_SATISFIABLE,
            Code::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Code::BlobUnknown => "blob unknown to registry",
            Code::BlobUploadInvalid => "blob upload invalid",
            Code::BlobUploadUnknown => "blob upload unknown to registry",
            Code::DigestInvalid => "provided digest did not match uploaded content",
            Code::ManifestBlobUnknown => {
                "manifest references a manifest or blob unknown to registry"
            }
            Code::ManifestInvalid => "manifest invalid",
            Code::ManifestUnknown => "manifest unknown to registry",
            Code::NameInvalid => "invalid repository name",
            Code::NameUnknown => "repository name not known to registry",
            Code::SizeInvalid => "provided length did not match content length",
            Code::TooLarge => "upload exceeds the registry's maximum size",
            Code::TagInvalid => "manifest tag did not match URI",
            Code::Unauthorized => "authentication required",
            Code::Denied => "requested access to the resource is denied",
            Code::Unsupported => "the operation is unsupported",
            Code::RangeInvalid => "invalid content range",
            Code::PaginationNumberInvalid => "invalid number of results requested",
            Code::Unknown => "unknown error",
        }
    }
}

/// One API error: rendered as `{"errors":[{"code","message","detail"}]}` with its status.
#[derive(Debug)]
pub struct ApiError {
    pub code: Code,
    pub detail: Option<String>,
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    pub fn new(code: Code) -> Self {
        ApiError {
            code,
            detail: None,
            headers: Vec::new(),
        }
    }

    pub fn detail(code: Code, detail: impl Into<String>) -> Self {
        ApiError {
            code,
            detail: Some(detail.into()),
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// A storage failure: logged here, reported to the client without the host's paths.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        eprintln!("vessel registry: internal error: {e}");
        ApiError::new(Code::Unknown)
    }

    pub fn into_response(self) -> Response<Body> {
        let mut entry = serde_json::json!({
            "code": self.code.as_str(),
            "message": self.code.message(),
        });
        if let Some(d) = self.detail {
            entry["detail"] = serde_json::Value::String(d);
        }
        let body = serde_json::json!({ "errors": [entry] }).to_string();
        let mut resp = Response::new(Body::from(body));
        *resp.status_mut() = self.code.status();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (k, v) in self.headers {
            h.append(k, v);
        }
        resp
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        ApiError::internal(crate::error_chain(&e))
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> Self {
        ApiError::internal(e)
    }
}
