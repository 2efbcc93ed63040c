//! The HTTP surface: shared state, the route table assembled from one module per resource,
//! and the helpers every handler uses (JSON replies, bounded JSON bodies, blocking calls).

use std::sync::Arc;

use axum::extract::{FromRequest, Request};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::config::DaemonConfig;
use crate::errors::ApiError;
use crate::image_service::ImageService;
use crate::store::Store;

/// The largest JSON request body accepted (container create bodies are a few KiB).
pub const JSON_BODY_LIMIT: usize = 1 << 20;

/// What every handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<DaemonConfig>,
    pub store: Store,
    pub images: Arc<dyn ImageService>,
    /// Stable identity of this engine (`/info` `ID`), kept in the store's meta table.
    pub engine_id: Arc<str>,
    pub containers: Arc<crate::containers::Containers>,
}

/// The route table. Version prefixes are stripped before it sees a path (see
/// [`crate::negotiation::negotiate`]).
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(crate::system::routes())
        .merge(crate::images::routes())
        .merge(crate::containers::routes())
        .merge(crate::volumes::routes())
        .merge(crate::networks::routes())
        .merge(crate::events::routes())
        .fallback(page_not_found)
        .method_not_allowed_fallback(page_not_found)
        .with_state(state)
}

/// The reply of routes that later issues fill in: the docker CLI prints the message.
pub async fn not_implemented(method: Method, uri: Uri) -> ApiError {
    ApiError::NotImplemented {
        method: method.to_string(),
        path: uri.path().to_owned(),
    }
}

async fn page_not_found() -> ApiError {
    ApiError::PageNotFound
}

/// A JSON reply the way Docker writes it (Go's encoder ends it with a newline).
pub fn json_response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(mut body) => {
            body.push(b'\n');
            (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                Bytes::from(body),
            )
                .into_response()
        }
        Err(e) => {
            tracing::error!("cannot encode a reply: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

pub fn ok_json<T: Serialize + ?Sized>(value: &T) -> Response {
    json_response(StatusCode::OK, value)
}

/// Runs blocking work (image store, file system) off the async workers.
pub async fn blocking<R, F>(f: F) -> Result<R, ApiError>
where
    R: Send + 'static,
    F: FnOnce() -> Result<R, ApiError> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await?
}

/// A JSON request body of at most [`JSON_BODY_LIMIT`] bytes. Unknown fields are ignored:
/// clients send fields of newer API versions than the one negotiated.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_limited(req, JSON_BODY_LIMIT).await?;
        // An empty body is an empty object: docker-py and compose omit unset options.
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(bytes)
            .map(JsonBody)
            .map_err(ApiError::InvalidJson)
    }
}

/// Reads a whole body, refusing more than `limit` bytes.
pub async fn read_limited(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    match Limited::new(req.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::BodyTooLarge { limit })
        }
        Err(e) => Err(ApiError::BodyRead(axum::Error::new(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    async fn parse(body: Vec<u8>) -> Result<serde_json::Value, ApiError> {
        let req = Request::builder().body(Body::from(body)).unwrap();
        JsonBody::<serde_json::Value>::from_request(req, &())
            .await
            .map(|JsonBody(v)| v)
    }

    #[tokio::test]
    async fn json_bodies() {
        assert_eq!(parse(br#"{"a":1}"#.to_vec()).await.unwrap()["a"], 1);
        assert_eq!(parse(Vec::new()).await.unwrap(), serde_json::json!({}));
        let e = parse(b"{\"a\":".to_vec()).await.unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert!(
            e.message().starts_with("invalid JSON in request body: EOF"),
            "{}",
            e.message()
        );
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(JSON_BODY_LIMIT));
        let e = parse(big.into_bytes()).await.unwrap_err();
        assert_eq!(e.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[derive(serde::Deserialize)]
    struct Known {
        #[serde(rename = "Image")]
        image: String,
    }

    #[tokio::test]
    async fn unknown_fields_are_ignored() {
        let req = Request::builder()
            .body(Body::from(
                r#"{"Image":"bb","GwPriority":0,"ConsoleSize":[0,0]}"#,
            ))
            .unwrap();
        let JsonBody(k) = JsonBody::<Known>::from_request(req, &()).await.unwrap();
        assert_eq!(k.image, "bb");
    }
}
