//! The client against a real registry (Debian's `docker-registry`) on 127.0.0.1.

mod common;

use std::sync::Mutex;

use common::{build_image, store_in, Registry};
use vessel_distribution::{
    error::DistError, pull, push, Credentials, Platform, Progress, PullOptions, PushOptions,
    RegistryOptions,
};

/// Progress lines as "id status" strings.
#[derive(Default)]
struct Log(Mutex<Vec<Progress>>);

impl Log {
    fn push(&self, p: Progress) {
        self.0.lock().unwrap().push(p);
    }

    fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|p| format!("{} {}", p.id, p.status).trim().to_string())
            .collect()
    }
}

#[test]
fn push_then_pull_into_a_fresh_store() {
    let reg = Registry::start(None);
    let src_dir = tempfile::tempdir().unwrap();
    let src = store_in(src_dir.path());
    let name = format!("{}/test/bb:v1", reg.addr);
    let id = build_image(&src, &name, "one");

    let log = Log::default();
    let pushed = push(&src, &name, &PushOptions::default(), &|p| log.push(p)).unwrap();
    let text = log.lines();
    assert!(text.iter().any(|l| l.ends_with("Pushed")), "{text:?}");
    assert!(
        text.iter()
            .any(|l| l == &format!("v1: digest: {} size: {}", pushed.digest, pushed.size)),
        "{text:?}"
    );
    assert!(src
        .inspect(&name)
        .unwrap()
        .summary
        .repo_digests
        .iter()
        .any(|d| d.ends_with(&pushed.digest)));

    // Second push: every blob is already there.
    let log = Log::default();
    let again = push(&src, &name, &PushOptions::default(), &|p| log.push(p)).unwrap();
    assert_eq!(again.digest, pushed.digest, "gzip is deterministic");
    assert!(
        log.lines()
            .iter()
            .filter(|l| l.ends_with("Layer already exists"))
            .count()
            == 2
    );

    let dst_dir = tempfile::tempdir().unwrap();
    let dst = store_in(dst_dir.path());
    let cache = dst_dir.path().join("cache");
    let opts = PullOptions {
        cache_dir: Some(cache.clone()),
        ..PullOptions::default()
    };
    let log = Log::default();
    let pulled = pull(&dst, &name, &opts, &|p| log.push(p)).unwrap();
    assert_eq!(pulled.id, id);
    assert_eq!(pulled.manifest_digest, pushed.digest);
    let text = log.lines();
    assert_eq!(text.first().unwrap(), "v1 Pulling from test/bb");
    assert!(
        text.iter().filter(|l| l.ends_with("Pull complete")).count() == 2,
        "{text:?}"
    );
    assert!(
        text.contains(&format!("Digest: {}", pushed.digest)),
        "{text:?}"
    );
    assert!(
        text.last()
            .unwrap()
            .starts_with("Status: Downloaded newer image for"),
        "{text:?}"
    );
    assert_eq!(
        dst.config_bytes(&name).unwrap(),
        src.config_bytes(&name).unwrap()
    );
    assert_eq!(dst.layers(&name).unwrap(), src.layers(&name).unwrap());
    let details = dst.inspect(&name).unwrap();
    assert_eq!(
        details.summary.repo_digests,
        vec![format!("{}/test/bb@{}", reg.addr, pushed.digest)]
    );

    // Pulling again downloads nothing.
    let log = Log::default();
    pull(&dst, &name, &opts, &|p| log.push(p)).unwrap();
    let text = log.lines();
    assert!(
        text.iter()
            .filter(|l| l.ends_with("Already exists"))
            .count()
            == 2,
        "{text:?}"
    );
    assert!(
        text.last()
            .unwrap()
            .starts_with("Status: Image is up to date for"),
        "{text:?}"
    );

    // By digest.
    let by_digest = format!("{}/test/bb@{}", reg.addr, pushed.digest);
    let p = pull(&dst, &by_digest, &opts, &|_| {}).unwrap();
    assert_eq!(p.id, id);

    // Push of the pulled image to another repository: mounted, not uploaded.
    let other = format!("{}/test/other:v2", reg.addr);
    dst.tag(&name, &other).unwrap();
    let log = Log::default();
    let popts = PushOptions {
        cache_dir: Some(cache),
        ..PushOptions::default()
    };
    push(&dst, &other, &popts, &|p| log.push(p)).unwrap();
    let text = log.lines();
    assert_eq!(
        text.iter()
            .filter(|l| l.ends_with("Mounted from test/bb"))
            .count(),
        2,
        "{text:?}"
    );

    // Unknown tag: a clear error.
    let e = pull(&dst, &format!("{}/test/bb:nope", reg.addr), &opts, &|_| {}).unwrap_err();
    assert!(matches!(e, DistError::ManifestUnknown { .. }), "{e}");
    assert!(e.to_string().contains("test/bb:nope"), "{e}");
}

