//! Image routes over [`crate::image_service::ImageService`]. Names may contain slashes
//! (`localhost:5000/a/b:t`), so `/images/{name}/…` is matched as one wildcard and split on the
//! last segment, as moby's `{name:.*}` routes do.

use std::collections::HashSet;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use vessel_image::{ImageSummary, RemoveEvent};

use crate::api::{blocking, not_implemented, ok_json, AppState};
use crate::errors::ApiError;
use crate::filters::{glob_match, Filters};
use crate::image_transfer;
use crate::image_views::{history_json, inspect_json, remove_event_json, summary_json};
use crate::query::QueryParams;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/images/json", get(list))
        .route("/images/load", post(image_transfer::load))
        .route("/images/get", get(image_transfer::save_many))
        .route("/images/create", post(image_transfer::create))
        .route("/images/prune", post(prune))
        .route("/images/search", get(not_implemented))
        .route("/build", post(crate::build::build))
        .route("/commit", post(not_implemented))
        .route(
            "/images/{*rest}",
            get(get_named).post(post_named).delete(remove),
        )
}

async fn get_named(
    State(state): State<AppState>,
    Path(rest): Path<String>,
) -> Result<Response, ApiError> {
    if let Some(name) = rest.strip_suffix("/json") {
        let name = name.to_owned();
        let images = state.images.clone();
        let details = blocking(move || Ok(images.inspect(&name)?)).await?;
        return Ok(ok_json(&inspect_json(&details)));
    }
    if let Some(name) = rest.strip_suffix("/history") {
        let name = name.to_owned();
        let images = state.images.clone();
        let details = blocking(move || Ok(images.inspect(&name)?)).await?;
        return Ok(ok_json(&history_json(&details)));
    }
    if let Some(name) = rest.strip_suffix("/get") {
        return image_transfer::save_stream(&state, vec![name.to_owned()]).await;
    }
    Err(ApiError::PageNotFound)
}

async fn post_named(
    State(state): State<AppState>,
    Path(rest): Path<String>,
    headers: axum::http::HeaderMap,
    q: QueryParams,
) -> Result<Response, ApiError> {
    if let Some(name) = rest.strip_suffix("/tag") {
        let repo = q
            .non_empty("repo")
            .ok_or(ApiError::MissingParameter { name: "repo" })?;
        let target = join_repo_tag(repo, q.non_empty("tag"));
        let (source, images) = (name.to_owned(), state.images.clone());
        blocking(move || Ok(images.tag(&source, &target)?)).await?;
        return Ok(StatusCode::CREATED.into_response());
    }
    if let Some(name) = rest.strip_suffix("/push") {
        return crate::pull::push(&state, name, q.non_empty("tag"), &headers).await;
    }
    Err(ApiError::PageNotFound)
}

async fn remove(
    State(state): State<AppState>,
    Path(name): Path<String>,
    q: QueryParams,
) -> Result<Response, ApiError> {
    let force = q.bool("force");
    let images = state.images.clone();
    let events = blocking(move || Ok(images.remove(&name, force)?)).await?;
    Ok(ok_json(
        &events.iter().map(remove_event_json).collect::<Vec<_>>(),
    ))
}

/// `GET /images/json?all=&filters=&digests=`, newest first.
async fn list(State(state): State<AppState>, q: QueryParams) -> Result<Response, ApiError> {
    let filters = q.filters()?;
    filters.validate(&["dangling", "label", "reference", "before", "since"])?;
    let images = state.images.clone();
    let all = blocking(move || Ok(images.list()?)).await?;
    let mut rows: Vec<ImageSummary> = select(&all, &filters)?.into_iter().cloned().collect();
    let references: Vec<&str> = filters.values("reference").collect();
    if !references.is_empty() {
        // Like moby, list only the tags that matched, so the CLI prints only those rows.
        for row in &mut rows {
            row.repo_tags.retain(|t| reference_matches(&references, t));
        }
    }
    rows.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
    Ok(ok_json(&rows.iter().map(summary_json).collect::<Vec<_>>()))
}

/// `repo` + `tag` query parameters as one reference. `repo` may carry its own tag or digest
/// (`docker import x.tar name:v1` sends `repo=name:v1`); otherwise the tag defaults to latest.
pub fn join_repo_tag(repo: &str, tag: Option<&str>) -> String {
    let last = repo.rsplit('/').next().unwrap_or(repo);
    match tag {
        Some(tag) if tag.starts_with("sha256:") => format!("{repo}@{tag}"),
        Some(tag) => format!("{repo}:{tag}"),
        None if last.contains(':') || repo.contains('@') => repo.to_owned(),
        None => format!("{repo}:latest"),
    }
}

