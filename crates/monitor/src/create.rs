//! `runtime create`: wire the container's stdio (pipes, or a pty received over the console
//! socket), run the runtime, wait for it, and turn its failure into one readable line.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::cli::Args;
use crate::sys::{self, Status};

/// The monitor's ends of the container's stdio.
pub struct Stdio3 {
    /// stdout (or the pty master) and stderr (None with a tty).
    pub stdout: File,
    pub stderr: Option<File>,
    /// Where attach clients' input goes: the stdin pipe, or a dup of the pty master.
    pub stdin: Option<File>,
}

pub struct Created {
    pub init_pid: libc::pid_t,
    pub stdio: Stdio3,
    /// The init, if it already died while the runtime was still running.
    pub early_exit: Option<Status>,
    /// Forwardable signals that arrived before the init pid was known.
    pub pending_signals: Vec<i32>,
}

/// Keep only this much of the runtime's stderr for the error message.
const MAX_RUNTIME_STDERR: usize = 4096;

pub fn create(args: &Args, sigfd: &File, forwarded: &[i32]) -> Result<Created, String> {
    let console_path = args.dir.join("console.sock");
    let console = if args.tty {
        let _ = std::fs::remove_file(&console_path);
        let l = UnixListener::bind(&console_path)
            .map_err(|e| format!("binding {}: {e}", console_path.display()))?;
        l.set_nonblocking(true).map_err(|e| e.to_string())?;
        Some(l)
    } else {
        None
    };
    let io_err = |what: &str, e: std::io::Error| format!("{what}: {e}");

    // Container ends go to the runtime (which hands them to the init); ours stay here.
    let (out_r, out_w) = sys::pipe().map_err(|e| io_err("pipe", e))?;
    let (err_r, err_w) = sys::pipe().map_err(|e| io_err("pipe", e))?;
    let (stdin_ours, stdin_theirs) = if args.stdin && !args.tty {
        let (r, w) = sys::pipe().map_err(|e| io_err("pipe", e))?;
        (Some(w), Stdio::from(r))
    } else {
        (None, Stdio::null())
    };
    let mut cmd = Command::new(&args.runtime);
    cmd.args(&args.runtime_args);
    if let Some(root) = &args.runtime_root {
        cmd.arg("--root").arg(root);
    }
    let log = args.dir.join("runtime.log");
    let _ = std::fs::remove_file(&log);
    let pid_file = args.dir.join("init.pid");
    let _ = std::fs::remove_file(&pid_file);
    cmd.arg("--log")
        .arg(&log)
        .args(["--log-format", "json", "create", "--bundle"]);
    cmd.arg(&args.bundle).arg("--pid-file").arg(&pid_file);
    if args.tty {
        // With a pty the runtime's own stdio is not the container's: stderr only carries
        // the runtime's messages.
        cmd.arg("--console-socket").arg(&console_path);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err_w);
        drop(out_w);
    } else {
        cmd.stdin(stdin_theirs).stdout(out_w).stderr(err_w);
    }
    cmd.arg(&args.id);
    // fork + exec rather than spawn: the exec machinery then runs (and faults its pages
    // in) only in the short-lived child, which keeps the monitor's resident set small.
    let (exec_err_r, exec_err_w) = sys::pipe().map_err(|e| io_err("pipe", e))?;
    let runtime_pid = match sys::fork().map_err(|e| io_err("fork", e))? {
        sys::Fork::Child => {
            let e = std::os::unix::process::CommandExt::exec(&mut cmd);
            let _ = (&exec_err_w).write_all(e.to_string().as_bytes());
            sys::exit_now(127)
        }
        sys::Fork::Parent(pid) => pid,
    };
    // The Command (and the container ends it held) must be gone, or the pipes never EOF.
    drop(cmd);
    drop(exec_err_w);
    let mut exec_err = String::new();
    let _ = (&exec_err_r).read_to_string(&mut exec_err);
    if !exec_err.is_empty() {
        return Err(format!("running {}: {exec_err}", args.runtime.display()));
    }
    sys::set_nonblocking(err_r.as_raw_fd()).map_err(|e| io_err("fcntl", e))?;

    let mut stderr_text = Vec::new();
    let mut early = Vec::new();
    let mut pending_signals = Vec::new();
    let mut master: Option<OwnedFd> = None;
    let mut runtime_status = None;
    while runtime_status.is_none() {
        let mut fds = vec![
            libc::pollfd {
                fd: sigfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: err_r.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        if let (Some(l), None) = (&console, &master) {
            fds.push(libc::pollfd {
                fd: l.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        sys::poll(&mut fds, -1).map_err(|e| io_err("poll", e))?;
        drain_into(&err_r, &mut stderr_text);
        if fds.get(2).is_some_and(|p| p.revents != 0) {
            master = accept_console(console.as_ref())?;
        }
        while let Some(sig) = sys::read_signal(sigfd) {
            if forwarded.contains(&sig) {
                pending_signals.push(sig);
            }
        }
        while let Some((pid, status)) = sys::reap_any() {
            if pid == runtime_pid {
                runtime_status = Some(status);
            } else {
                early.push((pid, status));
            }
        }
    }
    // Whatever the runtime wrote before exiting is in the pipe now.
    drain_into(&err_r, &mut stderr_text);
    if args.tty && master.is_none() {
        master = accept_console(console.as_ref())?;
    }
    if console.is_some() {
        let _ = std::fs::remove_file(&console_path);
    }
    if runtime_status != Some(Status::Exited(0)) {
        let why = runtime_error(&log, &stderr_text).unwrap_or_else(|| match runtime_status {
            Some(Status::Signaled(s)) => format!("runtime killed by signal {s}"),
            Some(s) => format!("runtime exited with status {}", s.code()),
            None => unreachable!(),
        });
        return Err(format!("create {}: {why}", args.id));
    }
    let init_pid = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse::<libc::pid_t>().ok())
        .filter(|&p| p > 0)
        .ok_or_else(|| {
            format!(
                "create {}: the runtime wrote no pid to {}",
                args.id,
                pid_file.display()
            )
        })?;
    let early_exit = early.iter().find(|(p, _)| *p == init_pid).map(|(_, s)| *s);

    let stdio = if args.tty {
        let master = File::from(master.ok_or_else(|| {
            format!(
                "create {}: the runtime sent no pty master to the console socket",
                args.id
            )
        })?);
        sys::set_nonblocking(master.as_raw_fd()).map_err(|e| io_err("fcntl", e))?;
        let input = master.try_clone().map_err(|e| io_err("dup", e))?;
        Stdio3 {
            stdout: master,
            stderr: None,
            stdin: Some(input),
        }
    } else {
        for f in [&out_r].into_iter().chain(stdin_ours.as_ref()) {
            sys::set_nonblocking(f.as_raw_fd()).map_err(|e| io_err("fcntl", e))?;
        }
        Stdio3 {
            stdout: out_r,
            stderr: Some(err_r),
            stdin: stdin_ours,
        }
    };
    Ok(Created {
        init_pid,
        stdio,
        early_exit,
        pending_signals,
    })
}

fn accept_console(listener: Option<&UnixListener>) -> Result<Option<OwnedFd>, String> {
    let Some(listener) = listener else {
        return Ok(None);
    };
    match listener.accept() {
        Ok((stream, _)) => {
            // The runtime sends right after connecting; don't hang on one that died between.
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            sys::recv_fd(&stream)
                .map(Some)
                .map_err(|e| format!("receiving the pty master: {e}"))
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(format!("accepting on the console socket: {e}")),
    }
}

fn drain_into(mut f: &File, out: &mut Vec<u8>) {
    let mut buf = [0u8; 1024];
    while let Ok(n @ 1..) = f.read(&mut buf) {
        let room = MAX_RUNTIME_STDERR.saturating_sub(out.len());
        out.extend_from_slice(&buf[..n.min(room)]);
    }
}

/// The runtime's last error: the last `"level":"error"` line of its JSON log (runc's
/// format, which crun and vessel-runtime share), else its stderr, as one line.
pub fn runtime_error(log: &Path, stderr: &[u8]) -> Option<String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let from_log = text
        .lines()
        .rev()
        .filter(|l| l.contains("\"level\":\"error\""))
        .find_map(|l| json_string_field(l, "msg"));
    let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    from_log
        .map(|m| one_line(&m))
        .filter(|m| !m.is_empty())
        .or_else(|| {
            let s = one_line(&String::from_utf8_lossy(stderr));
            (!s.is_empty()).then_some(s)
        })
}

/// The value of a top-level string field in one JSON object line; enough for log lines.
fn json_string_field(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let mut out = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    out.push(
                        char::from_u32(u32::from_str_radix(&hex, 16).ok()?).unwrap_or('\u{fffd}'),
                    );
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_last_error_from_the_json_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("runtime.log");
        std::fs::write(
            &log,
            concat!(
                r#"{"level":"error","msg":"first","time":"t"}"#,
                "\n",
                r#"{"level":"error","msg":"exec: \"nope\": not found\nin \u0041","time":"t"}"#,
                "\n",
                r#"{"level":"warning","msg":"later warning","time":"t"}"#,
                "\n",
            ),
        )
        .unwrap();
        assert_eq!(
            runtime_error(&log, b"ignored").unwrap(),
            "exec: \"nope\": not found in A"
        );
    }

    #[test]
    fn falls_back_to_stderr_as_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.log");
        assert_eq!(
            runtime_error(&missing, b"vessel-runtime: bad\n  config\n").unwrap(),
            "vessel-runtime: bad config"
        );
        assert_eq!(runtime_error(&missing, b"\n"), None);
    }
}
