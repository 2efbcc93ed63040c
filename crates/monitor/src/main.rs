//! vessel-monitor: one small process per container, the parent (subreaper) of its init,
//! keeper of its stdio, log and exit status. It outlives the daemon. See README.md for the
//! command line and the files it writes.

mod attach;
mod cli;
mod create;
mod exit;
mod logfile;
mod monitor;
mod sys;
mod timefmt;

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;

use cli::{Args, Parsed};
use monitor::{Monitor, Sockets};

/// Signals sent to the monitor that are meant for the container (`kill <monitor>`).
const FORWARDED: &[i32] = &[libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

fn main() {
    // std has already set SIGPIPE to SIG_IGN: a vanished attach client is a write error,
    // not the monitor's death. Children spawned through std get SIG_DFL back.
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let args = match cli::parse(std::env::args_os().skip(1), &cwd) {
        Ok(Parsed::Run(a)) => a,
        Ok(Parsed::Help) => {
            println!("{}", cli::USAGE);
            return;
        }
        Ok(Parsed::Version) => {
            println!("vessel-monitor {}", env!("CARGO_PKG_VERSION"));
            return;
        }
        Err(e) => {
            eprintln!("vessel-monitor: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = std::fs::create_dir_all(&args.dir) {
        eprintln!(
            "vessel-monitor: creating state dir {}: {e}",
            args.dir.display()
        );
        std::process::exit(1);
    }
    let (mut report_r, report_w) = match sys::pipe() {
        Ok(p) => p,
        Err(e) => fail_now(&format!("pipe: {e}")),
    };
    match sys::fork() {
        Err(e) => fail_now(&format!("fork: {e}")),
        Ok(sys::Fork::Parent(_)) => {
            // Wait for "created" or the error, so the caller learns it synchronously.
            drop(report_w);
            let mut msg = String::new();
            let _ = report_r.read_to_string(&mut msg);
            match msg.strip_prefix("ok\n") {
                Some(_) => std::process::exit(0),
                None => {
                    let msg = msg.strip_prefix("error ").unwrap_or(&msg).trim();
                    let msg = if msg.is_empty() {
                        "the monitor died during create"
                    } else {
                        msg
                    };
                    fail_now(msg)
                }
            }
        }
        Ok(sys::Fork::Child) => {
            drop(report_r);
            std::process::exit(child(&args, report_w))
        }
    }
}

fn fail_now(msg: &str) -> ! {
    eprintln!("vessel-monitor: {msg}");
    std::process::exit(1)
}

fn child(args: &Args, mut report: File) -> i32 {
    match setup(args) {
        Ok(monitor) => {
            let _ = report.write_all(b"ok\n");
            drop(report);
            monitor.run()
        }
        Err(msg) => {
            for name in ["attach.sock", "ctl.sock", "console.sock"] {
                let _ = std::fs::remove_file(args.dir.join(name));
            }
            let _ = report.write_all(format!("error {}\n", msg.replace('\n', " ")).as_bytes());
            1
        }
    }
}

fn setup(args: &Args) -> Result<Monitor, String> {
    // Own session: the caller's terminal and process group signals don't reach us.
    sys::setsid().map_err(|e| format!("setsid: {e}"))?;
    sys::stdio_to_null().map_err(|e| format!("redirecting stdio to /dev/null: {e}"))?;
    // Never pin the caller's cwd (a mount, maybe); all paths are absolute by now.
    let _ = std::env::set_current_dir("/");
    sys::set_child_subreaper().map_err(|e| format!("PR_SET_CHILD_SUBREAPER: {e}"))?;
    let mut signals = vec![libc::SIGCHLD];
    signals.extend_from_slice(FORWARDED);
    let sigfd = sys::signalfd(&signals).map_err(|e| format!("signalfd: {e}"))?;

    let dir = &args.dir;
    let _ = std::fs::remove_file(dir.join("exit.json"));
    exit::write_atomically(dir, "monitor.pid", &format!("{}\n", std::process::id()))
        .map_err(|e| format!("writing {}: {e}", dir.join("monitor.pid").display()))?;
    // Bound before create returns, so a client may connect before `runtime start`.
    let sockets = Sockets {
        attach: listen(&dir.join("attach.sock"))?,
        ctl: listen(&dir.join("ctl.sock"))?,
    };
    let log = logfile::LogFile::open(&args.log_path, args.log_max_size, args.log_max_files)
        .map_err(|e| format!("opening log {}: {e}", args.log_path.display()))?;
    let created = create::create(args, &sigfd, FORWARDED)?;
    Ok(Monitor::new(
        dir.clone(),
        created,
        sigfd,
        FORWARDED,
        sockets,
        Some(log),
        args.tty,
    ))
}

fn listen(path: &Path) -> Result<UnixListener, String> {
    let _ = std::fs::remove_file(path);
    let l = UnixListener::bind(path).map_err(|e| format!("binding {}: {e}", path.display()))?;
    l.set_nonblocking(true)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(l)
}
