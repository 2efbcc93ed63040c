//! Container errors with the status codes and words Docker uses (the CLI acts on both).

use axum::http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("No such container: {0}")]
    NotFound(String),
    #[error("Multiple IDs found with provided prefix: {0}")]
    Ambiguous(String),
    #[error("Invalid container name ({0}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    #[error(
        "Conflict. The container name \"/{name}\" is already in use by container \"{id}\". \
         You have to remove (or rename) that container to be able to reuse that name."
    )]
    NameInUse { name: String, id: String },
    #[error(
        "You cannot remove a running container {0}. Stop the container before attempting removal or force remove"
    )]
    RemoveRunning(String),
    #[error("Container {0} is not running")]
    NotRunning(String),
    #[error("Container {0} is paused, unpause the container before stopping or killing")]
    Paused(String),
    #[error("Container {0} is not paused")]
    NotPaused(String),
    #[error("invalid container config: {0}")]
    Spec(#[source] vessel_specgen::SpecError),
    #[error("{message}")]
    StartFailed { message: String },
    #[error("{0}")]
    Runtime(#[source] vessel_runtime::RuntimeError),
    #[error("{context}: {cause}")]
    Io {
        context: String,
        cause: std::io::Error,
    },
    #[error("invalid signal {0:?}")]
    InvalidSignal(String),
    #[error("no image given: name the image to create the container from")]
    NoImage,
    #[error("No such exec instance: {0}")]
    NoSuchExec(String),
    #[error("Error: Exec command {0} has already run")]
    ExecStarted(String),
    #[error("No exec command specified")]
    ExecNoCommand,
    #[error("Could not find the file {path} in container {container}")]
    PathNotFound { path: String, container: String },
    #[error("extraction point is not a directory: {0}")]
    NotADirectory(String),
    #[error("container rootfs is marked read-only (copy into a writable volume instead): {0}")]
    ReadOnlyPath(String),
    #[error("extracting the archive into {path}: {cause}")]
    Extract { path: String, cause: std::io::Error },
    #[error("invalid update: {0}")]
    InvalidUpdate(String),
    #[error("{0}")]
    Network(String),
    /// Docker's words for create with an unknown image (the CLI then offers to pull).
    #[error("No such image: {0}")]
    NoSuchImage(String),
}

impl ContainerError {
    pub fn status(&self) -> StatusCode {
        match self {
            ContainerError::NotFound(_)
            | ContainerError::PathNotFound { .. }
            | ContainerError::NoSuchImage(_)
            | ContainerError::NoSuchExec(_) => StatusCode::NOT_FOUND,
            ContainerError::ExecStarted(_) => StatusCode::CONFLICT,
            ContainerError::ExecNoCommand => StatusCode::BAD_REQUEST,
            ContainerError::NameInUse { .. }
            | ContainerError::RemoveRunning(_)
            | ContainerError::Paused(_)
            | ContainerError::NotRunning(_)
            | ContainerError::NotPaused(_) => StatusCode::CONFLICT,
            ContainerError::ReadOnlyPath(_) => StatusCode::FORBIDDEN,
            ContainerError::InvalidName(_)
            | ContainerError::NotADirectory(_)
            | ContainerError::Extract { .. }
            | ContainerError::InvalidUpdate(_)
            | ContainerError::Network(_)
            | ContainerError::Spec(_)
            | ContainerError::StartFailed { .. }
            | ContainerError::InvalidSignal(_)
            | ContainerError::NoImage => StatusCode::BAD_REQUEST,
            ContainerError::Ambiguous(_)
            | ContainerError::Runtime(_)
            | ContainerError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn io(context: impl Into<String>, cause: std::io::Error) -> Self {
        ContainerError::Io {
            context: context.into(),
            cause,
        }
    }
}
