//! Listings: tags, the catalog and the referrers of a manifest. They walk directories, so
//! they run on the blocking pool (see `api::blocking`).

use axum::body::Body;
use axum::http::{header, Response, StatusCode};
use serde_json::{json, Value};

use super::{hv, json_response, App};
use crate::error::{ApiError, Code};
use crate::httputil::{enc, first, page_size, paginate, query};
use crate::manifest::{self, OCI_INDEX};
use crate::names::Digest;

fn with_link(
    mut r: Response<Body>,
    path: &str,
    n: Option<usize>,
    page: &[String],
    more: bool,
) -> Response<Body> {
    if let (true, Some(n), Some(last)) = (more, n, page.last()) {
        let link = format!("<{path}?n={n}&last={}>; rel=\"next\"", enc(last));
        r.headers_mut().insert(header::LINK, hv(link));
    }
    r
}

pub fn tags(app: &App, name: &str, q: Option<&str>) -> Result<Response<Body>, ApiError> {
    let q = query(q);
    let n = page_size(&q)?;
    let all = app.store.list_tags(name)?.ok_or_else(|| {
        ApiError::detail(Code::NameUnknown, format!("repository {name} not found"))
    })?;
    let (page, more) = paginate(&all, n, first(&q, "last"));
    let body = json!({ "name": name, "tags": page }).to_string();
    Ok(with_link(
        json_response(StatusCode::OK, body),
        &format!("/v2/{name}/tags/list"),
        n,
        &page,
        more,
    ))
}

pub fn catalog(app: &App, q: Option<&str>) -> Result<Response<Body>, ApiError> {
    let q = query(q);
    let n = page_size(&q)?;
    let all = app.store.list_repos()?;
    let (page, more) = paginate(&all, n, first(&q, "last"));
    let body = json!({ "repositories": page }).to_string();
    Ok(with_link(
        json_response(StatusCode::OK, body),
        "/v2/_catalog",
        n,
        &page,
        more,
    ))
}

/// `GET /v2/<name>/referrers/<digest>` (spec 1.1 "Listing Referrers"): an image index of the
/// manifests whose `subject` is `digest`, optionally filtered by `artifactType`.
pub fn referrers(
    app: &App,
    name: &str,
    digest: &str,
    q: Option<&str>,
) -> Result<Response<Body>, ApiError> {
    let subject =
        Digest::parse(digest).map_err(|e| ApiError::detail(Code::DigestInvalid, e.to_string()))?;
    let q = query(q);
    let filter = first(&q, "artifactType").filter(|s| !s.is_empty());
    let mut descs: Vec<Value> = Vec::new();
    for d in app.store.list_referrers(name, &subject)? {
        let Some(body) = app.store.read_blob(&d)? else {
            continue;
        };
        let media_type = app.store.manifest_media_type(name, &d)?.unwrap_or_default();
        let Ok(m) = manifest::parse(&body, Some(&media_type)) else {
            continue;
        };
        if filter.is_some() && m.artifact_type.as_deref() != filter {
            continue;
        }
        let mut e =
            json!({ "mediaType": m.media_type, "digest": d.to_string(), "size": body.len() });
        if let Some(a) = &m.artifact_type {
            e["artifactType"] = json!(a);
        }
        if let Some(a) = m.annotations {
            e["annotations"] = a;
        }
        descs.push(e);
    }
    let body =
        json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs }).to_string();
    let mut r = json_response(StatusCode::OK, body);
    r.headers_mut().insert(header::CONTENT_TYPE, hv(OCI_INDEX));
    if filter.is_some() {
        r.headers_mut()
            .insert("OCI-Filters-Applied", hv("artifactType"));
    }
    Ok(r)
}
