use super::*;
use std::collections::BTreeMap;

/// A fake /dev: path → node; directories are listed from their children.
#[derive(Default)]
pub(crate) struct FakeDevices(pub BTreeMap<PathBuf, HostNode>);

impl FakeDevices {
    pub fn with(mut self, path: &str, node: HostNode) -> Self {
        self.0.insert(path.into(), node);
        self
    }
    pub fn chr(self, path: &str, major: i64, minor: i64) -> Self {
        self.with(
            path,
            HostNode::Device {
                typ: LinuxDeviceType::C,
                major,
                minor,
                mode: 0o666,
            },
        )
    }
}

impl DeviceLookup for FakeDevices {
    fn stat(&self, path: &Path) -> io::Result<HostNode> {
        if let Some(n) = self.0.get(path) {
            return Ok(*n);
        }
        if self.0.keys().any(|k| k.starts_with(path)) {
            return Ok(HostNode::Directory);
        }
        Err(io::Error::from(io::ErrorKind::NotFound))
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out: Vec<PathBuf> = self
            .0
            .keys()
            .filter_map(|k| {
                k.strip_prefix(path)
                    .ok()
                    .and_then(|r| r.components().next())
                    .map(|c| path.join(c))
            })
            .collect();
        out.dedup();
        Ok(out)
    }
}

fn fmt(r: &LinuxDeviceCgroup) -> String {
    format!("{} {r}", if r.allow() { "allow" } else { "deny" })
}

#[test]
fn default_rules_match_docker() {
    let rules: Vec<String> = default_cgroup_rules().iter().map(fmt).collect();
    assert_eq!(
        rules,
        [
            "deny a *:* rwm",
            "allow c *:* m",
            "allow b *:* m",
            "allow c 1:3 rwm",
            "allow c 1:5 rwm",
            "allow c 1:7 rwm",
            "allow c 1:8 rwm",
            "allow c 1:9 rwm",
            "allow c 5:0 rwm",
            "allow c 5:1 rwm",
            "allow c 5:2 rwm",
            "allow c 136:* rwm",
            "allow c 10:200 rwm",
            "deny c 10:229 rwm",
        ]
    );
}

#[test]
fn device_flag_forms() {
    let d = parse_device_flag("/dev/fuse").unwrap();
    assert_eq!(d.path_in_container.as_deref(), Some("/dev/fuse"));
    assert_eq!(d.cgroup_permissions.as_deref(), Some("rwm"));
    let d = parse_device_flag("/dev/sda:/dev/xvda:r").unwrap();
    assert_eq!(
        (
            d.path_on_host.as_deref(),
            d.path_in_container.as_deref(),
            d.cgroup_permissions.as_deref()
        ),
        (Some("/dev/sda"), Some("/dev/xvda"), Some("r"))
    );
    let d = parse_device_flag("/dev/sda:rw").unwrap();
    assert_eq!(d.path_in_container.as_deref(), Some("/dev/sda"));
    assert!(parse_device_flag("/dev/sda:/dev/xvda:rwx").is_err());
    assert!(parse_device_flag("/dev/sda:relative").is_err());
    assert!(parse_device_flag("a:b:c:d").is_err());
}

#[test]
fn mapping_single_node_and_directory() {
    let fake = FakeDevices::default()
        .chr("/dev/fuse", 10, 229)
        .chr("/dev/snd/pcm0", 116, 2)
        .chr("/dev/snd/ctl", 116, 0);
    let m = DeviceMapping {
        path_on_host: Some("/dev/fuse".into()),
        path_in_container: Some("/dev/myfuse".into()),
        cgroup_permissions: Some("rw".into()),
    };
    let (devs, rules) = devices_from_mapping(&m, &fake).unwrap();
    assert_eq!(devs.len(), 1);
    assert_eq!(devs[0].path(), Path::new("/dev/myfuse"));
    assert_eq!(
        (devs[0].major(), devs[0].minor(), devs[0].typ()),
        (10, 229, LinuxDeviceType::C)
    );
    assert_eq!(fmt(&rules[0]), "allow c 10:229 rw");

    let m = DeviceMapping {
        path_on_host: Some("/dev/snd".into()),
        ..Default::default()
    };
    let (devs, rules) = devices_from_mapping(&m, &fake).unwrap();
    let paths: Vec<_> = devs
        .iter()
        .map(|d| d.path().display().to_string())
        .collect();
    assert_eq!(paths, ["/dev/snd/ctl", "/dev/snd/pcm0"]);
    assert_eq!(rules.len(), 2);

    let m = DeviceMapping {
        path_on_host: Some("/dev/nope".into()),
        ..Default::default()
    };
    let e = devices_from_mapping(&m, &fake).unwrap_err();
    assert!(matches!(e, SpecError::DeviceLookup { .. }), "{e}");
}

#[test]
fn privileged_lists_host_dev() {
    let fake = FakeDevices::default()
        .chr("/hostdev/null", 1, 3)
        .chr("/hostdev/console", 5, 1)
        .chr("/hostdev/pts/0", 136, 0)
        .with(
            "/hostdev/sda",
            HostNode::Device {
                typ: LinuxDeviceType::B,
                major: 8,
                minor: 0,
                mode: 0o660,
            },
        )
        .with("/hostdev/stdin", HostNode::Other);
    let devs = host_devices(Path::new("/hostdev"), &fake).unwrap();
    let paths: Vec<_> = devs
        .iter()
        .map(|d| d.path().display().to_string())
        .collect();
    assert_eq!(paths, ["/dev/null", "/dev/sda"]);
    assert_eq!(devs[1].file_mode(), Some(0o660));
}

#[test]
fn cgroup_rule_parsing() {
    assert_eq!(
        fmt(&parse_cgroup_rule("c 1:3 rwm").unwrap()),
        "allow c 1:3 rwm"
    );
    assert_eq!(fmt(&parse_cgroup_rule("b *:* m").unwrap()), "allow b *:* m");
    assert_eq!(fmt(&parse_cgroup_rule("a 7:* r").unwrap()), "allow a 7:* r");
    for bad in [
        "c 1:3",
        "x 1:3 rwm",
        "c 1-3 rwm",
        "c a:3 rwm",
        "c 1:3 rwx",
        "",
    ] {
        assert!(parse_cgroup_rule(bad).is_err(), "{bad}");
    }
}

#[test]
fn real_host_lookup_reads_dev_null() {
    // /dev/null exists on every Linux host, root or not.
    match HostDevices.stat(Path::new("/dev/null")).unwrap() {
        HostNode::Device {
            typ, major, minor, ..
        } => assert_eq!((typ, major, minor), (LinuxDeviceType::C, 1, 3)),
        other => panic!("{other:?}"),
    }
}
