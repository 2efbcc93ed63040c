//! Persistent named network namespaces, the way `ip netns add` makes them: a new namespace is
//! created on a dedicated thread with unshare(CLONE_NEWNET) and pinned by bind-mounting the
//! thread's `/proc/thread-self/ns/net` onto an empty file. The engine hands that path to the
//! runtime as `linux.namespaces[{type: network, path}]`.
//!
//! Namespace changes are per thread (setns(2), unshare(2)), so every operation that needs to be
//! inside a namespace runs on a short-lived thread; the caller's thread (possibly a tokio worker)
//! never changes namespace.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};

use crate::error::{Error, Result};

fn netns_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Netns {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Creates a new network namespace pinned at `path` (which must not exist yet).
pub fn create(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(netns_err("create directory for", path))?;
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o444)
        .open(path)
        .map_err(netns_err("create mount point", path))?;
    let target = path.to_path_buf();
    let joined = std::thread::spawn(move || -> io::Result<()> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(io::Error::from)
    })
    .join();
    let result = match joined {
        Ok(r) => r,
        Err(_) => Err(io::Error::other("netns creation thread panicked")),
    };
    if let Err(e) = result {
        let _ = std::fs::remove_file(path);
        return Err(netns_err("unshare + bind mount", path)(e));
    }
    Ok(())
}

/// Unmounts and unlinks a namespace file; missing or already-unmounted is fine so teardown and
/// reconcile can repeat it. The namespace itself is freed by the kernel once the last process
/// and mount referencing it are gone.
pub fn remove(path: &Path) -> Result<()> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(netns_err("unmount", path)(e.into())),
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(netns_err("unlink", path)(e)),
    }
}

/// Runs `f` on a dedicated thread that has joined the namespace at `path`.
pub fn run_in<T, F>(path: &Path, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let file = File::open(path).map_err(netns_err("open", path))?;
    let joined = std::thread::spawn(move || -> io::Result<T> {
        setns(file.as_fd(), CloneFlags::CLONE_NEWNET).map_err(io::Error::from)?;
        Ok(f())
    })
    .join();
    match joined {
        Ok(r) => r.map_err(netns_err("setns into", path)),
        Err(_) => Err(netns_err("run in", path)(io::Error::other(
            "namespace thread panicked",
        ))),
    }
}

/// The conventional location of a container's namespace under the run dir.
pub fn path_for(run_dir: &Path, container_id: &str) -> PathBuf {
    run_dir.join("netns").join(container_id)
}
