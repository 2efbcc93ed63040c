//! Shared helpers for the root-only tests: unique names and a cleanup guard.

use std::process::Child;
use std::sync::atomic::{AtomicU32, Ordering};

use vessel_cgroups::CgroupManager;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Unique per process and per call so tests can run in parallel and after crashes.
pub fn unique(tag: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("vessel-test-{tag}-{}-{n}", std::process::id())
}

pub fn skip_unless_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return false;
    }
    println!("skipping {test}: needs root to create real cgroups");
    true
}

/// Kills the child and removes the cgroup however the test ends (including panics).
pub struct Guard {
    pub mgr: Box<dyn CgroupManager>,
    pub child: Option<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        // A v1-frozen task cannot die until thawed.
        let _ = self.mgr.thaw();
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Err(e) = self.mgr.destroy() {
            eprintln!("cleanup of {} failed: {e}", self.mgr.path().display());
        }
    }
}
