//! The distribution API driven with a raw HTTP client against an in-process server.

mod common;

use std::time::Duration;

use common::*;

#[test]
fn ping_has_api_version() {
    let s = Server::start(|_| {});
    let r = s.get("/v2/");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Docker-Distribution-API-Version"),
        Some("registry/2.0")
    );
    assert_eq!(s.get("/v3/").status, 404);
}

#[test]
fn chunked_upload_status_and_ranges() {
    let s = Server::start(|_| {});
    let repo = "chunk/a/b";
    let r = s.req("POST", &format!("/v2/{repo}/blobs/uploads/"), &[], b"");
    assert_eq!(r.status, 202, "{}", r.text());
    let loc = r.header("Location").unwrap().to_string();
    assert!(
        loc.starts_with(&format!("/v2/{repo}/blobs/uploads/")),
        "{loc}"
    );
    assert_eq!(r.header("Range"), Some("0-0"));
    assert!(r.header("Docker-Upload-UUID").is_some());

    let r = s.req(
        "PATCH",
        &loc,
        &[
            ("Content-Range", "0-4"),
            ("Content-Type", "application/octet-stream"),
        ],
        b"hello",
    );
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.header("Range"), Some("0-4"));
    // Out of order: the next chunk must start at 5.
    let r = s.req("PATCH", &loc, &[("Content-Range", "7-9")], b"xyz");
    assert_eq!(r.status, 416);
    assert_eq!(r.code(), "RANGE_INVALID");
    let r = s.req("PATCH", &loc, &[("Content-Range", "5-10")], b", blob");
    assert_eq!(r.status, 202);
    let r = s.get(&loc);
    assert_eq!(r.status, 204);
    assert_eq!(r.header("Range"), Some("0-10"));

    let data = b"hello, blob!";
    let d = digest(data);
    let r = s.req("PUT", &format!("{loc}?digest={d}"), &[], b"!");
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("Docker-Content-Digest"), Some(d.as_str()));
    assert_eq!(
        r.header("Location"),
        Some(format!("/v2/{repo}/blobs/{d}").as_str())
    );
    // The session is gone.
    assert_eq!(s.get(&loc).status, 404);

    let blob = format!("/v2/{repo}/blobs/{d}");
    let r = s.req("HEAD", &blob, &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Length"), Some("12"));
    assert_eq!(r.header("Docker-Content-Digest"), Some(d.as_str()));
    assert!(r.body.is_empty());
    let r = s.get(&blob);
    assert_eq!(r.body, data);
    let r = s.req("GET", &blob, &[("Range", "bytes=7-10")], b"");
    assert_eq!(r.status, 206);
    assert_eq!(r.body, b"blob");
    assert_eq!(r.header("Content-Range"), Some("bytes 7-10/12"));
    let r = s.req("GET", &blob, &[("Range", "bytes=-1")], b"");
    assert_eq!((r.status, r.body.as_slice()), (206, &b"!"[..]));
    let r = s.req("GET", &blob, &[("Range", "bytes=50-")], b"");
    assert_eq!(r.status, 416);
    assert_eq!(r.header("Content-Range"), Some("bytes */12"));

    // Another repository cannot read it without a link.
    let r = s.get(&format!("/v2/other/blobs/{d}"));
    assert_eq!((r.status, r.code().as_str()), (404, "BLOB_UNKNOWN"));

    // Delete unlinks.
    assert_eq!(s.req("DELETE", &blob, &[], b"").status, 202);
    assert_eq!(s.req("HEAD", &blob, &[], b"").status, 404);
}

#[test]
fn cancel_and_unknown_uploads() {
    let s = Server::start(|_| {});
    let r = s.req("POST", "/v2/c/blobs/uploads/", &[], b"");
    let loc = r.header("Location").unwrap().to_string();
    assert_eq!(s.req("PATCH", &loc, &[], b"abc").status, 202);
    assert_eq!(s.req("DELETE", &loc, &[], b"").status, 204);
    assert_eq!(s.get(&loc).code(), "BLOB_UPLOAD_UNKNOWN");
    assert_eq!(
        std::fs::read_dir(s.root.join("uploads")).unwrap().count(),
        0
    );
    // A session belongs to its repository.
    let r = s.req("POST", "/v2/c/blobs/uploads/", &[], b"");
    let id = r.header("Docker-Upload-UUID").unwrap().to_string();
    assert_eq!(s.get(&format!("/v2/d/blobs/uploads/{id}")).status, 404);
    assert_eq!(s.get("/v2/c/blobs/uploads/not-a-uuid").status, 404);
    assert_eq!(s.get("/v2/c/blobs/uploads/..").status, 404);
}

