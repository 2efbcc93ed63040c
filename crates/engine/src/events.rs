//! `GET /events`: what happened to containers, images and volumes, as Docker reports it.
//!
//! Producers call [`EventBus::emit`]; it stamps the event, keeps it in a bounded ring (so
//! `--since` can replay the recent past) and broadcasts it to live subscribers. A slow
//! subscriber loses the oldest events rather than slowing down the daemon.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use serde::Serialize;
use tokio::sync::broadcast;

use crate::api::AppState;
use crate::errors::ApiError;
use crate::filters::Filters;
use crate::query::QueryParams as Query;

/// Events kept for `since`.
const RING: usize = 1024;

#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: HashMap<String, String>,
}

/// One event, serialized exactly as the Engine API sends it (old and new field names).
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: &'static str,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

impl Event {
    /// Does the event pass `filters` (container, image, event, type, label, volume)?
    pub fn matches(&self, f: &Filters) -> bool {
        let attr = |k: &str| self.actor.attributes.get(k).map(String::as_str);
        let any = |key: &str, candidates: &[Option<&str>]| {
            !f.contains(key)
                || f.values(key).any(|want| {
                    candidates
                        .iter()
                        .flatten()
                        .any(|c| *c == want || (want.len() >= 12 && c.starts_with(want)))
                })
        };
        let action = self.action.split(':').next().unwrap_or_default();
        let id = Some(self.actor.id.as_str());
        let on = |kind: &str, key: &str, cands: &[Option<&str>]| {
            !f.contains(key) || (self.kind == kind && any(key, cands))
        };
        any("type", &[Some(self.kind)])
            && any("event", &[Some(action)])
            && on("container", "container", &[id, attr("name")])
            && (!f.contains("image")
                || any(
                    "image",
                    &[
                        attr("image"),
                        (self.kind == "image").then_some(self.actor.id.as_str()),
                        attr("name"),
                    ],
                ))
            && on("volume", "volume", &[id])
            && on("network", "network", &[id, attr("name")])
            && f.match_labels("label", &self.actor.attributes)
    }
}

pub struct EventBus {
    tx: broadcast::Sender<Event>,
    recent: Mutex<VecDeque<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            tx: broadcast::channel(RING).0,
            recent: Mutex::new(VecDeque::with_capacity(RING)),
        }
    }
}

impl EventBus {
    /// Record and publish an event about `id` of `kind` (container, image, volume, network).
    pub fn emit(
        &self,
        kind: &'static str,
        action: &str,
        id: &str,
        attributes: HashMap<String, String>,
    ) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let legacy = matches!(kind, "container" | "image");
        let event = Event {
            kind,
            action: action.to_string(),
            actor: Actor {
                id: id.to_string(),
                attributes: attributes.clone(),
            },
            scope: "local",
            time: now.as_secs() as i64,
            time_nano: now.as_nanos() as i64,
            status: legacy.then(|| action.to_string()),
            id: legacy.then(|| id.to_string()),
            from: (kind == "container")
                .then(|| attributes.get("image").cloned())
                .flatten(),
        };
        {
            let mut ring = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            if ring.len() == RING {
                ring.pop_front();
            }
            ring.push_back(event.clone());
        }
        // No subscriber is not an error.
        let _ = self.tx.send(event);
    }

    /// Subscribe first, then copy the ring, so nothing falls between replay and live.
    fn subscribe_since(&self, since_nano: i64) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let rx = self.tx.subscribe();
        let ring = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let past = ring
            .iter()
            .filter(|e| e.time_nano >= since_nano)
            .cloned()
            .collect();
        (past, rx)
    }
}

/// Docker's `since`/`until`: unix seconds with optional fraction, or RFC 3339.
fn parse_time(name: &'static str, raw: &str) -> Result<i64, ApiError> {
    let bad = || ApiError::InvalidParameter {
        name,
        value: raw.to_string(),
        reason: "expected unix seconds (e.g. 1700000000.5) or an RFC 3339 time",
    };
    if let Ok(secs) = raw.parse::<f64>() {
        return Ok((secs * 1e9) as i64);
    }
    crate::timefmt::parse_rfc3339(raw)
        .map(|s| s * 1_000_000_000)
        .ok_or_else(bad)
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/events", get(events))
}

