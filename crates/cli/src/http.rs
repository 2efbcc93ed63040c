//! A small blocking HTTP/1.1 client over a unix socket: just enough of RFC 9112 for the Docker
//! Engine API (Content-Length and chunked bodies, streamed request bodies, keep-alive, and the
//! `Upgrade: tcp` hijack that attach and exec use). No async runtime: the CLI's start-up time is
//! benchmarked against docker's.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Errors of the transport itself; daemon errors (status >= 400) are the client's business.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("i/o error talking to the daemon")]
    Io(#[from] io::Error),
    #[error("malformed HTTP response from the daemon: {0}")]
    Malformed(String),
    #[error("unable to upgrade to tcp, received {0}")]
    NotUpgraded(u16),
}

pub type Result<T> = std::result::Result<T, HttpError>;

/// A request body.
pub enum Body<'a> {
    Empty,
    Bytes(&'a [u8], &'a str),
    /// Streamed with `Transfer-Encoding: chunked` (image load, import, cp to a container).
    Stream(&'a mut dyn Read, &'a str),
}

/// One open connection to the daemon.
pub struct Conn {
    reader: BufReader<UnixStream>,
}

impl Conn {
    pub fn connect(path: &Path) -> io::Result<Conn> {
        Ok(Conn::from_stream(UnixStream::connect(path)?))
    }

    pub fn from_stream(stream: UnixStream) -> Conn {
        Conn {
            reader: BufReader::with_capacity(64 * 1024, stream),
        }
    }

    fn stream(&self) -> &UnixStream {
        self.reader.get_ref()
    }

    /// Writes one request. `headers` are extra `(name, value)` pairs.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Body<'_>,
    ) -> Result<()> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: api.moby.localhost\r\nUser-Agent: Vessel-Client/{} (linux)\r\n",
            env!("CARGO_PKG_VERSION")
        );
        for (k, v) in headers {
            head.push_str(k);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        let mut w = self.stream();
        match body {
            Body::Empty => {
                if method == "POST" || method == "PUT" {
                    head.push_str("Content-Length: 0\r\n");
                }
                head.push_str("\r\n");
                w.write_all(head.as_bytes())?;
            }
            Body::Bytes(b, ctype) => {
                head.push_str(&format!(
                    "Content-Type: {ctype}\r\nContent-Length: {}\r\n\r\n",
                    b.len()
                ));
                // One write for head and small body: fewer syscalls on the hot path.
                let mut buf = head.into_bytes();
                buf.extend_from_slice(b);
                w.write_all(&buf)?;
            }
            Body::Stream(r, ctype) => {
                head.push_str(&format!(
                    "Content-Type: {ctype}\r\nTransfer-Encoding: chunked\r\n\r\n"
                ));
                w.write_all(head.as_bytes())?;
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = match r.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e.into()),
                    };
                    w.write_all(format!("{n:x}\r\n").as_bytes())?;
                    w.write_all(&buf[..n])?;
                    w.write_all(b"\r\n")?;
                }
                w.write_all(b"0\r\n\r\n")?;
            }
        }
        Ok(())
    }

    /// Reads the status line and headers of the reply to a request sent with `send`.
    pub fn read_response(mut self, method: &str) -> Result<Response> {
        let (status, headers) = read_head(&mut self.reader)?;
        let header = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let framing =
            if method == "HEAD" || status == 204 || status == 304 || (100..200).contains(&status) {
                Framing::Length(0)
            } else if header("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
            {
                Framing::Chunked(ChunkState::Size)
            } else if let Some(len) = header("Content-Length") {
                Framing::Length(
                    len.trim()
                        .parse()
                        .map_err(|_| HttpError::Malformed(format!("Content-Length {len:?}")))?,
                )
            } else {
                Framing::UntilClose
            };
        let keep_alive = !header("Connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
            && !matches!(framing, Framing::UntilClose);
        Ok(Response {
            status,
            headers,
            conn: self,
            framing,
            keep_alive,
        })
    }

    /// Sends a request asking for `Upgrade: tcp` and returns the raw duplex stream once the
    /// daemon answers 101. Any other success status is an error (like docker's "unable to
    /// upgrade"); an error status comes back as the response so the caller can read its message.
    pub fn upgrade(
        mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<std::result::Result<Hijacked, Response>> {
        let headers = [("Connection", "Upgrade"), ("Upgrade", "tcp")];
        match body {
            Some(b) => self.send(method, path, &headers, Body::Bytes(b, "application/json"))?,
            None => self.send(method, path, &headers, Body::Bytes(b"", "text/plain"))?,
        }
        let resp = self.read_response(method)?;
        match resp.status {
            101 => Ok(Ok(Hijacked {
                reader: resp.conn.reader,
            })),
            s if s >= 400 => Ok(Err(resp)),
            s => Err(HttpError::NotUpgraded(s)),
        }
    }
}

fn read_head(r: &mut impl BufRead) -> Result<(u16, Vec<(String, String)>)> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(HttpError::Malformed(
            "connection closed before a response".into(),
        ));
    }
    let mut parts = line.trim_end().splitn(3, ' ');
    let proto = parts.next().unwrap_or("");
    if !proto.starts_with("HTTP/1.") {
        return Err(HttpError::Malformed(format!(
            "status line {:?}",
            line.trim_end()
        )));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| HttpError::Malformed(format!("status line {:?}", line.trim_end())))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(HttpError::Malformed("connection closed in headers".into()));
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Ok((status, headers))
}

