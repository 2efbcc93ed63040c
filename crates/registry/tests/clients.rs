//! Real clients against the in-process registry: skopeo (plain, htpasswd, token flow, TLS)
//! and podman. Skipped with a note when a tool is missing.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use vessel_registry::AuthConfig;

fn need(tool: &str) -> bool {
    if have(tool) {
        return true;
    }
    eprintln!("skipping: {tool} not installed (scripts/deps.sh installs it)");
    false
}

/// `skopeo copy` with our own auth file and no host policy dependence. Returns success, the
/// manifest digest written (docker destinations get gzip layers, so it differs from the
/// layout's), and stderr.
fn copy(tmp: &Path, args: &[&str]) -> (bool, String, String) {
    let file = tmp.join(format!("digest-{}", unique("")));
    let mut c = skopeo(tmp);
    c.args([
        "--insecure-policy",
        "copy",
        "--retry-times",
        "0",
        "--digestfile",
    ]);
    c.arg(&file).args(args);
    let (ok, _, err) = run(&mut c);
    let d = std::fs::read_to_string(&file)
        .unwrap_or_default()
        .trim()
        .to_string();
    (ok, d, err)
}

fn inspect(tmp: &Path, args: &[&str]) -> (bool, String, String) {
    let mut c = skopeo(tmp);
    c.args(["inspect", "--tls-verify=false"]).args(args);
    run(&mut c)
}

fn out_index_digest(layout: &Path) -> String {
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    idx["manifests"][0]["digest"].as_str().unwrap().to_string()
}

#[test]
fn skopeo_push_inspect_pull() {
    if !need("skopeo") {
        return;
    }
    let s = Server::start(|_| {});
    let tmp = tempfile::tempdir().unwrap();
    let img = Image::busybox("skopeo");
    let layout = tmp.path().join("src");
    img.write_layout(&layout, "v1");
    let dest = format!("docker://{}/test/bb:1", s.host());
    let (ok, pushed, err) = copy(
        tmp.path(),
        &[
            "--dest-tls-verify=false",
            &format!("oci:{}:v1", layout.display()),
            &dest,
        ],
    );
    assert!(ok, "push: {err}");

    let (ok, out, err) = inspect(tmp.path(), &[&dest]);
    assert!(ok, "inspect: {err}");
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["Digest"], pushed.as_str());
    let layer_digest = j["Layers"][0].as_str().unwrap().to_string();
    let (ok, raw, _) = inspect(tmp.path(), &["--raw", &dest]);
    assert!(ok);
    assert_eq!(digest(raw.as_bytes()), pushed);
    // The config travels unchanged, the layer as skopeo compressed it.
    let (ok, config, _) = inspect(tmp.path(), &["--config", "--raw", &dest]);
    assert!(ok);
    assert_eq!(config.as_bytes(), img.config.as_slice());
    let served = s.get(&format!("/v2/test/bb/blobs/{layer_digest}"));
    assert_eq!(digest(&served.body), layer_digest);

    let back = tmp.path().join("back");
    let (ok, _, err) = copy(
        tmp.path(),
        &[
            "--src-tls-verify=false",
            &dest,
            &format!("oci:{}:v1", back.display()),
        ],
    );
    assert!(ok, "pull: {err}");
    assert_eq!(out_index_digest(&back), pushed);
    let layer = std::fs::read(back.join("blobs/sha256").join(&layer_digest[7..])).unwrap();
    assert_eq!(layer, served.body);
    let config = std::fs::read(back.join("blobs/sha256").join(&digest(&img.config)[7..])).unwrap();
    assert_eq!(config, img.config);

    // Converted to Docker schema2 on the way: the other manifest type, cross-repo mounts.
    let dest2 = format!("docker://{}/test/other/bb:v2s2", s.host());
    let (ok, _, err) = copy(
        tmp.path(),
        &[
            "--dest-tls-verify=false",
            "--format",
            "v2s2",
            &format!("oci:{}:v1", layout.display()),
            &dest2,
        ],
    );
    assert!(ok, "push v2s2: {err}");
    let (ok, raw, _) = inspect(tmp.path(), &["--raw", &dest2]);
    assert!(ok);
    assert!(
        raw.contains("application/vnd.docker.distribution.manifest.v2+json"),
        "{raw}"
    );
    let cat = s.get("/v2/_catalog").json();
    assert_eq!(
        cat["repositories"],
        serde_json::json!(["test/bb", "test/other/bb"])
    );
    let (ok, out, _) = run(skopeo(tmp.path()).args([
        "list-tags",
        "--tls-verify=false",
        &dest2[..dest2.len() - 5],
    ]));
    assert!(ok);
    assert!(out.contains("v2s2"), "{out}");
}