async fn events(State(s): State<AppState>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let filters = q.filters()?;
    filters
        .validate(&[
            "container",
            "event",
            "image",
            "label",
            "type",
            "volume",
            "network",
            "scope",
        ])
        .map_err(ApiError::Filters)?;
    let now_nano = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as i64;
    let since = q
        .non_empty("since")
        .map(|v| parse_time("since", v))
        .transpose()?;
    let until = q
        .non_empty("until")
        .map(|v| parse_time("until", v))
        .transpose()?;
    let (past, mut rx) = s
        .containers
        .events()
        .subscribe_since(since.unwrap_or(i64::MAX));
    let line = |e: &Event| {
        let mut v = serde_json::to_vec(e).expect("events serialize");
        v.push(b'\n');
        Bytes::from(v)
    };
    let (tx, body_rx) = tokio::sync::mpsc::channel::<Result<Bytes, Infallible>>(64);
    tokio::spawn(async move {
        for e in past.iter().filter(|e| e.matches(&filters)) {
            if until.is_some_and(|u| e.time_nano > u) {
                return;
            }
            if tx.send(Ok(line(e))).await.is_err() {
                return;
            }
        }
        let deadline = until.map(|u| Duration::from_nanos((u - now_nano).max(0) as u64));
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return,
                _ = tx.closed() => return,
                got = rx.recv() => match got {
                    Ok(e) if e.matches(&filters) => {
                        if tx.send(Ok(line(&e))).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    let stream = futures_util::stream::unfold(body_rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn filters_select_by_type_event_container_and_label() {
        let bus = EventBus::default();
        bus.emit(
            "container",
            "start",
            &"a".repeat(64),
            attrs(&[("name", "web"), ("image", "busybox"), ("tier", "front")]),
        );
        let (past, _) = bus.subscribe_since(0);
        let e = &past[0];
        let f = |json: &str| Filters::parse(json).unwrap();
        assert!(e.matches(&f("")));
        assert!(e.matches(&f(r#"{"type":["container"]}"#)));
        assert!(!e.matches(&f(r#"{"type":["image"]}"#)));
        assert!(e.matches(&f(r#"{"event":["start","die"]}"#)));
        assert!(!e.matches(&f(r#"{"event":["die"]}"#)));
        assert!(e.matches(&f(r#"{"container":["web"]}"#)));
        assert!(e.matches(&f(r#"{"container":["aaaaaaaaaaaa"]}"#)));
        assert!(!e.matches(&f(r#"{"container":["db"]}"#)));
        assert!(e.matches(&f(r#"{"image":["busybox"]}"#)));
        assert!(e.matches(&f(r#"{"label":["tier=front"]}"#)));
        assert!(!e.matches(&f(r#"{"label":["tier=back"]}"#)));
        assert!(!e.matches(&f(r#"{"volume":["v"]}"#)));
        let json = serde_json::to_value(e).unwrap();
        assert_eq!(json["status"], "start");
        assert_eq!(json["from"], "busybox");
        assert_eq!(json["Actor"]["Attributes"]["name"], "web");
    }

    #[test]
    fn ring_is_bounded_and_since_replays() {
        let bus = EventBus::default();
        for i in 0..(RING + 10) {
            bus.emit("volume", "create", &format!("v{i}"), HashMap::new());
        }
        let (all, _) = bus.subscribe_since(0);
        assert_eq!(all.len(), RING);
        assert_eq!(all[0].actor.id, "v10");
        let (none, _) = bus.subscribe_since(i64::MAX);
        assert!(none.is_empty());
    }

    #[test]
    fn times_parse_as_docker_sends_them() {
        assert_eq!(
            parse_time("since", "1700000000").unwrap(),
            1_700_000_000_000_000_000
        );
        assert_eq!(
            parse_time("since", "1700000000.5").unwrap(),
            1_700_000_000_500_000_000
        );
        assert!(parse_time("since", "yesterday").is_err());
    }
}