enum ChunkState {
    Size,
    Data(u64),
    Done,
}

enum Framing {
    Length(u64),
    Chunked(ChunkState),
    UntilClose,
}

/// A response whose body is read on demand (so long streams like events and logs -f work).
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    conn: Conn,
    framing: Framing,
    keep_alive: bool,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn read_all(&mut self) -> Result<Vec<u8>> {
        let mut v = Vec::new();
        self.read_to_end(&mut v)?;
        Ok(v)
    }

    /// Gives the connection back for reuse once the body has been read to its end.
    pub fn into_conn(self) -> Option<Conn> {
        let done = matches!(
            self.framing,
            Framing::Length(0) | Framing::Chunked(ChunkState::Done)
        );
        (done && self.keep_alive).then_some(self.conn)
    }

    fn read_chunked(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Framing::Chunked(state) = &mut self.framing else {
                unreachable!()
            };
            match state {
                ChunkState::Done => return Ok(0),
                ChunkState::Size => {
                    let mut line = String::new();
                    if self.conn.reader.read_line(&mut line)? == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "connection closed inside a chunked body",
                        ));
                    }
                    let hex = line.trim().split(';').next().unwrap_or("").trim();
                    if hex.is_empty() {
                        continue; // tolerate a stray CRLF
                    }
                    let size = u64::from_str_radix(hex, 16).map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("bad chunk size {hex:?}"),
                        )
                    })?;
                    if size == 0 {
                        // Trailers, then the blank line.
                        loop {
                            line.clear();
                            if self.conn.reader.read_line(&mut line)? == 0 || line.trim().is_empty()
                            {
                                break;
                            }
                        }
                        *state = ChunkState::Done;
                        return Ok(0);
                    }
                    *state = ChunkState::Data(size);
                }
                ChunkState::Data(left) => {
                    let want = (*left).min(buf.len() as u64) as usize;
                    let n = self.conn.reader.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "connection closed inside a chunk",
                        ));
                    }
                    *left -= n as u64;
                    if *left == 0 {
                        let mut crlf = [0u8; 2];
                        self.conn.reader.read_exact(&mut crlf)?;
                        *state = ChunkState::Size;
                    }
                    return Ok(n);
                }
            }
        }
    }
}

impl Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        match &mut self.framing {
            Framing::Length(0) => Ok(0),
            Framing::Length(left) => {
                let want = (*left).min(buf.len() as u64) as usize;
                let n = self.conn.reader.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed before the end of the body",
                    ));
                }
                *left -= n as u64;
                Ok(n)
            }
            Framing::UntilClose => self.conn.reader.read(buf),
            Framing::Chunked(_) => self.read_chunked(buf),
        }
    }
}

/// The raw duplex stream after a 101 (attach, exec start). Bytes the daemon sent right after
/// the headers are kept in the reader's buffer, so nothing is lost.
pub struct Hijacked {
    pub reader: BufReader<UnixStream>,
}

impl Hijacked {
    pub fn writer(&self) -> io::Result<UnixStream> {
        self.reader.get_ref().try_clone()
    }

