//! Adding images piece by piece (what pull and build do): layers in any order, concurrently,
//! verified; the image appears only at commit; gc never takes an ingest's blobs.
//! Unpacking keeps ownership, so these tests need root.

use std::io::{Read, Write};
use vessel_image::{Digest, ImageStore};

fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    eprintln!("note: skipping {test}: needs root (layer ownership)");
    false
}

fn tar_with(path: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    b.append_data(&mut h, path, data).unwrap();
    b.into_inner().unwrap()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn config_for(diff_ids: &[Digest]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-02T03:04:05Z",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()},
    }))
    .unwrap()
}

#[test]
fn layers_out_of_order_then_commit_makes_a_runnable_image() {
    if !root_or_skip("layers_out_of_order_then_commit_makes_a_runnable_image") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let tars = [tar_with("a.txt", b"first"), tar_with("b.txt", b"second")];
    let diffs: Vec<Digest> = tars.iter().map(|t| Digest::of(t)).collect();
    let blobs: Vec<Vec<u8>> = tars.iter().map(|t| gzip(t)).collect();
    let ingest = store.ingest();
    std::thread::scope(|s| {
        for i in [1usize, 0] {
            let (ingest, blob, diffs, tars) = (&ingest, &blobs[i], &diffs, &tars);
            s.spawn(move || {
                let size = ingest
                    .put_layer(
                        &mut &blob[..],
                        &diffs[..=i],
                        Some(&Digest::of(blob)),
                        "layer",
                    )
                    .unwrap();
                assert_eq!(size, tars[i].len() as u64);
            });
        }
    });
    // A collection while the pull is under way must not take its layers.
    store.gc().unwrap();
    assert!(
        store.list().unwrap().is_empty(),
        "nothing visible before commit"
    );
    let config = config_for(&diffs);
    let loaded = ingest
        .commit(
            &config,
            Some(&Digest::of(&config)),
            &["pulled/app:1".into()],
        )
        .unwrap();
    assert_eq!(loaded.repo_tags, vec!["pulled/app:1".to_string()]);
    assert_eq!(store.config_bytes("pulled/app:1").unwrap(), config);
    let layers = store.layers("pulled/app:1").unwrap();
    assert_eq!(
        layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(),
        diffs
    );
    let mut back = Vec::new();
    store
        .open_layer(&diffs[0])
        .unwrap()
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, tars[0]);

    let digest = format!("sha256:{}", "ab".repeat(32));
    store
        .add_repo_digest("pulled/app:1", &format!("pulled/app@{digest}"))
        .unwrap();
    let summary = &store.list().unwrap()[0];
    assert_eq!(summary.repo_digests, vec![format!("pulled/app@{digest}")]);
    assert_eq!(
        store.resolve(&format!("pulled/app@{digest}")).unwrap(),
        loaded.id
    );

    let rootfs = store.prepare_rootfs(&loaded.id, "c1").unwrap();
    assert_eq!(std::fs::read(rootfs.join("a.txt")).unwrap(), b"first");
    assert_eq!(std::fs::read(rootfs.join("b.txt")).unwrap(), b"second");
    store.remove_rootfs("c1").unwrap();
}

#[test]
fn wrong_digests_and_missing_layers_commit_nothing() {
    if !root_or_skip("wrong_digests_and_missing_layers_commit_nothing") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let tar = tar_with("x", b"x");
    let diff = Digest::of(&tar);
    let ingest = store.ingest();
    let wrong = Digest::of(b"something else");
    let err = ingest
        .put_layer(
            &mut &tar[..],
            std::slice::from_ref(&diff),
            Some(&wrong),
            "l0",
        )
        .unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    assert!(!store.has_layer(&diff));
    let err = ingest
        .put_layer(&mut &tar[..], std::slice::from_ref(&wrong), None, "l0")
        .unwrap_err();
    assert!(err.to_string().contains("diff id"), "{err}");
    let config = config_for(std::slice::from_ref(&diff));
    let err = ingest.commit(&config, None, &[]).unwrap_err();
    assert!(err.to_string().contains("not stored"), "{err}");
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn built_layer_of_unknown_diff_and_abandoned_ingest() {
    if !root_or_skip("built_layer_of_unknown_diff_and_abandoned_ingest") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let tar = tar_with("built", b"by a RUN step");
    {
        let ingest = store.ingest();
        let (diff, size) = ingest.put_layer_tar(&mut &gzip(&tar)[..], "step").unwrap();
        assert_eq!((diff.clone(), size), (Digest::of(&tar), tar.len() as u64));
        store.gc().unwrap();
        assert!(store.has_layer(&diff), "gc kept the leased layer");
        // Dropped without commit.
    }
    store.gc().unwrap();
    assert!(
        !store.has_layer(&Digest::of(&tar)),
        "abandoned layer collected"
    );
    let ingest = store.ingest();
    let (diff, _) = ingest.put_layer_tar(&mut &tar[..], "step").unwrap();
    let config = config_for(&[diff]);
    let img = ingest
        .commit(&config, None, &["built:latest".into()])
        .unwrap();
    let rootfs = store.prepare_rootfs(&img.id, "c2").unwrap();
    assert_eq!(
        std::fs::read(rootfs.join("built")).unwrap(),
        b"by a RUN step"
    );
    store.remove_rootfs("c2").unwrap();
}
