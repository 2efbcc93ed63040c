//! The Volume API of the `local` driver: `POST /volumes/create`, `GET /volumes`,
//! `GET /volumes/{name}`, `DELETE /volumes/{name}` and `POST /volumes/prune`.
//!
//! A volume is the directory `<root>/volumes/<name>` with its data in `_data`. That directory
//! is what makes a volume exist: containers create named and anonymous volumes implicitly by
//! making it (see the container manager), and `docker rm -v` removes anonymous ones the same
//! way. The `volumes` table of the store adds what the directory cannot hold (creation time,
//! labels, driver options) as a [`VolumeRecord`] keyed by name; a directory without a record
//! is listed with its directory's modification time and no labels, and a record whose
//! directory is gone is stale and ignored.
//!
//! A volume is *in use* while any container record (in any state) lists it among its mounts;
//! such a volume is never removed, not even with `force` and not by prune. Volume data is only
//! deleted by an explicit remove or prune.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::UNIX_EPOCH;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::api::{blocking, json_response, ok_json, AppState, JsonBody};
use crate::errors::ApiError;
use crate::filters::{glob_match, Filters};
use crate::query::QueryParams;
use crate::store::{Store, StoreError, Table};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/volumes", get(list_volumes))
        .route("/volumes/create", post(create_volume))
        .route("/volumes/prune", post(prune_volumes))
        .route("/volumes/{name}", get(inspect_volume).delete(remove_volume))
}

/// Serializes volume changes (create, remove, prune) within this daemon so that a remove
/// never races a create of the same name.
static VOLUME_LOCK: Mutex<()> = Mutex::new(());

/// What the store keeps per volume (JSON in the `volumes` table, keyed by name).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VolumeRecord {
    pub name: String,
    /// RFC 3339, seconds precision, UTC (what Docker shows as `CreatedAt`).
    pub created_at: String,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    /// The `local` driver options (`type`, `device`, `o`).
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
}

