//! `POST /images/create?fromImage=` (pull) and `POST /images/{name}/push`: the
//! distribution client runs on a blocking thread and its progress is sent as Docker's JSON
//! message stream, one line per event, so `docker pull` draws its own bars.
//!
//! The reply starts only with the first progress line: an error before it (unknown image,
//! unauthorized) is an ordinary HTTP error, as dockerd answers it; after it, an error is
//! the stream's last line (`errorDetail`).

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;
use tokio::sync::mpsc;
use vessel_distribution::progress::error_json;
use vessel_distribution::{
    error_chain, Credentials, DistError, Platform, Progress, PullOptions, PushOptions,
    RegistryOptions,
};

use crate::api::{json_response, AppState};
use crate::config::DaemonConfig;
use crate::errors::ApiError;

enum Msg {
    Line(String),
    Fail(StatusCode, String),
}

/// Registry settings from daemon.json.
pub fn registry_options(config: &DaemonConfig) -> RegistryOptions {
    RegistryOptions {
        insecure: config.insecure_registries.clone(),
        mirrors: config.registry_mirrors.clone(),
    }
}

/// Credentials from docker's `X-Registry-Auth` header (absent or `{}`: anonymous).
pub fn registry_auth(headers: &HeaderMap) -> Option<Credentials> {
    headers
        .get("x-registry-auth")
        .and_then(|v| v.to_str().ok())
        .and_then(Credentials::from_registry_auth_header)
}

pub fn dist_status(e: &DistError) -> StatusCode {
    match e {
        DistError::ManifestUnknown { .. } => StatusCode::NOT_FOUND,
        DistError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
        DistError::Denied { .. } => StatusCode::FORBIDDEN,
        DistError::Reference { .. } | DistError::Platform(_) | DistError::NoPlatform { .. } => {
            StatusCode::BAD_REQUEST
        }
        DistError::Store(img) if img.kind() == vessel_image::ErrorKind::NotFound => {
            StatusCode::NOT_FOUND
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn error_reply(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "message": message }))
}

/// Runs `work` on a blocking thread with a progress callback and turns its messages into
/// the reply described in the module documentation. `work` returns extra lines to send at
/// the end (push's `aux`).
async fn stream<F>(work: F) -> Response
where
    F: FnOnce(&(dyn Fn(Progress) + Sync)) -> Result<Vec<String>, DistError> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Msg>(64);
    tokio::task::spawn_blocking(move || {
        let progress_tx = tx.clone();
        let progress = move |p: Progress| {
            // A gone client must not stop the pull: a later `docker pull` finds it done.
            let _ = progress_tx.blocking_send(Msg::Line(p.to_json()));
        };
        match work(&progress) {
            Ok(lines) => {
                for l in lines {
                    let _ = tx.blocking_send(Msg::Line(l));
                }
            }
            Err(e) => {
                tracing::info!("registry transfer failed: {}", error_chain(&e));
                let _ = tx.blocking_send(Msg::Fail(dist_status(&e), error_chain(&e)));
            }
        }
    });
    let first = match rx.recv().await {
        Some(Msg::Line(l)) => l,
        Some(Msg::Fail(status, message)) => return error_reply(status, &message),
        None => return error_reply(StatusCode::INTERNAL_SERVER_ERROR, "transfer task ended"),
    };
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        let line = match rx.recv().await? {
            Msg::Line(l) => l,
            Msg::Fail(_, message) => error_json(&message),
        };
        Some((Ok::<_, Infallible>(Bytes::from(line + "\r\n")), rx))
    });
    let head = futures_util::stream::once(async move { Ok(Bytes::from(first + "\r\n")) });
    use futures_util::StreamExt;
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(head.chain(rest)),
    )
        .into_response()
}

/// Image services without a real store (test fakes) cannot pull or push.
fn store_or_404(state: &AppState, image: &str) -> Result<(), ApiError> {
    if state.images.store().is_none() {
        return Err(ApiError::PullNotSupported {
            image: image.to_owned(),
        });
    }
    Ok(())
}

/// `fromImage` (+ `tag`, which may be a digest) as a reference string.
pub fn pull_reference(from_image: &str, tag: Option<&str>) -> String {
    match tag {
        Some(t) if t.starts_with("sha256:") => format!("{from_image}@{t}"),
        Some(t) => format!("{from_image}:{t}"),
        None => from_image.to_owned(),
    }
}

pub async fn pull(
    state: &AppState,
    reference: String,
    platform: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    store_or_404(state, &reference)?;
    let platform = match platform.filter(|p| !p.is_empty()) {
        Some(p) => match Platform::parse(p) {
            Ok(p) => Some(p),
            Err(e) => return Ok(error_reply(StatusCode::BAD_REQUEST, &e.to_string())),
        },
        None => None,
    };
    let opts = PullOptions {
        platform,
        creds: registry_auth(headers),
        registry: registry_options(&state.config),
        cache_dir: Some(state.config.root.join("distribution")),
        ..PullOptions::default()
    };
    let images = state.images.clone();
    Ok(stream(move |progress| {
        let store = images.store().ok_or(DistError::Cancelled)?;
        vessel_distribution::pull(store, &reference, &opts, progress)?;
        Ok(Vec::new())
    })
    .await)
}

/// `POST /images/{name}/push?tag=`
pub async fn push(
    state: &AppState,
    name: &str,
    tag: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let reference = match tag {
        Some(t) => format!("{name}:{t}"),
        None => name.to_owned(),
    };
    store_or_404(state, &reference)?;
    let opts = PushOptions {
        creds: registry_auth(headers),
        registry: registry_options(&state.config),
        cache_dir: Some(state.config.root.join("distribution")),
        tmp_dir: Some(state.config.root.join("tmp")),
        ..PushOptions::default()
    };
    let images = state.images.clone();
    Ok(stream(move |progress| {
        let store = images.store().ok_or(DistError::Cancelled)?;
        let pushed = vessel_distribution::push(store, &reference, &opts, progress)?;
        let aux = json!({
            "progressDetail": {},
            "aux": {"Tag": pushed.tag, "Digest": pushed.digest, "Size": pushed.size}
        });
        Ok(vec![aux.to_string()])
    })
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_auth_header() {
        assert_eq!(pull_reference("busybox", Some("1.36")), "busybox:1.36");
        assert_eq!(
            pull_reference("busybox", Some("sha256:abc")),
            "busybox@sha256:abc"
        );
        assert_eq!(pull_reference("busybox", None), "busybox");
        let mut h = HeaderMap::new();
        assert_eq!(registry_auth(&h), None);
        h.insert("x-registry-auth", "e30=".parse().unwrap());
        assert_eq!(registry_auth(&h), None);
        let c = Credentials::basic("u", "p");
        h.insert(
            "x-registry-auth",
            c.to_registry_auth_header().parse().unwrap(),
        );
        assert_eq!(registry_auth(&h), Some(c));
    }
}
