//! `GET`/`HEAD`/`PUT`/`DELETE /v2/<name>/manifests/<reference>`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, Method, Response, StatusCode};

use super::{empty, hv, unsupported, App};
use crate::error::{ApiError, Code};
use crate::manifest::{self, MAX_MANIFEST};
use crate::names::{Digest, Reference};

pub async fn handle(
    app: &Arc<App>,
    method: &Method,
    name: &str,
    reference: &str,
    req: &Parts,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let reference = Reference::parse(reference)?;
    match *method {
        Method::GET | Method::HEAD => get(app, name, &reference, *method == Method::HEAD),
        Method::PUT => put(app, name, reference, req, body).await,
        Method::DELETE => delete(app, name, &reference),
        _ => Err(unsupported()),
    }
}

fn unknown(r: &Reference) -> ApiError {
    let s = match r {
        Reference::Tag(t) => t.clone(),
        Reference::Digest(d) => d.to_string(),
    };
    ApiError::detail(Code::ManifestUnknown, s)
}

fn resolve(app: &App, name: &str, r: &Reference) -> Result<Option<Digest>, ApiError> {
    Ok(match r {
        Reference::Tag(t) => app.store.resolve_tag(name, t)?,
        Reference::Digest(d) => Some(d.clone()),
    })
}

fn get(app: &App, name: &str, r: &Reference, head: bool) -> Result<Response<Body>, ApiError> {
    let d = resolve(app, name, r)?.ok_or_else(|| unknown(r))?;
    let media_type = app
        .store
        .manifest_media_type(name, &d)?
        .ok_or_else(|| unknown(r))?;
    let body = app.store.read_blob(&d)?.ok_or_else(|| unknown(r))?;
    let len = body.len();
    let mut resp = Response::new(if head {
        Body::empty()
    } else {
        Body::from(body)
    });
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, hv(&media_type));
    h.insert(header::CONTENT_LENGTH, hv(len.to_string()));
    h.insert(header::ETAG, hv(format!("\"{d}\"")));
    h.insert("Docker-Content-Digest", hv(d.to_string()));
    Ok(resp)
}

async fn put(
    app: &Arc<App>,
    name: &str,
    r: Reference,
    req: &Parts,
    body: Body,
) -> Result<Response<Body>, ApiError> {
    let content_type = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let body = axum::body::to_bytes(body, MAX_MANIFEST)
        .await
        .map_err(|_| {
            ApiError::detail(
                Code::TooLarge,
                format!("manifests are limited to {MAX_MANIFEST} bytes"),
            )
        })?;
    let d = Digest::of(&body);
    if let Reference::Digest(want) = &r {
        if want != &d {
            return Err(ApiError::detail(
                Code::DigestInvalid,
                format!("manifest has digest {d}, not {want}"),
            ));
        }
    }
    let m = manifest::parse(&body, content_type.as_deref())?;
    for b in &m.blobs {
        if app.store.repo_blob_size(name, &b.digest)?.is_none() {
            return Err(ApiError::detail(
                Code::ManifestBlobUnknown,
                b.digest.to_string(),
            ));
        }
    }
    for c in &m.manifests {
        if app.store.manifest_media_type(name, &c.digest)?.is_none() {
            return Err(ApiError::detail(
                Code::ManifestBlobUnknown,
                c.digest.to_string(),
            ));
        }
    }
    let tag = match &r {
        Reference::Tag(t) => Some(t.as_str()),
        Reference::Digest(_) => None,
    };
    let subject = m.subject.as_ref().map(|s| s.digest.clone());
    let (store, name2, d2, mt) = (
        app.store.clone(),
        name.to_string(),
        d.clone(),
        m.media_type.clone(),
    );
    let tag2 = tag.map(str::to_string);
    let sub2 = subject.clone();
    tokio::task::spawn_blocking(move || {
        store.put_manifest(&name2, &d2, &body, &mt, tag2.as_deref(), sub2.as_ref())
    })
    .await
    .map_err(ApiError::internal)??;
    let mut headers = vec![
        ("Location", format!("/v2/{name}/manifests/{d}")),
        ("Docker-Content-Digest", d.to_string()),
    ];
    if let Some(s) = subject {
        headers.push(("OCI-Subject", s.to_string()));
    }
    Ok(empty(StatusCode::CREATED, &headers))
}

fn delete(app: &App, name: &str, r: &Reference) -> Result<Response<Body>, ApiError> {
    let gone = match r {
        Reference::Tag(t) => app.store.delete_tag(name, t)?,
        Reference::Digest(d) => {
            let subject = app
                .store
                .read_blob(d)?
                .and_then(|b| manifest::parse(&b, None).ok())
                .and_then(|m| m.subject)
                .map(|s| s.digest);
            app.store.delete_manifest(name, d, subject.as_ref())?
        }
    };
    if gone {
        Ok(empty(StatusCode::ACCEPTED, &[]))
    } else {
        Err(unknown(r))
    }
}
