//! `POST /build`: the legacy builder protocol (`DOCKER_BUILDKIT=0 docker build`,
//! docker-compose `build:`). The body is a tar of the context; the reply is the JSON message
//! stream (`stream`, `aux`, and on failure a final `errorDetail` — still HTTP 200, as Docker
//! does, so the CLI can exit with the failing command's code).

use std::collections::BTreeMap;
use std::io;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::TryStreamExt;
use tokio::sync::mpsc;
use tokio_util::io::{StreamReader, SyncIoBridge};
use vessel_builder::instructions::Network;
use vessel_builder::progress::{error_json, event_json};
use vessel_builder::{BuildOptions, Event, RunConfig};

use crate::api::AppState;
use crate::errors::ApiError;
use crate::query::QueryParams;

/// A JSON object of strings in the query (`buildargs`, `labels`); `null` values (an
/// argument the client could not resolve) are dropped.
fn json_map(q: &QueryParams, name: &'static str) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(raw) = q.non_empty(name) else {
        return Ok(BTreeMap::new());
    };
    let m: BTreeMap<String, Option<String>> =
        serde_json::from_str(raw).map_err(|_| ApiError::InvalidParameter {
            name,
            value: raw.to_owned(),
            reason: "expected a JSON object of strings",
        })?;
    Ok(m.into_iter().filter_map(|(k, v)| Some((k, v?))).collect())
}

fn options(q: &QueryParams, run: RunConfig) -> Result<BuildOptions, ApiError> {
    let mut o = BuildOptions::new(run);
    o.tags = q
        .get_all("t")
        .into_iter()
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    o.dockerfile = q.non_empty("dockerfile").map(str::to_owned);
    o.build_args = json_map(q, "buildargs")?;
    o.labels = json_map(q, "labels")?;
    o.no_cache = q.bool("nocache");
    o.target = q.non_empty("target").map(str::to_owned);
    o.quiet = q.bool("q");
    o.network = match q.non_empty("networkmode") {
        None | Some("default") | Some("none") | Some("bridge") => Network::None,
        Some("host") => Network::Host,
        Some(other) => {
            return Err(ApiError::InvalidParameter {
                name: "networkmode",
                value: other.to_owned(),
                reason: "builds support the host and none networks",
            })
        }
    };
    // BuildKit's convention: SOURCE_DATE_EPOCH as a build arg makes the build reproducible.
    if let Some(v) = o.build_args.get("SOURCE_DATE_EPOCH") {
        o.source_date_epoch = Some(v.parse().map_err(|_| ApiError::InvalidParameter {
            name: "buildargs",
            value: v.clone(),
            reason: "SOURCE_DATE_EPOCH must be Unix seconds",
        })?);
    }
    // `pull`, `rm`, `forcerm`, `platform`, `version`: images are local, intermediate
    // containers are always removed, only the host platform is built.
    Ok(o)
}

fn line(v: serde_json::Value) -> Bytes {
    let mut b = v.to_string().into_bytes();
    b.extend_from_slice(b"\r\n");
    Bytes::from(b)
}

pub async fn build(
    State(state): State<AppState>,
    q: QueryParams,
    req: Request,
) -> Result<Response, ApiError> {
    let images = state.images.clone();
    let run = images
        .store()
        .map(|s| RunConfig::default_for(s.root()))
        .unwrap_or_else(|| RunConfig::default_for(std::path::Path::new("/var/lib/vessel/image")));
    let mut opts = options(&q, run)?;
    opts.build_args.remove("SOURCE_DATE_EPOCH");
    let stream = req.into_body().into_data_stream().map_err(io::Error::other);
    let mut body = SyncIoBridge::new(StreamReader::new(stream));
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::task::spawn_blocking(move || {
        let send = |b: Bytes| {
            let _ = tx.blocking_send(b);
        };
        let Some(store) = images.store() else {
            send(line(serde_json::json!({
                "errorDetail": {"message": "this daemon's image service cannot build"},
                "error": "this daemon's image service cannot build",
            })));
            return;
        };
        let mut progress = |ev: Event| send(line(event_json(&ev)));
        if let Err(e) = vessel_builder::build_tar(store, &mut body, &opts, &mut progress) {
            tracing::info!("build failed: {e}");
            send(line(error_json(&e)));
        }
    });
    let out = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, io::Error>(b), rx))
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(out),
    )
        .into_response())
}
