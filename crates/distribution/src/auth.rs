//! Registry authentication: `WWW-Authenticate` challenges (RFC 7235 as the distribution
//! token spec uses them), credentials, and the Authorization header values they give.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// What a user authenticates with. Field names match Docker's `X-Registry-Auth` JSON and
/// `AuthConfig`, so the same struct decodes both.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub serveraddress: String,
    /// An OAuth refresh token (Docker's `identitytoken`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identitytoken: String,
    /// A bearer token to send as is.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub registrytoken: String,
}

impl Credentials {
    pub fn basic(username: &str, password: &str) -> Credentials {
        Credentials {
            username: username.to_string(),
            password: password.to_string(),
            ..Credentials::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.username.is_empty() && self.registrytoken.is_empty() && self.identitytoken.is_empty()
    }

    /// `Basic base64(user:password)`.
    pub fn basic_header(&self) -> Option<String> {
        if self.username.is_empty() {
            return None;
        }
        let raw = format!("{}:{}", self.username, self.password);
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ))
    }

    /// Decode Docker's `X-Registry-Auth` header: base64url (padded or not) JSON. An empty
    /// or `{}` header means anonymous.
    pub fn from_registry_auth_header(value: &str) -> Option<Credentials> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        let trimmed = value.trim_end_matches('=');
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(trimmed)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
            .ok()?;
        let creds: Credentials = serde_json::from_slice(&bytes).ok()?;
        (!creds.is_empty()).then_some(creds)
    }

    /// Encode as Docker's `X-Registry-Auth` header value.
    pub fn to_registry_auth_header(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE.encode(json)
    }
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic {
        realm: String,
    },
    Bearer {
        realm: String,
        service: Option<String>,
        /// The scope the registry asked for, if it said.
        scope: Option<String>,
    },
}

/// Parse `Bearer realm="https://auth.docker.io/token",service="registry.docker.io"` or
/// `Basic realm="Registry Realm"`. Parameter names are case-insensitive; values quoted
/// (with `\` escapes) or bare tokens. Unknown schemes give `None`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = match header.find(char::is_whitespace) {
        Some(i) => (&header[..i], header[i..].trim_start()),
        None => (header, ""),
    };
    let params = parse_params(rest)?;
    let get = |k: &str| {
        params
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    if scheme.eq_ignore_ascii_case("basic") {
        Some(Challenge::Basic {
            realm: get("realm").unwrap_or_default(),
        })
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Some(Challenge::Bearer {
            realm: get("realm")?,
            service: get("service"),
            scope: get("scope"),
        })
    } else {
        None
    }
}

fn parse_params(mut s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if s.is_empty() {
            return Some(out);
        }
        let eq = s.find('=')?;
        let name = s[..eq].trim().to_string();
        s = s[eq + 1..].trim_start();
        let value;
        if let Some(quoted) = s.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = quoted.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => v.push(c),
                }
            }
            let end = end?;
            value = v;
            s = &quoted[end + 1..];
        } else {
            let end = s.find(',').unwrap_or(s.len());
            value = s[..end].trim().to_string();
            s = &s[end..];
        }
        out.push((name, value));
    }
}

/// `repository:<repo>:<actions>`, the scope of the token spec.
pub fn repo_scope(repository: &str, actions: &str) -> String {
    format!("repository:{repository}:{actions}")
}

/// The reply of a token server: `token` or (OAuth) `access_token`.
#[derive(Debug, Deserialize)]
pub struct TokenReply {
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub access_token: String,
}

impl TokenReply {
    pub fn into_token(self) -> Option<String> {
        if !self.token.is_empty() {
            Some(self.token)
        } else if !self.access_token.is_empty() {
            Some(self.access_token)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenge() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
            }
        );
        let c = parse_challenge(r#"bearer Realm="http://x/t?a=b", error="insufficient_scope""#)
            .unwrap();
        assert!(
            matches!(c, Challenge::Bearer { realm, service: None, .. } if realm == "http://x/t?a=b")
        );
    }

    #[test]
    fn basic_and_odd_challenges() {
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic {
                realm: "Registry Realm".into()
            })
        );
        assert_eq!(
            parse_challenge("Basic"),
            Some(Challenge::Basic { realm: "".into() })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="a \"quoted\" realm""#),
            Some(Challenge::Basic {
                realm: "a \"quoted\" realm".into()
            })
        );
        assert_eq!(
            parse_challenge("Bearer realm=https://t/x,service=reg"),
            Some(Challenge::Bearer {
                realm: "https://t/x".into(),
                service: Some("reg".into()),
                scope: None
            })
        );
        assert_eq!(parse_challenge("Negotiate abc"), None);
        assert_eq!(parse_challenge(r#"Bearer service="x""#), None);
        assert_eq!(parse_challenge(r#"Bearer realm="unterminated"#), None);
    }

    #[test]
    fn registry_auth_header_roundtrip() {
        let c = Credentials {
            username: "u".into(),
            password: "p?>".into(),
            serveraddress: "127.0.0.1:5000".into(),
            ..Credentials::default()
        };
        let h = c.to_registry_auth_header();
        assert_eq!(Credentials::from_registry_auth_header(&h), Some(c.clone()));
        assert_eq!(
            Credentials::from_registry_auth_header(h.trim_end_matches('=')),
            Some(c)
        );
        // What docker CLI sends for anonymous pulls.
        assert_eq!(Credentials::from_registry_auth_header("e30="), None);
        assert_eq!(Credentials::from_registry_auth_header(""), None);
        assert_eq!(
            Credentials::basic("a", "b").basic_header().unwrap(),
            "Basic YTpi"
        );
    }

    #[test]
    fn token_replies() {
        let t: TokenReply = serde_json::from_str(r#"{"token":"abc","expires_in":300}"#).unwrap();
        assert_eq!(t.into_token().unwrap(), "abc");
        let t: TokenReply = serde_json::from_str(r#"{"access_token":"xyz"}"#).unwrap();
        assert_eq!(t.into_token().unwrap(), "xyz");
        let t: TokenReply = serde_json::from_str("{}").unwrap();
        assert_eq!(t.into_token(), None);
        assert_eq!(
            repo_scope("library/busybox", "pull,push"),
            "repository:library/busybox:pull,push"
        );
    }
}
