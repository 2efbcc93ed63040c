//! Output of attach, exec and logs: the 8-byte stream frames of a non-TTY container, or raw
//! bytes with a TTY (Engine API "Attach to a container", stream format).

use std::io::{self, Read, Write};
use std::thread;

use crate::http::Hijacked;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("reading the container's output")]
    Read(#[source] io::Error),
    #[error("unknown stream type {0} in the output frame header")]
    BadStream(u8),
}

/// Copies frames from `r` to `stdout`/`stderr` until EOF. Frames of type 0 (stdin echo) and 3
/// (system error) go to stderr. Output is flushed per frame so interleaving stays live.
pub fn demux(
    r: &mut impl Read,
    stdout: &mut impl Write,
    stderr: &mut impl Write,
) -> Result<(), StreamError> {
    let mut header = [0u8; 8];
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match read_full(r, &mut header).map_err(StreamError::Read)? {
            0 => return Ok(()),
            8 => {}
            _ => {
                return Err(StreamError::Read(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "truncated frame header",
                )))
            }
        }
        let mut left = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let out: &mut dyn Write = match header[0] {
            1 => stdout,
            0 | 2 | 3 => stderr,
            s => return Err(StreamError::BadStream(s)),
        };
        while left > 0 {
            let want = left.min(buf.len());
            let n = r.read(&mut buf[..want]).map_err(StreamError::Read)?;
            if n == 0 {
                return Err(StreamError::Read(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "truncated frame",
                )));
            }
            // A closed stdout (`| head`) must not stop the stream for the other side.
            let _ = out.write_all(&buf[..n]);
            left -= n;
        }
        let _ = out.flush();
    }
}

/// Reads until `buf` is full or EOF; returns how much was read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Copies raw (TTY) output until EOF, flushing each read.
pub fn copy_raw(r: &mut impl Read, out: &mut impl Write) -> Result<(), StreamError> {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StreamError::Read(e)),
        };
        let _ = out.write_all(&buf[..n]);
        let _ = out.flush();
    }
}

/// Prints a container's output, framed or raw by what we know of its TTY.
pub fn print_output(r: &mut impl Read, tty: bool) -> Result<(), StreamError> {
    let stdout = io::stdout();
    let stderr = io::stderr();
    if tty {
        copy_raw(r, &mut stdout.lock())
    } else {
        demux(r, &mut stdout.lock(), &mut stderr.lock())
    }
}

/// Runs a hijacked session: output to our stdout/stderr until the daemon closes the stream;
/// with `stdin`, our stdin is copied in a thread and half-closed at EOF (the daemon reads that
/// as stdin EOF, not as the end of the session). Without stdin the write side is closed at
/// once, as the docker CLI does.
pub fn session(h: Hijacked, stdin: bool, tty: bool) -> Result<(), StreamError> {
    if stdin {
        if let Ok(mut w) = h.writer() {
            thread::spawn(move || {
                let mut input = io::stdin().lock();
                let mut buf = [0u8; 8192];
                loop {
                    match input.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            if w.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                let _ = w.shutdown(std::net::Shutdown::Write);
            });
        }
    } else {
        let _ = h.close_write();
    }
    let mut reader = h.reader;
    print_output(&mut reader, tty)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, data: &[u8]) -> Vec<u8> {
        let mut v = vec![kind, 0, 0, 0];
        v.extend_from_slice(&(data.len() as u32).to_be_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn demux_splits_streams() {
        let mut input = frame(1, b"hi\n");
        input.extend(frame(2, b"err\n"));
        input.extend(frame(1, b""));
        input.extend(frame(1, b"more"));
        let (mut out, mut err) = (Vec::new(), Vec::new());
        demux(&mut &input[..], &mut out, &mut err).unwrap();
        assert_eq!(out, b"hi\nmore");
        assert_eq!(err, b"err\n");
    }

    /// A reader that hands out one byte at a time, like a slow socket.
    struct Trickle<'a>(&'a [u8]);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[0];
            self.0 = &self.0[1..];
            Ok(1)
        }
    }

    #[test]
    fn demux_handles_split_headers() {
        let input = frame(1, b"hello world");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        demux(&mut Trickle(&input), &mut out, &mut err).unwrap();
        assert_eq!(out, b"hello world");
    }

    #[test]
    fn demux_rejects_truncation_and_bad_types() {
        let input = frame(1, b"hello");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert!(demux(&mut &input[..7], &mut out, &mut err).is_err());
        assert!(demux(&mut &input[..10], &mut out, &mut err).is_err());
        let bad = frame(9, b"x");
        assert!(matches!(
            demux(&mut &bad[..], &mut out, &mut err),
            Err(StreamError::BadStream(9))
        ));
    }

    #[test]
    fn raw_copy() {
        let mut out = Vec::new();
        copy_raw(&mut &b"a\r\nb"[..], &mut out).unwrap();
        assert_eq!(out, b"a\r\nb");
    }
}