/// The body of `POST /volumes/create`.
#[derive(Debug, Default, Deserialize)]
pub struct VolumeCreateRequest {
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
    #[serde(rename = "Driver", default)]
    pub driver: Option<String>,
    #[serde(rename = "DriverOpts", default)]
    pub driver_opts: Option<BTreeMap<String, String>>,
    #[serde(rename = "Labels", default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// The errors of the volume routes, answered as Docker does (`{"message": ...}`).
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error(
        "create {0}: \"{0}\" includes invalid characters for a local volume name, only \
         \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, \
         use absolute path"
    )]
    InvalidName(String),
    #[error("create {name}: volume driver {driver:?} is not supported; only \"local\" is")]
    UnsupportedDriver { name: String, driver: String },
    #[error("create {name}: {reason}")]
    InvalidOption { name: String, reason: String },
    #[error("{op} {name}: no such volume")]
    NotFound { op: &'static str, name: String },
    #[error("remove {name}: volume is in use - [{}]", .containers.join(" "))]
    InUse {
        name: String,
        containers: Vec<String>,
    },
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl VolumeError {
    pub fn status(&self) -> StatusCode {
        match self {
            VolumeError::InvalidName(_)
            | VolumeError::UnsupportedDriver { .. }
            | VolumeError::InvalidOption { .. } => StatusCode::BAD_REQUEST,
            VolumeError::NotFound { .. } => StatusCode::NOT_FOUND,
            VolumeError::InUse { .. } => StatusCode::CONFLICT,
            VolumeError::Api(e) => e.status(),
        }
    }

    pub fn message(&self) -> String {
        match self {
            VolumeError::Api(e) => e.message(),
            other => other.to_string(),
        }
    }
}

impl From<StoreError> for VolumeError {
    fn from(e: StoreError) -> Self {
        VolumeError::Api(ApiError::Store(e))
    }
}

impl From<crate::filters::FilterError> for VolumeError {
    fn from(e: crate::filters::FilterError) -> Self {
        VolumeError::Api(ApiError::Filters(e))
    }
}

impl IntoResponse for VolumeError {
    fn into_response(self) -> Response {
        match self {
            VolumeError::Api(e) => e.into_response(),
            other => {
                tracing::debug!(status = other.status().as_u16(), "{}", other.message());
                json_response(other.status(), &json!({ "message": other.message() }))
            }
        }
    }
}

type Result<T, E = VolumeError> = std::result::Result<T, E>;

/// Runs blocking volume work off the async workers.
async fn run<R, F>(f: F) -> Result<R>
where
    R: Send + 'static,
    F: FnOnce() -> Result<R> + Send + 'static,
{
    blocking(move || Ok(f())).await?
}

fn volumes_dir(state: &AppState) -> PathBuf {
    state.config.root.join("volumes")
}

async fn create_volume(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<VolumeCreateRequest>,
) -> Result<Response> {
    let (store, dir) = (state.store.clone(), volumes_dir(&state));
    let vol = run(move || create(&store, &dir, req)).await?;
    volume_event(&state, "create", vol["Name"].as_str().unwrap_or_default());
    Ok(json_response(StatusCode::CREATED, &vol))
}

async fn list_volumes(State(state): State<AppState>, q: QueryParams) -> Result<Response> {
    let filters = q.filters()?;
    filters.validate(&["name", "label", "dangling", "driver"])?;
    let (store, dir) = (state.store.clone(), volumes_dir(&state));
    let vols = run(move || list(&store, &dir, &filters)).await?;
    Ok(ok_json(&json!({ "Volumes": vols, "Warnings": null })))
}

async fn inspect_volume(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
) -> Result<Response> {
    let (store, dir) = (state.store.clone(), volumes_dir(&state));
    let vol = run(move || inspect(&store, &dir, &name)).await?;
    Ok(ok_json(&vol))
}

async fn remove_volume(
    State(state): State<AppState>,
    UrlPath(name): UrlPath<String>,
    q: QueryParams,
) -> Result<Response> {
    let force = q.bool("force");
    let (store, dir) = (state.store.clone(), volumes_dir(&state));
    let removed = name.clone();
    run(move || remove(&store, &dir, &name, force)).await?;
    volume_event(&state, "destroy", &removed);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn prune_volumes(State(state): State<AppState>, q: QueryParams) -> Result<Response> {
    let filters = q.filters()?;
    filters.validate(&["label", "label!", "all"])?;
    // API 1.41 (the only version served) prunes every unused local volume; `all` is the
    // 1.42 spelling of the same and is accepted.
    filters.bool_value("all")?;
    let (store, dir) = (state.store.clone(), volumes_dir(&state));
    let (deleted, space) = run(move || prune(&store, &dir, &filters)).await?;
    for name in &deleted {
        volume_event(&state, "destroy", name);
    }
    Ok(ok_json(
        &json!({ "VolumesDeleted": deleted, "SpaceReclaimed": space }),
    ))
}

fn volume_event(state: &AppState, action: &str, name: &str) {
    let attrs = [("driver".to_string(), "local".to_string())].into();
    state
        .containers
        .events()
        .emit("volume", action, name, attrs);
}

/// moby's `[a-zA-Z0-9][a-zA-Z0-9_.-]+` for local volume names.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// An anonymous volume's name: 64 lowercase hex digits.
pub fn is_anonymous(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

fn random_name() -> Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|source| ApiError::Io {
            context: "reading /dev/urandom".into(),
            source,
        })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The `local` driver's options, checked as moby does: known keys only, and `type`, `device`
/// and `o` come together.
///
/// The options are stored and reported, but **not yet acted on**: mounting a `type=tmpfs` or
/// `type=none o=bind device=/path` volume when a container starts is future work; until then
/// such a volume is backed by its plain `_data` directory like any other.
fn validate_options(name: &str, opts: &BTreeMap<String, String>) -> Result<()> {
    let bad = |reason: String| VolumeError::InvalidOption {
        name: name.to_owned(),
        reason,
    };
    if let Some(key) = opts
        .keys()
        .find(|k| !matches!(k.as_str(), "type" | "device" | "o"))
    {
        return Err(bad(format!("invalid option: {key:?}")));
    }
    let required: [(&str, &[&str]); 3] = [
        ("device", &["type"]),
        ("type", &["device"]),
        ("o", &["device", "type"]),
    ];
    for (opt, needs) in required {
        if opts.contains_key(opt) {
            if let Some(missing) = needs.iter().find(|n| !opts.contains_key(**n)) {
                return Err(bad(format!("missing required option: {missing:?}")));
            }
        }
    }
    let is_bind = opts
        .get("o")
        .is_some_and(|o| o.split(',').any(|p| p == "bind" || p == "rbind"));
    if is_bind && !opts.get("device").is_some_and(|d| d.starts_with('/')) {
        return Err(bad("a bind volume needs an absolute path as device".into()));
    }
    Ok(())
}

fn volume_json(dir: &Path, rec: &VolumeRecord) -> Value {
    json!({
        "CreatedAt": rec.created_at,
        "Driver": "local",
        "Labels": rec.labels,
        "Mountpoint": dir.join(&rec.name).join("_data"),
        "Name": rec.name,
        "Options": rec.options,
        "Scope": "local",
    })
}

fn now_seconds() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    crate::timefmt::rfc3339_nano(secs as i64, 0)
}

fn io_err(context: String) -> impl FnOnce(std::io::Error) -> VolumeError {
    move |source| VolumeError::Api(ApiError::Io { context, source })
}

/// The record of a volume that exists on disk; synthesized for a volume a container created.
fn load(store: &Store, dir: &Path, name: &str) -> Result<Option<VolumeRecord>> {
    if !valid_name(name) {
        return Ok(None);
    }
    let meta = match std::fs::metadata(dir.join(name)) {
        Ok(m) if m.is_dir() => m,
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(format!("reading volume {name}"))(e)),
    };
    if let Some(rec) = store.get::<VolumeRecord>(Table::Volumes, name)? {
        return Ok(Some(rec));
    }
    let secs = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Ok(Some(VolumeRecord {
        name: name.to_owned(),
        created_at: crate::timefmt::rfc3339_nano(secs, 0),
        labels: None,
        options: None,
    }))
}

