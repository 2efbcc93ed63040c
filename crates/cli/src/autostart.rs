//! Starting the daemon on demand: when root uses the default socket and nothing listens, the
//! CLI runs `vessel daemon` detached (its own session, output to a log file) and waits for the
//! socket, so `vessel run` works on a fresh machine.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::client::Host;

/// One attempt per process: a daemon that failed to come up is not retried per request.
static TRIED: AtomicBool = AtomicBool::new(false);

const WAIT: Duration = Duration::from_secs(10);

pub fn should_start(host: &Host, err: &io::Error) -> bool {
    host.is_default
        && matches!(err.kind(), io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused)
        // SAFETY: geteuid has no preconditions.
        && unsafe { libc::geteuid() } == 0
        && std::env::var_os("VESSEL_NO_AUTOSTART").is_none()
        && !TRIED.swap(true, Ordering::SeqCst)
}

fn log_path() -> &'static str {
    if Path::new("/var/log").is_dir() {
        "/var/log/vessel.log"
    } else {
        "/run/vessel/daemon.log"
    }
}

pub fn start(socket: &Path) -> io::Result<()> {
    let log = log_path();
    if let Some(dir) = Path::new(log).parent() {
        std::fs::create_dir_all(dir)?;
    }
    let out = OpenOptions::new().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("daemon")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    // SAFETY: setsid is async-signal-safe; it detaches the daemon from our terminal and
    // process group so a Ctrl-C on this CLI does not reach it.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn()?;
    let deadline = Instant::now() + WAIT;
    loop {
        if UnixStream::connect(socket).is_ok() {
            eprintln!("Started the Vessel daemon (log: {log})");
            return Ok(());
        }
        if let Some(status) = child.try_wait()? {
            return Err(io::Error::other(format!(
                "the Vessel daemon exited during start-up ({status}); see {log}"
            )));
        }
        if Instant::now() > deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "the Vessel daemon did not open {} within {}s; see {log}",
                    socket.display(),
                    WAIT.as_secs()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
