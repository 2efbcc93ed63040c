//! Typed errors: each names the Dockerfile line or the input at fault and, where there is one,
//! the fix.

use std::path::PathBuf;

/// A Dockerfile syntax or semantic error at a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Dockerfile line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl ParseError {
    pub fn new(line: usize, message: impl Into<String>) -> Self {
        ParseError {
            line,
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("cannot read the Dockerfile {path}: {source}")]
    DockerfileMissing {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("build context: {path}: {source}")]
    ContextIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("build context tar is invalid: {0}")]
    ContextTar(#[source] std::io::Error),
    #[error("Dockerfile line {line}: {path}: forbidden path outside the build context (use a path inside the context directory)")]
    OutsideContext { line: usize, path: String },
    #[error("Dockerfile line {line}: {instruction} failed: no source files were specified or matched {pattern:?} (is it excluded by .dockerignore?)")]
    NoSource {
        line: usize,
        instruction: String,
        pattern: String,
    },
    #[error("Dockerfile line {line}: ADD from a URL ({url}) is not supported: Vessel builds have no network; download the file into the build context and ADD or COPY it")]
    UrlUnsupported { line: usize, url: String },
    #[error("Dockerfile line {line}: {message}")]
    Invalid { line: usize, message: String },
    #[error("target stage {0:?} could not be found in the Dockerfile")]
    UnknownTarget(String),
    #[error("Dockerfile line {line}: base image {image}: {source}")]
    BaseImage {
        line: usize,
        image: String,
        #[source]
        source: vessel_image::ImageError,
    },
    #[error("The command '{command}' returned a non-zero code: {code}")]
    RunFailed { command: String, code: i32 },
    #[error("Dockerfile line {line}: could not run the step in a container: {reason}")]
    RunSetup { line: usize, reason: String },
    #[error("Dockerfile line {line}: {op} {path}: {source}")]
    StepIo {
        line: usize,
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("image store: {0}")]
    Store(#[from] vessel_image::ImageError),
    #[error("build cache index {path}: {source}")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl BuildError {
    /// The exit code a client reports (Docker's `errorDetail.code`): the failing command's.
    pub fn code(&self) -> Option<i32> {
        match self {
            BuildError::RunFailed { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub(crate) fn invalid(line: usize, message: impl Into<String>) -> Self {
        BuildError::Invalid {
            line,
            message: message.into(),
        }
    }
}