#[test]
fn wrong_digest_is_rejected_and_leaves_nothing() {
    let s = Server::start(|_| {});
    let wrong = digest(b"something else");
    // Monolithic.
    let r = s.req(
        "POST",
        &format!("/v2/w/blobs/uploads/?digest={wrong}"),
        &[],
        b"content",
    );
    assert_eq!((r.status, r.code().as_str()), (400, "DIGEST_INVALID"));
    // Session.
    let r = s.req("POST", "/v2/w/blobs/uploads/", &[], b"");
    let loc = r.header("Location").unwrap().to_string();
    s.req("PATCH", &loc, &[], b"content");
    let r = s.req("PUT", &format!("{loc}?digest={wrong}"), &[], b"");
    assert_eq!((r.status, r.code().as_str()), (400, "DIGEST_INVALID"));
    assert_eq!(s.get(&loc).status, 404);
    let r = s.req("PUT", &format!("{loc}?digest=sha256:zz"), &[], b"");
    assert_eq!(r.status, 404);
    for d in [wrong, digest(b"content")] {
        assert_eq!(
            s.req("HEAD", &format!("/v2/w/blobs/{d}"), &[], b"").status,
            404
        );
    }
    for dir in ["blobs/sha256", "uploads", "tmp"] {
        assert_eq!(
            std::fs::read_dir(s.root.join(dir)).unwrap().count(),
            0,
            "{dir} not empty"
        );
    }
    let r = s.req("PUT", "/v2/w/blobs/uploads/x?digest=md5:00", &[], b"");
    assert_eq!(r.status, 404);
    let r = s.req("POST", "/v2/w/blobs/uploads/?digest=md5:00", &[], b"x");
    assert_eq!((r.status, r.code().as_str()), (400, "DIGEST_INVALID"));
}

#[test]
fn cross_repo_mount() {
    let s = Server::start(|_| {});
    let d = s.push_blob("src/repo", b"shared layer");
    let r = s.req(
        "POST",
        &format!("/v2/dst/blobs/uploads/?mount={d}&from=src/repo"),
        &[],
        b"",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.header("Location"),
        Some(format!("/v2/dst/blobs/{d}").as_str())
    );
    assert_eq!(s.get(&format!("/v2/dst/blobs/{d}")).body, b"shared layer");
    // Unknown in `from`: falls back to a session.
    let other = digest(b"nope");
    let r = s.req(
        "POST",
        &format!("/v2/dst2/blobs/uploads/?mount={other}&from=src/repo"),
        &[],
        b"",
    );
    assert_eq!(r.status, 202);
    assert!(r.header("Docker-Upload-UUID").is_some());
}

