use super::*;
use crate::create::{BindOptions, ContainerConfig, HostConfig, Mount as ApiMount, TmpfsOptions};
use crate::image::ImageConfig;
use std::path::Path;

fn opts(m: &Mount) -> Vec<String> {
    m.options().clone().unwrap_or_default()
}

#[test]
fn bind_forms() {
    let r = parse_bind("vol:/data").unwrap();
    assert_eq!(
        (
            r.kind,
            r.source.as_deref(),
            r.destination.as_str(),
            r.readonly
        ),
        (MountKind::Volume, Some("vol"), "/data", false)
    );
    let r = parse_bind("/home/user/demo/www:/www:ro").unwrap();
    assert_eq!(
        (r.kind, r.source.as_deref(), r.readonly),
        (MountKind::Bind, Some("/home/user/demo/www"), true)
    );
    assert_eq!(r.propagation.as_deref(), Some("rprivate"));
    let r = parse_bind("/h:/c:ro,rshared,z").unwrap();
    assert_eq!(r.propagation.as_deref(), Some("rshared"));
    let r = parse_bind("demo_data:/data:rw,nocopy").unwrap();
    assert!(r.nocopy && !r.readonly);
    let r = parse_bind("/anon").unwrap();
    assert_eq!((r.kind, r.source), (MountKind::Volume, None));
}

#[test]
fn bind_errors() {
    for bad in [
        "a:b:c:d",
        "./rel:/x",
        "rel/dir:/x",
        "vol:relative",
        "/h:/",
        "/h:/c:rx",
        "/h:/c:ro,rw",
        "vol:/c:rshared",
        "/h:/c:nocopy",
        "/x:rw",
        ":/x",
        "v:",
    ] {
        let e = parse_bind(bad).unwrap_err();
        assert!(matches!(e, SpecError::InvalidBind { .. }), "{bad}: {e}");
    }
    assert_eq!(
        parse_bind("a:b:c:d").unwrap_err().to_string(),
        r#"invalid bind "a:b:c:d": invalid volume specification"#
    );
    assert!(parse_bind("./rel:/x")
        .unwrap_err()
        .to_string()
        .contains("absolute path"));
}

