//! Progress of a pull or push, shaped like Docker's JSON message stream so the daemon can
//! forward it as is and `docker pull` draws its own bars.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// One line of Docker's JSON message stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(
        rename = "progressDetail",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub detail: Option<ProgressDetail>,
    /// Docker's rendered bar; docker CLI draws its own from `progressDetail` when on a
    /// terminal and prints this otherwise.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub progress: String,
    /// A layer's 12-hex short digest, or the tag for the first line.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
}

impl Progress {
    pub fn status(status: impl Into<String>) -> Progress {
        Progress {
            status: status.into(),
            ..Progress::default()
        }
    }

    pub fn layer(id: &str, status: impl Into<String>) -> Progress {
        Progress {
            status: status.into(),
            id: id.to_string(),
            ..Progress::default()
        }
    }

    pub fn bytes(id: &str, status: &str, current: u64, total: u64) -> Progress {
        Progress {
            status: status.to_string(),
            detail: Some(ProgressDetail {
                current: Some(current),
                total: Some(total),
            }),
            progress: bar(current, total),
            id: id.to_string(),
        }
    }

    /// The JSON line (without the newline).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The error line that ends a failed stream.
pub fn error_json(message: &str) -> String {
    serde_json::json!({"errorDetail": {"message": message}, "error": message}).to_string()
}

/// Docker's text bar: `[=====>     ]  1.2MB/3.4MB`.
fn bar(current: u64, total: u64) -> String {
    if total == 0 {
        return human(current);
    }
    let width = 50u64;
    let filled = (current.min(total) * width / total) as usize;
    let mut s = String::from("[");
    s.push_str(&"=".repeat(filled.saturating_sub(1)));
    if filled > 0 {
        s.push('>');
    }
    s.push_str(&" ".repeat(width as usize - filled));
    s.push_str(&format!("]  {}/{}", human(current), human(total)));
    s
}

/// Decimal units as Docker's `units.HumanSize`.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        return format!("{n}B");
    }
    // Up to 4 significant digits, trailing zeros dropped (Go's %.4g).
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{}", UNITS[u])
}

/// The short id docker shows for a layer: the first 12 hex digits of its digest.
pub fn short_id(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_json_shapes() {
        assert_eq!(
            Progress::layer("latest", "Pulling from library/busybox").to_json(),
            r#"{"status":"Pulling from library/busybox","id":"latest"}"#
        );
        let p = Progress::bytes("0123456789ab", "Downloading", 500, 1000);
        let v: serde_json::Value = serde_json::from_str(&p.to_json()).unwrap();
        assert_eq!(v["progressDetail"]["current"], 500);
        assert_eq!(v["progressDetail"]["total"], 1000);
        assert_eq!(v["id"], "0123456789ab");
        assert!(v["progress"]
            .as_str()
            .unwrap()
            .starts_with("[========================>"));
        assert_eq!(
            Progress::status("Digest: sha256:ab").to_json(),
            r#"{"status":"Digest: sha256:ab"}"#
        );
        let back: Progress = serde_json::from_str(&p.to_json()).unwrap();
        assert_eq!(back, p);
        let e: serde_json::Value = serde_json::from_str(&error_json("boom")).unwrap();
        assert_eq!(e["errorDetail"]["message"], "boom");
        assert_eq!(e["error"], "boom");
    }

    #[test]
    fn helpers() {
        assert_eq!(short_id("sha256:0123456789abcdef"), "0123456789ab");
        assert_eq!(human(999), "999B");
        assert_eq!(human(1500), "1.5kB");
        assert_eq!(human(2_000_000), "2MB");
    }
}