#[test]
fn manifests_tags_referrers() {
    let s = Server::start(|_| {});
    let repo = "m/img";
    let img = Image::busybox("manifests");
    // Blobs missing: refused.
    let r = s.push_manifest(repo, "v1", OCI_MANIFEST, &img.manifest);
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "MANIFEST_BLOB_UNKNOWN")
    );
    img.push(&s, repo, "v1");
    let md = img.manifest_digest();
    for (method, reference) in [("GET", "v1"), ("HEAD", "v1"), ("GET", md.as_str())] {
        let r = s.req(
            method,
            &format!("/v2/{repo}/manifests/{reference}"),
            &[],
            b"",
        );
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some(OCI_MANIFEST));
        assert_eq!(r.header("Docker-Content-Digest"), Some(md.as_str()));
        assert_eq!(
            r.header("Content-Length"),
            Some(img.manifest.len().to_string().as_str())
        );
        if method == "GET" {
            assert_eq!(r.body, img.manifest);
        }
    }
    // Put by digest: must match.
    let r = s.push_manifest(repo, &digest(b"x"), OCI_MANIFEST, &img.manifest);
    assert_eq!(r.code(), "DIGEST_INVALID");
    let r = s.push_manifest(repo, &md, OCI_MANIFEST, &img.manifest);
    assert_eq!(r.status, 201);
    // Mismatched media type, bad JSON, bad tag.
    let r = s.push_manifest(
        repo,
        "v2",
        "application/vnd.docker.distribution.manifest.v2+json",
        &img.manifest,
    );
    assert_eq!(r.code(), "MANIFEST_INVALID");
    assert_eq!(
        s.push_manifest(repo, "v2", OCI_MANIFEST, b"{").code(),
        "MANIFEST_INVALID"
    );
    assert_eq!(
        s.push_manifest(repo, ".bad", OCI_MANIFEST, &img.manifest)
            .code(),
        "TAG_INVALID"
    );
    assert_eq!(
        s.get(&format!("/v2/{repo}/manifests/nope")).code(),
        "MANIFEST_UNKNOWN"
    );

    // An index of the image.
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": md, "size": img.manifest.len(),
                       "platform": {"architecture": "amd64", "os": "linux"}}]
    })
    .to_string();
    assert_eq!(
        s.push_manifest(repo, "multi", OCI_INDEX, index.as_bytes())
            .status,
        201
    );
    let orphan = index.replace(&md[7..], &digest(b"missing")[7..]);
    assert_eq!(
        s.push_manifest(repo, "bad", OCI_INDEX, orphan.as_bytes())
            .code(),
        "MANIFEST_BLOB_UNKNOWN"
    );

    // A signature-like artifact referring to the image.
    let empty = s.push_blob(repo, b"{}");
    let sig = serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": md, "size": img.manifest.len()},
        "annotations": {"k": "v"}
    })
    .to_string();
    let sig_digest = digest(sig.as_bytes());
    let r = s.push_manifest(repo, &sig_digest, OCI_MANIFEST, sig.as_bytes());
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("OCI-Subject"), Some(md.as_str()));
    let r = s.get(&format!("/v2/{repo}/referrers/{md}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some(OCI_INDEX));
    let j = r.json();
    assert_eq!(j["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(j["manifests"][0]["digest"], sig_digest.as_str());
    assert_eq!(
        j["manifests"][0]["artifactType"],
        "application/vnd.example.sig"
    );
    assert_eq!(j["manifests"][0]["annotations"]["k"], "v");
    let r = s.get(&format!(
        "/v2/{repo}/referrers/{md}?artifactType=application/other"
    ));
    assert_eq!(r.header("OCI-Filters-Applied"), Some("artifactType"));
    assert_eq!(r.json()["manifests"].as_array().unwrap().len(), 0);
    assert_eq!(
        s.get(&format!("/v2/{repo}/referrers/sha256:x")).code(),
        "DIGEST_INVALID"
    );

    // Tags with pagination.
    for t in ["a", "b", "c"] {
        assert_eq!(
            s.push_manifest(repo, t, OCI_MANIFEST, &img.manifest).status,
            201
        );
    }
    let r = s.get(&format!("/v2/{repo}/tags/list"));
    assert_eq!(
        r.json()["tags"],
        serde_json::json!(["a", "b", "c", "multi", "v1"])
    );
    let r = s.get(&format!("/v2/{repo}/tags/list?n=2"));
    assert_eq!(r.json()["tags"], serde_json::json!(["a", "b"]));
    assert_eq!(
        r.header("Link"),
        Some(format!("</v2/{repo}/tags/list?n=2&last=b>; rel=\"next\"").as_str())
    );
    let r = s.get(&format!("/v2/{repo}/tags/list?n=2&last=b"));
    assert_eq!(r.json()["tags"], serde_json::json!(["c", "multi"]));
    let r = s.get(&format!("/v2/{repo}/tags/list?n=2&last=multi"));
    assert_eq!(r.json()["tags"], serde_json::json!(["v1"]));
    assert!(r.header("Link").is_none());
    assert_eq!(s.get("/v2/nope/tags/list").code(), "NAME_UNKNOWN");

    // Catalog.
    img.push(&s, "m/zz", "v1");
    assert_eq!(
        s.get("/v2/_catalog").json()["repositories"],
        serde_json::json!(["m/img", "m/zz"])
    );
    let r = s.get("/v2/_catalog?n=1");
    assert_eq!(r.json()["repositories"], serde_json::json!(["m/img"]));
    assert_eq!(
        r.header("Link"),
        Some("</v2/_catalog?n=1&last=m%2Fimg>; rel=\"next\"")
    );
    let r = s.get("/v2/_catalog?n=1&last=m%2Fimg");
    assert_eq!(r.json()["repositories"], serde_json::json!(["m/zz"]));

    // Delete a tag, then the manifest by digest (removes its tags and referrer entry).
    assert_eq!(
        s.req("DELETE", &format!("/v2/{repo}/manifests/a"), &[], b"")
            .status,
        202
    );
    assert_eq!(s.get(&format!("/v2/{repo}/manifests/a")).status, 404);
    assert_eq!(
        s.req(
            "DELETE",
            &format!("/v2/{repo}/manifests/{sig_digest}"),
            &[],
            b""
        )
        .status,
        202
    );
    assert_eq!(
        s.get(&format!("/v2/{repo}/referrers/{md}")).json()["manifests"],
        serde_json::json!([])
    );
    assert_eq!(
        s.req("DELETE", &format!("/v2/{repo}/manifests/{md}"), &[], b"")
            .status,
        202
    );
    assert_eq!(s.get(&format!("/v2/{repo}/manifests/v1")).status, 404);
    assert_eq!(
        s.get(&format!("/v2/{repo}/tags/list")).json()["tags"],
        serde_json::json!(["multi"])
    );
}

#[test]
fn docker_schema2_manifest_and_list() {
    let s = Server::start(|_| {});
    let repo = "docker/style";
    let layer = s.push_blob(repo, b"layer");
    let config = s.push_blob(repo, b"{\"os\":\"linux\"}");
    let mt = "application/vnd.docker.distribution.manifest.v2+json";
    let m = serde_json::json!({
        "schemaVersion": 2, "mediaType": mt,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config, "size": 14},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": layer, "size": 5}]
    })
    .to_string();
    assert_eq!(s.push_manifest(repo, "v1", mt, m.as_bytes()).status, 201);
    let list_mt = "application/vnd.docker.distribution.manifest.list.v2+json";
    let l = serde_json::json!({
        "schemaVersion": 2, "mediaType": list_mt,
        "manifests": [{"mediaType": mt, "digest": digest(m.as_bytes()), "size": m.len(),
                       "platform": {"architecture": "amd64", "os": "linux"}}]
    })
    .to_string();
    assert_eq!(
        s.push_manifest(repo, "list", list_mt, l.as_bytes()).status,
        201
    );
    assert_eq!(
        s.get(&format!("/v2/{repo}/manifests/v1"))
            .header("Content-Type"),
        Some(mt)
    );
    assert_eq!(
        s.get(&format!("/v2/{repo}/manifests/list"))
            .header("Content-Type"),
        Some(list_mt)
    );
}

#[test]
fn traversal_in_names_is_refused() {
    let s = Server::start(|_| {});
    for p in [
        "/v2/../../etc/tags/list",
        "/v2/a/../../../b/blobs/uploads/",
        "/v2/%2e%2e/manifests/latest",
        "/v2/a/./b/manifests/latest",
        "/v2//abs/tags/list",
    ] {
        let method = if p.contains("uploads") { "POST" } else { "GET" };
        let r = s.req(method, p, &[], b"");
        assert_eq!((r.status, r.code().as_str()), (400, "NAME_INVALID"), "{p}");
    }
    let r = s.get("/v2/a/manifests/..%2f..%2fx");
    assert_eq!(r.code(), "TAG_INVALID");
    let r = s.get("/v2/a/blobs/sha256:..%2f..%2f");
    assert_eq!(r.code(), "DIGEST_INVALID");
    assert!(!s.root.join("etc").exists() && !s.root.parent().unwrap().join("b").exists());
}

#[test]
fn parallel_pushes_of_one_blob() {
    let s = Server::start(|_| {});
    let data: Vec<u8> = (0..(1 << 20)).map(|i| (i * 7 % 251) as u8).collect();
    let d = digest(&data);
    std::thread::scope(|sc| {
        for i in 0..8 {
            let (s, data, d) = (&s, &data, &d);
            sc.spawn(move || {
                let repo = format!("par/r{}", i % 2);
                if i % 2 == 0 {
                    let r = s.req(
                        "POST",
                        &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
                        &[],
                        data,
                    );
                    assert_eq!(r.status, 201, "{}", r.text());
                } else {
                    let r = s.req("POST", &format!("/v2/{repo}/blobs/uploads/"), &[], b"");
                    let loc = r.header("Location").unwrap().to_string();
                    let (a, b) = data.split_at(300_000);
                    assert_eq!(
                        s.req("PATCH", &loc, &[("Content-Range", "0-299999")], a)
                            .status,
                        202
                    );
                    let r = s.req("PUT", &format!("{loc}?digest={d}"), &[], b);
                    assert_eq!(r.status, 201, "{}", r.text());
                }
                let r = s.get(&format!("/v2/{repo}/blobs/{d}"));
                assert_eq!(digest(&r.body), *d);
            });
        }
    });
    let blobs: Vec<_> = std::fs::read_dir(s.root.join("blobs/sha256"))
        .unwrap()
        .collect();
    assert_eq!(blobs.len(), 1);
    assert_eq!(
        digest(&std::fs::read(s.root.join("blobs/sha256").join(&d[7..])).unwrap()),
        d
    );
    assert_eq!(
        std::fs::read_dir(s.root.join("uploads")).unwrap().count(),
        0
    );
    assert_eq!(std::fs::read_dir(s.root.join("tmp")).unwrap().count(), 0);
}

#[test]
fn read_only_refuses_writes() {
    let s = Server::start(|c| c.read_only = true);
    let r = s.req("POST", "/v2/ro/blobs/uploads/", &[], b"");
    assert_eq!((r.status, r.code().as_str()), (405, "UNSUPPORTED"));
    let r = s.push_manifest("ro", "v1", OCI_MANIFEST, b"{}");
    assert_eq!(r.status, 405);
    assert_eq!(s.get("/v2/").status, 200);
    assert_eq!(s.get("/v2/ro/tags/list").status, 404);
}

#[test]
fn max_upload_size() {
    let s = Server::start(|c| c.max_upload_size = Some(10));
    let big = vec![1u8; 11];
    let r = s.req(
        "POST",
        &format!("/v2/big/blobs/uploads/?digest={}", digest(&big)),
        &[],
        &big,
    );
    assert_eq!((r.status, r.code().as_str()), (413, "SIZE_INVALID"));
    let r = s.req("POST", "/v2/big/blobs/uploads/", &[], b"");
    let loc = r.header("Location").unwrap().to_string();
    assert_eq!(s.req("PATCH", &loc, &[], &big[..6]).status, 202);
    assert_eq!(s.req("PATCH", &loc, &[], &big[..6]).status, 413);
    s.push_blob("big", &big[..10]);
}

#[test]
fn expired_uploads_are_swept() {
    let s = Server::start(|c| c.upload_ttl = Duration::from_secs(1));
    let r = s.req("POST", "/v2/exp/blobs/uploads/", &[], b"");
    let loc = r.header("Location").unwrap().to_string();
    assert_eq!(s.get(&loc).status, 204);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.get(&loc).status != 404 {
        assert!(std::time::Instant::now() < deadline, "upload never expired");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        std::fs::read_dir(s.root.join("uploads")).unwrap().count(),
        0
    );
}

#[test]
fn gc_removes_unreferenced_blobs_only() {
    // gc is offline; the server here is idle while it runs, and then checks the result.
    let s = Server::start(|_| {});
    let img = Image::busybox("gc");
    img.push(&s, "gc/keep", "v1");
    let orphan = s.push_blob("gc/keep", b"orphan blob");
    // An image whose manifest is deleted: its layer, config and manifest go.
    let other = Image::busybox("gc-deleted");
    other.push(&s, "gc/gone", "v1");
    let r = s.req(
        "DELETE",
        &format!("/v2/gc/gone/manifests/{}", other.manifest_digest()),
        &[],
        b"",
    );
    assert_eq!(r.status, 202);
    let blobs = s.root.join("blobs/sha256");

    let dry = vessel_registry::gc(&s.root, true).unwrap();
    assert_eq!(dry.removed_blobs, 4, "{dry:?}");
    assert!(dry.dry_run);
    assert!(blobs.join(&orphan[7..]).exists());
    let r = vessel_registry::gc(&s.root, false).unwrap();
    assert_eq!(r.removed_blobs, 4);
    assert_eq!(r.kept_blobs, 3);
    let expected = 11 + other.layer.len() + other.config.len() + other.manifest.len();
    assert_eq!(r.removed_bytes, expected as u64);
    assert!(!blobs.join(&orphan[7..]).exists());
    for b in [&other.layer, &other.config, &other.manifest] {
        assert!(!blobs.join(&digest(b)[7..]).exists());
    }
    for b in [&img.layer, &img.config, &img.manifest] {
        assert!(blobs.join(&digest(b)[7..]).exists());
    }
    assert_eq!(s.get(&format!("/v2/gc/keep/blobs/{orphan}")).status, 404);
    assert_eq!(
        s.get(&format!("/v2/gc/keep/blobs/{}", digest(&img.layer)))
            .body,
        img.layer
    );
    assert_eq!(s.get("/v2/gc/keep/manifests/v1").body, img.manifest);
    assert_eq!(
        vessel_registry::gc(&s.root, false).unwrap().removed_blobs,
        0
    );
}

#[test]
fn upload_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let loc;
    {
        let s = Server::start_at(&root, |_| {});
        let r = s.req("POST", "/v2/restart/blobs/uploads/", &[], b"");
        loc = r.header("Location").unwrap().to_string();
        assert_eq!(
            s.req("PATCH", &loc, &[("Content-Range", "0-5")], b"first ")
                .status,
            202
        );
    }
    let s = Server::start_at(&root, |_| {});
    let r = s.get(&loc);
    assert_eq!((r.status, r.header("Range")), (204, Some("0-5")));
    assert_eq!(
        s.req("PATCH", &loc, &[("Content-Range", "0-5")], b"again!")
            .status,
        416
    );
    assert_eq!(
        s.req("PATCH", &loc, &[("Content-Range", "6-11")], b"second")
            .status,
        202
    );
    let d = digest(b"first second");
    assert_eq!(
        s.req("PUT", &format!("{loc}?digest={d}"), &[], b"").status,
        201
    );
    assert_eq!(
        s.get(&format!("/v2/restart/blobs/{d}")).body,
        b"first second"
    );
}

#[test]
fn shutdown_closes_idle_keep_alive_connections() {
    use std::io::{Read, Write};
    let s = Server::start(|_| {});
    let mut c = std::net::TcpStream::connect(s.addr).unwrap();
    write!(c, "GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 512];
    let n = c.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // The connection stays open (keep-alive); stopping must not wait for the client.
    let t = std::time::Instant::now();
    drop(s);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        t.elapsed()
    );
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(
        c.read(&mut buf).unwrap_or(0),
        0,
        "server closed the connection"
    );
}

#[test]
fn bad_tls_files_fail_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert, "not a certificate").unwrap();
    std::fs::write(&key, "not a key").unwrap();
    let mut cfg = vessel_registry::RegistryConfig::new(dir.path().join("root"));
    cfg.tls = Some((cert, key));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        vessel_registry::serve(l, cfg, std::future::pending()).await
    });
    let e = err.expect_err("a file without PEM blocks must be refused");
    assert!(vessel_registry::error_chain(&e).contains("TLS"), "{e}");
    // A missing htpasswd file too.
    let mut cfg = vessel_registry::RegistryConfig::new(dir.path().join("root"));
    cfg.auth = vessel_registry::AuthConfig::Htpasswd {
        htpasswd: dir.path().join("missing"),
    };
    let err = rt.block_on(async {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        vessel_registry::serve(l, cfg, std::future::pending()).await
    });
    assert!(err.is_err());
}
