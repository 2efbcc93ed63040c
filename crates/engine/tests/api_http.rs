//! The API conventions checked byte-for-byte over the unix socket.

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use common::{http, TestDaemon};
use vessel_engine::EngineError;

fn assert_common_headers(r: &common::Reply) {
    assert_eq!(r.header("Api-Version"), Some("1.41"), "{r:?}");
    assert_eq!(r.header("Docker-Experimental"), Some("false"));
    assert_eq!(r.header("Ostype"), Some("linux"));
    assert!(r.header("Server").is_some_and(|s| s.starts_with("Vessel/")));
}

#[test]
fn ping_head_and_get() {
    let d = TestDaemon::start();
    let r = http(&d.socket, "HEAD", "/_ping", b"");
    assert_eq!(r.status, 200);
    assert_common_headers(&r);
    assert_eq!(
        r.header("Cache-Control"),
        Some("no-cache, no-store, must-revalidate")
    );
    assert_eq!(r.header("Pragma"), Some("no-cache"));
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
    assert!(r.body.is_empty());
    let r = http(&d.socket, "GET", "/v1.41/_ping", b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"OK");
    let mode = std::fs::metadata(&d.socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o660);
}

#[test]
fn version_with_and_without_prefix() {
    let d = TestDaemon::start();
    for path in ["/version", "/v1.24/version", "/v1.41/version"] {
        let r = http(&d.socket, "GET", path, b"");
        assert_eq!(r.status, 200, "{path}");
        assert_common_headers(&r);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        let v = r.json();
        assert_eq!(v["ApiVersion"], "1.41");
        assert_eq!(v["MinAPIVersion"], "1.24");
        assert_eq!(v["Os"], "linux");
        assert_eq!(v["Platform"]["Name"], "Vessel Engine");
        assert_eq!(v["Components"][0]["Name"], "Engine");
    }
}

#[test]
fn version_bounds_and_unknown_paths() {
    let d = TestDaemon::start();
    let r = http(&d.socket, "GET", "/v1.99/info", b"");
    assert_eq!(r.status, 400);
    assert_common_headers(&r);
    assert!(r.json()["message"].as_str().unwrap().contains("too new"));
    let r = http(&d.socket, "GET", "/v1.12/info", b"");
    assert_eq!(r.status, 400);
    let r = http(&d.socket, "GET", "/v1.41/nosuch", b"");
    assert_eq!(r.status, 404);
    assert_common_headers(&r);
    assert_eq!(r.json()["message"], "page not found");
}

#[test]
fn info_fields() {
    let d = TestDaemon::start();
    let v = http(&d.socket, "GET", "/v1.41/info", b"").json();
    assert_eq!(v["Driver"], "overlay2");
    assert_eq!(v["DefaultRuntime"], "vessel");
    assert_eq!(v["Runtimes"]["vessel"]["path"], "vessel-runtime");
    assert_eq!(v["Swarm"]["LocalNodeState"], "inactive");
    assert_eq!(v["DockerRootDir"], d.root.to_str().unwrap());
    assert_eq!(v["Containers"], 0);
    assert!(v["NCPU"].as_u64().unwrap() >= 1);
    assert!(v["MemTotal"].as_u64().unwrap() > 0);
    assert!(["1", "2"].contains(&v["CgroupVersion"].as_str().unwrap()));
    let id = v["ID"].as_str().unwrap().to_owned();
    // The engine id is durable.
    let v2 = http(&d.socket, "GET", "/info", b"").json();
    assert_eq!(v2["ID"], id.as_str());
}

#[test]
fn stubs_say_what_is_missing() {
    let d = TestDaemon::start();
    let r = http(&d.socket, "GET", "/v1.41/containers/json?all=1", b"");
    assert_eq!(r.status, 200);
    assert_common_headers(&r);
    assert_eq!(r.json(), serde_json::json!([]));
    let r = http(&d.socket, "POST", "/v1.41/containers/abc/start", b"");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "No such container: abc");
    let r = http(&d.socket, "GET", "/v1.41/containers/abc/changes", b"");
    assert_eq!(r.status, 501);
    assert_eq!(
        r.json()["message"],
        "not implemented yet: GET /containers/abc/changes"
    );
    // A stream that ends at `until` (now): nothing happened yet.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let r = http(&d.socket, "GET", &format!("/v1.41/events?until={now}"), b"");
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty(), "{:?}", String::from_utf8_lossy(&r.body));
    let r = http(
        &d.socket,
        "POST",
        "/v1.41/images/create?fromImage=busybox&tag=latest",
        b"",
    );
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json()["message"],
        "pulling from registries is not supported yet: busybox:latest"
    );
}

