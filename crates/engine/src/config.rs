//! Daemon configuration: defaults, `/etc/vessel/daemon.json` (Docker's keys where they exist),
//! and whatever the `vessel daemon` command line overrides afterwards.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_SOCKET: &str = "/run/vessel/vessel.sock";
pub const DEFAULT_ROOT: &str = "/var/lib/vessel";
pub const DEFAULT_EXEC_ROOT: &str = "/run/vessel";
pub const DEFAULT_CONFIG_FILE: &str = "/etc/vessel/daemon.json";

#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    /// The unix socket the API is served on.
    pub socket: PathBuf,
    /// Durable state: `engine.redb`, `image/`, `daemon.lock`.
    pub root: PathBuf,
    /// Runtime state that a reboot clears (pid file, per-container run dirs).
    pub exec_root: PathBuf,
    /// Debug logging.
    pub debug: bool,
    /// The default logging driver of containers (`log-driver`).
    pub log_driver: String,
    /// Options of the default logging driver (`log-opts`, e.g. `max-size`).
    pub log_opts: BTreeMap<String, String>,
    /// Keys of daemon.json this version does not use; logged at start.
    pub ignored_keys: Vec<String>,
    /// `insecure-registries`: hosts or CIDRs reached over HTTP or unverified TLS.
    pub insecure_registries: Vec<String>,
    /// `registry-mirrors`: tried first for Docker Hub images.
    pub registry_mirrors: Vec<String>,
    /// `bridge`: the default network's bridge device, or `none` for no default network
    /// (containers then get only `lo` unless they name a network).
    pub bridge: String,
    /// `bip`: the default network's gateway address and prefix (`172.17.0.1/16`).
    pub bip: Option<String>,
    /// `shared-firewall-table`: other daemons (parallel tests) add rules to the same nft
    /// table, so reconcile must not delete rules of networks this daemon does not know.
    pub shared_firewall_table: bool,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            socket: PathBuf::from(DEFAULT_SOCKET),
            root: PathBuf::from(DEFAULT_ROOT),
            exec_root: PathBuf::from(DEFAULT_EXEC_ROOT),
            debug: false,
            log_driver: "json-file".into(),
            log_opts: BTreeMap::new(),
            ignored_keys: Vec::new(),
            insecure_registries: Vec::new(),
            registry_mirrors: Vec::new(),
            bridge: "vessel0".into(),
            bip: None,
            shared_firewall_table: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid JSON")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: key {key:?} must be {expected}")]
    Type {
        path: PathBuf,
        key: String,
        expected: &'static str,
    },
    #[error("{path}: host {host:?} is not supported; only unix://<path> sockets are")]
    UnsupportedHost { path: PathBuf, host: String },
    #[error("{path}: \"hosts\" lists {count} sockets; vessel serves exactly one")]
    TooManyHosts { path: PathBuf, count: usize },
}

impl DaemonConfig {
    /// Defaults overlaid with `/etc/vessel/daemon.json` if that file exists.
    pub fn load_default() -> Result<Self, ConfigError> {
        let path = Path::new(DEFAULT_CONFIG_FILE);
        if path.exists() {
            Self::from_file(path)
        } else {
            Ok(Self::default())
        }
    }

    /// Defaults overlaid with the given daemon.json (which must exist).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config = Self::default();
        config.apply_json(path, &text)?;
        Ok(config)
    }

    /// Applies daemon.json text (`path` names it in errors).
    pub fn apply_json(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|source| ConfigError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        let serde_json::Value::Object(map) = value else {
            return Err(type_err(path, "<top level>", "a JSON object"));
        };
        for (key, v) in map {
            match key.as_str() {
                "data-root" => self.root = PathBuf::from(string(path, &key, &v)?),
                "exec-root" => self.exec_root = PathBuf::from(string(path, &key, &v)?),
                "debug" => {
                    self.debug = v
                        .as_bool()
                        .ok_or_else(|| type_err(path, &key, "true or false"))?
                }
                "log-level" => self.debug = string(path, &key, &v)? == "debug",
                "log-driver" => self.log_driver = string(path, &key, &v)?,
                "log-opts" => {
                    let obj = v
                        .as_object()
                        .ok_or_else(|| type_err(path, &key, "an object of strings"))?;
                    self.log_opts = obj
                        .iter()
                        .map(|(k, v)| Ok((k.clone(), string(path, "log-opts", v)?)))
                        .collect::<Result<_, ConfigError>>()?;
                }
                "hosts" => {
                    let hosts = v
                        .as_array()
                        .ok_or_else(|| type_err(path, &key, "a list of strings"))?;
                    match hosts.as_slice() {
                        [] => {}
                        [one] => self.socket = parse_host(path, &string(path, &key, one)?)?,
                        _ => {
                            return Err(ConfigError::TooManyHosts {
                                path: path.to_path_buf(),
                                count: hosts.len(),
                            })
                        }
                    }
                }
                "insecure-registries" => self.insecure_registries = strings(path, &key, &v)?,
                "registry-mirrors" => self.registry_mirrors = strings(path, &key, &v)?,
                "bridge" => self.bridge = string(path, &key, &v)?,
                "bip" => self.bip = Some(string(path, &key, &v)?),
                "shared-firewall-table" => {
                    self.shared_firewall_table = v
                        .as_bool()
                        .ok_or_else(|| type_err(path, &key, "true or false"))?
                }
                _ => self.ignored_keys.push(key),
            }
        }
        Ok(())
    }

    /// `<root>/engine.redb`
    pub fn store_path(&self) -> PathBuf {
        self.root.join("engine.redb")
    }

    /// `<root>/daemon.lock`, held with `flock` while the daemon runs.
    pub fn lock_path(&self) -> PathBuf {
        self.root.join("daemon.lock")
    }

    /// `<root>/image`, the image store's root.
    pub fn image_root(&self) -> PathBuf {
        self.root.join("image")
    }

    /// `<exec_root>/vessel.pid`
    pub fn pid_path(&self) -> PathBuf {
        self.exec_root.join("vessel.pid")
    }
}