/// Every volume on disk, by name.
fn all(store: &Store, dir: &Path) -> Result<Vec<VolumeRecord>> {
    let mut names = BTreeSet::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(io_err(format!("listing {}", dir.display())))?;
                if let Some(name) = entry.file_name().to_str() {
                    names.insert(name.to_owned());
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(format!("listing {}", dir.display()))(e)),
    }
    let mut out = Vec::new();
    for name in names {
        if let Some(rec) = load(store, dir, &name)? {
            out.push(rec);
        }
    }
    Ok(out)
}

/// Volume name → ids of the containers whose records mount it. Records are read as plain
/// JSON (`id`, `mounts[].kind`, `mounts[].name`) so this does not depend on the rest of the
/// container record's shape.
pub fn volume_users(store: &Store) -> Result<BTreeMap<String, Vec<String>>, StoreError> {
    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, rec) in store.list::<Value>(Table::Containers)? {
        let id = rec["id"].as_str().unwrap_or(&key).to_owned();
        for m in rec["mounts"].as_array().into_iter().flatten() {
            if m["kind"] == "volume" {
                if let Some(name) = m["name"].as_str() {
                    let ids = users.entry(name.to_owned()).or_default();
                    if !ids.contains(&id) {
                        ids.push(id.clone());
                    }
                }
            }
        }
    }
    Ok(users)
}

/// `POST /volumes/create`: an existing name answers with the existing volume.
pub fn create(store: &Store, dir: &Path, req: VolumeCreateRequest) -> Result<Value> {
    let name = match req.name.filter(|n| !n.is_empty()) {
        Some(n) => n,
        None => random_name()?,
    };
    if !valid_name(&name) {
        return Err(VolumeError::InvalidName(name));
    }
    let driver = req.driver.filter(|d| !d.is_empty());
    if let Some(driver) = driver.filter(|d| d != "local") {
        return Err(VolumeError::UnsupportedDriver { name, driver });
    }
    let options = req.driver_opts.filter(|o| !o.is_empty());
    if let Some(opts) = &options {
        validate_options(&name, opts)?;
    }
    let _guard = VOLUME_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(existing) = store.get::<VolumeRecord>(Table::Volumes, &name)? {
        if dir.join(&name).is_dir() {
            return Ok(volume_json(dir, &existing));
        }
    }
    let existed = dir.join(&name).is_dir();
    let data = dir.join(&name).join("_data");
    std::fs::create_dir_all(&data).map_err(io_err(format!("creating volume {name}")))?;
    let rec = if existed {
        // Made by a container: keep its time, and record it as it is (options and labels
        // cannot be given to a volume after the fact, as with Docker).
        load(store, dir, &name)?.ok_or_else(|| VolumeError::NotFound {
            op: "create",
            name: name.clone(),
        })?
    } else {
        VolumeRecord {
            name: name.clone(),
            created_at: now_seconds(),
            labels: req.labels,
            options,
        }
    };
    store.put(Table::Volumes, &name, &rec)?;
    Ok(volume_json(dir, &rec))
}

