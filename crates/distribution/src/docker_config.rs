//! `~/.docker/config.json`, shared with the docker CLI: `auths` entries (base64
//! `user:password`), and the `credsStore`/`credHelpers` programs
//! (`docker-credential-<name> get|store|erase`, JSON on stdin/stdout).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::auth::Credentials;
use crate::error::{DistError, Result};

/// The key docker uses for Docker Hub in `auths`.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
pub fn default_path() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("config.json");
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".docker").join("config.json")
}

/// The `auths` key of a registry host: Docker Hub has its historical URL.
pub fn server_key(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_KEY.to_string(),
        other => other.to_string(),
    }
}

/// `https://host:5000/v1/` → `host:5000`, as docker matches `auths` keys.
fn key_host(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

/// The config file, kept as JSON so unknown keys survive a rewrite.
pub struct DockerConfig {
    path: PathBuf,
    value: Map<String, Value>,
}

impl DockerConfig {
    /// Read `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<DockerConfig> {
        let value = match std::fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| DistError::ConfigJson {
                    path: path.to_path_buf(),
                    source,
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(source) => {
                return Err(DistError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        Ok(DockerConfig {
            path: path.to_path_buf(),
            value,
        })
    }

    fn helper_for(&self, key: &str) -> Option<String> {
        let host = key_host(key);
        let helpers = self.value.get("credHelpers").and_then(Value::as_object);
        if let Some(h) = helpers.and_then(|m| {
            m.iter()
                .find(|(k, _)| key_host(k) == host)
                .and_then(|(_, v)| v.as_str())
        }) {
            return Some(h.to_string());
        }
        self.value
            .get("credsStore")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    /// Credentials stored for `registry` (a reference's registry part), if any.
    pub fn credentials(&self, registry: &str) -> Result<Option<Credentials>> {
        let key = server_key(registry);
        if let Some(helper) = self.helper_for(&key) {
            if let Some(c) = helper_get(&helper, &key)? {
                return Ok(Some(c));
            }
        }
        let Some(auths) = self.value.get("auths").and_then(Value::as_object) else {
            return Ok(None);
        };
        let host = key_host(&key);
        let entry = auths.get(&key).or_else(|| {
            auths
                .iter()
                .find(|(k, _)| key_host(k) == host)
                .map(|(_, v)| v)
        });
        let Some(entry) = entry else {
            return Ok(None);
        };
        let mut creds = Credentials {
            serveraddress: key.clone(),
            ..Credentials::default()
        };
        if let Some(auth) = entry.get("auth").and_then(Value::as_str) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            if let Some((u, p)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                creds.username = u.to_string();
                creds.password = p.to_string();
            }
        }
        if let Some(t) = entry.get("identitytoken").and_then(Value::as_str) {
            creds.identitytoken = t.to_string();
        }
        Ok((!creds.is_empty()).then_some(creds))
    }

    /// Remember credentials for `registry` (through the credential helper if one is set).
    pub fn store(&mut self, registry: &str, creds: &Credentials) -> Result<()> {
        let key = server_key(registry);
        if let Some(helper) = self.helper_for(&key) {
            let input =
                json!({"ServerURL": key, "Username": creds.username, "Secret": creds.password});
            run_helper(&helper, "store", &input.to_string())?;
            // docker keeps an empty entry so `docker info`/logout know the registry.
            self.auths_mut().insert(key, json!({}));
        } else {
            let auth = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", creds.username, creds.password));
            self.auths_mut().insert(key, json!({ "auth": auth }));
        }
        self.save()
    }

    /// Forget `registry`; returns whether anything was stored.
    pub fn erase(&mut self, registry: &str) -> Result<bool> {
        let key = server_key(registry);
        if let Some(helper) = self.helper_for(&key) {
            // A helper that does not know the server is not an error for logout.
            let _ = run_helper(&helper, "erase", &key);
        }
        let host = key_host(&key).to_string();
        let auths = self.auths_mut();
        let before = auths.len();
        auths.retain(|k, _| key_host(k) != host);
        let removed = auths.len() != before;
        self.save()?;
        Ok(removed)
    }

    fn auths_mut(&mut self) -> &mut Map<String, Value> {
        let entry = self
            .value
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        match entry {
            Value::Object(m) => m,
            _ => unreachable!("made an object above"),
        }
    }

    /// Write atomically (temp file + rename) with mode 0600: the file holds passwords.
    fn save(&self) -> Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        let io = |source| DistError::Io {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let tmp = dir.join(format!(".config.json.{}.tmp", std::process::id()));
        let mut bytes = serde_json::to_vec_pretty(&self.value).unwrap_or_default();
        bytes.push(b'\n');
        let result = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(io)
    }
}

fn run_helper(helper: &str, verb: &str, input: &str) -> Result<String> {
    let err = |detail: String| DistError::CredHelper {
        helper: helper.to_string(),
        detail,
    };
    let mut child = Command::new(format!("docker-credential-{helper}"))
        .arg(verb)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot run: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| err(format!("writing stdin: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| err(format!("waiting: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        let msg = if stdout.trim().is_empty() {
            String::from_utf8_lossy(&out.stderr).into_owned()
        } else {
            stdout
        };
        return Err(err(format!("{verb} failed: {}", msg.trim())));
    }
    Ok(stdout)
}

/// `docker-credential-<helper> get`; "credentials not found" is `None`, as is a missing
/// helper program (docker then falls back to anonymous access too).
fn helper_get(helper: &str, key: &str) -> Result<Option<Credentials>> {
    let out = match run_helper(helper, "get", key) {
        Ok(out) => out,
        Err(DistError::CredHelper { detail, .. })
            if detail.contains("not found") || detail.starts_with("cannot run") =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e),
    };
    let v: Value = serde_json::from_str(&out).map_err(|e| DistError::CredHelper {
        helper: helper.to_string(),
        detail: format!("invalid JSON from get: {e}"),
    })?;
    let user = v
        .get("Username")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let secret = v.get("Secret").and_then(Value::as_str).unwrap_or_default();
    let mut creds = Credentials {
        serveraddress: key.to_string(),
        ..Credentials::default()
    };
    // Docker's convention: username "<token>" means the secret is an identity token.
    if user == "<token>" {
        creds.identitytoken = secret.to_string();
    } else {
        creds.username = user.to_string();
        creds.password = secret.to_string();
    }
    Ok((!creds.is_empty()).then_some(creds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn read_write_erase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.json");
        let mut c = DockerConfig::load(&path).unwrap();
        assert_eq!(c.credentials("127.0.0.1:5000").unwrap(), None);
        c.store("127.0.0.1:5000", &Credentials::basic("alice", "s3:cret"))
            .unwrap();
        c.store("docker.io", &Credentials::basic("bob", "pw"))
            .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"auth\": \"YWxpY2U6czM6Y3JldA==\""),
            "{text}"
        );
        assert!(text.contains(DOCKER_HUB_KEY), "{text}");

        let c = DockerConfig::load(&path).unwrap();
        let got = c.credentials("127.0.0.1:5000").unwrap().unwrap();
        assert_eq!(
            (got.username.as_str(), got.password.as_str()),
            ("alice", "s3:cret")
        );
        assert_eq!(c.credentials("docker.io").unwrap().unwrap().username, "bob");

        let mut c = DockerConfig::load(&path).unwrap();
        assert!(c.erase("127.0.0.1:5000").unwrap());
        assert!(!c.erase("127.0.0.1:5000").unwrap());
        assert_eq!(
            DockerConfig::load(&path)
                .unwrap()
                .credentials("127.0.0.1:5000")
                .unwrap(),
            None
        );
    }

    #[test]
    fn keys_with_scheme_and_unknown_fields_survive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths":{"http://reg.example:5000/v1/":{"auth":"dTpw"}},"psFormat":"x","currentContext":"c"}"#,
        )
        .unwrap();
        let mut c = DockerConfig::load(&path).unwrap();
        let got = c.credentials("reg.example:5000").unwrap().unwrap();
        assert_eq!((got.username.as_str(), got.password.as_str()), ("u", "p"));
        c.store("other:1", &Credentials::basic("x", "y")).unwrap();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(v["psFormat"], "x");
        assert_eq!(v["currentContext"], "c");
    }

    #[test]
    fn missing_helper_is_anonymous_and_helper_output_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, r#"{"credsStore":"vessel-test-none-such"}"#).unwrap();
        let c = DockerConfig::load(&path).unwrap();
        assert_eq!(c.credentials("127.0.0.1:5000").unwrap(), None);
        let e = DockerConfig::load(&dir.path().join("missing.json")).unwrap();
        assert_eq!(e.credentials("x").unwrap(), None);
        std::fs::write(&path, "{not json").unwrap();
        assert!(matches!(
            DockerConfig::load(&path),
            Err(DistError::ConfigJson { .. })
        ));
    }
}
