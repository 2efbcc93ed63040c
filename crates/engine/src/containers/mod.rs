//! Container routes: create, start, wait, attach, logs, list, inspect, stop, kill,
//! restart, pause/unpause, remove. Exec, cp, stats and friends arrive in later increments
//! and answer 501 with their path meanwhile.

mod archive;
mod copyup;
mod create;
mod error;
mod exec;
mod health;
mod manager;
mod networking;
mod record;
mod restart;
mod stats;
mod stream;
mod update;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use axum::Router;
use serde_json::json;

pub use error::ContainerError;
pub use manager::{random_id, Containers};
pub use networking::{endpoint_id, endpoint_request};
pub use record::{ContainerRecord, Status};

use crate::api::{not_implemented, ok_json, AppState, JsonBody};
use crate::errors::ApiError;
use crate::query::QueryParams as Query;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/containers/json", get(list))
        .route("/containers/create", post(create))
        .route("/containers/prune", post(prune))
        .route("/containers/{id}", delete(remove))
        .route("/containers/{id}/json", get(inspect))
        .route("/containers/{id}/start", post(start))
        .route("/containers/{id}/stop", post(stop))
        .route("/containers/{id}/restart", post(restart))
        .route("/containers/{id}/kill", post(kill))
        .route("/containers/{id}/wait", post(wait))
        .route("/containers/{id}/pause", post(pause))
        .route("/containers/{id}/unpause", post(unpause))
        .route("/containers/{id}/attach", post(stream::attach))
        .route("/containers/{id}/logs", get(stream::logs))
        .route("/containers/{id}/resize", post(stream::resize))
        .route("/containers/{id}/exec", post(exec::create))
        .route("/containers/{id}/stats", get(stats::stats))
        .route("/containers/{id}/top", get(stats::top))
        .route(
            "/containers/{id}/archive",
            get(archive::get).head(archive::head).put(archive::put),
        )
        .route("/containers/{id}/export", get(archive::export))
        .route("/containers/{id}/rename", post(rename))
        .route("/containers/{id}/update", post(update))
        .route("/exec/{id}/start", post(exec::start))
        .route("/exec/{id}/json", get(exec::inspect))
        .route("/exec/{id}/resize", post(exec::resize))
        .route("/containers/{id}/{action}", any(not_implemented))
        .route("/exec/{id}/{action}", any(not_implemented))
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

async fn create(
    State(s): State<AppState>,
    RawQuery(q): RawQuery,
    JsonBody(body): JsonBody<vessel_specgen::ContainerCreate>,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let name = q.non_empty("name").map(str::to_string);
    let (id, warnings) = s.containers.call(move |c| c.create(body, name)).await?;
    Ok(crate::api::json_response(
        StatusCode::CREATED,
        &json!({"Id": id, "Warnings": warnings}),
    ))
}

async fn list(State(s): State<AppState>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let all = q.bool("all");
    let limit = q.int("limit", -1)?;
    let filters = q.filters()?;
    let mut records = s.containers.call(move |c| c.all()).await?;
    records.sort_by(|a, b| b.created.cmp(&a.created));
    let now = now_secs();
    let rows: Vec<serde_json::Value> = records
        .iter()
        .filter(|r| all || r.state.status.is_live() || limit > 0)
        .filter(|r| filter_matches(&filters, r))
        .take(if limit > 0 {
            limit as usize
        } else {
            usize::MAX
        })
        .map(|r| {
            let mut row = r.summary(now);
            let endpoints = s.containers.endpoints(&r.id);
            if !endpoints.is_empty() {
                row["Ports"] = networking::ports_json(&endpoints);
                row["NetworkSettings"] =
                    json!({ "Networks": networking::networks_json(&endpoints) });
            }
            if let Some(h) = s
                .containers
                .health(&r.id)
                .filter(|_| r.state.status.is_live())
            {
                let status = format!(
                    "{}{}",
                    row["Status"].as_str().unwrap_or_default(),
                    h.ps_suffix()
                );
                row["Status"] = json!(status);
            }
            row
        })
        .collect();
    Ok(ok_json(&rows))
}

