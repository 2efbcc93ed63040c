//! Typed errors of the daemon and their mapping onto Docker's error replies: a status code
//! plus `{"message": "..."}`. The docker CLI acts on the status code (a 404 on create starts a
//! pull; `docker inspect` moves on to the next object type only after a 404), so every
//! variant is mapped deliberately.

use std::error::Error as StdError;
use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use vessel_image::{ErrorKind as ImageErrorKind, ImageError};

use crate::config::ConfigError;
use crate::filters::FilterError;
use crate::negotiation::ApiVersion;
use crate::store::StoreError;

/// An error answering one API request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("page not found")]
    PageNotFound,
    #[error("not implemented yet: {method} {path}")]
    NotImplemented { method: String, path: String },
    #[error("client version {requested} is too new. Maximum supported API version is {max}")]
    VersionTooNew {
        requested: ApiVersion,
        max: ApiVersion,
    },
    #[error(
        "client version {requested} is too old. Minimum supported API version is {min}, \
         please upgrade your client to a newer version"
    )]
    VersionTooOld {
        requested: ApiVersion,
        min: ApiVersion,
    },
    #[error("invalid value {value:?} for query parameter {name:?}: {reason}")]
    InvalidParameter {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("missing query parameter {name:?}")]
    MissingParameter { name: &'static str },
    #[error("invalid filters")]
    Filters(#[source] FilterError),
    #[error("invalid JSON in request body")]
    InvalidJson(#[source] serde_json::Error),
    #[error("request body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("reading the request body failed")]
    BodyRead(#[source] axum::Error),
    #[error("unsupported archive: {reason}")]
    UnsupportedArchive { reason: &'static str },
    #[error("invalid change {change:?}: {reason}")]
    InvalidChange {
        change: String,
        reason: &'static str,
    },
    #[error("pulling from registries is not supported yet: {image}")]
    PullNotSupported { image: String },
    #[error("image operation failed")]
    Image(#[source] ImageError),
    #[error(transparent)]
    Container(crate::containers::ContainerError),
    #[error("state store failed")]
    Store(#[source] StoreError),
    #[error("background task failed")]
    Task(#[source] tokio::task::JoinError),
    #[error("{0}")]
    Network(#[source] vessel_network::Error),
    #[error("bridge networking is unavailable on this daemon (see its log: nft or netlink failed at start)")]
    NetworkUnavailable,
    #[error("{name} is a pre-defined network and cannot be {op}")]
    PredefinedNetwork { name: String, op: &'static str },
    #[error("network driver {0:?} is not supported: use bridge (the default)")]
    UnsupportedNetworkDriver(String),
    #[error("invalid {what} {value:?}")]
    InvalidNetworkOption { what: &'static str, value: String },
    #[error("container {container} uses network mode {mode:?}: only containers on bridge networks can join more networks")]
    NotOnBridge { container: String, mode: String },
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::PageNotFound | ApiError::PullNotSupported { .. } => StatusCode::NOT_FOUND,
            ApiError::NotImplemented { .. } => StatusCode::NOT_IMPLEMENTED,
            ApiError::VersionTooNew { .. }
            | ApiError::VersionTooOld { .. }
            | ApiError::InvalidParameter { .. }
            | ApiError::MissingParameter { .. }
            | ApiError::Filters(_)
            | ApiError::InvalidJson(_)
            | ApiError::BodyRead(_)
            | ApiError::UnsupportedArchive { .. }
            | ApiError::InvalidChange { .. } => StatusCode::BAD_REQUEST,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Image(e) => image_status(e),
            ApiError::Container(e) => e.status(),
            ApiError::Network(e) => network_status(e),
            ApiError::NetworkUnavailable => StatusCode::NOT_IMPLEMENTED,
            ApiError::PredefinedNetwork { .. } => StatusCode::FORBIDDEN,
            ApiError::UnsupportedNetworkDriver(_)
            | ApiError::InvalidNetworkOption { .. }
            | ApiError::NotOnBridge { .. } => StatusCode::BAD_REQUEST,
            ApiError::Store(_) | ApiError::Task(_) | ApiError::Io { .. } => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The whole cause chain on one line, as Docker's `message` carries it.
    pub fn message(&self) -> String {
        // An image error is the answer itself ("No such image: x"); no prefix.
        if let ApiError::Image(e) = self {
            return chain(e);
        }
        chain(self)
    }
}

/// Docker's status codes for network errors: the CLI and compose act on 404 and 409.
fn network_status(e: &vessel_network::Error) -> StatusCode {
    use vessel_network::Error as E;
    match e {
        E::NetworkNotFound(_) | E::NotAttached { .. } => StatusCode::NOT_FOUND,
        E::NetworkExists(_)
        | E::AlreadyAttached { .. }
        | E::IpTaken { .. }
        | E::SubnetOverlap { .. }
        | E::PortTaken { .. } => StatusCode::CONFLICT,
        E::NetworkInUse { .. } => StatusCode::FORBIDDEN,
        E::InvalidSpec(_)
        | E::IpOutsideSubnet { .. }
        | E::IpReserved { .. }
        | E::WrongFamily { .. }
        | E::PortSpec { .. }
        | E::InvalidMac(_)
        | E::PoolExhausted { .. } => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn image_status(err: &ImageError) -> StatusCode {
    match err.kind() {
        ImageErrorKind::NotFound => StatusCode::NOT_FOUND,
        ImageErrorKind::InvalidInput => StatusCode::BAD_REQUEST,
        ImageErrorKind::Conflict => StatusCode::CONFLICT,
        ImageErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `err: cause: cause`, without repeating a cause already shown in its parent's text.
pub fn chain(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut cur = err.source();
    while let Some(cause) = cur {
        let text = cause.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = cause.source();
    }
    out
}

impl From<crate::containers::ContainerError> for ApiError {
    fn from(e: crate::containers::ContainerError) -> Self {
        ApiError::Container(e)
    }
}

impl From<ImageError> for ApiError {
    fn from(e: ImageError) -> Self {
        ApiError::Image(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Store(e)
    }
}

impl From<FilterError> for ApiError {
    fn from(e: FilterError) -> Self {
        ApiError::Filters(e)
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        ApiError::Task(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), "{}", self.message());
        } else {
            tracing::debug!(status = status.as_u16(), "{}", self.message());
        }
        crate::api::json_response(status, &serde_json::json!({ "message": self.message() }))
    }
}

/// An error that stops the daemon from starting or serving.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("invalid daemon configuration")]
    Config(#[source] ConfigError),
    #[error("cannot create directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open lock file {path}")]
    LockFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "another vessel daemon (pid {pid}) is already running on {root}; stop it, or start this \
         one with another data root"
    )]
    AlreadyRunning { root: PathBuf, pid: String },
    #[error("the socket {path} is in use by a running daemon; stop it or choose another socket")]
    SocketInUse { path: PathBuf },
    #[error("cannot listen on {path}")]
    Listen {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the state store")]
    Store(#[source] StoreError),
    #[error("cannot open the image store")]
    Image(#[source] ImageError),
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot install signal handlers")]
    Signals(#[source] std::io::Error),
    #[error("serving the API failed")]
    Serve(#[source] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(
            ApiError::Image(ImageError::NotFound("x".into())).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(ApiError::PageNotFound.status(), StatusCode::NOT_FOUND);
        let conflict = ImageError::Conflict {
            name: "x".into(),
            reason: "in use".into(),
        };
        assert_eq!(ApiError::Image(conflict).status(), StatusCode::CONFLICT);
        let bad = ImageError::InvalidReference {
            input: "A".into(),
            reason: "uppercase".into(),
        };
        assert_eq!(ApiError::Image(bad).status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            ApiError::BodyTooLarge { limit: 1 }.status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let bad = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        assert_eq!(ApiError::InvalidJson(bad).status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            ApiError::NotImplemented {
                method: "GET".into(),
                path: "/x".into()
            }
            .status(),
            StatusCode::NOT_IMPLEMENTED
        );
        assert_eq!(
            ApiError::PullNotSupported { image: "a".into() }.status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn messages_carry_the_cause_once() {
        let bad = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let msg = ApiError::InvalidJson(bad).message();
        assert!(
            msg.starts_with("invalid JSON in request body: EOF"),
            "{msg}"
        );
        let msg = ApiError::Image(ImageError::NotFound("bb".into())).message();
        assert_eq!(msg, "no such image: bb");
        let io = ApiError::Io {
            context: "writing x".into(),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(io.message(), "writing x: disk full");
    }
}
