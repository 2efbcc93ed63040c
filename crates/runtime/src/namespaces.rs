//! Which namespaces a container creates and which it joins, and the order that keeps the
//! joins legal.

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;

use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

use crate::error::{Context, Result, RuntimeError};

pub fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The namespace part of a container's creation.
#[derive(Debug, Clone)]
pub struct NamespacePlan {
    /// Namespaces to create.
    pub new: CloneFlags,
    /// Namespaces to join, user namespace first (joining it grants the capabilities needed
    /// for the others when they are owned by it).
    pub join: Vec<(CloneFlags, PathBuf)>,
}

impl Default for NamespacePlan {
    fn default() -> Self {
        NamespacePlan {
            new: CloneFlags::empty(),
            join: Vec::new(),
        }
    }
}

impl NamespacePlan {
    pub fn from_spec(namespaces: &[LinuxNamespace]) -> Self {
        let mut plan = NamespacePlan::default();
        for ns in namespaces {
            let flag = clone_flag(ns.typ());
            match ns.path() {
                Some(path) => plan.join.push((flag, path.clone())),
                None => plan.new |= flag,
            }
        }
        plan.join.sort_by_key(|(flag, _)| {
            if *flag == CloneFlags::CLONE_NEWUSER {
                0
            } else {
                1
            }
        });
        plan
    }

    pub fn creates(&self, flag: CloneFlags) -> bool {
        self.new.contains(flag)
    }

    pub fn joins(&self, flag: CloneFlags) -> bool {
        self.join.iter().any(|(f, _)| *f == flag)
    }

    pub fn has(&self, flag: CloneFlags) -> bool {
        self.creates(flag) || self.joins(flag)
    }

    /// Whether the init can be cloned directly with every new namespace in one clone3.
    /// That is not possible when the init must first join namespaces that the new ones
    /// should belong to (a user namespace path), when a pid namespace is joined (only
    /// children enter it), or when a new user namespace would take away the rights needed
    /// to join the others. Time offsets must be written before any process enters the time
    /// namespace, so a new time namespace also needs the intermediate step.
    pub fn needs_intermediate(&self, time_offsets: bool) -> bool {
        if self.joins(CloneFlags::CLONE_NEWUSER) || self.joins(CloneFlags::CLONE_NEWPID) {
            return true;
        }
        if self.creates(CloneFlags::CLONE_NEWUSER) && !self.join.is_empty() {
            return true;
        }
        let time = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);
        self.creates(time) && time_offsets
    }

    /// Open every namespace file to join, so paths are resolved in the runtime's mount
    /// namespace before any join changes what they mean.
    pub fn open_joins(&self) -> Result<Vec<(CloneFlags, OwnedFd)>> {
        self.join
            .iter()
            .map(|(flag, path)| {
                let file = std::fs::File::open(path).map_err(|e| RuntimeError::InvalidConfig {
                    field: "linux.namespaces".into(),
                    message: format!("cannot open namespace path {}: {e}", path.display()),
                })?;
                Ok((*flag, OwnedFd::from(file)))
            })
            .collect()
    }
}

/// Join the opened namespaces in order.
pub fn join_all(fds: &[(CloneFlags, OwnedFd)]) -> Result<()> {
    for (flag, fd) in fds {
        nix::sched::setns(fd.as_fd(), *flag)
            .op(|| format!("joining namespace {}", flag_name(*flag)))?;
    }
    Ok(())
}

pub fn flag_name(flag: CloneFlags) -> &'static str {
    match flag.bits() {
        libc::CLONE_NEWNS => "mount",
        libc::CLONE_NEWCGROUP => "cgroup",
        libc::CLONE_NEWUTS => "uts",
        libc::CLONE_NEWIPC => "ipc",
        libc::CLONE_NEWUSER => "user",
        libc::CLONE_NEWPID => "pid",
        libc::CLONE_NEWNET => "network",
        libc::CLONE_NEWTIME => "time",
        _ => "namespace",
    }
}

/// The namespace flags of a running process that differ from the caller's: what `exec`
/// must join.
pub fn differing_namespaces(pid: i32) -> CloneFlags {
    let kinds = [
        ("user", CloneFlags::CLONE_NEWUSER),
        ("mnt", CloneFlags::CLONE_NEWNS),
        ("net", CloneFlags::CLONE_NEWNET),
        ("ipc", CloneFlags::CLONE_NEWIPC),
        ("uts", CloneFlags::CLONE_NEWUTS),
        ("cgroup", CloneFlags::CLONE_NEWCGROUP),
        ("pid", CloneFlags::CLONE_NEWPID),
        ("time", CloneFlags::from_bits_retain(libc::CLONE_NEWTIME)),
    ];
    let mut flags = CloneFlags::empty();
    for (name, flag) in kinds {
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{name}"));
        let ours = std::fs::read_link(format!("/proc/self/ns/{name}"));
        if let (Ok(a), Ok(b)) = (theirs, ours) {
            if a != b {
                flags |= flag;
            }
        }
    }
    flags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(json: serde_json::Value) -> Vec<LinuxNamespace> {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn plan_splits_new_and_joined_user_first() {
        let plan = NamespacePlan::from_spec(&ns(serde_json::json!([
            {"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"},
            {"type": "user", "path": "/proc/1/ns/user"}, {"type": "mount"}
        ])));
        assert_eq!(plan.new, CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS);
        assert_eq!(plan.join[0].0, CloneFlags::CLONE_NEWUSER);
        assert!(plan.needs_intermediate(false));
    }

    #[test]
    fn simple_plan_needs_no_intermediate() {
        let plan = NamespacePlan::from_spec(&ns(serde_json::json!([
            {"type": "pid"}, {"type": "mount"}, {"type": "user"}, {"type": "network"}
        ])));
        assert!(!plan.needs_intermediate(false));
        let plan = NamespacePlan::from_spec(&ns(serde_json::json!([
            {"type": "pid"}, {"type": "mount"}, {"type": "network", "path": "/run/netns/x"}
        ])));
        assert!(!plan.needs_intermediate(false));
    }

    #[test]
    fn new_user_ns_with_joins_or_pid_join_needs_intermediate() {
        let plan = NamespacePlan::from_spec(&ns(serde_json::json!([
            {"type": "user"}, {"type": "mount"}, {"type": "network", "path": "/run/netns/x"}
        ])));
        assert!(plan.needs_intermediate(false));
        let plan = NamespacePlan::from_spec(&ns(serde_json::json!([
            {"type": "mount"}, {"type": "pid", "path": "/proc/1/ns/pid"}
        ])));
        assert!(plan.needs_intermediate(false));
        let plan = NamespacePlan::from_spec(&ns(serde_json::json!([{"type": "time"}])));
        assert!(plan.needs_intermediate(true));
        assert!(!plan.needs_intermediate(false));
    }
}
