//! Typed errors. Each variant names the Docker flag (or API field) and the offending value, so
//! the engine can return the message to the client as is (Docker replies 400 with the same text).

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("no command specified")]
    NoCommand,

    #[error("invalid --{flag} \"{value}\": unknown capability")]
    UnknownCapability { flag: &'static str, value: String },

    #[error("unable to find user {user}: no matching entries in passwd file")]
    UnknownUser { user: String },

    #[error("unable to find group {group}: no matching entries in group file")]
    UnknownGroup { group: String },

    #[error("invalid --user \"{value}\": {reason}")]
    InvalidUser { value: String, reason: &'static str },

    #[error("reading {path} from the image rootfs")]
    ReadRootfsFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{path} escapes the image rootfs")]
    RootfsEscape { path: PathBuf },

    #[error("invalid bind \"{value}\": {reason}")]
    InvalidBind { value: String, reason: String },

    #[error("invalid --mount (target \"{target}\"): {reason}")]
    InvalidMount { target: String, reason: String },

    #[error("invalid --tmpfs \"{value}\": {reason}")]
    InvalidTmpfs { value: String, reason: String },

    #[error("duplicate mount point: {0}")]
    DuplicateMountPoint(String),

    #[error("volume {name:?} for {destination} was not resolved by the engine")]
    UnresolvedVolume { name: String, destination: String },

    #[error("invalid --security-opt \"{value}\": {reason}")]
    InvalidSecurityOpt { value: String, reason: &'static str },

    #[error("invalid seccomp profile: {reason}")]
    InvalidSeccompProfile { reason: String },

    #[error("reading seccomp profile {path}")]
    ReadSeccompProfile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("parsing seccomp profile")]
    ParseSeccompProfile(#[source] serde_json::Error),

    #[error("invalid --device \"{value}\": {reason}")]
    InvalidDevice { value: String, reason: String },

    #[error("error gathering device information while adding device \"{path}\"")]
    DeviceLookup {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "invalid --device-cgroup-rule \"{0}\": expected \"<a|b|c> <major|*>:<minor|*> <rwm>\""
    )]
    InvalidDeviceCgroupRule(String),

    #[error("invalid --{flag} \"{value}\": {reason}")]
    InvalidResource {
        flag: &'static str,
        value: String,
        reason: String,
    },

    #[error("--memory-swap must be larger than --memory")]
    SwapSmallerThanMemory,

    #[error("--memory-swap requires --memory to be set")]
    SwapWithoutMemory,

    #[error("--memory-reservation must not be larger than --memory")]
    ReservationAboveMemory,

    #[error("conflicting options: --cpus and --cpu-{0} cannot both be set")]
    NanoCpusConflict(&'static str),

    #[error("invalid --ulimit \"{0}\": unknown resource")]
    InvalidUlimit(String),

    #[error("invalid --sysctl \"{key}\": {reason}")]
    InvalidSysctl { key: String, reason: &'static str },

    #[error("invalid --{flag} \"{value}\": {reason}")]
    InvalidNamespaceMode {
        flag: &'static str,
        value: String,
        reason: &'static str,
    },

    #[error("--init requested but the engine has no init binary configured")]
    NoInitBinary,

    #[error("reading CDI spec {path}")]
    ReadCdiSpec {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("parsing CDI spec {path}")]
    ParseCdiSpec {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("invalid CDI device name \"{0}\": expected vendor.com/class=name")]
    InvalidCdiName(String),

    #[error("unresolvable CDI devices {0}")]
    UnknownCdiDevice(String),

    #[error("invalid CDI spec {path}: {reason}")]
    InvalidCdiSpec { path: PathBuf, reason: String },

    #[error("invalid --gpus request: {0}")]
    InvalidDeviceRequest(String),
}
