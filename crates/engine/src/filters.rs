//! The `filters` query parameter: URL-encoded JSON in two shapes. The docker CLI sends a map of
//! bools (`{"status":{"exited":true}}`), docker-py a list (`{"label":["a=b"]}`). Both become one
//! set of values per key. (`+` as space is decoded with the rest of the query string.)

use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error("filters are not valid JSON")]
    Json(#[source] serde_json::Error),
    #[error("filters must be a JSON object of lists or of {{\"value\": true}} maps")]
    Shape,
    #[error("invalid filter '{0}'")]
    UnknownKey(String),
    #[error("invalid filter '{key}={value}'")]
    InvalidValue { key: String, value: String },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    fields: BTreeMap<String, BTreeSet<String>>,
}

impl Filters {
    /// Parses the (already URL-decoded) `filters` value; empty means no filter.
    pub fn parse(raw: &str) -> Result<Self, FilterError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(Filters::default());
        }
        let value: serde_json::Value = serde_json::from_str(raw).map_err(FilterError::Json)?;
        let serde_json::Value::Object(map) = value else {
            return Err(FilterError::Shape);
        };
        let mut fields = BTreeMap::new();
        for (key, values) in map {
            let set: &mut BTreeSet<String> = fields.entry(key).or_default();
            match values {
                serde_json::Value::Object(m) => {
                    for (v, on) in m {
                        match on {
                            serde_json::Value::Bool(true) => {
                                set.insert(v);
                            }
                            serde_json::Value::Bool(false) => {}
                            _ => return Err(FilterError::Shape),
                        }
                    }
                }
                serde_json::Value::Array(list) => {
                    for v in list {
                        let serde_json::Value::String(s) = v else {
                            return Err(FilterError::Shape);
                        };
                        set.insert(s);
                    }
                }
                _ => return Err(FilterError::Shape),
            }
        }
        Ok(Filters { fields })
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.fields.contains_key(key)
    }

    pub fn values(&self, key: &str) -> impl Iterator<Item = &str> {
        self.fields
            .get(key)
            .into_iter()
            .flat_map(|s| s.iter().map(String::as_str))
    }

    /// Rejects keys this endpoint does not know, as moby does (`invalid filter 'x'`).
    pub fn validate(&self, allowed: &[&str]) -> Result<(), FilterError> {
        match self.fields.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(FilterError::UnknownKey(k.clone())),
            None => Ok(()),
        }
    }

    /// A boolean filter such as `dangling=true`: `None` when absent.
    pub fn bool_value(&self, key: &str) -> Result<Option<bool>, FilterError> {
        let Some(values) = self.fields.get(key) else {
            return Ok(None);
        };
        let mut result = None;
        for v in values {
            let b = match v.to_ascii_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    return Err(FilterError::InvalidValue {
                        key: key.to_owned(),
                        value: v.clone(),
                    })
                }
            };
            if result.is_some_and(|r| r != b) {
                return Err(FilterError::InvalidValue {
                    key: key.to_owned(),
                    value: v.clone(),
                });
            }
            result = Some(b);
        }
        Ok(result)
    }

    /// moby's `MatchKVList`: every `label` value (`k` or `k=v`) must match; true if none given.
    pub fn match_labels(&self, key: &str, labels: &HashMap<String, String>) -> bool {
        self.values(key).all(|want| match want.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
            None => labels.contains_key(want),
        })
    }
}

/// Shell-style glob with `*` and `?` (what moby's `path.Match` gives for references, without
/// character classes).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes() {
        let cli = Filters::parse(r#"{"name":{"logger":true},"status":{"exited":true}}"#).unwrap();
        assert_eq!(cli.values("name").collect::<Vec<_>>(), ["logger"]);
        assert_eq!(cli.values("status").collect::<Vec<_>>(), ["exited"]);
        let py = Filters::parse(
            r#"{"label": ["com.docker.compose.project=demo", "com.docker.compose.oneoff=False"]}"#,
        )
        .unwrap();
        assert_eq!(py.values("label").count(), 2);
        assert!(Filters::parse("").unwrap().is_empty());
        let off = Filters::parse(r#"{"name":{"a":false}}"#).unwrap();
        assert_eq!(off.values("name").count(), 0);
    }

    #[test]
    fn plus_is_space_through_query_decoding() {
        let q = crate::query::QueryParams::parse(Some(
            "filters=%7B%22label%22%3A+%5B%22a%3Db+c%22%5D%7D",
        ));
        let f = q.filters().unwrap();
        assert_eq!(f.values("label").collect::<Vec<_>>(), ["a=b c"]);
    }

    #[test]
    fn bad_shapes() {
        for bad in [
            "[]",
            "{",
            r#"{"a":1}"#,
            r#"{"a":[1]}"#,
            r#"{"a":{"b":"yes"}}"#,
        ] {
            assert!(Filters::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validate_and_bools() {
        let f = Filters::parse(r#"{"dangling":{"true":true}}"#).unwrap();
        assert!(f.validate(&["dangling", "label"]).is_ok());
        assert_eq!(
            f.validate(&["label"]).unwrap_err().to_string(),
            "invalid filter 'dangling'"
        );
        assert_eq!(f.bool_value("dangling").unwrap(), Some(true));
        assert_eq!(f.bool_value("other").unwrap(), None);
        let bad = Filters::parse(r#"{"dangling":["maybe"]}"#).unwrap();
        assert!(bad.bool_value("dangling").is_err());
        let both = Filters::parse(r#"{"dangling":["true","false"]}"#).unwrap();
        assert!(both.bool_value("dangling").is_err());
    }

    #[test]
    fn labels() {
        let labels: HashMap<String, String> = [("a".into(), "1".into()), ("b".into(), "".into())]
            .into_iter()
            .collect();
        let f = Filters::parse(r#"{"label":["a=1","b"]}"#).unwrap();
        assert!(f.match_labels("label", &labels));
        let f = Filters::parse(r#"{"label":["a=2"]}"#).unwrap();
        assert!(!f.match_labels("label", &labels));
        assert!(Filters::default().match_labels("label", &labels));
    }

    #[test]
    fn globs() {
        assert!(glob_match("bb*", "bb:latest"));
        assert!(glob_match("*:v?", "x:v1"));
        assert!(!glob_match("x", "xy"));
        assert!(glob_match("x", "x"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
    }
}