#[test]
fn htpasswd_basic_auth() {
    if !need("skopeo") || !need("htpasswd") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = htpasswd(tmp.path(), "alice", "s3cret");
    let s = Server::start(|c| {
        c.auth = AuthConfig::Htpasswd {
            htpasswd: file.clone(),
        }
    });
    let r = s.get("/v2/");
    assert_eq!((r.status, r.code().as_str()), (401, "UNAUTHORIZED"));
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some("Basic realm=\"vessel-registry\"")
    );
    let good = format!("Basic {}", b64("alice:s3cret"));
    let bad = format!("Basic {}", b64("alice:wrong"));
    assert_eq!(
        s.req("GET", "/v2/", &[("Authorization", &good)], b"")
            .status,
        200
    );
    assert_eq!(
        s.req("GET", "/v2/", &[("Authorization", &bad)], b"").status,
        401
    );

    let img = Image::busybox("htpasswd");
    let layout = tmp.path().join("src");
    img.write_layout(&layout, "v1");
    let src = format!("oci:{}:v1", layout.display());
    let dest = format!("docker://{}/auth/bb:1", s.host());
    let (ok, _, _) = copy(tmp.path(), &["--dest-tls-verify=false", &src, &dest]);
    assert!(!ok, "push without credentials must fail");
    let (ok, pushed, err) = copy(
        tmp.path(),
        &[
            "--dest-tls-verify=false",
            "--dest-creds",
            "alice:s3cret",
            &src,
            &dest,
        ],
    );
    assert!(ok, "push with credentials: {err}");
    let (ok, out, err) = inspect(tmp.path(), &["--creds", "alice:s3cret", &dest]);
    assert!(ok, "{err}");
    assert!(out.contains(&pushed), "{out}");
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn token_flow_with_skopeo() {
    if !need("skopeo") || !need("htpasswd") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = htpasswd(tmp.path(), "bob", "tok3n");
    let s = Server::start(|c| {
        c.auth = AuthConfig::Token {
            htpasswd: file.clone(),
            key_file: None,
        }
    });
    let r = s.get("/v2/");
    assert_eq!(r.status, 401);
    let realm = format!(
        "Bearer realm=\"http://{}/token\",service=\"vessel-registry\"",
        s.host()
    );
    assert_eq!(r.header("WWW-Authenticate"), Some(realm.as_str()));
    let r = s.get("/v2/tok/bb/manifests/1");
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some(format!("{realm},scope=\"repository:tok/bb:pull\"").as_str())
    );
    // The token endpoint checks the password.
    let bad = format!("Basic {}", b64("bob:nope"));
    assert_eq!(
        s.req(
            "GET",
            "/token?service=vessel-registry",
            &[("Authorization", &bad)],
            b""
        )
        .status,
        401
    );
    let good = format!("Basic {}", b64("bob:tok3n"));
    let r = s.req(
        "GET",
        "/token?service=vessel-registry&scope=repository:tok/bb:pull",
        &[("Authorization", &good)],
        b"",
    );
    assert_eq!(r.status, 200);
    let token = r.json()["token"].as_str().unwrap().to_string();
    let bearer = format!("Bearer {token}");
    assert_eq!(
        s.req(
            "GET",
            "/v2/tok/bb/tags/list",
            &[("Authorization", &bearer)],
            b""
        )
        .code(),
        "NAME_UNKNOWN"
    );
    // Pull-only token: pushing needs a new challenge.
    let r = s.req(
        "POST",
        "/v2/tok/bb/blobs/uploads/",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(r.status, 401);
    assert!(r
        .header("WWW-Authenticate")
        .unwrap()
        .contains("scope=\"repository:tok/bb:pull,push\""));
    // Forged tokens fail.
    let forged = format!("Bearer {}x", token);
    assert_eq!(
        s.req("GET", "/v2/", &[("Authorization", &forged)], b"")
            .status,
        401
    );

    let img = Image::busybox("token");
    let layout = tmp.path().join("src");
    img.write_layout(&layout, "v1");
    let src = format!("oci:{}:v1", layout.display());
    let dest = format!("docker://{}/tok/bb:1", s.host());
    let (ok, _, _) = copy(
        tmp.path(),
        &[
            "--dest-tls-verify=false",
            "--dest-creds",
            "bob:wrong",
            &src,
            &dest,
        ],
    );
    assert!(!ok, "wrong password must fail");
    let (ok, pushed, err) = copy(
        tmp.path(),
        &[
            "--dest-tls-verify=false",
            "--dest-creds",
            "bob:tok3n",
            &src,
            &dest,
        ],
    );
    assert!(ok, "token push: {err}");
    let (ok, out, err) = inspect(tmp.path(), &["--creds", "bob:tok3n", &dest]);
    assert!(ok, "{err}");
    assert!(out.contains(&pushed), "{out}");
    let (ok, _, _) = inspect(tmp.path(), &[&dest]);
    assert!(!ok, "anonymous pull must fail");
}

