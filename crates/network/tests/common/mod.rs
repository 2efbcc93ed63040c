//! Shared helpers for the root integration tests: unique names, a cleanup guard, commands run
//! inside a namespace.

#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vessel_network::{ManagerConfig, NetworkManager};

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Skips (with a message) unless root and the tools exist.
pub fn skip() -> bool {
    if !is_root() {
        eprintln!("skipping: needs root for namespaces, bridges and nftables");
        return true;
    }
    for tool in [
        "/bin/busybox",
        "/usr/bin/nsenter",
        "/usr/sbin/nft",
        "/usr/sbin/ip",
    ] {
        if !Path::new(tool).exists() {
            eprintln!("skipping: {tool} is missing (scripts/deps.sh installs it)");
            return true;
        }
    }
    false
}

/// Unique per process and call: used in container ids and netns names.
pub fn unique(tag: &str) -> String {
    format!(
        "it{}-{}-{tag}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A /24 nobody else uses: `10.<200+k>.<pid%250>.0/24`; k is distinct per test.
pub fn subnet(k: u8) -> String {
    format!("10.{}.{}.0/24", 200 + k, std::process::id() % 250)
}

pub fn config(dir: &Path) -> ManagerConfig {
    let resolv = dir.join("resolv.conf");
    std::fs::write(&resolv, "nameserver 127.0.0.1\n").expect("write resolv.conf");
    ManagerConfig {
        default_network: false,
        exclusive_table: false,
        host_resolv_conf: resolv,
        // no upstream: nothing may leave the machine
        dns_upstreams: Some(Vec::new()),
        ..Default::default()
    }
}

/// Releases every container and network it knows about when dropped, even after a panic.
pub struct Guard {
    pub mgr: Option<NetworkManager>,
    pub dir: tempfile::TempDir,
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub extra_netns: Vec<PathBuf>,
    pub extra_links: Vec<String>,
}

impl Guard {
    pub fn open() -> Self {
        Self::open_with(|_| {})
    }

    /// Opens with the test config adjusted by `adjust` (`reopen` uses the plain test config).
    pub fn open_with(adjust: impl FnOnce(&mut ManagerConfig)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = config(dir.path());
        adjust(&mut cfg);
        let mgr = NetworkManager::open(&dir.path().join("state"), &dir.path().join("run"), cfg)
            .expect("open manager");
        Guard {
            mgr: Some(mgr),
            dir,
            containers: Vec::new(),
            networks: Vec::new(),
            extra_netns: Vec::new(),
            extra_links: Vec::new(),
        }
    }

    pub fn mgr(&self) -> &NetworkManager {
        self.mgr.as_ref().expect("manager is open")
    }

    pub fn reopen(&mut self) {
        let dir = self.dir.path();
        self.mgr = Some(
            NetworkManager::open(&dir.join("state"), &dir.join("run"), config(dir))
                .expect("reopen manager"),
        );
    }

    pub fn container(&mut self, tag: &str) -> (String, PathBuf) {
        let id = unique(tag);
        let ns = self.mgr().create_netns(&id).expect("create netns");
        self.containers.push(id.clone());
        (id, ns)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mgr) = &self.mgr {
            for c in &self.containers {
                if let Err(e) = mgr.release_container(c) {
                    eprintln!("cleanup: release {c}: {e}");
                }
            }
            for n in &self.networks {
                if let Err(e) = mgr.remove_network(n) {
                    if !matches!(e, vessel_network::Error::NetworkNotFound(_)) {
                        eprintln!("cleanup: remove network {n}: {e}");
                    }
                }
            }
        }
        for l in &self.extra_links {
            let _ = Command::new("ip").args(["link", "del", l]).output();
        }
        for ns in &self.extra_netns {
            let _ = vessel_network::netns::remove(ns);
        }
    }
}

/// Runs a command inside the namespace at `ns` (nsenter --net=PATH).
pub fn in_ns(ns: &Path, args: &[&str]) -> std::process::Output {
    Command::new("nsenter")
        .arg(format!("--net={}", ns.display()))
        .arg("--")
        .args(args)
        .output()
        .expect("run nsenter")
}

pub fn ping(ns: &Path, ip: &str) -> bool {
    in_ns(ns, &["busybox", "ping", "-c", "1", "-W", "2", ip])
        .status
        .success()
}

pub fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

pub fn nft_table() -> String {
    let out = Command::new("nft")
        .args(["list", "table", "ip", "vessel"])
        .output()
        .expect("nft");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A TCP server inside a namespace that answers every connection with `reply`, until the
/// returned flag is set (or 60 s pass).
pub fn serve_in_ns(ns: &Path, port: u16, reply: &'static str) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let file = std::fs::File::open(ns).expect("open netns");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::Write;
        use std::os::fd::AsFd;
        if nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).is_err() {
            let _ = tx.send(false);
            return;
        }
        let Ok(l) = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)) else {
            let _ = tx.send(false);
            return;
        };
        let _ = l.set_nonblocking(true);
        let _ = tx.send(true);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
            match l.accept() {
                Ok((mut s, _)) => {
                    let _ = s.write_all(reply.as_bytes());
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap_or(false),
        "server in netns did not start"
    );
    stop
}

/// Connects and reads what the server says.
pub fn fetch(addr: SocketAddr) -> std::io::Result<String> {
    use std::io::Read;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    s.set_read_timeout(Some(Duration::from_secs(3)))?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

/// `fetch` from inside a namespace.
pub fn fetch_in_ns(ns: &Path, addr: SocketAddr) -> std::io::Result<String> {
    vessel_network::netns::run_in(ns, move || fetch(addr))
        .map_err(|e| std::io::Error::other(e.to_string()))?
}
