//! Volume routes (later issue): registered so clients get a clear 501.

use axum::routing::{get, post};
use axum::Router;

use crate::api::{not_implemented, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/volumes", get(not_implemented))
        .route("/volumes/create", post(not_implemented))
        .route("/volumes/prune", post(not_implemented))
        .route(
            "/volumes/{name}",
            get(not_implemented).delete(not_implemented),
        )
}