#[test]
fn api_mounts() {
    let tmpfs = ApiMount {
        typ: Some("tmpfs".into()),
        target: Some("/t".into()),
        tmpfs_options: Some(TmpfsOptions {
            size_bytes: Some(1 << 20),
            mode: Some(0o1777),
            options: Some(vec![vec!["exec".into()]]),
        }),
        ..Default::default()
    };
    let r = parse_api_mount(&tmpfs).unwrap();
    assert_eq!(r.tmpfs_options, ["size=1m", "mode=1777", "exec"]);

    let bind = ApiMount {
        typ: Some("bind".into()),
        source: Some("/src".into()),
        target: Some("/dst".into()),
        read_only: Some(true),
        bind_options: Some(BindOptions {
            propagation: Some("rslave".into()),
            non_recursive: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    };
    let r = parse_api_mount(&bind).unwrap();
    assert!(r.readonly && r.non_recursive);
    let m = &user_mounts(&[r], &[]).unwrap()[0];
    assert_eq!(opts(m), ["bind", "ro", "rslave"]);

    let bad = ApiMount {
        typ: Some("bind".into()),
        source: Some("rel".into()),
        target: Some("/d".into()),
        ..Default::default()
    };
    assert!(parse_api_mount(&bad).is_err());
    let bad = ApiMount {
        typ: Some("npipe".into()),
        target: Some("/d".into()),
        ..Default::default()
    };
    assert!(parse_api_mount(&bad).is_err());
    let bad = ApiMount {
        typ: Some("tmpfs".into()),
        ..Default::default()
    };
    assert!(parse_api_mount(&bad).is_err());
}

#[test]
fn tmpfs_option_merging() {
    let m = tmpfs_mount("/run", &["exec".into(), "size=1m".into(), "size=2m".into()]).unwrap();
    assert_eq!(opts(&m), ["nosuid", "nodev", "rprivate", "exec", "size=2m"]);
    assert_eq!(m.typ().as_deref(), Some("tmpfs"));
    assert!(tmpfs_mount("/run", &["bogus=1".into()]).is_err());
    assert_eq!(format_size(64 << 20), "64m");
    assert_eq!(format_size(3 << 30), "3g");
    assert_eq!(format_size(1500), "1500");
}

#[test]
fn requests_cover_volumes_and_reject_duplicates() {
    let hc = HostConfig {
        binds: Some(vec!["vol:/data".into()]),
        tmpfs: Some([("/run".to_string(), "size=1m".to_string())].into()),
        ..Default::default()
    };
    let image = ImageConfig {
        volumes: Some(
            [
                ("/data".to_string(), serde_json::json!({})),
                ("/cache".to_string(), serde_json::json!({})),
            ]
            .into(),
        ),
        ..Default::default()
    };
    let reqs = requests(&ContainerConfig::default(), &hc, &image).unwrap();
    let dests: Vec<_> = reqs
        .iter()
        .map(|r| (r.destination.as_str(), r.kind, r.source.as_deref()))
        .collect();
    assert_eq!(
        dests,
        [
            ("/data", MountKind::Volume, Some("vol")),
            ("/run", MountKind::Tmpfs, None),
            ("/cache", MountKind::Volume, None)
        ]
    );

    let hc = HostConfig {
        binds: Some(vec!["ab:/x".into(), "/h:/x/".into()]),
        ..Default::default()
    };
    let e = requests(&ContainerConfig::default(), &hc, &ImageConfig::default()).unwrap_err();
    assert_eq!(e.to_string(), "duplicate mount point: /x");
}

#[test]
fn volumes_need_resolution_and_sorting() {
    let reqs = vec![
        parse_bind("vol:/a/b/c").unwrap(),
        parse_bind("/h:/a").unwrap(),
    ];
    assert!(matches!(
        user_mounts(&reqs, &[]),
        Err(SpecError::UnresolvedVolume { .. })
    ));
    let resolved = vec![
        ResolvedMount {
            source: "/var/lib/vessel/volumes/v/_data".into(),
            destination: "/a/b/c".into(),
            readonly: false,
            kind: MountKind::Volume,
            options: vec![],
        },
        ResolvedMount {
            source: "/extra".into(),
            destination: "/a/b".into(),
            readonly: true,
            kind: MountKind::Bind,
            options: vec![],
        },
    ];
    let user = user_mounts(&reqs, &resolved).unwrap();
    let all = assemble(default_mounts(false, false, &Shm::Tmpfs(64 << 20)), user);
    let dests: Vec<_> = all
        .iter()
        .map(|m| m.destination().display().to_string())
        .collect();
    assert_eq!(
        dests,
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/dev/shm",
            "/a",
            "/a/b",
            "/a/b/c"
        ]
    );
    let vol = all
        .iter()
        .find(|m| m.destination() == Path::new("/a/b/c"))
        .unwrap();
    assert_eq!(
        vol.source().as_deref(),
        Some(Path::new("/var/lib/vessel/volumes/v/_data"))
    );
    assert_eq!(opts(vol), ["rbind"]);
    assert_eq!(opts(&all[9 - 1]), ["rbind", "ro", "rprivate"]);
}

#[test]
fn defaults_and_overrides() {
    let d = default_mounts(false, false, &Shm::Tmpfs(64 << 20));
    let shm = d
        .iter()
        .find(|m| m.destination() == Path::new("/dev/shm"))
        .unwrap();
    assert_eq!(
        opts(shm),
        ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]
    );
    let sys = d
        .iter()
        .find(|m| m.destination() == Path::new("/sys"))
        .unwrap();
    assert!(opts(sys).contains(&"ro".to_string()));
    let p = default_mounts(true, false, &Shm::None);
    assert!(p.iter().all(|m| m.destination() != Path::new("/dev/shm")));
    assert!(opts(
        p.iter()
            .find(|m| m.destination() == Path::new("/sys"))
            .unwrap()
    )
    .contains(&"rw".to_string()));

    // A user /dev replaces /dev and everything under it.
    let user = vec![bind_mount(
        "/hostdev".into(),
        "/dev",
        false,
        None,
        false,
        &[],
    )];
    let all = assemble(d, user);
    let dests: Vec<_> = all
        .iter()
        .map(|m| m.destination().display().to_string())
        .collect();
    assert_eq!(dests, ["/proc", "/sys", "/sys/fs/cgroup", "/dev"]);
}

#[test]
fn propagation_raises_rootfs() {
    let shared = vec![bind_mount(
        "/h".into(),
        "/c",
        false,
        Some("rshared"),
        false,
        &[],
    )];
    assert_eq!(rootfs_propagation(&shared).as_deref(), Some("shared"));
    let slave = vec![bind_mount(
        "/h".into(),
        "/c",
        false,
        Some("slave"),
        false,
        &[],
    )];
    assert_eq!(rootfs_propagation(&slave).as_deref(), Some("rslave"));
    assert_eq!(rootfs_propagation(&[]), None);
}
