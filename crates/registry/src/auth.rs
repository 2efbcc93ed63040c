//! Authentication: htpasswd (bcrypt) with Basic, and Docker's token flow (the registry is its
//! own token service at `/token`, issuing HS256 JWTs). See the Docker "Token Authentication
//! Specification" for the challenge and claim formats clients expect.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::RegistryError;

/// The `service` of challenges and tokens.
pub const SERVICE: &str = "vessel-registry";

/// Users and bcrypt hashes from an htpasswd file (`htpasswd -B`).
pub struct Htpasswd {
    users: HashMap<String, String>,
    /// sha256 of `user\0password` pairs already verified: bcrypt costs tens of milliseconds
    /// and clients send credentials on every request.
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl Htpasswd {
    pub fn parse(text: &str, path: &Path) -> Result<Self, RegistryError> {
        let mut users = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |reason| RegistryError::Htpasswd {
                path: path.to_path_buf(),
                line: i + 1,
                reason,
            };
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| err("expected user:hash"))?;
            if user.is_empty() {
                return Err(err("empty user name"));
            }
            if !(hash.starts_with("$2y$") || hash.starts_with("$2a$") || hash.starts_with("$2b$")) {
                return Err(err("only bcrypt entries are supported (htpasswd -B)"));
            }
            users.insert(user.to_string(), hash.to_string());
        }
        Ok(Htpasswd {
            users,
            verified: Mutex::new(HashSet::new()),
        })
    }

    pub fn load(path: &Path) -> Result<Self, RegistryError> {
        let text = std::fs::read_to_string(path).map_err(RegistryError::io("reading", path))?;
        Self::parse(&text, path)
    }

    /// Checks a password (blocking: bcrypt).
    pub fn verify(&self, user: &str, password: &str) -> bool {
        let key: [u8; 32] = Sha256::new_with_prefix(user)
            .chain_update([0])
            .chain_update(password)
            .finalize()
            .into();
        let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if cache.contains(&key) {
            return true;
        }
        drop(cache);
        let Some(hash) = self.users.get(user) else {
            return false;
        };
        if !bcrypt::verify(password, hash).unwrap_or(false) {
            return false;
        }
        cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 4096 {
            cache.clear();
        }
        cache.insert(key);
        true
    }
}

/// Decodes `Authorization: Basic ...` into user and password.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let b64 = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let raw = STANDARD.decode(b64.trim()).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

pub fn parse_bearer(header: &str) -> Option<&str> {
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
}

/// One grant of the token spec's `access` claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl Access {
    /// Parses a scope `type:name:action,action` (the name may hold `:`, e.g. a port).
    pub fn parse_scope(scope: &str) -> Option<Access> {
        let (kind, rest) = scope.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        let actions = actions
            .split(',')
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
        Some(Access {
            kind: kind.to_string(),
            name: name.to_string(),
            actions,
        })
    }

    pub fn scope(&self) -> String {
        format!("{}:{}:{}", self.kind, self.name, self.actions.join(","))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: u64,
    pub nbf: u64,
    pub iat: u64,
    pub jti: String,
    pub access: Vec<Access>,
}

impl Claims {
    /// True if the token grants `action` on `kind:name` (`*` grants everything).
    pub fn allows(&self, kind: &str, name: &str, action: &str) -> bool {
        self.access.iter().any(|a| {
            a.kind == kind && a.name == name && a.actions.iter().any(|x| x == action || x == "*")
        })
    }
}

/// Errors of token verification.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad token signature")]
    Signature,
    #[error("token expired or not yet valid")]
    Expired,
    #[error("token is for another service")]
    Audience,
}

/// Issues and checks HS256 JWTs.
pub struct TokenIssuer {
    key: Vec<u8>,
    pub ttl: Duration,
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl TokenIssuer {
    pub fn new(key: Vec<u8>, ttl: Duration) -> Self {
        TokenIssuer { key, ttl }
    }

    /// A fresh random key (tokens then die with the process).
    pub fn generate(ttl: Duration) -> Self {
        let mut key = Vec::with_capacity(32);
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self::new(key, ttl)
    }

    pub fn from_file(path: &Path, ttl: Duration) -> Result<Self, RegistryError> {
        let key = std::fs::read(path).map_err(RegistryError::io("reading", path))?;
        if key.len() < 32 {
            return Err(RegistryError::TokenKey {
                path: path.to_path_buf(),
            });
        }
        Ok(Self::new(key, ttl))
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length")
    }

    pub fn issue(&self, sub: &str, access: Vec<Access>) -> (String, Claims) {
        let t = now();
        let claims = Claims {
            iss: SERVICE.to_string(),
            sub: sub.to_string(),
            aud: SERVICE.to_string(),
            exp: t + self.ttl.as_secs(),
            nbf: t.saturating_sub(10),
            iat: t,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            access,
        };
        let payload = serde_json::to_vec(&claims).expect("claims serialize");
        let signing = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut mac = self.mac();
        mac.update(signing.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        (format!("{signing}.{sig}"), claims)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let sig = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(h.as_bytes());
        mac.update(b".");
        mac.update(p.as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&sig).map_err(|_| TokenError::Signature)?;
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(h)
                .map_err(|_| TokenError::Malformed)?,
        )
        .map_err(|_| TokenError::Malformed)?;
        if header["alg"] != "HS256" {
            return Err(TokenError::Malformed);
        }
        let claims: Claims = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(p)
                .map_err(|_| TokenError::Malformed)?,
        )
        .map_err(|_| TokenError::Malformed)?;
        let t = now();
        if t >= claims.exp || t < claims.nbf {
            return Err(TokenError::Expired);
        }
        if claims.aud != SERVICE {
            return Err(TokenError::Audience);
        }
        Ok(claims)
    }
}

