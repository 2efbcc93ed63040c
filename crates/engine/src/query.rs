//! Query strings the way the Docker clients write them: form-encoded (`+` is a space), booleans
//! as `1`/`0`/`True`/`False`, repeated keys (`names=a&names=b`).

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::errors::ApiError;
use crate::filters::Filters;

#[derive(Debug, Clone, Default)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

/// moby's `httputils.BoolValue`: false for "", "0", "no", "false", "none" (any case), else true.
pub fn parse_bool(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    !matches!(v.as_str(), "" | "0" | "no" | "false" | "none")
}

impl QueryParams {
    pub fn parse(query: Option<&str>) -> Self {
        let pairs = query
            .map(|q| {
                form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        QueryParams { pairs }
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `key` if it is present and not empty.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }

    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn bool(&self, key: &str) -> bool {
        self.get(key).is_some_and(parse_bool)
    }

    /// moby's `BoolValueOrDefault`: the default when the key is absent or empty.
    pub fn bool_or(&self, key: &str, default: bool) -> bool {
        match self.non_empty(key) {
            Some(v) => parse_bool(v),
            None => default,
        }
    }

    pub fn int(&self, key: &'static str, default: i64) -> Result<i64, ApiError> {
        match self.non_empty(key) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| ApiError::InvalidParameter {
                name: key,
                value: v.to_owned(),
                reason: "not an integer",
            }),
        }
    }

    pub fn filters(&self) -> Result<Filters, ApiError> {
        Ok(Filters::parse(self.get("filters").unwrap_or(""))?)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(QueryParams::parse(parts.uri.query()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moby_booleans() {
        for t in ["1", "True", "true", "yes", "on", "anything"] {
            assert!(parse_bool(t), "{t}");
        }
        for f in ["", "0", "no", "NO", "False", "false", "none", "None", " 0 "] {
            assert!(!parse_bool(f), "{f}");
        }
    }

    #[test]
    fn params() {
        let q = QueryParams::parse(Some("v=False&force=1&names=a&names=b%3Ac&t=10&msg=a+b&e="));
        assert!(!q.bool("v"));
        assert!(q.bool("force"));
        assert!(!q.bool("missing"));
        assert!(q.bool_or("missing", true));
        assert!(q.bool_or("e", true));
        assert_eq!(q.get_all("names"), ["a", "b:c"]);
        assert_eq!(q.get("msg"), Some("a b"));
        assert_eq!(q.int("t", 0).unwrap(), 10);
        assert_eq!(q.int("nope", 7).unwrap(), 7);
        assert!(q.int("msg", 0).is_err());
        assert_eq!(q.non_empty("e"), None);
    }
}
