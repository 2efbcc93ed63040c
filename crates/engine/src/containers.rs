//! Container routes. The lifecycle arrives in later issues; until then every route the docker
//! CLI and docker-compose call is registered and answers 501 with the path, so a user sees
//! what is missing rather than "page not found".

use axum::http::{Method, Uri};
use axum::routing::{any, delete, get, post};
use axum::Router;

use crate::api::{not_implemented, AppState, JsonBody};
use crate::errors::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/containers/json", get(not_implemented))
        .route("/containers/create", post(create))
        .route("/containers/prune", post(not_implemented))
        .route("/containers/{id}", delete(not_implemented))
        .route("/containers/{id}/{action}", any(not_implemented))
        .route("/exec/{id}/{action}", any(not_implemented))
}

/// Validates the body already, so malformed input gets its 400 before the 501.
async fn create(
    method: Method,
    uri: Uri,
    JsonBody(_config): JsonBody<serde_json::Value>,
) -> ApiError {
    not_implemented(method, uri).await
}
