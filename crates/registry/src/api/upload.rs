//! Blob uploads: `POST /v2/<name>/blobs/uploads/` (monolithic with `?digest=`, cross-repo
//! mount with `?mount=&from=`, or a session), then `PATCH`/`PUT`/`GET`/`DELETE` on
//! `/v2/<name>/blobs/uploads/<id>` (spec "Pushing blobs").

use std::sync::Arc;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, Method, Response, StatusCode};
use sha2::{Digest as _, Sha256};

use super::blobs::parse_digest;
use super::{empty, unsupported, App, Grant};
use crate::error::{ApiError, Code};
use crate::httputil::{first, parse_content_range, query};
use crate::names::{valid_name, Digest};
use crate::uploads::write_body;

fn content_length(req: &Parts) -> Option<u64> {
    req.headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn check_length(app: &App, req: &Parts, already: u64) -> Result<(), ApiError> {
    if let (Some(max), Some(len)) = (app.max_upload, content_length(req)) {
        if already + len > max {
            return Err(ApiError::detail(
                Code::TooLarge,
                format!("limit is {max} bytes"),
            ));
        }
    }
    Ok(())
}

fn created(name: &str, d: &Digest) -> Response<Body> {
    empty(
        StatusCode::CREATED,
        &[
            ("Location", format!("/v2/{name}/blobs/{d}")),
            ("Docker-Content-Digest", d.to_string()),
        ],
    )
}

fn session_response(status: StatusCode, name: &str, id: &str, size: u64) -> Response<Body> {
    // Docker's registry writes `0-0` for an empty upload; clients expect it.
    let end = size.saturating_sub(1);
    empty(
        status,
        &[
            ("Location", format!("/v2/{name}/blobs/uploads/{id}")),
            ("Range", format!("0-{end}")),
            ("Docker-Upload-UUID", id.to_string()),
        ],
    )
}

pub async fn start(
    app: &Arc<App>,
    grant: &Grant,
    name: &str,
    req: &Parts,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let q = query(req.uri.query());
    if let (Some(mount), Some(from)) = (first(&q, "mount"), first(&q, "from")) {
        let d = parse_digest(mount)?;
        // A mount the client may not read from, or of a blob `from` lacks, becomes a plain
        // session (the spec's fallback), never an error.
        if valid_name(from)
            && grant.may("repository", from, "pull")
            && app.store.repo_blob_size(from, &d)?.is_some()
        {
            app.store.link_blob(name, &d)?;
            return Ok(created(name, &d));
        }
    } else if let Some(digest) = first(&q, "digest") {
        let d = parse_digest(digest)?;
        monolithic(app, name, &d, req, body).await?;
        return Ok(created(name, &d));
    }
    let id = app.uploads.start(name).await?;
    Ok(session_response(StatusCode::ACCEPTED, name, &id, 0))
}

/// A whole blob in one request: written to `tmp/`, verified, renamed into place.
async fn monolithic(
    app: &Arc<App>,
    name: &str,
    d: &Digest,
    req: &Parts,
    body: Body,
) -> Result<(), ApiError> {
    check_length(app, req, 0)?;
    let expected = content_length(req);
    let tmp = app
        .store
        .tmp_dir()
        .join(uuid::Uuid::new_v4().simple().to_string());
    let res = async {
        let mut f = tokio::fs::File::create(&tmp).await?;
        let mut h = Sha256::new();
        let n = write_body(&mut f, body, Some(&mut h), 0, app.max_upload).await?;
        if expected.is_some_and(|e| e != n) {
            return Err(ApiError::new(Code::SizeInvalid));
        }
        f.sync_all().await?;
        let actual = Digest::from_hasher(h);
        if &actual != d {
            return Err(ApiError::detail(
                Code::DigestInvalid,
                format!("content has digest {actual}, not {d}"),
            ));
        }
        let (store, tmp2, d2) = (app.store.clone(), tmp.clone(), d.clone());
        tokio::task::spawn_blocking(move || store.commit_blob(&tmp2, &d2))
            .await
            .map_err(ApiError::internal)??;
        Ok(())
    }
    .await;
    if res.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    res?;
    app.store.link_blob(name, d)?;
    Ok(())
}

pub async fn handle(
    app: &Arc<App>,
    method: &Method,
    name: &str,
    id: &str,
    req: &Parts,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let session = app.uploads.get(name, id).await?;
    let mut s = session.lock().await;
    match *method {
        Method::GET => Ok(session_response(StatusCode::NO_CONTENT, name, id, s.size)),
        Method::PATCH => {
            let start = match req.headers.get(header::CONTENT_RANGE) {
                None => None,
                Some(h) => {
                    let r = h
                        .to_str()
                        .ok()
                        .and_then(parse_content_range)
                        .ok_or_else(|| {
                            ApiError::detail(Code::RangeInvalid, "malformed Content-Range")
                        })?;
                    Some(r.start)
                }
            };
            check_length(app, req, s.size)?;
            app.uploads
                .append(id, &mut s, body, start, app.max_upload)
                .await?;
            Ok(session_response(StatusCode::ACCEPTED, name, id, s.size))
        }
        Method::PUT => {
            let q = query(req.uri.query());
            let d = parse_digest(first(&q, "digest").unwrap_or(""))?;
            check_length(app, req, s.size)?;
            app.uploads
                .append(id, &mut s, body, None, app.max_upload)
                .await?;
            app.uploads.finish(&app.store, id, &mut s, &d).await?;
            app.store.link_blob(name, &d)?;
            Ok(created(name, &d))
        }
        Method::DELETE => {
            app.uploads.remove(id, &mut s).await;
            Ok(empty(StatusCode::NO_CONTENT, &[]))
        }
        _ => Err(unsupported()),
    }
}
