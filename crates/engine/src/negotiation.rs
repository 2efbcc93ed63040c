//! API version negotiation: the `/vX.Y/` path prefix, the headers every reply carries, and the
//! version bounds (moby's `versionMiddleware`).

use std::fmt;

use axum::extract::Request;
use axum::http::header::{HeaderName, HeaderValue};
use axum::http::{HeaderMap, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::errors::ApiError;

/// The one version advertised in the `Api-Version` header and the `/version` body. 1.41 keeps
/// the fields that docker-compose 1.29 (docker-py) and older clients read.
pub const API_VERSION: ApiVersion = ApiVersion {
    major: 1,
    minor: 41,
};
pub const MIN_API_VERSION: ApiVersion = ApiVersion {
    major: 1,
    minor: 24,
};

/// The value of the `Server` header.
pub fn server_header() -> String {
    format!("Vessel/{} (linux)", env!("CARGO_PKG_VERSION"))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    pub major: u32,
    pub minor: u32,
}

impl ApiVersion {
    /// Parses `1.41`. Anything else (`1`, `1.41.0`, `v1.41`) is rejected.
    pub fn parse(s: &str) -> Option<Self> {
        let (major, minor) = s.split_once('.')?;
        if major.is_empty() || minor.is_empty() {
            return None;
        }
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if !digits(major) || !digits(minor) {
            return None;
        }
        Some(ApiVersion {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
        })
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The version a request asked for through its path prefix (the current one without prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestedVersion(pub ApiVersion);

/// Splits `/v1.41/images/json` into `(Some(1.41), "/images/json")`; a path without a version
/// prefix is returned whole. A prefix that is not `v<digits>.<digits>` is not a prefix (moby
/// routes `/v{version:[0-9.]+}/`), so `/vx/…` falls through to "page not found".
pub fn split_version_prefix(path: &str) -> (Option<ApiVersion>, &str) {
    if let Some(rest) = path.strip_prefix("/v") {
        if let Some(slash) = rest.find('/') {
            if let Some(v) = ApiVersion::parse(&rest[..slash]) {
                return (Some(v), &rest[slash..]);
            }
        }
    }
    (None, path)
}

/// Checks the requested version against the bounds, as moby does before routing.
pub fn check_version(requested: ApiVersion) -> Result<(), ApiError> {
    if requested > API_VERSION {
        return Err(ApiError::VersionTooNew {
            requested,
            max: API_VERSION,
        });
    }
    if requested < MIN_API_VERSION {
        return Err(ApiError::VersionTooOld {
            requested,
            min: MIN_API_VERSION,
        });
    }
    Ok(())
}

/// Middleware run before routing: strips the version prefix, rejects versions out of bounds,
/// and stamps the common headers on every reply (errors and 404s included).
pub async fn negotiate(mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let uri = req.uri().clone();
    let (version, rest) = split_version_prefix(uri.path());
    let mut resp = match version.map(check_version).transpose() {
        Err(e) => e.into_response(),
        Ok(_) => {
            if version.is_some() {
                let new_uri = rewrite_path(req.uri(), rest.to_owned());
                *req.uri_mut() = new_uri;
            }
            req.extensions_mut()
                .insert(RequestedVersion(version.unwrap_or(API_VERSION)));
            next.run(req).await
        }
    };
    add_common_headers(resp.headers_mut());
    tracing::debug!("{method} {uri} -> {}", resp.status().as_u16());
    resp
}

fn rewrite_path(uri: &Uri, path: String) -> Uri {
    let path_and_query = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    // The new path is a suffix of a valid path, so it parses; keep the old URI if not.
    Uri::builder()
        .path_and_query(path_and_query)
        .build()
        .unwrap_or_else(|_| uri.clone())
}

pub fn add_common_headers(headers: &mut HeaderMap) {
    let set = |h: &mut HeaderMap, name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(HeaderName::from_static(name), v);
        }
    };
    set(headers, "api-version", API_VERSION.to_string());
    set(headers, "docker-experimental", "false".into());
    set(headers, "ostype", "linux".into());
    set(headers, "server", server_header());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(
            ApiVersion::parse("1.41"),
            Some(ApiVersion {
                major: 1,
                minor: 41
            })
        );
        assert_eq!(ApiVersion::parse("1.9").unwrap().to_string(), "1.9");
        for bad in ["", "1", "1.", ".1", "1.41.0", "a.b", "1.4x", "v1.41"] {
            assert_eq!(ApiVersion::parse(bad), None, "{bad}");
        }
        assert!(ApiVersion::parse("1.9").unwrap() < ApiVersion::parse("1.10").unwrap());
    }

    #[test]
    fn strips_prefixes() {
        let v = |s| ApiVersion::parse(s);
        assert_eq!(
            split_version_prefix("/v1.41/images/json"),
            (v("1.41"), "/images/json")
        );
        assert_eq!(split_version_prefix("/v1.50/_ping"), (v("1.50"), "/_ping"));
        assert_eq!(split_version_prefix("/_ping"), (None, "/_ping"));
        assert_eq!(split_version_prefix("/version"), (None, "/version"));
        assert_eq!(split_version_prefix("/v1.41"), (None, "/v1.41"));
        assert_eq!(split_version_prefix("/vx/info"), (None, "/vx/info"));
        assert_eq!(
            split_version_prefix("/volumes/x"),
            (None, "/volumes/x"),
            "a path starting with v is not a prefix"
        );
        assert_eq!(split_version_prefix("/v1.24/"), (v("1.24"), "/"));
    }

    #[test]
    fn bounds() {
        assert!(check_version(API_VERSION).is_ok());
        assert!(check_version(MIN_API_VERSION).is_ok());
        let e = check_version(ApiVersion::parse("1.50").unwrap()).unwrap_err();
        assert_eq!(e.status().as_u16(), 400);
        assert!(e.to_string().contains("too new"));
        let e = check_version(ApiVersion::parse("1.12").unwrap()).unwrap_err();
        assert!(e.to_string().contains("too old"));
    }

    #[test]
    fn rewrites_keep_query() {
        let uri: Uri = "/v1.41/images/json?all=1&filters=%7B%7D".parse().unwrap();
        let out = rewrite_path(&uri, "/images/json".into());
        assert_eq!(out.to_string(), "/images/json?all=1&filters=%7B%7D");
    }
}
