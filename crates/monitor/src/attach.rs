//! Attach clients (framed live output, input to the container's stdin), the stdin sink,
//! and control clients (`resize ROWS COLS`). Everything is non-blocking and bounded: a
//! client that stops reading loses frames, it never stalls the container.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use crate::logfile::Stream;

/// Output queued for one slow client; whole frames beyond this are dropped.
pub const MAX_CLIENT_BACKLOG: usize = 64 * 1024;
/// Input queued for the container's stdin; clients are not read while it is full.
pub const MAX_STDIN_BACKLOG: usize = 64 * 1024;

/// Docker's stream frame header: [stream, 0, 0, 0, length as u32 big-endian].
pub fn frame_header(stream: Stream, len: usize) -> [u8; 8] {
    let l = (len as u32).to_be_bytes();
    [stream as u8, 0, 0, 0, l[0], l[1], l[2], l[3]]
}

pub struct Client {
    pub stream: UnixStream,
    out: Vec<u8>,
    /// The client shut down its writing side; only output flows now.
    pub input_closed: bool,
    pub dead: bool,
    pub dropped_frames: u64,
}

impl Client {
    pub fn new(stream: UnixStream) -> Client {
        let _ = stream.set_nonblocking(true);
        Client {
            stream,
            out: Vec::new(),
            input_closed: false,
            dead: false,
            dropped_frames: 0,
        }
    }

    /// Queue one frame (whole, or not at all) and push what the socket takes now.
    pub fn send(&mut self, stream: Stream, data: &[u8]) {
        if self.dead || data.is_empty() {
            return;
        }
        if self.out.len() + 8 + data.len() > MAX_CLIENT_BACKLOG {
            self.dropped_frames += 1;
            return;
        }
        self.out
            .extend_from_slice(&frame_header(stream, data.len()));
        self.out.extend_from_slice(data);
        self.flush();
    }

    pub fn has_backlog(&self) -> bool {
        !self.out.is_empty()
    }

    pub fn flush(&mut self) {
        while !self.out.is_empty() && !self.dead {
            match self.stream.write(&self.out) {
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => self.dead = true,
            }
        }
        // A burst should not pin its buffer for the rest of the container's life.
        if self.out.is_empty() && self.out.capacity() > 16 * 1024 {
            self.out = Vec::new();
        }
    }

    /// Read client input into `sink` (or discard it when the container has no stdin).
    /// Returns true when the client half-closed: the end of its input.
    pub fn read_input(&mut self, sink: Option<&mut StdinSink>) -> bool {
        let mut buf = [0u8; 4096];
        let room = sink.as_ref().map_or(buf.len(), |s| s.room().min(buf.len()));
        if room == 0 {
            return false;
        }
        match self.stream.read(&mut buf[..room]) {
            Ok(0) => {
                if crate::sys::peer_fully_closed(self.stream.as_raw_fd()) {
                    self.dead = true;
                    false
                } else {
                    self.input_closed = true;
                    true
                }
            }
            Ok(n) => {
                if let Some(s) = sink {
                    s.push(&buf[..n]);
                }
                false
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => false,
            Err(_) => {
                self.dead = true;
                false
            }
        }
    }
}

/// The container's stdin: a pipe (closed at the end of input), or a dup of the pty master
/// (never closed from here: a tty has no half-close).
pub struct StdinSink {
    pub file: File,
    buf: Vec<u8>,
    pub close_requested: bool,
    pub tty: bool,
}

impl StdinSink {
    pub fn new(file: File, tty: bool) -> StdinSink {
        StdinSink {
            file,
            buf: Vec::new(),
            close_requested: false,
            tty,
        }
    }

    pub fn room(&self) -> usize {
        MAX_STDIN_BACKLOG.saturating_sub(self.buf.len())
    }

