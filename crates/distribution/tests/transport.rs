//! Resumed downloads and the Bearer token flow, through a proxy in front of a real
//! registry (see `proxy/mod.rs`).

mod common;
mod proxy;

use common::{build_image, store_in, Registry};
use proxy::{Mode, Proxy};
use vessel_distribution::{error::DistError, pull, push, Credentials, PullOptions, PushOptions};

/// Push a two-layer image straight to the registry; returns (name, big layer digest, id).
fn pushed(reg: &Registry, repo: &str) -> (String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let name = format!("{}/{repo}:v1", reg.addr);
    let id = build_image(&store, &name, repo);
    let p = push(&store, &name, &PushOptions::default(), &|_| {}).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reg.blob_path(&p.digest)).unwrap()).unwrap();
    let big = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    (format!("{repo}:v1"), big, id)
}

#[test]
fn a_cut_download_resumes_with_range() {
    let reg = Registry::start(None);
    let (repo_tag, big, id) = pushed(&reg, "test/resume");
    let proxy = Proxy::start(
        &reg.addr,
        Mode::Cut {
            path: big.clone(),
            after: 300_000,
            times: 1,
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let name = format!("{}/{repo_tag}", proxy.addr);
    let p = pull(&store, &name, &PullOptions::default(), &|_| {}).unwrap();
    assert_eq!(p.id, id);
    let requests = proxy.seen.requests.lock().unwrap().clone();
    let blob_gets: Vec<_> = requests
        .iter()
        .filter(|r| r.contains(&big) && r.starts_with("GET"))
        .collect();
    assert_eq!(blob_gets.len(), 2, "{requests:#?}");
    assert!(blob_gets[0].ends_with("range="), "{requests:#?}");
    assert!(blob_gets[1].contains("range=bytes="), "{requests:#?}");
    assert_eq!(proxy.seen.cuts.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn a_download_that_keeps_failing_leaves_nothing() {
    let reg = Registry::start(None);
    let (repo_tag, big, _) = pushed(&reg, "test/broken");
    let proxy = Proxy::start(
        &reg.addr,
        Mode::Cut {
            path: big.clone(),
            after: 1_000,
            times: usize::MAX,
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let name = format!("{}/{repo_tag}", proxy.addr);
    let e = pull(&store, &name, &PullOptions::default(), &|_| {}).unwrap_err();
    let msg = vessel_distribution::error_chain(&e);
    assert!(msg.contains(&big), "{msg}");
    assert!(
        store.list().unwrap().is_empty(),
        "nothing visible after a failed pull"
    );
}

#[test]
fn bearer_token_flow() {
    let reg = Registry::start(None);
    let proxy = Proxy::start(
        &reg.addr,
        Mode::Bearer {
            user: "bob".into(),
            password: "pw".into(),
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let store = store_in(dir.path());
    let name = format!("{}/team/app:v1", proxy.addr);
    let id = build_image(&store, &name, "bearer");

    let e = push(&store, &name, &PushOptions::default(), &|_| {}).unwrap_err();
    assert!(matches!(e, DistError::Unauthorized { .. }), "{e}");
    let creds = Some(Credentials::basic("bob", "pw"));
    let e = push(
        &store,
        &name,
        &PushOptions {
            creds: Some(Credentials::basic("bob", "no")),
            ..PushOptions::default()
        },
        &|_| {},
    )
    .unwrap_err();
    assert!(matches!(e, DistError::Unauthorized { .. }), "{e}");
    push(
        &store,
        &name,
        &PushOptions {
            creds: creds.clone(),
            ..PushOptions::default()
        },
        &|_| {},
    )
    .unwrap();
    assert!(
        proxy
            .seen
            .scopes
            .lock()
            .unwrap()
            .iter()
            .any(|s| s == "repository:team/app:pull,push"),
        "{:?}",
        proxy.seen.scopes.lock().unwrap()
    );
    vessel_distribution::login(
        &proxy.addr,
        &Credentials::basic("bob", "pw"),
        &Default::default(),
    )
    .unwrap();
    assert!(vessel_distribution::login(
        &proxy.addr,
        &Credentials::basic("bob", "x"),
        &Default::default()
    )
    .is_err());

    let dir2 = tempfile::tempdir().unwrap();
    let fresh = store_in(dir2.path());
    let p = pull(
        &fresh,
        &name,
        &PullOptions {
            creds,
            ..PullOptions::default()
        },
        &|_| {},
    )
    .unwrap();
    assert_eq!(p.id, id);
    assert!(proxy
        .seen
        .scopes
        .lock()
        .unwrap()
        .iter()
        .any(|s| s == "repository:team/app:pull"));
}
