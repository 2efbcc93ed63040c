//! Request dispatch: route, authorize, refuse writes when read-only, then the handler.

mod blobs;
mod lists;
mod manifests;
mod token;
mod upload;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};

use crate::auth::{Claims, Htpasswd, TokenIssuer, SERVICE};
use crate::error::{ApiError, Code, RegistryError};
use crate::route::{self, Route};
use crate::storage::Storage;
use crate::uploads::Uploads;
use crate::{AuthConfig, RegistryConfig};

pub enum Auth {
    None,
    Htpasswd(Htpasswd),
    Token {
        users: Htpasswd,
        issuer: TokenIssuer,
    },
}

pub struct App {
    pub store: Storage,
    pub uploads: Uploads,
    pub auth: Auth,
    pub read_only: bool,
    pub max_upload: Option<u64>,
    tls: bool,
    local: SocketAddr,
}

impl App {
    pub fn new(cfg: &RegistryConfig, tls: bool, local: SocketAddr) -> Result<Self, RegistryError> {
        let store = Storage::new(&cfg.root);
        store.init()?;
        let auth = match &cfg.auth {
            AuthConfig::None => Auth::None,
            AuthConfig::Htpasswd { htpasswd } => Auth::Htpasswd(Htpasswd::load(htpasswd)?),
            AuthConfig::Token { htpasswd, key_file } => Auth::Token {
                users: Htpasswd::load(htpasswd)?,
                issuer: match key_file {
                    Some(k) => TokenIssuer::from_file(k, cfg.token_ttl)?,
                    None => TokenIssuer::generate(cfg.token_ttl),
                },
            },
        };
        Ok(App {
            uploads: Uploads::new(&store, cfg.upload_ttl),
            store,
            auth,
            read_only: cfg.read_only,
            max_upload: cfg.max_upload_size,
            tls,
            local,
        })
    }

    /// `<scheme>://<host>` as the client reached us (for the token realm).
    fn base_url(&self, headers: &HeaderMap) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            })
            .map(str::to_string)
            .unwrap_or_else(|| self.local.to_string());
        format!("{scheme}://{host}")
    }
}

/// What the request's credentials allow.
pub enum Grant {
    All,
    Token(Claims),
}

impl Grant {
    pub fn may(&self, kind: &str, name: &str, action: &str) -> bool {
        match self {
            Grant::All => true,
            Grant::Token(c) => c.allows(kind, name, action),
        }
    }
}

