//! Terminals: the pty created inside the container, the console socket that hands its
//! master to an engine, and the proxy that wires it to the caller's terminal in `run`.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use nix::sys::termios;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::error::{Context, Result};
use crate::user::Identity;

nix::ioctl_write_ptr_bad!(set_winsize, libc::TIOCSWINSZ, libc::winsize);
nix::ioctl_read_bad!(get_winsize, libc::TIOCGWINSZ, libc::winsize);

/// Open a pty from the container's /dev/ptmx, make its slave our controlling terminal and
/// stdio, and return the master.
pub fn open_in_container(size: Option<(u16, u16)>, owner: &Identity) -> Result<OwnedFd> {
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .op(|| "opening /dev/ptmx in the container (is /dev/pts mounted?)".to_string())?;
    nix::pty::grantpt(&master).op(|| "grantpt".to_string())?;
    nix::pty::unlockpt(&master).op(|| "unlockpt".to_string())?;
    let slave_name = nix::pty::ptsname_r(&master).op(|| "ptsname".to_string())?;
    if let Some((rows, cols)) = size {
        resize(master.as_fd(), rows, cols);
    }
    let slave = nix::fcntl::open(
        slave_name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .op(|| format!("opening {slave_name}"))?;
    // The process user must own its terminal to read and write it after the uid change.
    let _ = nix::unistd::fchown(
        &slave,
        Some(nix::unistd::Uid::from_raw(owner.uid)),
        Some(nix::unistd::Gid::from_raw(owner.gid)),
    );
    let _ = nix::unistd::setsid();
    // SAFETY: TIOCSCTTY takes an integer argument.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
        return Err(std::io::Error::last_os_error())
            .op(|| "making the pty the controlling terminal".into());
    }
    for target in 0..3 {
        // SAFETY: dup2 on descriptors we own; replacing stdio is the point.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(std::io::Error::last_os_error()).op(|| format!("dup2 pty to fd {target}"));
        }
    }
    Ok(master.into())
}

pub fn resize(fd: BorrowedFd, rows: u16, cols: u16) {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct we own.
    let _ = unsafe { set_winsize(fd.as_raw_fd(), &ws) };
}

/// Send the pty master to an engine's console socket, as runc does (SCM_RIGHTS with the
/// pty name as payload).
pub fn send_to_console_socket(socket: &Path, master: BorrowedFd) -> Result<()> {
    let stream = UnixStream::connect(socket)
        .op(|| format!("connecting to console socket {}", socket.display()))?;
    let name = b"/dev/ptmx";
    let iov = [IoSlice::new(name)];
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        stream.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .op(|| format!("sending the pty to console socket {}", socket.display()))?;
    Ok(())
}

/// Signals a foreground `run`/`exec` forwards to the container process.
fn forwarded_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGWINCH,
        Signal::SIGCHLD,
    ] {
        set.add(s);
    }
    set
}

/// Block the forwarded signals now (before the child exists) so none is lost.
pub fn block_signals() -> Result<SignalFd> {
    let set = forwarded_signals();
    set.thread_block().op(|| "blocking signals".to_string())?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC).op(|| "signalfd".to_string())
}

/// Restore the signal mask in a forked child before it runs container code.
pub fn unblock_signals() {
    let _ = forwarded_signals().thread_unblock();
}

/// Puts the caller's terminal in raw mode and restores it when dropped.
struct RawMode {
    fd: RawFd,
    saved: termios::Termios,
}

impl RawMode {
    fn enter(fd: RawFd) -> Option<RawMode> {
        // SAFETY: fd 0 stays open for the life of the process.
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let saved = termios::tcgetattr(borrowed).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(borrowed, termios::SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode { fd, saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: see enter.
        let borrowed = unsafe { BorrowedFd::borrow_raw(self.fd) };
        let _ = termios::tcsetattr(borrowed, termios::SetArg::TCSANOW, &self.saved);
    }
}

/// Wait for `pid` while forwarding signals to it and, when `master` is given, copying the
/// caller's stdin to the pty and the pty to stdout. Returns the exit code as a shell would
/// report it (128+signal when killed).
pub fn wait_foreground(pid: i32, signals: &SignalFd, master: Option<OwnedFd>) -> Result<i32> {
    let _raw = master.as_ref().and_then(|_| RawMode::enter(0));
    if let Some(m) = &master {
        sync_winsize(m.as_fd());
    }
    let mut stdin_open = master.is_some();
    let mut master = master;
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        if let Some(m) = &master {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            if stdin_open {
                // SAFETY: fd 0 outlives this loop.
                fds.push(PollFd::new(
                    unsafe { BorrowedFd::borrow_raw(0) },
                    PollFlags::POLLIN,
                ));
            }
        }
        match nix::poll::poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).op(|| "poll".to_string()),
            Ok(_) => {}
        }
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        drop(fds);
        if ready.get(1) == Some(&true) {
            if let Some(m) = &master {
                match nix::unistd::read(m, &mut buf) {
                    Ok(n) if n > 0 => write_all(1, &buf[..n]),
                    // EIO: every slave end is closed (the process exited).
                    _ => master = None,
                }
            }
        }
        if ready.get(2) == Some(&true) {
            match nix::unistd::read(stdin_fd(), &mut buf) {
                Ok(n) if n > 0 => {
                    if let Some(m) = &master {
                        write_all(m.as_raw_fd(), &buf[..n]);
                    }
                }
                _ => stdin_open = false,
            }
        }
        if ready[0] {
            if let Ok(Some(info)) = signals.read_signal() {
                let sig = info.ssi_signo as i32;
                if sig == libc::SIGWINCH {
                    if let Some(m) = &master {
                        sync_winsize(m.as_fd());
                    }
                } else if sig != libc::SIGCHLD {
                    // SAFETY: kill with integer arguments.
                    unsafe { libc::kill(pid, sig) };
                }
            }
            if let Some(code) = reap(pid)? {
                // Drain what the process wrote last.
                if let Some(m) = &master {
                    while let Ok(n) = nix::unistd::read(m, &mut buf) {
                        if n == 0 {
                            break;
                        }
                        write_all(1, &buf[..n]);
                        if n < buf.len() {
                            break;
                        }
                    }
                }
                return Ok(code);
            }
        }
    }
}

/// Reap exited children; report `pid`'s exit code once it is among them.
fn reap(pid: i32) -> Result<Option<i32>> {
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => {
                return Ok(Some(128 + sig as i32))
            }
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) => continue,
            Err(nix::errno::Errno::ECHILD) => return Ok(Some(255)),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).op(|| "waitpid".to_string()),
        }
    }
}

fn sync_winsize(master: BorrowedFd) {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes into ws, which we own.
    if unsafe { get_winsize(0, &mut ws) }.is_ok() && ws.ws_row > 0 {
        resize(master, ws.ws_row, ws.ws_col);
    }
}

fn stdin_fd() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open for the life of the process.
    unsafe { BorrowedFd::borrow_raw(0) }
}

fn write_all(fd: RawFd, mut data: &[u8]) {
    // SAFETY: the caller guarantees fd is open for the duration of the call.
    let out = unsafe { BorrowedFd::borrow_raw(fd) };
    while !data.is_empty() {
        match nix::unistd::write(out, data) {
            Ok(n) if n > 0 => data = &data[n..],
            Err(nix::errno::Errno::EINTR) => continue,
            _ => return,
        }
    }
}
