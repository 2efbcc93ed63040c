//! Path routing for `/v2/...`. Repository names contain slashes, so the path is matched from
//! its end (the spec's endpoint table: `/v2/<name>/blobs/<digest>` and friends).

use crate::error::{ApiError, Code};
use crate::names::valid_name;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`
    Base,
    /// `/v2/_catalog`
    Catalog,
    Tags {
        name: String,
    },
    Manifest {
        name: String,
        reference: String,
    },
    Blob {
        name: String,
        digest: String,
    },
    UploadStart {
        name: String,
    },
    Upload {
        name: String,
        id: String,
    },
    Referrers {
        name: String,
        digest: String,
    },
    /// `/token` (the token service of `--auth token`)
    Token,
}

/// Parses a request path; `Ok(None)` means no such endpoint (404), an `Err` a malformed name.
pub fn parse(path: &str) -> Result<Option<Route>, ApiError> {
    if path == "/token" {
        return Ok(Some(Route::Token));
    }
    let rest = match path.strip_prefix("/v2") {
        Some("") | Some("/") => return Ok(Some(Route::Base)),
        Some(r) => match r.strip_prefix('/') {
            Some(r) => r,
            None => return Ok(None),
        },
        None => return Ok(None),
    };
    if rest == "_catalog" {
        return Ok(Some(Route::Catalog));
    }
    let segs: Vec<&str> = rest.split('/').collect();
    let n = segs.len();
    let tail = |k: usize| segs[n - k..].to_vec();
    let (name_segs, route): (usize, fn(String, String) -> Route) =
        if n >= 3 && tail(2) == ["tags", "list"] {
            (n - 2, |name, _| Route::Tags { name })
        } else if n >= 4 && tail(3) == ["blobs", "uploads", ""] {
            (n - 3, |name, _| Route::UploadStart { name })
        } else if n >= 3 && tail(2) == ["blobs", "uploads"] {
            (n - 2, |name, _| Route::UploadStart { name })
        } else if n >= 4 && segs[n - 3] == "blobs" && segs[n - 2] == "uploads" {
            (n - 3, |name, id| Route::Upload { name, id })
        } else if n >= 3 && segs[n - 2] == "blobs" {
            (n - 2, |name, digest| Route::Blob { name, digest })
        } else if n >= 3 && segs[n - 2] == "manifests" {
            (n - 2, |name, reference| Route::Manifest { name, reference })
        } else if n >= 3 && segs[n - 2] == "referrers" {
            (n - 2, |name, digest| Route::Referrers { name, digest })
        } else {
            return Ok(None);
        };
    let name = segs[..name_segs].join("/");
    if !valid_name(&name) {
        return Err(ApiError::detail(
            Code::NameInvalid,
            format!("invalid repository name {name:?}"),
        ));
    }
    let last = segs[n - 1].to_string();
    if last.is_empty()
        && !matches!(
            route(String::new(), String::new()),
            Route::UploadStart { .. } | Route::Tags { .. }
        )
    {
        return Ok(None);
    }
    Ok(Some(route(name, last)))
}

impl Route {
    /// The repository a request touches, for authorization.
    pub fn repository(&self) -> Option<&str> {
        match self {
            Route::Tags { name }
            | Route::Manifest { name, .. }
            | Route::Blob { name, .. }
            | Route::UploadStart { name }
            | Route::Upload { name, .. }
            | Route::Referrers { name, .. } => Some(name),
            Route::Base | Route::Catalog | Route::Token => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(p: &str) -> Option<Route> {
        parse(p).unwrap()
    }

    #[test]
    fn routes() {
        assert_eq!(r("/v2/"), Some(Route::Base));
        assert_eq!(r("/v2"), Some(Route::Base));
        assert_eq!(r("/v2/_catalog"), Some(Route::Catalog));
        assert_eq!(
            r("/v2/a/b/c/tags/list"),
            Some(Route::Tags {
                name: "a/b/c".into()
            })
        );
        assert_eq!(
            r("/v2/a/b/manifests/latest"),
            Some(Route::Manifest {
                name: "a/b".into(),
                reference: "latest".into()
            })
        );
        assert_eq!(
            r("/v2/x/blobs/sha256:00"),
            Some(Route::Blob {
                name: "x".into(),
                digest: "sha256:00".into()
            })
        );
        assert_eq!(
            r("/v2/x/y/blobs/uploads/"),
            Some(Route::UploadStart { name: "x/y".into() })
        );
        assert_eq!(
            r("/v2/x/blobs/uploads"),
            Some(Route::UploadStart { name: "x".into() })
        );
        assert_eq!(
            r("/v2/x/blobs/uploads/abc"),
            Some(Route::Upload {
                name: "x".into(),
                id: "abc".into()
            })
        );
        // A repository may itself be called `blobs` or `manifests`.
        assert_eq!(
            r("/v2/blobs/manifests/manifests/v1"),
            Some(Route::Manifest {
                name: "blobs/manifests".into(),
                reference: "v1".into()
            })
        );
        assert_eq!(
            r("/v2/a/referrers/sha256:1"),
            Some(Route::Referrers {
                name: "a".into(),
                digest: "sha256:1".into()
            })
        );
        assert_eq!(r("/token"), Some(Route::Token));
        assert_eq!(r("/v3/"), None);
        assert_eq!(r("/v2x"), None);
        assert_eq!(r("/v2/a/manifests/"), None);
        assert_eq!(r("/v2/a/unknown/x"), None);
    }

    #[test]
    fn traversal_is_an_invalid_name() {
        for p in [
            "/v2/../etc/manifests/x",
            "/v2/a/../../b/blobs/uploads/",
            "/v2//a/tags/list",
            "/v2/%2e%2e/tags/list",
            "/v2/A/tags/list",
        ] {
            assert_eq!(parse(p).unwrap_err().code, Code::NameInvalid, "{p}");
        }
    }
}
