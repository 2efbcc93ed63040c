//! `GET /token?service=&scope=`: the token service of `--auth token` (Docker's token
//! authentication spec). Basic credentials are checked against the htpasswd file; the token
//! grants what [`crate::auth::grant`] allows of the requested scopes. Without credentials the
//! token grants nothing, which clients then report as "unauthorized".

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Response, StatusCode};

use std::sync::Arc;

use super::{check_password, App};
use crate::auth::{grant, parse_basic, Access, TokenIssuer};
use crate::error::{ApiError, Code};
use crate::httputil::query;

pub async fn issue(
    app: &Arc<App>,
    issuer: &TokenIssuer,
    req: &Parts,
) -> Result<Response<Body>, ApiError> {
    let denied = || {
        ApiError::new(Code::Unauthorized).with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"vessel-registry\""),
        )
    };
    let authz = req
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    let subject = match authz {
        None => None,
        Some(h) => {
            let (u, p) = parse_basic(h).ok_or_else(denied)?;
            if !check_password(app, u.clone(), p).await {
                return Err(denied());
            }
            Some(u)
        }
    };
    let q = query(req.uri.query());
    let mut access = Vec::new();
    if subject.is_some() {
        for s in q
            .get("scope")
            .into_iter()
            .flatten()
            .flat_map(|s| s.split(' '))
        {
            if let Some(a) = Access::parse_scope(s).as_ref().and_then(grant) {
                access.push(a);
            }
        }
    }
    let (token, claims) = issuer.issue(subject.as_deref().unwrap_or(""), access);
    let body = serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": claims.exp - claims.iat,
    });
    Ok(super::json_response(StatusCode::OK, body.to_string()))
}