/// Applies the image list filters (moby's semantics, without container-use checks).
pub fn select<'a>(
    all: &'a [ImageSummary],
    filters: &Filters,
) -> Result<Vec<&'a ImageSummary>, ApiError> {
    let dangling = filters.bool_value("dangling")?;
    let created_of = |key: &str| -> Result<Option<i64>, ApiError> {
        match filters.values(key).next() {
            None => Ok(None),
            Some(name) => all
                .iter()
                .find(|s| s.id == name || s.repo_tags.iter().any(|t| t == name))
                .map(|s| Some(s.created))
                .ok_or_else(|| {
                    ApiError::Image(vessel_image::ImageError::NotFound(name.to_owned()))
                }),
        }
    };
    let before = created_of("before")?;
    let since = created_of("since")?;
    let references: Vec<&str> = filters.values("reference").collect();
    Ok(all
        .iter()
        .filter(|s| dangling.is_none_or(|d| d == s.repo_tags.is_empty()))
        .filter(|s| filters.match_labels("label", &s.labels))
        .filter(|s| before.is_none_or(|b| s.created < b))
        .filter(|s| since.is_none_or(|t| s.created > t))
        .filter(|s| {
            references.is_empty()
                || s.repo_tags
                    .iter()
                    .any(|tag| reference_matches(&references, tag))
        })
        .collect())
}

/// A `reference` filter matches a tag by `name:tag` or by `name` alone.
fn reference_matches(patterns: &[&str], tag: &str) -> bool {
    let repo = tag.rsplit_once(':').map_or(tag, |(r, _)| r);
    patterns
        .iter()
        .any(|p| glob_match(p, tag) || glob_match(p, repo))
}

/// `POST /images/prune?filters=`: dangling images by default, all unused with
/// `dangling=false`. Images that cannot be removed are skipped (logged), as moby does.
async fn prune(State(state): State<AppState>, q: QueryParams) -> Result<Response, ApiError> {
    let mut filters = q.filters()?;
    filters.validate(&["dangling", "label"])?;
    if !filters.contains("dangling") {
        filters = Filters::parse(&prune_filters_with_dangling(&q)?)?;
    }
    let images = state.images.clone();
    let (events, reclaimed) = blocking(move || {
        let all = images.list()?;
        let victims: Vec<ImageSummary> = select(&all, &filters)?.into_iter().cloned().collect();
        let mut events = Vec::new();
        let mut deleted = HashSet::new();
        for image in &victims {
            let names = if image.repo_tags.is_empty() {
                vec![image.id.clone()]
            } else {
                image.repo_tags.clone()
            };
            for name in names {
                match images.remove(&name, false) {
                    Ok(evs) => {
                        for e in &evs {
                            if let RemoveEvent::Deleted(id) = e {
                                deleted.insert(id.clone());
                            }
                        }
                        events.extend(evs);
                    }
                    Err(e) => tracing::info!("prune: keeping {name}: {e}"),
                }
            }
        }
        let reclaimed: u64 = victims
            .iter()
            .filter(|v| deleted.contains(&v.id))
            .map(|v| v.size)
            .sum();
        Ok((events, reclaimed))
    })
    .await?;
    let deleted: Value = if events.is_empty() {
        Value::Null
    } else {
        Value::Array(events.iter().map(remove_event_json).collect())
    };
    Ok(ok_json(
        &json!({"ImagesDeleted": deleted, "SpaceReclaimed": reclaimed}),
    ))
}

/// The request's filters plus `dangling=true`, the prune default.
fn prune_filters_with_dangling(q: &QueryParams) -> Result<String, ApiError> {
    let mut value: serde_json::Map<String, Value> = match q.non_empty("filters") {
        Some(raw) => match serde_json::from_str(raw) {
            Ok(Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        },
        None => serde_json::Map::new(),
    };
    value.insert("dangling".into(), json!(["true"]));
    Ok(Value::Object(value).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_and_tag() {
        assert_eq!(join_repo_tag("x", None), "x:latest");
        assert_eq!(
            join_repo_tag("docker.io/library/x", Some("v1")),
            "docker.io/library/x:v1"
        );
        assert_eq!(join_repo_tag("x:v1", None), "x:v1");
        assert_eq!(
            join_repo_tag("localhost:5000/x", None),
            "localhost:5000/x:latest"
        );
        assert_eq!(join_repo_tag("x", Some("sha256:ab")), "x@sha256:ab");
    }
}
