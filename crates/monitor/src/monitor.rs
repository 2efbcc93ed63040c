//! The monitor's single poll(2) loop, from "created" until the init has exited and its
//! output is drained: signals, container output, stdin, attach and control sockets.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use crate::attach::{Client, CtlClient, CtlCommand, StdinSink};
use crate::create::Created;
use crate::exit::{self, ExitRecord};
use crate::logfile::{LogFile, Stream};
use crate::sys::{self, Status};

/// After the init exits, wait this long at most for the rest of its output: a process
/// outside a pid namespace may keep the pipes open forever.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// On exit, how long attach clients get to read what is queued for them.
const CLIENT_FLUSH_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_ATTACH_CLIENTS: usize = 64;
const MAX_CTL_CLIENTS: usize = 8;

pub struct Sockets {
    pub attach: UnixListener,
    pub ctl: UnixListener,
}

pub struct Monitor {
    dir: PathBuf,
    init_pid: libc::pid_t,
    sigfd: File,
    forwarded: &'static [i32],
    /// [stdout or pty master, stderr]; None once at EOF.
    outputs: [Option<File>; 2],
    stdin: Option<StdinSink>,
    /// A dup of the pty master for TIOCSWINSZ, alive as long as the monitor.
    pty: Option<File>,
    sockets: Sockets,
    clients: Vec<Client>,
    ctls: Vec<CtlClient>,
    log: Option<LogFile>,
    exit: Option<(Status, SystemTime, Instant)>,
    created_at: SystemTime,
    oom_file: Option<PathBuf>,
    oom_before: u64,
}

#[derive(Clone, Copy)]
enum Tag {
    Signal,
    Output(usize),
    Stdin,
    Attach,
    Ctl,
    Client(usize),
    CtlClient(usize),
}

impl Monitor {
    pub fn new(
        dir: PathBuf,
        created: Created,
        sigfd: File,
        forwarded: &'static [i32],
        sockets: Sockets,
        log: Option<LogFile>,
        tty: bool,
    ) -> Monitor {
        let s = created.stdio;
        let pty = if tty { s.stdout.try_clone().ok() } else { None };
        let oom_file = std::fs::read_to_string(format!("/proc/{}/cgroup", created.init_pid))
            .ok()
            .and_then(|c| exit::oom_counter_file(std::path::Path::new("/sys/fs/cgroup"), &c));
        let oom_before = oom_file.as_deref().map_or(0, exit::oom_kills);
        let now = SystemTime::now();
        let m = Monitor {
            dir,
            init_pid: created.init_pid,
            sigfd,
            forwarded,
            outputs: [Some(s.stdout), s.stderr],
            stdin: s.stdin.map(|f| StdinSink::new(f, tty)),
            pty,
            sockets,
            clients: Vec::new(),
            ctls: Vec::new(),
            log,
            exit: created.early_exit.map(|st| (st, now, Instant::now())),
            created_at: now,
            oom_file,
            oom_before,
        };
        for sig in created.pending_signals {
            m.forward(sig);
        }
        m
    }

    /// Run until the container is gone; returns the monitor's exit status.
    pub fn run(mut self) -> i32 {
        let mut fds: Vec<libc::pollfd> = Vec::new();
        let mut tags: Vec<Tag> = Vec::new();
        loop {
            let timeout = match self.exit {
                Some((_, _, at)) => {
                    let left = DRAIN_TIMEOUT.saturating_sub(at.elapsed());
                    if self.outputs.iter().all(Option::is_none) || left.is_zero() {
                        break;
                    }
                    left.as_millis() as i32 + 1
                }
                None => -1,
            };
            self.poll_set(&mut fds, &mut tags);
            if sys::poll(&mut fds, timeout).is_err() {
                // Only EINVAL/ENOMEM: nothing sensible to retry; keep the record honest.
                break;
            }
            for (p, &tag) in fds.iter().zip(tags.iter()) {
                if p.revents != 0 {
                    self.handle(tag, p.revents);
                }
            }
            self.clients.retain(|c| !c.dead);
            self.ctls.retain(|c| !c.dead);
        }
        self.finish()
    }

    fn poll_set(&self, fds: &mut Vec<libc::pollfd>, tags: &mut Vec<Tag>) {
        fds.clear();
        tags.clear();
        let mut add = |fd: RawFd, events: i16, tag: Tag| {
            fds.push(libc::pollfd {
                fd,
                events,
                revents: 0,
            });
            tags.push(tag);
        };
        // Listeners first: a client that connected before the container started must be
        // accepted before output that arrived in the same wake-up is read and fanned out.
        add(self.sockets.attach.as_raw_fd(), libc::POLLIN, Tag::Attach);
        add(self.sockets.ctl.as_raw_fd(), libc::POLLIN, Tag::Ctl);
        add(self.sigfd.as_raw_fd(), libc::POLLIN, Tag::Signal);
        for (i, o) in self.outputs.iter().enumerate() {
            if let Some(f) = o {
                add(f.as_raw_fd(), libc::POLLIN, Tag::Output(i));
            }
        }
        if let Some(s) = self.stdin.as_ref().filter(|s| s.has_backlog()) {
            add(s.file.as_raw_fd(), libc::POLLOUT, Tag::Stdin);
        }
        let stdin_room = self.stdin.as_ref().map_or(usize::MAX, StdinSink::room);
        for (i, c) in self.clients.iter().enumerate() {
            let mut ev = 0;
            if !c.input_closed && stdin_room > 0 {
                ev |= libc::POLLIN;
            }
            if c.has_backlog() {
                ev |= libc::POLLOUT;
            }
            // Even with no events, poll reports POLLHUP when the client goes away.
            add(c.stream.as_raw_fd(), ev, Tag::Client(i));
        }
        for (i, c) in self.ctls.iter().enumerate() {
            add(c.stream.as_raw_fd(), libc::POLLIN, Tag::CtlClient(i));
        }
    }

