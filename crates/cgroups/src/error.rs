use std::io;
use std::path::PathBuf;

/// Every error names the file (and value) involved so an operator can reproduce it with
/// `echo value > file`. Causes are `#[source]`, never repeated in the message, so an
/// `{:#}`/anyhow chain reads `writing "100" to …/memory.max: Device or resource busy`.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("writing {value:?} to {}", path.display())]
    Write {
        path: PathBuf,
        value: String,
        #[source]
        source: io::Error,
    },
    #[error("reading {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("unexpected content {content:?} in {}", path.display())]
    Parse { path: PathBuf, content: String },
    #[error("creating cgroup directory {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("removing cgroup directory {}", path.display())]
    RemoveDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("opening {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("statfs {}", path.display())]
    Statfs {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is neither cgroup2 nor a tmpfs of v1 hierarchies (f_type {magic:#x})", path.display())]
    UnknownFilesystem { path: PathBuf, magic: i64 },
    #[error("invalid cgroups path {}: {reason}", path.display())]
    InvalidPath { path: PathBuf, reason: &'static str },
    #[error("own cgroup for controller {controller:?} not found in /proc/self/cgroup")]
    OwnCgroupUnknown { controller: String },
    #[error("the spec sets {resource} limits but the {controller} controller is not mounted")]
    ControllerNotMounted {
        controller: &'static str,
        resource: &'static str,
    },
    #[error("invalid value {value:?} for {field}: {reason}")]
    InvalidValue {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("{field} is not supported on cgroup v2")]
    NotSupportedOnV2 { field: &'static str },
    #[error("unified resources require cgroup v2")]
    UnifiedRequiresV2,
    #[error("invalid unified key {key:?}: must be a file name in the cgroup directory")]
    InvalidUnifiedKey { key: String },
    #[error("rejecting memory limit {limit} below current usage {usage}")]
    MemoryBelowUsage { limit: i64, usage: u64 },
    #[error("bpf({op}) for the device filter")]
    Bpf {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("the kernel rejected the device filter program; verifier log:\n{log}")]
    BpfVerifier {
        log: String,
        #[source]
        source: io::Error,
    },
    #[error("{} did not reach state {wanted} (last seen {seen:?})", path.display())]
    FreezeTimeout {
        path: PathBuf,
        wanted: &'static str,
        seen: String,
    },
    #[error("{} error(s) while removing the cgroup; first: {}", errors.len(), first_chain(errors))]
    Teardown { errors: Vec<CgroupError> },
}

fn first_chain(errors: &[CgroupError]) -> String {
    let Some(first) = errors.first() else {
        return String::new();
    };
    let mut out = first.to_string();
    let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(first);
    while let Some(e) = cur {
        out.push_str(": ");
        out.push_str(&e.to_string());
        cur = e.source();
    }
    out
}

impl CgroupError {
    /// The errno behind an I/O failure, for callers that must tell EBUSY from EINVAL.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Write { source, .. }
            | Self::Read { source, .. }
            | Self::CreateDir { source, .. }
            | Self::RemoveDir { source, .. }
            | Self::Open { source, .. }
            | Self::Statfs { source, .. }
            | Self::Bpf { source, .. }
            | Self::BpfVerifier { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}
