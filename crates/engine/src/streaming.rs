//! Bridges between axum bodies and blocking readers/writers, so large transfers (archives,
//! exports) run in `spawn_blocking` without ever holding a whole body in memory.

use std::io::{self, Write};

use axum::body::Body;
use axum::extract::Request;
use bytes::Bytes;
use futures_util::TryStreamExt;
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};

/// Size of the chunks a streamed reply is sent in.
const CHUNK: usize = 64 * 1024;

/// The request body as a blocking reader (for use inside `spawn_blocking` only).
pub fn body_reader(req: Request) -> SyncIoBridge<impl tokio::io::AsyncRead + Unpin> {
    let stream = req.into_body().into_data_stream().map_err(io::Error::other);
    SyncIoBridge::new(StreamReader::new(stream))
}

/// A `Write` that hands full chunks to the async side; fails with `BrokenPipe` once the
/// client has gone.
pub struct ChannelWriter {
    buf: Vec<u8>,
    tx: mpsc::Sender<io::Result<Bytes>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))
    }
}

/// A body produced by `produce` on a blocking thread. Check everything that can fail
/// cheaply before calling this: after the first byte an error can only abort the reply.
pub fn blocking_body<F>(what: String, produce: F) -> Body
where
    F: FnOnce(&mut ChannelWriter) -> io::Result<()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(8);
    tokio::task::spawn_blocking(move || {
        let mut out = ChannelWriter {
            buf: Vec::with_capacity(CHUNK),
            tx: tx.clone(),
        };
        if let Err(e) = produce(&mut out).and_then(|()| out.flush()) {
            if e.kind() != io::ErrorKind::BrokenPipe {
                tracing::warn!("{what} failed: {e}");
            }
            let _ = tx.blocking_send(Err(e));
        }
    });
    Body::from_stream(tokio_stream_of(rx))
}

fn tokio_stream_of(
    mut rx: mpsc::Receiver<io::Result<Bytes>>,
) -> impl futures_util::Stream<Item = io::Result<Bytes>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