    /// Half-close: tells the daemon stdin is finished, while output keeps flowing.
    pub fn close_write(&self) -> io::Result<()> {
        self.reader.get_ref().shutdown(Shutdown::Write)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    /// A fake daemon on one end of a socketpair: reads one request head (and body if it has a
    /// Content-Length) and answers with `reply`. Returns the raw request it saw.
    fn fake(reply: &'static [u8]) -> (Conn, thread::JoinHandle<String>) {
        let (a, b) = UnixStream::pair().unwrap();
        let h = thread::spawn(move || {
            let mut r = BufReader::new(b.try_clone().unwrap());
            let mut req = String::new();
            let mut len = 0;
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if let Some(v) = line.strip_prefix("Content-Length: ") {
                    len = v.trim().parse().unwrap();
                }
                req.push_str(&line);
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            req.push_str(&String::from_utf8(body).unwrap());
            (&b).write_all(reply).unwrap();
            req
        });
        (Conn::from_stream(a), h)
    }

    #[test]
    fn content_length_body_and_keepalive() {
        let (mut c, h) =
            fake(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nApi-Version: 1.41\r\n\r\nOK");
        c.send("GET", "/_ping", &[], Body::Empty).unwrap();
        let mut r = c.read_response("GET").unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.header("api-version"), Some("1.41"));
        assert_eq!(r.read_all().unwrap(), b"OK");
        assert!(r.into_conn().is_some());
        assert!(h.join().unwrap().starts_with("GET /_ping HTTP/1.1\r\n"));
    }

    #[test]
    fn head_has_no_body_even_with_length() {
        let (mut c, _h) = fake(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        c.send("HEAD", "/_ping", &[], Body::Empty).unwrap();
        let mut r = c.read_response("HEAD").unwrap();
        assert!(r.read_all().unwrap().is_empty());
    }

    #[test]
    fn chunked_body_with_extension_and_trailer() {
        let (mut c, _h) = fake(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n7\r\n, world\r\n0\r\nX-T: 1\r\n\r\n",
        );
        c.send("GET", "/x", &[], Body::Empty).unwrap();
        let mut r = c.read_response("GET").unwrap();
        assert_eq!(r.read_all().unwrap(), b"hello, world");
        assert!(r.into_conn().is_some());
    }

    #[test]
    fn chunked_streaming_reads_return_partial_data() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut c = Conn::from_stream(a);
        c.send("GET", "/events", &[], Body::Empty).unwrap();
        (&b).write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{}\n\r\n")
            .unwrap();
        let mut r = c.read_response("GET").unwrap();
        let mut buf = [0u8; 100];
        // The first event is readable before the stream ends.
        assert_eq!(r.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"{}\n");
        drop(b);
        assert!(r.read(&mut buf).is_err());
    }

    #[test]
    fn json_request_body_is_sent_with_length() {
        let (mut c, h) = fake(b"HTTP/1.1 201 Created\r\nContent-Length: 9\r\n\r\n{\"Id\":1}\n");
        c.send(
            "POST",
            "/v1.41/containers/create",
            &[],
            Body::Bytes(b"{\"a\":1}", "application/json"),
        )
        .unwrap();
        let mut r = c.read_response("POST").unwrap();
        assert_eq!(r.status, 201);
        assert_eq!(r.read_all().unwrap(), b"{\"Id\":1}\n");
        let req = h.join().unwrap();
        assert!(
            req.contains("Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"a\":1}")
        );
    }

    #[test]
    fn streamed_request_body_is_chunked() {
        let (a, b) = UnixStream::pair().unwrap();
        let mut c = Conn::from_stream(a);
        let mut src: &[u8] = b"tar bytes";
        c.send(
            "POST",
            "/images/load",
            &[],
            Body::Stream(&mut src, "application/x-tar"),
        )
        .unwrap();
        drop(c);
        let mut got = String::new();
        BufReader::new(b).read_to_string(&mut got).unwrap();
        assert!(got.contains("Transfer-Encoding: chunked\r\n\r\n9\r\ntar bytes\r\n0\r\n\r\n"));
    }

    #[test]
    fn upgrade_keeps_bytes_sent_with_the_101() {
        let (c, _h) = fake(
            b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n\x01\x00\x00\x00\x00\x00\x00\x03hi\n",
        );
        let mut h = c.upgrade("POST", "/attach", None).unwrap().ok().unwrap();
        let mut out = Vec::new();
        h.reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n");
    }

    #[test]
    fn upgrade_refused_with_200_is_an_error() {
        let (c, _h) = fake(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        let e = c.upgrade("POST", "/attach", None).err().unwrap();
        assert_eq!(e.to_string(), "unable to upgrade to tcp, received 200");
    }

    #[test]
    fn upgrade_error_status_returns_the_response() {
        let (c, _h) = fake(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 28\r\n\r\n{\"message\":\"No such thing\"}\n",
        );
        let mut resp = c.upgrade("POST", "/attach", None).unwrap().err().unwrap();
        assert_eq!(resp.status, 404);
        assert!(resp.read_all().unwrap().starts_with(b"{\"message\""));
    }

    #[test]
    fn garbage_status_line_is_malformed() {
        let (mut c, _h) = fake(b"SSH-2.0-OpenSSH\r\n\r\n");
        c.send("GET", "/", &[], Body::Empty).unwrap();
        assert!(matches!(
            c.read_response("GET"),
            Err(HttpError::Malformed(_))
        ));
    }
}