    fn handle(&mut self, tag: Tag, revents: i16) {
        match tag {
            Tag::Signal => self.on_signals(),
            Tag::Output(i) => self.on_output(i),
            Tag::Stdin => self.flush_stdin(),
            Tag::Attach => self.accept_attach(),
            Tag::Ctl => self.accept_ctl(),
            Tag::Client(i) => {
                if revents & libc::POLLOUT != 0 {
                    self.clients[i].flush();
                }
                if revents & libc::POLLIN != 0 {
                    if self.clients[i].read_input(self.stdin.as_mut()) {
                        // End of this client's input is the end of the container's stdin.
                        if let Some(s) = &mut self.stdin {
                            s.close_requested = true;
                        }
                    }
                    self.flush_stdin();
                } else if revents & (libc::POLLHUP | libc::POLLERR) != 0 {
                    self.clients[i].dead = true;
                }
            }
            Tag::CtlClient(i) => {
                let pty = self.pty.as_ref().map(AsRawFd::as_raw_fd);
                self.ctls[i].serve(|cmd| match cmd {
                    CtlCommand::Resize { rows, cols } => {
                        let fd = pty.ok_or("the container has no terminal")?;
                        sys::set_winsize(fd, rows, cols).map_err(|e| format!("TIOCSWINSZ: {e}"))
                    }
                });
            }
        }
    }

    fn on_signals(&mut self) {
        while let Some(sig) = sys::read_signal(&self.sigfd) {
            if sig == libc::SIGCHLD {
                // Subreaper: orphans of the container land here too; only the init counts.
                while let Some((pid, status)) = sys::reap_any() {
                    if pid == self.init_pid && self.exit.is_none() {
                        self.exit = Some((status, SystemTime::now(), Instant::now()));
                    }
                }
            } else if self.forwarded.contains(&sig) {
                self.forward(sig);
            }
        }
    }

    fn forward(&self, sig: i32) {
        if self.exit.is_none() {
            sys::kill(self.init_pid, sig);
        }
    }

    fn on_output(&mut self, i: usize) {
        let Some(f) = &self.outputs[i] else { return };
        let mut buf = [0u8; 8192];
        let n = match (&*f).read(&mut buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => return,
            // EIO from a pty master: the last slave descriptor closed.
            Err(_) => 0,
        };
        if n == 0 {
            self.outputs[i] = None;
            return;
        }
        let stream = if i == 0 {
            Stream::Stdout
        } else {
            Stream::Stderr
        };
        let data = &buf[..n];
        if let Some(log) = &mut self.log {
            log.write(stream, data, SystemTime::now());
        }
        for c in &mut self.clients {
            c.send(stream, data);
        }
    }

    fn flush_stdin(&mut self) {
        let Some(s) = &mut self.stdin else { return };
        if s.flush().is_err() || s.finished() {
            // Dropping the write end is how the container's stdin reaches EOF.
            self.stdin = None;
        }
    }

    fn accept_attach(&mut self) {
        while let Ok((stream, _)) = self.sockets.attach.accept() {
            if self.clients.len() < MAX_ATTACH_CLIENTS {
                self.clients.push(Client::new(stream));
            }
        }
    }

    fn accept_ctl(&mut self) {
        while let Ok((stream, _)) = self.sockets.ctl.accept() {
            if self.ctls.len() < MAX_CTL_CLIENTS {
                self.ctls.push(CtlClient::new(stream));
            }
        }
    }

    /// Record the exit, let clients read their backlog, remove the sockets.
    fn finish(mut self) -> i32 {
        let Some((status, finished_at, _)) = self.exit else {
            return 1;
        };
        if let Some(log) = &mut self.log {
            log.flush_partial(SystemTime::now());
        }
        let oom_killed = self
            .oom_file
            .as_deref()
            .is_some_and(|f| exit::oom_kills(f) > self.oom_before);
        let record = ExitRecord {
            status,
            oom_killed,
            created_at: self.created_at,
            finished_at,
        };
        let written = exit::write_atomically(&self.dir, "exit.json", &record.to_json()).is_ok();

        let deadline = Instant::now() + CLIENT_FLUSH_TIMEOUT;
        loop {
            self.clients.retain(|c| !c.dead && c.has_backlog());
            let left = deadline.saturating_duration_since(Instant::now());
            if self.clients.is_empty() || left.is_zero() {
                break;
            }
            let mut fds: Vec<libc::pollfd> = self
                .clients
                .iter()
                .map(|c| libc::pollfd {
                    fd: c.stream.as_raw_fd(),
                    events: libc::POLLOUT,
                    revents: 0,
                })
                .collect();
            let _ = sys::poll(&mut fds, left.as_millis() as i32 + 1);
            for (c, p) in self.clients.iter_mut().zip(&fds) {
                if p.revents & libc::POLLOUT != 0 {
                    c.flush();
                } else if p.revents != 0 {
                    c.dead = true;
                }
            }
        }
        for name in ["attach.sock", "ctl.sock"] {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
        if written {
            0
        } else {
            1
        }
    }
}
