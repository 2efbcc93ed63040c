//! Streams: attach (a hijacked connection proxied to the monitor's attach socket), logs
//! (the json-file log, framed like Docker's), resize.

use std::io::{BufRead, BufReader, Seek};
use std::path::{Path as FsPath, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use super::record::Status;
use crate::api::AppState;
use crate::errors::ApiError;
use crate::query::QueryParams as Query;

/// `POST /containers/{id}/attach`: 101, then container output (multiplexed frames without a
/// TTY, raw bytes with one) and, with `stdin=1`, client bytes to the container's stdin.
pub async fn attach(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    mut req: Request,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let want_stdin = q.bool("stdin");
    let c = s.containers.clone();
    let record = c.call(move |c| c.find(&id)).await?;
    let tty = record.tty();
    let on_upgrade = hyper::upgrade::on(&mut req);
    let id = record.id.clone();
    // Register before replying, so a `start` that follows right after finds us waiting.
    let waiter = if record.state.status.is_live() {
        None
    } else {
        Some(c.wait_for_monitor(&id))
    };
    let sock = c.run_dir(&id).join("attach.sock");
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut client = TokioIo::new(upgraded);
        let mut ack = None;
        if let Some(waiter) = waiter {
            match waiter.await {
                Ok(a) => ack = Some(a),
                Err(_) => return,
            }
        }
        let monitor = UnixStream::connect(&sock).await;
        if let Some(a) = ack {
            let _ = a.send(());
        }
        let Ok(monitor) = monitor else {
            let _ = client.shutdown().await;
            return;
        };
        proxy(client, monitor, tty, want_stdin).await;
    });
    Ok(Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONTENT_TYPE, "application/vnd.docker.raw-stream")
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "tcp")
        .body(Body::empty())
        .unwrap_or_default())
}

async fn proxy(
    client: TokioIo<hyper::upgrade::Upgraded>,
    monitor: UnixStream,
    tty: bool,
    stdin: bool,
) {
    let (mut client_r, mut client_w) = tokio::io::split(client);
    let (mut mon_r, mut mon_w) = monitor.into_split();
    let input = async move {
        if !stdin {
            return;
        }
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match client_r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if mon_w.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
        // The client closed its side: the container's stdin ends (echo hi | docker run -i).
        let _ = mon_w.shutdown().await;
    };
    let output = async move {
        let mut header = [0u8; 8];
        let mut payload = Vec::new();
        loop {
            if mon_r.read_exact(&mut header).await.is_err() {
                break;
            }
            let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
            payload.resize(len, 0);
            if mon_r.read_exact(&mut payload).await.is_err() {
                break;
            }
            let sent = if tty {
                client_w.write_all(&payload).await
            } else {
                match client_w.write_all(&header).await {
                    Ok(()) => client_w.write_all(&payload).await,
                    Err(e) => Err(e),
                }
            };
            if sent.is_err() {
                break;
            }
        }
        let _ = client_w.shutdown().await;
    };
    tokio::pin!(output);
    tokio::select! {
        () = &mut output => {}
        () = async { input.await; std::future::pending::<()>().await } => {}
    }
}

/// `POST /containers/{id}/resize?h=&w=`.
pub async fn resize(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let (h, w) = (q.int("h", 0)?, q.int("w", 0)?);
    let record = s.containers.call(move |c| c.find(&id)).await?;
    let ctl = s.containers.run_dir(&record.id).join("ctl.sock");
    if let Ok(mut sock) = UnixStream::connect(&ctl).await {
        let _ = sock.write_all(format!("resize {h} {w}\n").as_bytes()).await;
        let mut reply = [0u8; 64];
        let _ = tokio::time::timeout(Duration::from_secs(1), sock.read(&mut reply)).await;
    }
    Ok(StatusCode::OK.into_response())
}

