//! Streaming image transfers: `load` (tar body → store), `save` (store → tar reply) and
//! `create` (import of a rootfs tar, or a pull). Bodies are never held whole in
//! memory: the request body is bridged into the blocking store call as a `Read`, and a save
//! is sent chunk by chunk as the store writes it.

use std::io;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api::{blocking, AppState};
use crate::errors::ApiError;
use crate::import::{import_rootfs, ImportRequest};
use crate::query::QueryParams;
use crate::streaming::{blocking_body, body_reader};

/// Docker's JSON message stream: one object per line.
fn json_lines(lines: &[serde_json::Value]) -> Response {
    let mut body = Vec::new();
    for l in lines {
        body.extend_from_slice(l.to_string().as_bytes());
        body.push(b'\n');
    }
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// `POST /images/load?quiet=` with a docker-archive or OCI-layout tar body.
pub async fn load(
    State(state): State<AppState>,
    _q: QueryParams,
    req: Request,
) -> Result<Response, ApiError> {
    let mut reader = body_reader(req);
    let images = state.images.clone();
    let loaded = blocking(move || Ok(images.load(&mut reader)?)).await?;
    let mut lines = Vec::new();
    for image in &loaded {
        if image.repo_tags.is_empty() {
            lines.push(json!({"stream": format!("Loaded image ID: {}\n", image.id)}));
        }
        for tag in &image.repo_tags {
            lines.push(json!({"stream": format!("Loaded image: {tag}\n")}));
        }
    }
    Ok(json_lines(&lines))
}

/// `GET /images/get?names=a&names=b`
pub async fn save_many(
    State(state): State<AppState>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let names: Vec<String> = q
        .get_all("names")
        .into_iter()
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    if names.is_empty() {
        return Err(ApiError::MissingParameter { name: "names" });
    }
    save_stream(&state, names).await
}

/// Streams a docker-archive of `names`. Every name is resolved first, so a missing image is
/// a 404 rather than a truncated archive; a failure after the first byte aborts the reply.
pub async fn save_stream(state: &AppState, names: Vec<String>) -> Result<Response, ApiError> {
    let images = state.images.clone();
    let check = names.clone();
    blocking(move || {
        for n in &check {
            images.inspect(n)?;
        }
        Ok(())
    })
    .await?;

    let images = state.images.clone();
    let body = blocking_body(format!("save of {names:?}"), move |out| {
        images
            .save(&names, out)
            .map_err(|e| io::Error::other(e.to_string()))
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-tar")],
        body,
    )
        .into_response())
}

/// `POST /images/create`: `fromSrc=-` imports the body as a rootfs tar (`docker import`);
/// `fromImage` pulls from a registry (see [`crate::pull`]).
pub async fn create(
    State(state): State<AppState>,
    q: QueryParams,
    req: Request,
) -> Result<Response, ApiError> {
    if let Some(image) = q.non_empty("fromImage") {
        let reference = crate::pull::pull_reference(image, q.non_empty("tag"));
        return crate::pull::pull(&state, reference, q.non_empty("platform"), req.headers()).await;
    }
    match q.non_empty("fromSrc") {
        Some("-") => {}
        Some(other) => {
            return Err(ApiError::InvalidParameter {
                name: "fromSrc",
                value: other.to_owned(),
                reason: "only \"-\" (the request body) is supported",
            })
        }
        None => return Err(ApiError::MissingParameter { name: "fromImage" }),
    }
    let request = ImportRequest {
        repo_tag: q
            .non_empty("repo")
            .map(|repo| crate::images::join_repo_tag(repo, q.non_empty("tag"))),
        message: q.non_empty("message").map(str::to_owned),
        changes: q
            .get_all("changes")
            .into_iter()
            .map(str::to_owned)
            .collect(),
    };
    let mut reader = body_reader(req);
    let images = state.images.clone();
    let tmp = state.config.root.join("tmp");
    let id = blocking(move || import_rootfs(images.as_ref(), &tmp, &mut reader, &request)).await?;
    Ok(json_lines(&[json!({"status": id})]))
}
