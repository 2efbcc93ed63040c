//! `POST /auth`: check credentials against a registry, as `docker login` asks the daemon.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use vessel_distribution::{error_chain, Credentials};

use crate::api::{json_response, ok_json, AppState, JsonBody};
use crate::errors::ApiError;
use crate::pull::{dist_status, registry_options};

pub async fn auth(
    State(state): State<AppState>,
    JsonBody(creds): JsonBody<Credentials>,
) -> Result<Response, ApiError> {
    let opts = registry_options(&state.config);
    let result = tokio::task::spawn_blocking(move || {
        vessel_distribution::login(&creds.serveraddress, &creds, &opts)
    })
    .await?;
    Ok(match result {
        Ok(()) => ok_json(&json!({"Status": "Login Succeeded", "IdentityToken": ""})),
        Err(e) => {
            let status = match dist_status(&e) {
                StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => StatusCode::UNAUTHORIZED,
                other => other,
            };
            json_response(status, &json!({ "message": error_chain(&e) }))
        }
    })
}