#[test]
fn read_only_refuses_skopeo_push() {
    if !need("skopeo") {
        return;
    }
    let s = Server::start(|c| c.read_only = true);
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("src");
    Image::busybox("ro").write_layout(&layout, "v1");
    let dest = format!("docker://{}/ro/bb:1", s.host());
    let (ok, _, _) = copy(
        tmp.path(),
        &[
            "--dest-tls-verify=false",
            &format!("oci:{}:v1", layout.display()),
            &dest,
        ],
    );
    assert!(!ok);
    assert_eq!(
        std::fs::read_dir(s.root.join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn tls_with_skopeo_and_curl() {
    if !need("skopeo") || !need("openssl") || !need("curl") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (cert, key) = (tmp.path().join("cert.pem"), tmp.path().join("key.pem"));
    let (ok, _, err) = run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert));
    assert!(ok, "openssl: {err}");
    let s = Server::start(|c| c.tls = Some((cert.clone(), key.clone())));
    let (ok, out, err) = run(Command::new("curl")
        .args(["-sS", "-i", "--cacert"])
        .arg(&cert)
        .arg(format!("https://{}/v2/", s.host())));
    assert!(ok, "curl: {err}");
    assert!(out.contains("registry/2.0"), "{out}");
    let layout = tmp.path().join("src");
    let img = Image::busybox("tls");
    img.write_layout(&layout, "v1");
    let dest = format!("docker://{}/tls/bb:1", s.host());
    let (ok, pushed, err) = copy(
        tmp.path(),
        &[
            "--dest-cert-dir",
            tmp.path().join("certs").to_str().unwrap(),
            "--dest-tls-verify=false",
            &format!("oci:{}:v1", layout.display()),
            &dest,
        ],
    );
    assert!(ok, "push over TLS: {err}");
    let (ok, out, err) = inspect(tmp.path(), &[&dest]);
    assert!(ok, "{err}");
    assert!(out.contains(&pushed), "{out}");
    // Plain HTTP to the TLS port is not served.
    let (_, code, _) = run(Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "5"])
        .arg(format!("http://{}/v2/", s.host())));
    assert_ne!(code, "200");
}

#[test]
fn podman_push_and_pull() {
    if !need("podman") {
        return;
    }
    let s = Server::start(|_| {});
    // podman names an oci: image after its path, which must be lowercase.
    let tmp = tempfile::Builder::new()
        .prefix(&unique("vessel-registry-podman-"))
        .rand_bytes(0)
        .tempdir_in(std::env::temp_dir())
        .unwrap();
    let layout = tmp.path().join("src");
    let img = Image::busybox("podman");
    img.write_layout(&layout, "v1");
    // Private storage so nothing touches the host's images.
    let podman = || {
        let mut c = Command::new("podman");
        c.arg("--root").arg(tmp.path().join("root"));
        c.arg("--runroot").arg(tmp.path().join("run"));
        c.arg("--tmpdir").arg(tmp.path().join("libpod-tmp"));
        c.args(["--storage-driver", "vfs", "--events-backend", "none"]);
        c.env("REGISTRY_AUTH_FILE", tmp.path().join("auth.json"));
        c
    };
    std::fs::write(tmp.path().join("auth.json"), "{}").unwrap();
    let (ok, _, err) = run(podman()
        .arg("pull")
        .arg(format!("oci:{}:v1", layout.display())));
    assert!(ok, "podman pull oci: {err}");
    let (ok, out, err) = run(podman().args(["images", "-q", "--no-trunc"]));
    assert!(ok, "{err}");
    let id = out.lines().next().unwrap_or_default().trim().to_string();
    let reference = format!("{}/pod/bb:1", s.host());
    let (ok, _, err) = run(podman().args([
        "push",
        "--tls-verify=false",
        &id,
        &format!("docker://{reference}"),
    ]));
    assert!(ok, "podman push: {err}");
    let (ok, _, err) = run(podman().args(["rmi", "-a", "-f"]));
    assert!(ok, "{err}");
    let (ok, _, err) = run(podman().args(["pull", "--tls-verify=false", &reference]));
    assert!(ok, "podman pull: {err}");
    let (ok, out, _) = run(podman().args(["images", "--format", "{{.Repository}}:{{.Tag}}"]));
    assert!(ok);
    assert!(out.contains(&reference), "{out}");
    assert_eq!(
        s.get("/v2/pod/bb/tags/list").json()["tags"],
        serde_json::json!(["1"])
    );
}