/// `GET /containers/{id}/logs?stdout&stderr&follow&tail&timestamps&since`.
pub async fn logs(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let opts = LogOptions {
        stdout: q.bool("stdout"),
        stderr: q.bool("stderr"),
        follow: q.bool("follow"),
        timestamps: q.bool("timestamps"),
        tail: q.get("tail").and_then(|t| t.parse::<usize>().ok()),
        since: q
            .get("since")
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(0.0),
    };
    let record = s.containers.call(move |c| c.find(&id)).await?;
    let tty = record.tty();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let containers = s.containers.clone();
    let id = record.id.clone();
    let log_path = record.log_path.clone();
    tokio::task::spawn_blocking(move || {
        let send = |entry: &LogEntry| {
            let bytes = frame(entry, tty, opts.timestamps);
            tx.blocking_send(Ok(bytes)).is_ok()
        };
        let (mut file, mut pos) = match read_existing(&log_path, &opts, &send) {
            Some(v) => v,
            None => return,
        };
        if !opts.follow {
            return;
        }
        loop {
            let live = matches!(containers.find(&id), Ok(r) if r.state.status.is_live() || r.state.status == Status::Created);
            // Rotation: the file we hold was renamed; continue with the new one.
            if std::fs::metadata(&log_path)
                .map(|m| m.len() < pos)
                .unwrap_or(false)
            {
                match std::fs::File::open(&log_path) {
                    Ok(f) => {
                        file = f;
                        pos = 0;
                    }
                    Err(_) => return,
                }
            }
            let _ = file.seek(std::io::SeekFrom::Start(pos));
            let mut reader = BufReader::new(&file);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if !line.ends_with('\n') {
                    break;
                }
                pos += line.len() as u64;
                if let Some(entry) = parse_line(&line) {
                    if opts.wants(&entry) && !send(&entry) {
                        return;
                    }
                }
                line.clear();
            }
            if !live || tx.is_closed() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let stream = tokio_stream_from(rx);
    let content_type = if tty {
        "application/vnd.docker.raw-stream"
    } else {
        "application/vnd.docker.multiplexed-stream"
    };
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from_stream(stream))
        .unwrap_or_default())
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[derive(Clone, Copy)]
struct LogOptions {
    stdout: bool,
    stderr: bool,
    follow: bool,
    timestamps: bool,
    tail: Option<usize>,
    since: f64,
}

impl LogOptions {
    fn wants(&self, e: &LogEntry) -> bool {
        let stream_ok = if e.stderr { self.stderr } else { self.stdout };
        stream_ok && (self.since <= 0.0 || e.unix >= self.since)
    }
}

struct LogEntry {
    text: String,
    stderr: bool,
    time: String,
    unix: f64,
}

fn parse_line(line: &str) -> Option<LogEntry> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let time = v["time"].as_str().unwrap_or_default().to_string();
    let unix = crate::timefmt::parse_rfc3339(&time).unwrap_or(0) as f64;
    Some(LogEntry {
        text: v["log"].as_str().unwrap_or_default().to_string(),
        stderr: v["stream"].as_str() == Some("stderr"),
        time,
        unix,
    })
}

/// The log files oldest first (rotated `.N` … `.1`, then the current one).
fn log_files(path: &FsPath) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for n in (1..100).rev() {
        let p = PathBuf::from(format!("{}.{n}", path.display()));
        if p.exists() {
            files.push(p);
        }
    }
    files.push(path.to_path_buf());
    files
}

/// Send what the log holds now; return the current file and the offset read up to.
fn read_existing(
    path: &FsPath,
    opts: &LogOptions,
    send: &dyn Fn(&LogEntry) -> bool,
) -> Option<(std::fs::File, u64)> {
    let mut entries = Vec::new();
    let mut pos = 0;
    for file in log_files(path) {
        let Ok(f) = std::fs::File::open(&file) else {
            continue;
        };
        let mut reader = BufReader::new(f);
        let mut line = String::new();
        let mut read = 0u64;
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            if !line.ends_with('\n') {
                break;
            }
            read += line.len() as u64;
            if let Some(e) = parse_line(&line) {
                if opts.wants(&e) {
                    entries.push(e);
                }
            }
            line.clear();
        }
        if file == path {
            pos = read;
        }
    }
    let skip = opts
        .tail
        .map(|t| entries.len().saturating_sub(t))
        .unwrap_or(0);
    for e in entries.iter().skip(skip) {
        if !send(e) {
            return None;
        }
    }
    let file = std::fs::File::open(path).ok()?;
    Some((file, pos))
}

fn frame(e: &LogEntry, tty: bool, timestamps: bool) -> Bytes {
    let mut payload = Vec::with_capacity(e.text.len() + 40);
    if timestamps {
        payload.extend_from_slice(e.time.as_bytes());
        payload.push(b' ');
    }
    payload.extend_from_slice(e.text.as_bytes());
    if tty {
        return Bytes::from(payload);
    }
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.push(if e.stderr { 2 } else { 1 });
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(&payload);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_parsing() {
        let e = parse_line(
            "{\"log\":\"hi\\n\",\"stream\":\"stderr\",\"time\":\"2026-01-01T00:00:00.5Z\"}\n",
        )
        .unwrap();
        assert!(e.stderr);
        let f = frame(&e, false, false);
        assert_eq!(&f[..8], &[2, 0, 0, 0, 0, 0, 0, 3]);
        assert_eq!(&f[8..], b"hi\n");
        assert_eq!(&frame(&e, true, false)[..], b"hi\n");
        let ts = frame(&e, true, true);
        assert!(ts.starts_with(b"2026-01-01T00:00:00.5Z hi"));
    }
}
