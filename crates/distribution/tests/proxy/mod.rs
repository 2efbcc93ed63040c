//! A small HTTP front for a registry, for the tests: one request per connection (it forces
//! `Connection: close`), forwarding to the backend, and either
//! - cutting a blob download after some bytes (once, or every time), or
//! - demanding Bearer tokens that its own `/token` endpoint hands out for Basic credentials
//!   (the distribution token flow without a JWT-checking registry behind it).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub enum Mode {
    /// Cut responses to GETs whose path contains `path`, after `after` bytes; `times` cuts.
    Cut {
        path: String,
        after: usize,
        times: usize,
    },
    /// Require `Bearer` tokens; `/token` gives one for these Basic credentials.
    Bearer { user: String, password: String },
}

#[derive(Default)]
pub struct Seen {
    /// Request lines with their Range header, in order.
    pub requests: Mutex<Vec<String>>,
    /// Scopes asked of /token.
    pub scopes: Mutex<Vec<String>>,
    pub cuts: AtomicUsize,
}

pub struct Proxy {
    pub addr: String,
    pub seen: Arc<Seen>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(backend: &str, mode: Mode) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Seen::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (backend, s2, stop2, me) = (
            backend.to_string(),
            seen.clone(),
            stop.clone(),
            addr.clone(),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (backend, seen, mode, me) =
                    (backend.clone(), s2.clone(), mode.clone(), me.clone());
                std::thread::spawn(move || {
                    let _ = handle(conn, &backend, &mode, &seen, &me);
                });
            }
        });
        Proxy { addr, seen, stop }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(&self.addr);
    }
}

fn read_head(c: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if c.read(&mut b)? == 0 || head.len() > 64 * 1024 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(b[0]);
    }
    Ok(head)
}

fn reply(c: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &str) {
    let mut s = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        s.push_str(&format!("{k}: {v}\r\n"));
    }
    s.push_str("\r\n");
    s.push_str(body);
    let _ = c.write_all(s.as_bytes());
    let _ = c.shutdown(Shutdown::Both);
}

fn handle(
    mut c: TcpStream,
    backend: &str,
    mode: &Mode,
    seen: &Seen,
    me: &str,
) -> std::io::Result<()> {
    // A TLS ClientHello (the client probing HTTPS first): plain HTTP only here, as a
    // Go server would answer, close rather than wait for a request head.
    let mut first = [0u8; 1];
    if c.peek(&mut first)? == 0 || first[0] == 0x16 {
        let _ = c.shutdown(Shutdown::Both);
        return Ok(());
    }
    let head = read_head(&mut c)?;
    let text = String::from_utf8_lossy(&head).to_string();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    seen.requests.lock().unwrap().push(format!(
        "{request_line} range={}",
        get("range").unwrap_or_default()
    ));

    let mut cut_after = None;
    match mode {
        Mode::Bearer { user, password } => {
            if let Some(q) = path.strip_prefix("/token") {
                use base64::Engine as _;
                let want = format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
                );
                for pair in q.trim_start_matches('?').split('&') {
                    if let Some(s) = pair.strip_prefix("scope=") {
                        seen.scopes.lock().unwrap().push(
                            s.replace("%3A", ":")
                                .replace("%2C", ",")
                                .replace("%2F", "/"),
                        );
                    }
                }
                if get("authorization").as_deref() != Some(want.as_str()) {
                    reply(
                        &mut c,
                        "401 Unauthorized",
                        &[],
                        r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#,
                    );
                    return Ok(());
                }
                reply(
                    &mut c,
                    "200 OK",
                    &[("Content-Type", "application/json".into())],
                    r#"{"access_token":"tok-123","expires_in":300}"#,
                );
                return Ok(());
            }
            if get("authorization").as_deref() != Some("Bearer tok-123") {
                let challenge =
                    format!(r#"Bearer realm="http://{me}/token",service="vessel-test""#);
                reply(
                    &mut c,
                    "401 Unauthorized",
                    &[
                        ("WWW-Authenticate", challenge),
                        ("Content-Type", "application/json".into()),
                    ],
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
                );
                return Ok(());
            }
        }
        Mode::Cut {
            path: p,
            after,
            times,
        } => {
            if request_line.starts_with("GET ") && path.contains(p.as_str()) {
                let n = seen.cuts.load(Ordering::SeqCst);
                if n < *times {
                    seen.cuts.fetch_add(1, Ordering::SeqCst);
                    cut_after = Some(*after);
                }
            }
        }
    }

    let mut b = TcpStream::connect(backend)?;
    let mut out = format!("{request_line}\r\n");
    for (k, v) in &headers {
        if k.eq_ignore_ascii_case("connection") || k.eq_ignore_ascii_case("authorization") {
            continue;
        }
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    b.write_all(out.as_bytes())?;
    let (mut c_read, mut b_write) = (c.try_clone()?, b.try_clone()?);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_read, &mut b_write);
    });
    let mut sent = 0usize;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = b.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let n = match cut_after {
            Some(limit) if sent + n >= limit => {
                c.write_all(&buf[..limit - sent])?;
                break;
            }
            _ => n,
        };
        c.write_all(&buf[..n])?;
        sent += n;
    }
    let _ = c.shutdown(Shutdown::Both);
    let _ = b.shutdown(Shutdown::Both);
    Ok(())
}
