//! `/_ping`, `/version`, `/info`.

use axum::extract::State;
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::api::{blocking, ok_json, AppState};
use crate::errors::ApiError;
use crate::hostinfo::{self, HostFs};
use crate::negotiation::{API_VERSION, MIN_API_VERSION};
use crate::store::Table;
use crate::timefmt::now_rfc3339_nano;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_ping", get(ping).head(ping_head))
        .route("/version", get(version))
        .route("/info", get(info))
        .route("/system/df", get(crate::disk_usage::system_df))
        .route("/auth", post(crate::auth::auth))
}

fn ping_headers() -> [(HeaderName, &'static str); 3] {
    [
        (header::CACHE_CONTROL, "no-cache, no-store, must-revalidate"),
        (header::PRAGMA, "no-cache"),
        (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
    ]
}

async fn ping() -> Response {
    (StatusCode::OK, ping_headers(), "OK").into_response()
}

async fn ping_head() -> Response {
    (StatusCode::OK, ping_headers()).into_response()
}

pub fn version_body() -> Value {
    let uname = hostinfo::uname();
    let arch = hostinfo::go_arch();
    json!({
        "Platform": {"Name": "Vessel Engine"},
        "Components": [
            {
                "Name": "Engine",
                "Version": VERSION,
                "Details": {
                    "ApiVersion": API_VERSION.to_string(),
                    "Arch": arch,
                    "BuildTime": "",
                    "Experimental": "false",
                    "GitCommit": "",
                    "GoVersion": "n/a",
                    "KernelVersion": uname.release,
                    "MinAPIVersion": MIN_API_VERSION.to_string(),
                    "Os": "linux",
                }
            },
            {"Name": "vessel-runtime", "Version": VERSION, "Details": {"GitCommit": ""}},
        ],
        "Version": VERSION,
        "ApiVersion": API_VERSION.to_string(),
        "MinAPIVersion": MIN_API_VERSION.to_string(),
        "GitCommit": "",
        "GoVersion": "n/a",
        "Os": "linux",
        "Arch": arch,
        "KernelVersion": uname.release,
        "BuildTime": "",
    })
}

async fn version() -> Response {
    ok_json(&version_body())
}

async fn info(State(state): State<AppState>) -> Result<Response, ApiError> {
    let containers = state.store.count(Table::Containers)?;
    let images = state.images.clone();
    // `docker info` must work even when the image store cannot list (it says so in Warnings).
    let (image_count, warnings) = match blocking(move || Ok(images.list()?.len())).await {
        Ok(n) => (n, Value::Null),
        Err(e) => {
            tracing::warn!("info: cannot count images: {}", e.message());
            (
                0,
                json!([format!("WARNING: cannot count images: {}", e.message())]),
            )
        }
    };
    let host = HostFs::default();
    let uname = hostinfo::uname();
    let (os_name, os_version) = host.os_release();
    let cgroup_version = host.cgroup_version();
    let mut security = vec!["name=seccomp,profile=default"];
    if cgroup_version == "2" {
        security.push("name=cgroupns");
    }
    let commit = json!({"ID": "", "Expected": ""});
    let body = json!({
        "ID": &*state.engine_id,
        "Containers": containers,
        "ContainersRunning": 0,
        "ContainersPaused": 0,
        "ContainersStopped": containers,
        "Images": image_count,
        "Driver": "overlay2",
        "DriverStatus": [],
        "Plugins": {
            "Volume": ["local"],
            "Network": ["bridge", "host", "null"],
            "Authorization": null,
            "Log": ["json-file"],
        },
        "MemoryLimit": true,
        "SwapLimit": true,
        "KernelMemory": false,
        "KernelMemoryTCP": false,
        "CpuCfsPeriod": true,
        "CpuCfsQuota": true,
        "CPUShares": true,
        "CPUSet": true,
        "PidsLimit": true,
        "IPv4Forwarding": host.sysctl_on("net/ipv4/ip_forward"),
        "BridgeNfIptables": host.sysctl_on("net/bridge/bridge-nf-call-iptables"),
        "BridgeNfIp6tables": host.sysctl_on("net/bridge/bridge-nf-call-ip6tables"),
        "Debug": state.config.debug,
        "NFd": hostinfo::open_fds(),
        "OomKillDisable": cgroup_version == "1",
        "NGoroutines": hostinfo::threads(),
        "SystemTime": now_rfc3339_nano(),
        "LoggingDriver": state.config.log_driver,
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version,
        "NEventsListener": 0,
        "KernelVersion": uname.release,
        "OperatingSystem": os_name,
        "OSVersion": os_version,
        "OSType": "linux",
        "Architecture": uname.machine,
        "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {
            "AllowNondistributableArtifactsCIDRs": [],
            "AllowNondistributableArtifactsHostnames": [],
            "InsecureRegistryCIDRs": ["127.0.0.0/8"],
            "IndexConfigs": {
                "docker.io": {"Name": "docker.io", "Mirrors": [], "Secure": true, "Official": true}
            },
            "Mirrors": [],
        },
        "NCPU": hostinfo::ncpu(),
        "MemTotal": host.mem_total(),
        "GenericResources": null,
        "DockerRootDir": state.config.root,
        "HttpProxy": "",
        "HttpsProxy": "",
        "NoProxy": "",
        "Name": uname.nodename,
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": VERSION,
        "Runtimes": {"vessel": {"path": "vessel-runtime"}},
        "DefaultRuntime": "vessel",
        "Swarm": {
            "NodeID": "",
            "NodeAddr": "",
            "LocalNodeState": "inactive",
            "ControlAvailable": false,
            "Error": "",
            "RemoteManagers": null,
        },
        "LiveRestoreEnabled": false,
        "Isolation": "",
        "InitBinary": "",
        "ContainerdCommit": commit,
        "RuncCommit": commit,
        "InitCommit": commit,
        "SecurityOptions": security,
        "Warnings": warnings,
    });
    Ok(ok_json(&body))
}