#[test]
fn chunked_upload_and_tampered_blob() {
    let reg = Registry::start(None);
    let src_dir = tempfile::tempdir().unwrap();
    let src = store_in(src_dir.path());
    let name = format!("{}/test/chunky:latest", reg.addr);
    let id = build_image(&src, &name, "chunks");
    let opts = PushOptions {
        monolithic_limit: 1,
        chunk_size: 100 * 1024,
        ..PushOptions::default()
    };
    let pushed = push(&src, &name, &opts, &|_| {}).unwrap();

    let dst_dir = tempfile::tempdir().unwrap();
    let dst = store_in(dst_dir.path());
    assert_eq!(
        pull(&dst, &name, &PullOptions::default(), &|_| {})
            .unwrap()
            .id,
        id
    );

    // Flip a byte in the middle of the big layer's blob in the registry's storage.
    let manifest: serde_json::Value = {
        let path = reg.blob_path(&pushed.digest);
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let big = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let path = reg.blob_path(&big);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();

    let fresh_dir = tempfile::tempdir().unwrap();
    let fresh = store_in(fresh_dir.path());
    let e = pull(&fresh, &name, &PullOptions::default(), &|_| {}).unwrap_err();
    let msg = vessel_distribution::error_chain(&e);
    assert!(msg.contains(&big), "{msg}");
    assert!(
        msg.to_lowercase().contains("digest") || msg.contains("gzip") || msg.contains("corrupt"),
        "{msg}"
    );
    assert!(
        fresh.list().unwrap().is_empty(),
        "nothing visible after a failed pull"
    );
}

#[test]
fn platform_choice_from_an_index() {
    let reg = Registry::start(None);
    let src_dir = tempfile::tempdir().unwrap();
    let src = store_in(src_dir.path());
    let name = format!("{}/test/multi:one", reg.addr);
    let id = build_image(&src, &name, "multi");
    let pushed = push(&src, &name, &PushOptions::default(), &|_| {}).unwrap();
    // An index naming that manifest as linux/arm64 and linux/arm/v7 only.
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": pushed.digest, "size": pushed.size, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": pushed.digest, "size": pushed.size, "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}}
        ]
    });
    let url = format!("http://{}/v2/test/multi/manifests/idx", reg.addr);
    let resp = ureq::put(&url)
        .set("Content-Type", "application/vnd.oci.image.index.v1+json")
        .send_bytes(index.to_string().as_bytes())
        .unwrap();
    assert_eq!(resp.status(), 201);

    let dst_dir = tempfile::tempdir().unwrap();
    let dst = store_in(dst_dir.path());
    let idx_ref = format!("{}/test/multi:idx", reg.addr);
    let e = pull(&dst, &idx_ref, &PullOptions::default(), &|_| {}).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, DistError::NoPlatform { .. }), "{msg}");
    assert!(
        msg.contains("available platforms: linux/arm64/v8, linux/arm/v7"),
        "{msg}"
    );
    assert!(dst.list().unwrap().is_empty());

    let opts = PullOptions {
        platform: Some(Platform::parse("linux/arm64").unwrap()),
        ..PullOptions::default()
    };
    let p = pull(&dst, &idx_ref, &opts, &|_| {}).unwrap();
    // A plain manifest asked for another platform: its config says linux/amd64.
    let e = pull(&dst, &name, &opts, &|_| {}).unwrap_err();
    assert!(
        e.to_string().contains("linux/arm64")
            && e.to_string().ends_with("available platforms: linux/amd64"),
        "{e}"
    );
    assert_eq!(p.id, id);
    // RepoDigests names the index, as Docker does.
    assert_ne!(p.manifest_digest, pushed.digest);
}

#[test]
fn basic_auth_login_push_pull() {
    let reg = Registry::start(Some(("alice", "s3cret")));
    let src_dir = tempfile::tempdir().unwrap();
    let src = store_in(src_dir.path());
    let name = format!("{}/priv/app:1", reg.addr);
    build_image(&src, &name, "private");

    let none = RegistryOptions::default();
    let e = vessel_distribution::login(&reg.addr, &Credentials::basic("alice", "wrong"), &none)
        .unwrap_err();
    assert!(matches!(e, DistError::Unauthorized { .. }), "{e}");
    vessel_distribution::login(&reg.addr, &Credentials::basic("alice", "s3cret"), &none).unwrap();

    let e = push(&src, &name, &PushOptions::default(), &|_| {}).unwrap_err();
    assert!(matches!(e, DistError::Unauthorized { .. }), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("vessel login {}", reg.addr)),
        "{e}"
    );

    let creds = Some(Credentials::basic("alice", "s3cret"));
    push(
        &src,
        &name,
        &PushOptions {
            creds: creds.clone(),
            ..PushOptions::default()
        },
        &|_| {},
    )
    .unwrap();
    let dst_dir = tempfile::tempdir().unwrap();
    let dst = store_in(dst_dir.path());
    let e = pull(&dst, &name, &PullOptions::default(), &|_| {}).unwrap_err();
    assert!(matches!(e, DistError::Unauthorized { .. }), "{e}");
    pull(
        &dst,
        &name,
        &PullOptions {
            creds,
            ..PullOptions::default()
        },
        &|_| {},
    )
    .unwrap();
}

#[test]
fn docker_hub_images_come_from_a_mirror() {
    let reg = Registry::start(None);
    let src_dir = tempfile::tempdir().unwrap();
    let src = store_in(src_dir.path());
    let short = format!("mirrored-{}", std::process::id());
    let id = build_image(&src, &format!("{}/library/{short}:v1", reg.addr), "m");
    push(
        &src,
        &format!("{}/library/{short}:v1", reg.addr),
        &PushOptions::default(),
        &|_| {},
    )
    .unwrap();

    let dst_dir = tempfile::tempdir().unwrap();
    let dst = store_in(dst_dir.path());
    let opts = PullOptions {
        registry: RegistryOptions {
            mirrors: vec![
                // A dead mirror first: skipped, then the working one.
                format!("http://127.0.0.1:{}", common::free_port()),
                format!("http://{}/", reg.addr),
            ],
            insecure: vec![],
        },
        ..PullOptions::default()
    };
    let p = pull(&dst, &format!("{short}:v1"), &opts, &|_| {}).unwrap();
    assert_eq!(p.id, id);
    let d = dst.inspect(&format!("{short}:v1")).unwrap();
    assert!(
        d.summary.repo_digests[0].starts_with(&format!("{short}@sha256:"))
            || d.summary.repo_digests[0].starts_with(&format!("docker.io/library/{short}@sha256:")),
        "{:?}",
        d.summary.repo_digests
    );
}