/// `unix:///run/x.sock` or a bare absolute path.
pub fn parse_host(path: &Path, host: &str) -> Result<PathBuf, ConfigError> {
    let p = host.strip_prefix("unix://").unwrap_or(host);
    if p.starts_with('/') {
        Ok(PathBuf::from(p))
    } else {
        Err(ConfigError::UnsupportedHost {
            path: path.to_path_buf(),
            host: host.to_owned(),
        })
    }
}

/// A list of strings (`registry-mirrors`, `insecure-registries`).
fn strings(path: &Path, key: &str, v: &serde_json::Value) -> Result<Vec<String>, ConfigError> {
    v.as_array()
        .ok_or_else(|| type_err(path, key, "a list of strings"))?
        .iter()
        .map(|s| string(path, key, s))
        .collect()
}

fn string(path: &Path, key: &str, v: &serde_json::Value) -> Result<String, ConfigError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| type_err(path, key, "a string"))
}

fn type_err(path: &Path, key: &str, expected: &'static str) -> ConfigError {
    ConfigError::Type {
        path: path.to_path_buf(),
        key: key.to_owned(),
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = DaemonConfig::default();
        assert_eq!(c.socket, Path::new("/run/vessel/vessel.sock"));
        assert_eq!(c.root, Path::new("/var/lib/vessel"));
        assert_eq!(c.exec_root, Path::new("/run/vessel"));
        assert_eq!(c.store_path(), Path::new("/var/lib/vessel/engine.redb"));
        assert_eq!(c.lock_path(), Path::new("/var/lib/vessel/daemon.lock"));
    }

    #[test]
    fn docker_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("daemon.json");
        std::fs::write(
            &file,
            r#"{"data-root":"/srv/v","exec-root":"/run/v2","hosts":["unix:///tmp/v.sock"],
                "debug":true,"log-opts":{"max-size":"10m","max-file":"3"},
                "log-driver":"json-file","registry-mirrors":["https://m.example"],
                "insecure-registries":["reg.lan:5000"],"unknown-key":1}"#,
        )
        .unwrap();
        let c = DaemonConfig::from_file(&file).unwrap();
        assert_eq!(c.root, Path::new("/srv/v"));
        assert_eq!(c.exec_root, Path::new("/run/v2"));
        assert_eq!(c.socket, Path::new("/tmp/v.sock"));
        assert!(c.debug);
        assert_eq!(c.log_opts.get("max-size").map(String::as_str), Some("10m"));
        assert_eq!(c.ignored_keys, ["unknown-key"]);
        assert_eq!(c.registry_mirrors, ["https://m.example"]);
        assert_eq!(c.insecure_registries, ["reg.lan:5000"]);
    }

    #[test]
    fn errors_name_the_input() {
        let p = Path::new("/etc/vessel/daemon.json");
        let mut c = DaemonConfig::default();
        let e = c.apply_json(p, "{").unwrap_err();
        assert!(
            e.to_string().contains("daemon.json is not valid JSON"),
            "{e}"
        );
        let e = c.apply_json(p, r#"{"debug":"yes"}"#).unwrap_err();
        assert!(
            e.to_string().contains("\"debug\" must be true or false"),
            "{e}"
        );
        let e = c
            .apply_json(p, r#"{"hosts":["tcp://0.0.0.0:2375"]}"#)
            .unwrap_err();
        assert!(matches!(e, ConfigError::UnsupportedHost { .. }), "{e}");
        let e = c
            .apply_json(p, r#"{"hosts":["unix:///a","unix:///b"]}"#)
            .unwrap_err();
        assert!(matches!(e, ConfigError::TooManyHosts { count: 2, .. }));
        let e = DaemonConfig::from_file(Path::new("/nonexistent/daemon.json")).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }));
    }
}
