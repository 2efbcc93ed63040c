//! The accept loop: plain or TLS connections served by hyper's HTTP/1, drained gracefully
//! when the shutdown future completes.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

use crate::api::{self, App};
use crate::error::RegistryError;
use crate::RegistryConfig;

/// How long open connections get to finish after shutdown is asked for.
const DRAIN: Duration = Duration::from_secs(10);
/// Limit on a TLS handshake and on reading a request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves the registry on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    cfg: RegistryConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RegistryError> {
    let tls = match &cfg.tls {
        Some((cert, key)) => Some(tokio_rustls::TlsAcceptor::from(crate::tls::server_config(
            cert, key,
        )?)),
        None => None,
    };
    let local = listener.local_addr().map_err(RegistryError::Accept)?;
    let app = Arc::new(App::new(&cfg, tls.is_some(), local)?);
    let swept = app.uploads.sweep();
    if swept > 0 {
        eprintln!("vessel registry: removed {swept} expired upload(s)");
    }
    let sweeper = {
        let app = app.clone();
        let every = (cfg.upload_ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(600));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let app = app.clone();
                let _ = tokio::task::spawn_blocking(move || app.uploads.sweep()).await;
            }
        })
    };
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning or dying.
                    eprintln!("vessel registry: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let app = app.clone();
            async move { Ok::<_, Infallible>(api::handle(app, req.map(Body::new)).await) }
        });
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            // Bounds how long a client may dribble its request head (slowloris).
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT);
            let res = match tls {
                None => {
                    watcher
                        .watch(builder.serve_connection(TokioIo::new(stream), svc))
                        .await
                }
                Some(acc) => match tokio::time::timeout(HEADER_TIMEOUT, acc.accept(stream)).await {
                    Ok(Ok(s)) => {
                        watcher
                            .watch(builder.serve_connection(TokioIo::new(s), svc))
                            .await
                    }
                    Ok(Err(_)) | Err(_) => return,
                },
            };
            let _ = res;
        });
    }
    sweeper.abort();
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
    Ok(())
}
