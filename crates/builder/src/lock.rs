//! Advisory file locks (flock): released by the kernel when the holder exits, so a lock
//! nobody holds marks what a crashed build left behind.

use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

pub(crate) struct Flock(fs::File);

fn open(path: &Path) -> io::Result<fs::File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
}

impl Flock {
    /// Wait for the exclusive lock on `path` (created when missing).
    pub(crate) fn take(path: &Path) -> io::Result<Flock> {
        let f = open(path)?;
        // SAFETY: flock on a descriptor we own; the lock is released when the file closes.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Flock(f))
    }

    /// The exclusive lock on `path` if nobody holds it.
    pub(crate) fn try_take(path: &Path) -> io::Result<Option<Flock>> {
        let f = open(path)?;
        // SAFETY: as above, non-blocking.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EWOULDBLOCK) => Ok(None),
                _ => Err(e),
            };
        }
        Ok(Some(Flock(f)))
    }
}

impl Drop for Flock {
    fn drop(&mut self) {
        // SAFETY: unlocking a descriptor we own.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}