#[test]
fn bad_bodies_are_rejected_and_the_daemon_keeps_serving() {
    let d = TestDaemon::start();
    let r = http(
        &d.socket,
        "POST",
        "/v1.41/containers/create",
        b"{\"Image\": ",
    );
    assert_eq!(r.status, 400);
    let msg = r.json()["message"].as_str().unwrap().to_owned();
    assert!(msg.starts_with("invalid JSON in request body"), "{msg}");
    let big = format!("{{\"Image\":\"{}\"}}", "x".repeat(2 << 20));
    let r = http(
        &d.socket,
        "POST",
        "/v1.41/containers/create",
        big.as_bytes(),
    );
    assert_eq!(r.status, 413);
    // Garbage that is not HTTP at all.
    let mut s = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    let _ = s.write_all(b"\x00\x01garbage\r\n\r\n");
    drop(s);
    let r = http(&d.socket, "GET", "/_ping", b"");
    assert_eq!(r.status, 200);
    let r = http(&d.socket, "GET", "/images/json?filters=%7Bnope", b"");
    assert_eq!(r.status, 400);
    assert!(r.json()["message"].as_str().unwrap().contains("filters"));
    let r = http(
        &d.socket,
        "GET",
        "/images/json?filters=%7B%22color%22%3A%5B%22x%22%5D%7D",
        b"",
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "invalid filters: invalid filter 'color'"
    );
}

#[test]
fn one_daemon_per_root_and_socket_cleanup() {
    let mut d = TestDaemon::start();
    let mut config = common::config_in(d.dir.path());
    config.socket = d.dir.path().join("other.sock");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let images = std::sync::Arc::new(common::FakeImages::default());
    let err = rt
        .block_on(vessel_engine::Daemon::start_with_images(
            config.clone(),
            images.clone(),
        ))
        .err()
        .expect("second daemon on the same root must fail");
    assert!(matches!(err, EngineError::AlreadyRunning { .. }), "{err}");
    assert!(
        err.to_string().contains(&std::process::id().to_string()),
        "{err}"
    );
    // Another root but the same, live socket.
    config.root = d.dir.path().join("root2");
    config.socket = d.socket.clone();
    let err = rt
        .block_on(vessel_engine::Daemon::start_with_images(
            config,
            images.clone(),
        ))
        .err()
        .expect("a live socket must not be taken over");
    assert!(matches!(err, EngineError::SocketInUse { .. }), "{err}");
    d.stop().unwrap();
    assert!(!d.socket.exists(), "socket removed on shutdown");
}

#[test]
fn stale_socket_is_replaced() {
    let dir = tempfile::Builder::new()
        .prefix("vessel-engine-stale-")
        .tempdir()
        .unwrap();
    let config = common::config_in(dir.path());
    // A socket file left by a crashed daemon: bound, then abandoned.
    drop(std::os::unix::net::UnixListener::bind(&config.socket).unwrap());
    assert!(config.socket.exists());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let images = std::sync::Arc::new(common::FakeImages::default());
    let daemon = rt
        .block_on(vessel_engine::Daemon::start_with_images(
            config.clone(),
            images,
        ))
        .unwrap();
    let socket = daemon.socket().to_path_buf();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = rt.spawn(daemon.serve(async {
        let _ = stopped.await;
    }));
    let r = rt.block_on(async {
        tokio::task::spawn_blocking(move || http(&socket, "GET", "/_ping", b""))
            .await
            .unwrap()
    });
    assert_eq!(r.status, 200);
    stop.send(()).unwrap();
    rt.block_on(served).unwrap().unwrap();
    assert!(!config.socket.exists());
}
