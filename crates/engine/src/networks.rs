//! Network routes (later issue): registered so clients get a clear 501.

use axum::routing::{get, post};
use axum::Router;

use crate::api::{not_implemented, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/networks", get(not_implemented))
        .route("/networks/create", post(not_implemented))
        .route("/networks/prune", post(not_implemented))
        .route(
            "/networks/{id}",
            get(not_implemented).delete(not_implemented),
        )
        .route("/networks/{id}/connect", post(not_implemented))
        .route("/networks/{id}/disconnect", post(not_implemented))
}