    pub fn has_backlog(&self) -> bool {
        !self.buf.is_empty()
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Write what the container takes. Err: the container closed its end.
    pub fn flush(&mut self) -> Result<(), ()> {
        while !self.buf.is_empty() {
            match self.file.write(&self.buf) {
                Ok(n) => {
                    self.buf.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(()),
            }
        }
        if self.buf.is_empty() && self.buf.capacity() > 16 * 1024 {
            self.buf = Vec::new();
        }
        Ok(())
    }

    /// Input ended and everything was delivered: close the pipe so the container sees EOF.
    pub fn finished(&self) -> bool {
        self.close_requested && !self.tty && self.buf.is_empty()
    }
}

#[derive(Debug, PartialEq)]
pub enum CtlCommand {
    Resize { rows: u16, cols: u16 },
}

pub fn parse_ctl(line: &str) -> Result<CtlCommand, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["resize", rows, cols] => {
            let n = |s: &str| s.parse::<u16>().map_err(|_| format!("bad size {s:?}"));
            Ok(CtlCommand::Resize {
                rows: n(rows)?,
                cols: n(cols)?,
            })
        }
        _ => Err(format!(
            "unknown command {line:?} (expected: resize ROWS COLS)"
        )),
    }
}

/// A control connection: newline-terminated commands, one reply line each.
pub struct CtlClient {
    pub stream: UnixStream,
    line: Vec<u8>,
    pub dead: bool,
}

const MAX_CTL_LINE: usize = 256;

impl CtlClient {
    pub fn new(stream: UnixStream) -> CtlClient {
        let _ = stream.set_nonblocking(true);
        CtlClient {
            stream,
            line: Vec::new(),
            dead: false,
        }
    }

    /// Read and run the complete commands; `run` executes one and returns its reply.
    pub fn serve(&mut self, mut run: impl FnMut(CtlCommand) -> Result<(), String>) {
        let mut buf = [0u8; 256];
        match self.stream.read(&mut buf) {
            Ok(0) => self.dead = true,
            Ok(n) => self.line.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            Err(_) => self.dead = true,
        }
        while let Some(pos) = self.line.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.line.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&line);
            let reply = match parse_ctl(text.trim()).and_then(&mut run) {
                Ok(()) => "ok\n".to_string(),
                Err(e) => format!("error: {e}\n"),
            };
            // Replies are tiny; a client that does not read them loses them.
            let _ = self.stream.write(reply.as_bytes());
        }
        if self.line.len() > MAX_CTL_LINE {
            self.dead = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_stream_and_big_endian_length() {
        assert_eq!(
            frame_header(Stream::Stderr, 0x0102_0304),
            [2, 0, 0, 0, 1, 2, 3, 4]
        );
    }

    #[test]
    fn a_client_that_stops_reading_loses_whole_frames_only() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let mut c = Client::new(ours);
        let chunk = vec![b'x'; 8000];
        for _ in 0..200 {
            c.send(Stream::Stdout, &chunk);
        }
        assert!(c.dropped_frames > 0 && !c.dead);
        // What arrives is a sequence of intact frames.
        theirs.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        loop {
            let mut buf = [0u8; 65536];
            match theirs.read(&mut buf) {
                Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                _ => {
                    c.flush();
                    if !c.has_backlog() {
                        let _ = theirs.read_to_end(&mut got);
                        break;
                    }
                }
            }
        }
        let mut rest = &got[..];
        while !rest.is_empty() {
            assert_eq!(&rest[..4], &[1, 0, 0, 0]);
            let len = u32::from_be_bytes(rest[4..8].try_into().unwrap()) as usize;
            assert_eq!(len, 8000);
            rest = &rest[8 + len..];
        }
    }

    #[test]
    fn half_close_ends_input_but_full_close_detaches() {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let mut c = Client::new(ours);
        theirs.shutdown(std::net::Shutdown::Write).unwrap();
        assert!(c.read_input(None));
        assert!(c.input_closed && !c.dead);

        let (ours, theirs) = UnixStream::pair().unwrap();
        let mut c = Client::new(ours);
        drop(theirs);
        assert!(!c.read_input(None));
        assert!(c.dead);
    }

    #[test]
    fn parses_resize_and_rejects_the_rest() {
        assert_eq!(
            parse_ctl("resize 24 80"),
            Ok(CtlCommand::Resize { rows: 24, cols: 80 })
        );
        assert!(parse_ctl("resize 24").is_err());
        assert!(parse_ctl("resize -1 80").is_err());
        assert!(parse_ctl("stop").is_err());
    }
}