pub async fn handle(app: Arc<App>, req: Request<Body>) -> Response<Body> {
    let mut resp = match run(&app, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    resp.headers_mut().insert(
        "Docker-Distribution-API-Version",
        HeaderValue::from_static("registry/2.0"),
    );
    resp
}

fn not_found() -> Response<Body> {
    let mut r = Response::new(Body::from("404 page not found\n"));
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

fn unsupported() -> ApiError {
    ApiError::detail(Code::Unsupported, "method not allowed on this endpoint")
}

async fn run(app: &Arc<App>, req: Request<Body>) -> Result<Response<Body>, ApiError> {
    let (parts, body) = req.into_parts();
    let Some(route) = route::parse(parts.uri.path())? else {
        return Ok(not_found());
    };
    if route == Route::Token {
        return match &app.auth {
            Auth::Token { issuer, .. } => token::issue(app, issuer, &parts).await,
            _ => Ok(not_found()),
        };
    }
    let method = parts.method.clone();
    let grant = authorize(app, &parts, &route).await?;
    let write = !matches!(method, Method::GET | Method::HEAD);
    if write && app.read_only && route != Route::Base {
        return Err(ApiError::detail(
            Code::Unsupported,
            "the registry is read-only",
        ));
    }
    match route {
        Route::Base => match method {
            Method::GET | Method::HEAD => Ok(json_response(StatusCode::OK, "{}".into())),
            _ => Err(unsupported()),
        },
        Route::Catalog if method == Method::GET => {
            let q = parts.uri.query().map(str::to_string);
            blocking(app, move |app| lists::catalog(app, q.as_deref())).await
        }
        Route::Tags { name } if method == Method::GET => {
            let q = parts.uri.query().map(str::to_string);
            blocking(app, move |app| lists::tags(app, &name, q.as_deref())).await
        }
        Route::Referrers { name, digest } if method == Method::GET => {
            let q = parts.uri.query().map(str::to_string);
            blocking(app, move |app| {
                lists::referrers(app, &name, &digest, q.as_deref())
            })
            .await
        }
        Route::Blob { name, digest } => blobs::handle(app, &method, &name, &digest, &parts).await,
        Route::UploadStart { name } if method == Method::POST => {
            upload::start(app, &grant, &name, &parts, body).await
        }
        Route::Upload { name, id } => upload::handle(app, &method, &name, &id, &parts, body).await,
        Route::Manifest { name, reference } => {
            manifests::handle(app, &method, &name, &reference, &parts, body).await
        }
        _ => Err(unsupported()),
    }
}

/// The action a method needs on a repository, in the token spec's vocabulary.
fn action(method: &Method) -> &'static str {
    match *method {
        Method::GET | Method::HEAD => "pull",
        Method::DELETE => "delete",
        _ => "push",
    }
}

async fn authorize(app: &Arc<App>, req: &Parts, route: &Route) -> Result<Grant, ApiError> {
    let authz = req
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok());
    match &app.auth {
        Auth::None => Ok(Grant::All),
        Auth::Htpasswd(_) => {
            let challenge = || {
                ApiError::new(Code::Unauthorized).with_header(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"vessel-registry\""),
                )
            };
            let (u, p) = authz
                .and_then(crate::auth::parse_basic)
                .ok_or_else(challenge)?;
            if check_password(app, u, p).await {
                Ok(Grant::All)
            } else {
                Err(challenge())
            }
        }
        Auth::Token { issuer, .. } => {
            let (kind, name, act) = match route {
                Route::Catalog => ("registry", "catalog", "*"),
                r => match r.repository() {
                    Some(n) => ("repository", n, action(&req.method)),
                    None => ("", "", ""),
                },
            };
            let scope_actions = match act {
                "push" => "pull,push",
                a => a,
            };
            let challenge = |err: Option<&str>| {
                let mut v = format!(
                    "Bearer realm=\"{}/token\",service=\"{SERVICE}\"",
                    app.base_url(&req.headers)
                );
                if !kind.is_empty() {
                    v.push_str(&format!(",scope=\"{kind}:{name}:{scope_actions}\""));
                }
                if let Some(e) = err {
                    v.push_str(&format!(",error=\"{e}\""));
                }
                let hv = HeaderValue::from_str(&v)
                    .unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
                ApiError::new(Code::Unauthorized).with_header(header::WWW_AUTHENTICATE, hv)
            };
            let tok = authz
                .and_then(crate::auth::parse_bearer)
                .ok_or_else(|| challenge(None))?;
            let claims = issuer
                .verify(tok)
                .map_err(|_| challenge(Some("invalid_token")))?;
            let ok = kind.is_empty()
                || claims.allows(kind, name, act)
                || (act == "delete" && claims.allows(kind, name, "*"));
            if !ok {
                return Err(challenge(Some("insufficient_scope")));
            }
            Ok(Grant::Token(claims))
        }
    }
}

/// Runs filesystem-heavy work on the blocking pool.
async fn blocking<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&App) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || f(&app))
        .await
        .map_err(ApiError::internal)?
}

/// bcrypt off the async threads.
pub async fn check_password(app: &Arc<App>, user: String, pass: String) -> bool {
    let app = app.clone();
    tokio::task::spawn_blocking(move || match &app.auth {
        Auth::Htpasswd(u) | Auth::Token { users: u, .. } => u.verify(&user, &pass),
        Auth::None => true,
    })
    .await
    .unwrap_or(false)
}

pub fn json_response(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A header value built from trusted, validated parts (names, digests, numbers).
pub fn hv(s: impl AsRef<str>) -> HeaderValue {
    HeaderValue::from_str(s.as_ref()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// An empty response with the given headers.
pub fn empty(status: StatusCode, headers: &[(&'static str, String)]) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    for (k, v) in headers {
        h.insert(*k, hv(v));
    }
    r
}
