//! `GET /events` (later issue): registered so clients get a clear 501.

use axum::routing::get;
use axum::Router;

use crate::api::{not_implemented, AppState};

pub fn routes() -> Router<AppState> {
    Router::new().route("/events", get(not_implemented))
}