/// `GET /volumes/{name}`.
pub fn inspect(store: &Store, dir: &Path, name: &str) -> Result<Value> {
    match load(store, dir, name)? {
        Some(rec) => Ok(volume_json(dir, &rec)),
        None => Err(VolumeError::NotFound {
            op: "get",
            name: name.to_owned(),
        }),
    }
}

/// `GET /volumes` with the filters `name` (substring or glob), `label`, `dangling`, `driver`.
pub fn list(store: &Store, dir: &Path, filters: &Filters) -> Result<Vec<Value>> {
    let dangling = filters.bool_value("dangling")?;
    let users = if dangling.is_some() {
        volume_users(store)?
    } else {
        BTreeMap::new()
    };
    let mut out = Vec::new();
    for rec in all(store, dir)? {
        let names_ok = !filters.contains("name")
            || filters
                .values("name")
                .any(|n| rec.name.contains(n) || glob_match(n, &rec.name));
        let driver_ok =
            !filters.contains("driver") || filters.values("driver").any(|d| d == "local");
        let labels = rec.labels.clone().unwrap_or_default().into_iter().collect();
        let dangling_ok = dangling.is_none_or(|d| d != users.contains_key(&rec.name));
        if names_ok && driver_ok && dangling_ok && filters.match_labels("label", &labels) {
            out.push(volume_json(dir, &rec));
        }
    }
    Ok(out)
}

/// `DELETE /volumes/{name}`: refused while a container uses it, even with `force`; `force`
/// only turns a missing volume into success.
pub fn remove(store: &Store, dir: &Path, name: &str, force: bool) -> Result<()> {
    let _guard = VOLUME_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if load(store, dir, name)?.is_none() {
        // A stale record (its directory is gone) goes with the missing volume.
        if valid_name(name) {
            store.delete(Table::Volumes, name)?;
        }
        return if force {
            Ok(())
        } else {
            Err(VolumeError::NotFound {
                op: "get",
                name: name.to_owned(),
            })
        };
    }
    if let Some(ids) = volume_users(store)?.remove(name) {
        return Err(VolumeError::InUse {
            name: name.to_owned(),
            containers: ids,
        });
    }
    delete_volume(store, dir, name)
}

fn delete_volume(store: &Store, dir: &Path, name: &str) -> Result<()> {
    let path = dir.join(name);
    match std::fs::remove_dir_all(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(format!("remove {name}"))(e)),
    }
    store.delete(Table::Volumes, name)?;
    Ok(())
}

/// Bytes of the regular files under `path` (symlinks are not followed).
fn disk_usage(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return if meta.is_file() { meta.len() } else { 0 };
    }
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| disk_usage(&e.path()))
                .sum()
        })
        .unwrap_or(0)
}