fn filter_matches(filters: &crate::filters::Filters, r: &ContainerRecord) -> bool {
    let any = |key: &str, pred: &dyn Fn(&str) -> bool| {
        !filters.contains(key) || filters.values(key).any(pred)
    };
    let labels = r.labels();
    any("name", &|n| r.name.contains(n.trim_start_matches('/')))
        && any("id", &|i| r.id.starts_with(i))
        && any("status", &|st| st == r.state.status.as_str())
        && (!filters.contains("label")
            || filters.values("label").all(|l| match l.split_once('=') {
                Some((k, v)) => labels.get(k).and_then(|x| x.as_str()) == Some(v),
                None => labels.get(l).is_some(),
            }))
}

async fn inspect(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let record = s.containers.call(move |c| c.find(&id)).await?;
    let mut body = record.inspect();
    let mode = body["HostConfig"]["NetworkMode"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    body["NetworkSettings"] = networking::settings_json(&s.containers.endpoints(&record.id), &mode);
    if let Some(h) = s
        .containers
        .health(&record.id)
        .filter(|_| record.state.status.is_live())
    {
        body["State"]["Health"] = h.json();
    }
    Ok(ok_json(&body))
}

async fn start(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    start_container(&s.containers, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `docker start`: clears an earlier `docker stop`, so the restart policy applies again.
pub async fn start_container(c: &Arc<Containers>, id: &str) -> Result<bool, ApiError> {
    let name = id.to_string();
    let record = c.call(move |c| c.find(&name)).await?;
    let _guard = c.lock_lifecycle(&record.id).await;
    let id2 = record.id.clone();
    c.call(move |c| c.clear_stopped(&id2)).await?;
    start_locked(c, &record.id).await
}

/// Start with the container's lifecycle lock already held.
pub(crate) async fn start_locked(c: &Arc<Containers>, id: &str) -> Result<bool, ApiError> {
    let name = id.to_string();
    let record = c.call(move |c| c.find(&name)).await?;
    if record.state.status.is_live() {
        return Ok(false);
    }
    let full_id = record.id.clone();
    let started = async {
        let record = c.call(move |c| c.spawn_monitor(record)).await?;
        c.release_attach_waiters(&record.id).await;
        c.call(move |c| c.run_started(record)).await
    }
    .await;
    match started {
        Ok(record) => {
            c.watch_exit(record.id.clone(), record.state.monitor_pid);
            let r2 = record.clone();
            if let Ok(Some(check)) = c.call(move |c| Ok(c.healthcheck(&r2))).await {
                c.start_health_checks(record.id.clone(), check);
            }
            Ok(true)
        }
        Err(e) => {
            let _ = c
                .call(move |c| {
                    c.start_failed(&full_id);
                    Ok(())
                })
                .await;
            Err(e)
        }
    }
}

async fn stop(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let timeout = q.get("t").and_then(|t| t.parse::<i64>().ok());
    let stopped = stop_container(&s.containers, &id, timeout).await?;
    Ok(if stopped {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_MODIFIED
    }
    .into_response())
}

/// The stop signal, then SIGKILL after the timeout (container's StopTimeout, default 10 s).
async fn stop_container(
    c: &Arc<Containers>,
    id: &str,
    timeout: Option<i64>,
) -> Result<bool, ApiError> {
    let name = id.to_string();
    let record = c.call(move |c| c.find(&name)).await?;
    let _guard = c.lock_lifecycle(&record.id).await;
    // Re-read under the lock: a policy restart may have just started it.
    let name = record.id.clone();
    let record = c.call(move |c| c.find(&name)).await?;
    {
        // Even a container waiting to be restarted stays stopped after `docker stop`.
        let id2 = record.id.clone();
        c.call(move |c| c.mark_stopped(&id2)).await?;
    }
    if !record.state.status.is_live() {
        return Ok(false);
    }
    let signal = record
        .create
        .config
        .stop_signal
        .as_deref()
        .and_then(|s| vessel_runtime::signals::parse_signal(s).ok())
        .unwrap_or(libc::SIGTERM);
    let timeout = timeout.or(record.create.config.stop_timeout).unwrap_or(10);
    let mut events = c.subscribe(&record.id);
    let id = record.id.clone();
    if record.state.status == Status::Paused {
        let id2 = id.clone();
        let _ = c.call(move |c| c.pause(&id2, false)).await;
    }
    let id2 = id.clone();
    let _ = c.call(move |c| c.kill(&id2, signal)).await;
    if timeout >= 0 && wait_not_live(c, &id, &mut events, Duration::from_secs(timeout as u64)).await
    {
        c.emit(&record, "stop", &[]);
        return Ok(true);
    }
    let id2 = id.clone();
    let _ = c.call(move |c| c.kill(&id2, libc::SIGKILL)).await;
    wait_not_live(c, &id, &mut events, Duration::from_secs(30)).await;
    c.emit(&record, "stop", &[]);
    Ok(true)
}

async fn wait_not_live(
    c: &Arc<Containers>,
    id: &str,
    events: &mut tokio::sync::watch::Receiver<u64>,
    limit: Duration,
) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match c.find(id) {
            Ok(r) if r.state.status.is_live() => {}
            _ => return true,
        }
        if tokio::time::timeout_at(deadline, events.changed())
            .await
            .is_err()
        {
            return false;
        }
    }
}

async fn restart(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let timeout = q.get("t").and_then(|t| t.parse::<i64>().ok());
    stop_container(&s.containers, &id, timeout).await?;
    start_container(&s.containers, &id).await?;
    let record = s.containers.call(move |c| c.find(&id)).await?;
    s.containers.emit(&record, "restart", &[]);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn kill(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let signal = match q.non_empty("signal") {
        Some(text) => vessel_runtime::signals::parse_signal(text)
            .map_err(|_| ContainerError::InvalidSignal(text.to_string()))?,
        None => libc::SIGKILL,
    };
    s.containers.call(move |c| c.kill(&id, signal)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn pause(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    s.containers.call(move |c| c.pause(&id, true)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn unpause(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    s.containers.call(move |c| c.pause(&id, false)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `condition`: not-running (default), next-exit, removed. Headers go out at once (the
/// docker CLI sends this before `start` and may wait for them); the body when it happens.
async fn wait(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let condition = q
        .non_empty("condition")
        .unwrap_or("not-running")
        .to_string();
    let c = s.containers.clone();
    let record = c.call(move |c| c.find(&id)).await?;
    let id = record.id.clone();
    let mut events = c.subscribe(&id);
    let body = futures_util::stream::once(async move {
        let code = wait_for(
            &c,
            &id,
            &condition,
            record.state.status.is_live(),
            &mut events,
        )
        .await;
        let mut text =
            serde_json::to_vec(&json!({"StatusCode": code, "Error": null})).unwrap_or_default();
        text.push(b'\n');
        Ok::<_, std::io::Error>(bytes::Bytes::from(text))
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from_stream(body))
        .unwrap_or_default())
}

async fn wait_for(
    c: &Arc<Containers>,
    id: &str,
    condition: &str,
    mut seen_live: bool,
    events: &mut tokio::sync::watch::Receiver<u64>,
) -> i32 {
    loop {
        match (c.find(id), condition) {
            (Err(_), _) => return c.last_exit(id),
            (Ok(_), "removed") => {}
            (Ok(r), "next-exit") => {
                if r.state.status.is_live() {
                    seen_live = true;
                } else if seen_live {
                    return r.state.exit_code;
                }
            }
            (Ok(r), _) => {
                let stopped = !r.state.status.is_live();
                if stopped && (r.state.status != Status::Created || seen_live) {
                    return r.state.exit_code;
                }
                seen_live |= r.state.status.is_live();
            }
        }
        if events.changed().await.is_err() {
            // The sender is gone: the container was removed.
            return c.last_exit(id);
        }
    }
}

async fn remove(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let (force, volumes) = (q.bool("force"), q.bool("v"));
    let name = id.clone();
    let full_id = s.containers.call(move |c| c.find(&name)).await?.id;
    let _guard = s.containers.lock_lifecycle(&full_id).await;
    s.containers
        .call(move |c| c.remove(&full_id, force, volumes))
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn update(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> Result<Response, ApiError> {
    let warnings = s.containers.call(move |c| c.update(&id, &body)).await?;
    Ok(ok_json(&json!({ "Warnings": warnings })))
}

async fn rename(
    State(s): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let name = q
        .non_empty("name")
        .ok_or(ApiError::MissingParameter { name: "name" })?
        .to_string();
    s.containers.call(move |c| c.rename(&id, &name)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn prune(State(s): State<AppState>) -> Result<Response, ApiError> {
    let deleted = s
        .containers
        .call(|c| {
            let mut deleted = Vec::new();
            for r in c.all()? {
                if !r.state.status.is_live() && c.remove(&r.id, false, false).is_ok() {
                    deleted.push(r.id);
                }
            }
            Ok(deleted)
        })
        .await?;
    Ok(ok_json(
        &json!({"ContainersDeleted": deleted, "SpaceReclaimed": 0}),
    ))
}
