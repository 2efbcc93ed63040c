//! Parsers against docker's accepted and rejected values.

use super::*;

#[test]
fn memory_sizes() {
    assert_eq!(ram_in_bytes("512m"), Ok(512 << 20));
    assert_eq!(ram_in_bytes("1g"), Ok(1 << 30));
    assert_eq!(ram_in_bytes("1.5G"), Ok(3 << 29));
    assert_eq!(ram_in_bytes("64MiB"), Ok(64 << 20));
    assert_eq!(ram_in_bytes("100"), Ok(100));
    assert_eq!(ram_in_bytes("4k"), Ok(4096));
    assert_eq!(ram_in_bytes("12x"), Err("invalid size: '12x'".into()));
    assert!(ram_in_bytes("m").is_err());
}

#[test]
fn ulimits() {
    let u = ulimit("nofile=1024:2048").unwrap();
    assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 1024, 2048));
    let u = ulimit("nproc=64").unwrap();
    assert_eq!((u.soft, u.hard), (64, 64));
    assert_eq!(ulimit("bogus=1"), Err("invalid ulimit type: bogus".into()));
    assert!(ulimit("nofile=2048:1024")
        .unwrap_err()
        .contains("soft limit"));
    assert!(ulimit("nofile").is_err());
}

#[test]
fn env_files() {
    let look = |k: &str| (k == "HOME_X").then(|| "/root".to_string());
    let got = env_file(
        "\u{feff}# comment\n\n  A=1\nB= spaced value \nHOME_X\nUNSET_Y\nC=a=b\n",
        "f.env",
        &look,
    )
    .unwrap();
    assert_eq!(
        got,
        vec!["A=1", "B= spaced value ", "HOME_X=/root", "C=a=b"]
    );
    assert!(env_file("A B=1", "f", &look)
        .unwrap_err()
        .contains("contains whitespaces"));
    assert!(env_file("=1", "f", &look)
        .unwrap_err()
        .contains("no variable name"));
    assert_eq!(env_value("X", &look), Ok(None));
    assert_eq!(env_value("HOME_X", &look), Ok(Some("HOME_X=/root".into())));
    assert_eq!(env_value("A=b", &look), Ok(Some("A=b".into())));
}

#[test]
fn durations() {
    assert_eq!(go_duration("30s"), Ok(30_000_000_000));
    assert_eq!(go_duration("1m30s"), Ok(90_000_000_000));
    assert_eq!(go_duration("500ms"), Ok(500_000_000));
    assert_eq!(go_duration("0"), Ok(0));
    assert!(go_duration("10").is_err());
    assert!(go_duration("1x").is_err());
}

#[test]
fn ports() {
    let p = port_spec("127.0.0.1:18080:8080").unwrap();
    assert_eq!(p[0].0, "8080/tcp");
    assert_eq!(
        p[0].1,
        PortBinding {
            host_ip: "127.0.0.1".into(),
            host_port: "18080".into()
        }
    );
    let p = port_spec("53/udp").unwrap();
    assert_eq!(p[0].0, "53/udp");
    assert_eq!(p[0].1.host_port, "");
    let p = port_spec("8000-8001:80-81").unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(
        (p[1].0.as_str(), p[1].1.host_port.as_str()),
        ("81/tcp", "8001")
    );
    let p = port_spec("[::1]:80:80").unwrap();
    assert_eq!(p[0].1.host_ip, "::1");
    assert!(port_spec("abc").is_err());
    assert!(port_spec("80/xyz").is_err());
}

#[test]
fn mounts() {
    let m = mount("type=tmpfs,dst=/t").unwrap();
    assert_eq!(
        serde_json::to_string(&m).unwrap(),
        r#"{"Type":"tmpfs","Target":"/t"}"#
    );
    let m = mount("type=bind,src=/a,target=/b,readonly,bind-propagation=rshared").unwrap();
    assert_eq!(
        serde_json::to_string(&m).unwrap(),
        r#"{"Type":"bind","Source":"/a","Target":"/b","ReadOnly":true,"BindOptions":{"Propagation":"rshared"}}"#
    );
    let m = mount("src=v,dst=/d,volume-nocopy").unwrap();
    assert_eq!(m.kind, "volume");
    assert!(mount("type=bind,src=/a")
        .unwrap_err()
        .contains("target is required"));
    assert!(mount("type=volume,dst=/a,bogus=1")
        .unwrap_err()
        .contains("unexpected key"));
    assert!(mount("type=bind,dst=/a,tmpfs-size=1m")
        .unwrap_err()
        .contains("cannot mix"));
    let m = mount("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
    assert_eq!(m.tmpfs_options.unwrap()["SizeBytes"], 64 << 20);
}

#[test]
fn volumes_restart_devices() {
    let cwd = Path::new("/home/u");
    assert!(matches!(volume("/data", cwd), Ok(VolumeSpec::Anonymous(d)) if d == "/data"));
    assert!(matches!(volume("vol:/data", cwd), Ok(VolumeSpec::Bind(b)) if b == "vol:/data"));
    assert!(
        matches!(volume("./www:/www:ro", cwd), Ok(VolumeSpec::Bind(b)) if b == "/home/u/www:/www:ro")
    );
    assert_eq!(restart_policy("on-failure:3"), Ok(("on-failure".into(), 3)));
    assert_eq!(restart_policy("always"), Ok(("always".into(), 0)));
    assert!(restart_policy("always:3").is_err());
    assert!(restart_policy("sometimes").is_err());
    let d = device("/dev/fuse").unwrap();
    assert_eq!(
        (d.path_in_container.as_str(), d.cgroup_permissions.as_str()),
        ("/dev/fuse", "rwm")
    );
    let d = device("/dev/sda:/dev/xvda:r").unwrap();
    assert_eq!(
        (d.path_in_container.as_str(), d.cgroup_permissions.as_str()),
        ("/dev/xvda", "r")
    );
    assert_eq!(nano_cpus("1.5"), Ok(1_500_000_000));
    assert!(nano_cpus("x").is_err());
}