/// What an authenticated user may be granted from a requested scope: every user gets pull,
/// push and delete on repositories and the catalog (the registry has no per-user policy).
pub fn grant(requested: &Access) -> Option<Access> {
    let allowed: &[&str] = match requested.kind.as_str() {
        "repository" => &["pull", "push", "delete", "*"],
        "registry" if requested.name == "catalog" => &["*"],
        _ => return None,
    };
    let actions: Vec<String> = requested
        .actions
        .iter()
        .filter(|a| allowed.contains(&a.as_str()))
        .cloned()
        .collect();
    Some(Access {
        actions,
        ..requested.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn htpasswd_entries() {
        let hash = bcrypt::hash("secret", 4).unwrap();
        let text = format!("# users\n\nalice:{hash}\n");
        let h = Htpasswd::parse(&text, Path::new("f")).unwrap();
        assert!(h.verify("alice", "secret"));
        assert!(h.verify("alice", "secret"), "cached");
        assert!(!h.verify("alice", "wrong"));
        assert!(!h.verify("bob", "secret"));
        let e = Htpasswd::parse("bob:{SHA}abc\n", Path::new("f"))
            .err()
            .unwrap();
        assert!(matches!(e, RegistryError::Htpasswd { line: 1, .. }));
        assert!(Htpasswd::parse("nocolon\n", Path::new("f")).is_err());
    }

    #[test]
    fn basic_header() {
        let h = format!("Basic {}", STANDARD.encode("u:p:q"));
        assert_eq!(parse_basic(&h), Some(("u".into(), "p:q".into())));
        assert_eq!(parse_basic("Basic !!"), None);
        assert_eq!(parse_bearer("Bearer abc"), Some("abc"));
    }

    #[test]
    fn scopes() {
        let a = Access::parse_scope("repository:a/b:pull,push").unwrap();
        assert_eq!(a.name, "a/b");
        assert_eq!(a.actions, vec!["pull", "push"]);
        let a = Access::parse_scope("repository:localhost:5000/x:pull").unwrap();
        assert_eq!(a.name, "localhost:5000/x");
        assert_eq!(a.scope(), "repository:localhost:5000/x:pull");
        assert!(Access::parse_scope("nonsense").is_none());
        let g = grant(&Access::parse_scope("repository:x:pull,bogus").unwrap()).unwrap();
        assert_eq!(g.actions, vec!["pull"]);
        assert!(grant(&Access::parse_scope("registry:other:*").unwrap()).is_none());
    }

    #[test]
    fn tokens() {
        let iss = TokenIssuer::generate(Duration::from_secs(60));
        let (tok, _) = iss.issue(
            "alice",
            vec![Access::parse_scope("repository:a:pull").unwrap()],
        );
        let c = iss.verify(&tok).unwrap();
        assert_eq!(c.sub, "alice");
        assert!(c.allows("repository", "a", "pull"));
        assert!(!c.allows("repository", "a", "push"));
        assert!(!c.allows("repository", "b", "pull"));
        let other = TokenIssuer::generate(Duration::from_secs(60));
        assert_eq!(other.verify(&tok).unwrap_err(), TokenError::Signature);
        let mut forged: Vec<&str> = tok.split('.').collect();
        let payload = URL_SAFE_NO_PAD.encode(br#"{"access":[]}"#);
        forged[1] = &payload;
        assert_eq!(
            iss.verify(&forged.join(".")).unwrap_err(),
            TokenError::Signature
        );
        assert_eq!(iss.verify("a.b").unwrap_err(), TokenError::Malformed);
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        std::fs::write(&key, b"short").unwrap();
        assert!(matches!(
            TokenIssuer::from_file(&key, Duration::from_secs(1)),
            Err(RegistryError::TokenKey { .. })
        ));
        std::fs::write(&key, [7u8; 32]).unwrap();
        let a = TokenIssuer::from_file(&key, Duration::from_secs(60)).unwrap();
        let b = TokenIssuer::from_file(&key, Duration::from_secs(60)).unwrap();
        assert!(
            b.verify(&a.issue("x", vec![]).0).is_ok(),
            "same key file, same tokens"
        );
        let expired = TokenIssuer::new(b"k".repeat(32), Duration::ZERO);
        let (tok, _) = expired.issue("x", vec![]);
        assert_eq!(expired.verify(&tok).unwrap_err(), TokenError::Expired);
    }
}
