//! `GET`/`HEAD`/`DELETE /v2/<name>/blobs/<digest>`.

use std::io::SeekFrom;
use std::sync::Arc;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, Method, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{empty, hv, unsupported, App};
use crate::error::{ApiError, Code};
use crate::httputil::{parse_range, RangeRequest};
use crate::names::Digest;

pub fn parse_digest(s: &str) -> Result<Digest, ApiError> {
    Digest::parse(s).map_err(|e| ApiError::detail(Code::DigestInvalid, e.to_string()))
}

pub async fn handle(
    app: &Arc<App>,
    method: &Method,
    name: &str,
    digest: &str,
    req: &Parts,
) -> Result<Response<Body>, ApiError> {
    let d = parse_digest(digest)?;
    let unknown = || ApiError::detail(Code::BlobUnknown, d.to_string());
    match *method {
        Method::GET | Method::HEAD => {
            let size = app.store.repo_blob_size(name, &d)?.ok_or_else(unknown)?;
            let range = req.headers.get(header::RANGE).and_then(|h| h.to_str().ok());
            let (status, start, len) = match parse_range(range, size) {
                RangeRequest::Full => (StatusCode::OK, 0, size),
                RangeRequest::Partial(r) => (StatusCode::PARTIAL_CONTENT, r.start, r.count()),
                RangeRequest::Unsatisfiable => {
                    let mut r = empty(StatusCode::RANGE_NOT_SATISFIABLE, &[]);
                    r.headers_mut()
                        .insert(header::CONTENT_RANGE, hv(format!("bytes */{size}")));
                    return Ok(r);
                }
            };
            let body = if *method == Method::HEAD {
                Body::empty()
            } else {
                let mut f = tokio::fs::File::open(app.store.blob_path(&d))
                    .await
                    .map_err(|_| unknown())?;
                if start > 0 {
                    f.seek(SeekFrom::Start(start)).await?;
                }
                Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
                    f.take(len),
                    256 << 10,
                ))
            };
            let mut r = Response::new(body);
            *r.status_mut() = status;
            let h = r.headers_mut();
            h.insert(header::CONTENT_LENGTH, hv(len.to_string()));
            h.insert(header::CONTENT_TYPE, hv("application/octet-stream"));
            h.insert(header::ACCEPT_RANGES, hv("bytes"));
            h.insert(header::ETAG, hv(format!("\"{d}\"")));
            h.insert("Docker-Content-Digest", hv(d.to_string()));
            if status == StatusCode::PARTIAL_CONTENT {
                h.insert(
                    header::CONTENT_RANGE,
                    hv(format!("bytes {}-{}/{size}", start, start + len - 1)),
                );
            }
            Ok(r)
        }
        Method::DELETE => {
            if app.store.unlink_blob(name, &d)? {
                Ok(empty(
                    StatusCode::ACCEPTED,
                    &[("Docker-Content-Digest", d.to_string())],
                ))
            } else {
                Err(unknown())
            }
        }
        _ => Err(unsupported()),
    }
}