/// `POST /volumes/prune`: every local volume no container record mounts (API 1.41), narrowed
/// by `label` / `label!`.
pub fn prune(store: &Store, dir: &Path, filters: &Filters) -> Result<(Vec<String>, u64)> {
    let _guard = VOLUME_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let users = volume_users(store)?;
    let mut deleted = Vec::new();
    let mut space = 0;
    for rec in all(store, dir)? {
        if users.contains_key(&rec.name) {
            continue;
        }
        let labels: std::collections::HashMap<String, String> =
            rec.labels.clone().unwrap_or_default().into_iter().collect();
        let excluded = filters.contains("label!")
            && filters
                .values("label!")
                .any(|want| match want.split_once('=') {
                    Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
                    None => labels.contains_key(want),
                });
        if excluded || !filters.match_labels("label", &labels) {
            continue;
        }
        let size = disk_usage(&dir.join(&rec.name));
        delete_volume(store, dir, &rec.name)?;
        space += size;
        deleted.push(rec.name);
    }
    Ok((deleted, space))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Store, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(&tmp.path().join("state.db")).unwrap();
        let dir = tmp.path().join("volumes");
        (tmp, store, dir)
    }

    fn req(name: &str) -> VolumeCreateRequest {
        VolumeCreateRequest {
            name: Some(name.into()),
            driver: Some("local".into()),
            ..Default::default()
        }
    }

    fn fake_container(store: &Store, id: &str, volume: &str) {
        let rec = json!({
            "id": id,
            "name": "/c",
            "mounts": [
                {"kind": "bind", "name": "", "source": "/x", "destination": "/x", "rw": true},
                {"kind": "volume", "name": volume, "source": "/v", "destination": "/v", "rw": true}
            ]
        });
        store.put(Table::Containers, id, &rec).unwrap();
    }

    #[test]
    fn names() {
        for ok in ["v1", "a.b-c_d", "0x", &"a".repeat(64)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "a", "a/b", "/abs", ".x", "-x", "a b", "é1"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(is_anonymous(&"ab".repeat(32)));
        assert!(!is_anonymous("v1"));
    }

    #[test]
    fn create_inspect_list_remove() {
        let (_tmp, store, dir) = setup();
        let v = create(&store, &dir, req("v1")).unwrap();
        assert_eq!(v["Name"], "v1");
        assert_eq!(v["Driver"], "local");
        assert_eq!(v["Scope"], "local");
        assert_eq!(v["Labels"], Value::Null);
        assert_eq!(v["Options"], Value::Null);
        assert!(dir.join("v1/_data").is_dir());
        assert!(crate::timefmt::parse_rfc3339(v["CreatedAt"].as_str().unwrap()).is_some());
        // Creating again answers with the existing volume.
        std::fs::write(dir.join("v1/_data/f"), b"keep").unwrap();
        let again = create(&store, &dir, req("v1")).unwrap();
        assert_eq!(again, v);
        assert!(dir.join("v1/_data/f").exists());
        assert_eq!(inspect(&store, &dir, "v1").unwrap(), v);
        let e = inspect(&store, &dir, "nope").unwrap_err();
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert_eq!(e.message(), "get nope: no such volume");
        remove(&store, &dir, "v1", false).unwrap();
        assert!(!dir.join("v1").exists());
        assert!(store
            .get::<VolumeRecord>(Table::Volumes, "v1")
            .unwrap()
            .is_none());
        assert_eq!(
            remove(&store, &dir, "v1", false).unwrap_err().status(),
            StatusCode::NOT_FOUND
        );
        remove(&store, &dir, "v1", true).unwrap();
    }

    #[test]
    fn anonymous_names_drivers_and_options() {
        let (_tmp, store, dir) = setup();
        let v = create(&store, &dir, VolumeCreateRequest::default()).unwrap();
        assert!(is_anonymous(v["Name"].as_str().unwrap()), "{v}");
        let e = create(&store, &dir, req("a/b")).unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert!(e
            .message()
            .starts_with("create a/b: \"a/b\" includes invalid"));
        let mut r = req("x1");
        r.driver = Some("nfs".into());
        assert_eq!(
            create(&store, &dir, r).unwrap_err().status(),
            StatusCode::BAD_REQUEST
        );
        let opts = |pairs: &[(&str, &str)]| {
            let mut r = req("o1");
            r.driver_opts = Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            );
            r
        };
        for bad in [
            &[("bogus", "1")][..],
            &[("type", "tmpfs")],
            &[("o", "size=1m"), ("device", "tmpfs")],
            &[("type", "none"), ("o", "bind"), ("device", "rel/path")],
        ] {
            let e = create(&store, &dir, opts(bad)).unwrap_err();
            assert_eq!(e.status(), StatusCode::BAD_REQUEST, "{bad:?}");
        }
        let v = create(
            &store,
            &dir,
            opts(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=10m")]),
        )
        .unwrap();
        assert_eq!(
            v["Options"],
            json!({"type": "tmpfs", "device": "tmpfs", "o": "size=10m"})
        );
        let mut r = opts(&[("type", "none"), ("o", "bind"), ("device", "/srv/x")]);
        r.name = Some("b1".into());
        r.labels = Some([("k".to_string(), "v".to_string())].into());
        let v = create(&store, &dir, r).unwrap();
        assert_eq!(v["Labels"], json!({"k": "v"}));
        assert_eq!(inspect(&store, &dir, "b1").unwrap()["Options"]["o"], "bind");
    }

    #[test]
    fn implicit_volumes_are_listed() {
        let (_tmp, store, dir) = setup();
        std::fs::create_dir_all(dir.join("made-by-run/_data")).unwrap();
        let all = list(&store, &dir, &Filters::default()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0]["Name"], "made-by-run");
        assert_eq!(all[0]["Mountpoint"], json!(dir.join("made-by-run/_data")));
        assert_eq!(inspect(&store, &dir, "made-by-run").unwrap(), all[0]);
        // A record whose directory is gone (docker rm -v) is not a volume.
        create(&store, &dir, req("gone")).unwrap();
        std::fs::remove_dir_all(dir.join("gone")).unwrap();
        assert_eq!(list(&store, &dir, &Filters::default()).unwrap().len(), 1);
    }

    #[test]
    fn filters() {
        let (_tmp, store, dir) = setup();
        let mut r = req("web-data");
        r.labels = Some([("app".to_string(), "web".to_string())].into());
        create(&store, &dir, r).unwrap();
        create(&store, &dir, req("db-data")).unwrap();
        fake_container(&store, "c1", "db-data");
        let names = |f: &str| -> Vec<String> {
            list(&store, &dir, &Filters::parse(f).unwrap())
                .unwrap()
                .iter()
                .map(|v| v["Name"].as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(names(""), ["db-data", "web-data"]);
        assert_eq!(names(r#"{"name":{"web":true}}"#), ["web-data"]);
        assert_eq!(names(r#"{"label":["app=web"]}"#), ["web-data"]);
        assert_eq!(names(r#"{"label":["app"]}"#), ["web-data"]);
        assert_eq!(names(r#"{"dangling":["true"]}"#), ["web-data"]);
        assert_eq!(names(r#"{"dangling":["false"]}"#), ["db-data"]);
        assert_eq!(names(r#"{"driver":["local"]}"#).len(), 2);
        assert!(names(r#"{"driver":["nfs"]}"#).is_empty());
    }

    #[test]
    fn in_use_volumes_are_kept() {
        let (_tmp, store, dir) = setup();
        create(&store, &dir, req("used")).unwrap();
        create(&store, &dir, req("free")).unwrap();
        std::fs::write(dir.join("free/_data/f"), b"12345").unwrap();
        let anon = "ab".repeat(32);
        std::fs::create_dir_all(dir.join(&anon).join("_data")).unwrap();
        fake_container(&store, "c1", "used");
        fake_container(&store, "c2", "used");
        for force in [false, true] {
            let e = remove(&store, &dir, "used", force).unwrap_err();
            assert_eq!(e.status(), StatusCode::CONFLICT);
            assert_eq!(e.message(), "remove used: volume is in use - [c1 c2]");
        }
        let (mut deleted, space) = prune(&store, &dir, &Filters::default()).unwrap();
        deleted.sort();
        assert_eq!(deleted, [anon, "free".to_string()]);
        assert_eq!(space, 5);
        assert!(dir.join("used/_data").is_dir());
        store.delete(Table::Containers, "c1").unwrap();
        store.delete(Table::Containers, "c2").unwrap();
        remove(&store, &dir, "used", false).unwrap();
    }

    #[test]
    fn prune_label_filters() {
        let (_tmp, store, dir) = setup();
        let mut r = req("keep");
        r.labels = Some([("keep".to_string(), "1".to_string())].into());
        create(&store, &dir, r).unwrap();
        create(&store, &dir, req("drop")).unwrap();
        let f = Filters::parse(r#"{"label!":["keep"]}"#).unwrap();
        assert_eq!(prune(&store, &dir, &f).unwrap().0, ["drop"]);
        let f = Filters::parse(r#"{"label":["keep=1"]}"#).unwrap();
        assert_eq!(prune(&store, &dir, &f).unwrap().0, ["keep"]);
    }
}
