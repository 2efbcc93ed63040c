//! End to end: the exact create bodies docker CLI 28 / compose sent (transcripts 05, 06, 10,
//! 19, 19b, 21) through `generate`, checked field by field.

mod common;

use common::*;
use oci_spec::runtime::{Capability, LinuxNamespaceType, LinuxSeccompAction, Spec};
use std::path::{Path, PathBuf};
use vessel_specgen::{generate, MountKind, ResolvedMount, SpecError, SpecInput};

fn run(name: &str, f: impl FnOnce(&mut SpecInput)) -> Result<Spec, SpecError> {
    let create = fixture(name);
    let image = busybox();
    let root = rootfs();
    let mut input = SpecInput::new(&create, &image, root.path().to_path_buf(), ID);
    input.arch = "x86_64".into();
    input.cgroups_path = format!("/vessel/{ID}");
    input.resolv_conf = Some("/var/lib/vessel/containers/x/resolv.conf".into());
    input.hosts = Some("/var/lib/vessel/containers/x/hosts".into());
    input.hostname_file = Some("/var/lib/vessel/containers/x/hostname".into());
    f(&mut input);
    let spec = generate(&input)?;
    roundtrip(&spec);
    Ok(spec)
}

fn ns_types(spec: &Spec) -> Vec<LinuxNamespaceType> {
    spec.linux()
        .as_ref()
        .unwrap()
        .namespaces()
        .as_ref()
        .unwrap()
        .iter()
        .map(|n| n.typ())
        .collect()
}

#[test]
fn all_fixtures_deserialize() {
    for f in [
        "05_run_rm",
        "06_run_d",
        "10_run_it_rm",
        "19_run_volume",
        "19b_run_mounts",
        "21_compose_up",
        "21_compose_up_1",
    ] {
        let c = fixture(f);
        assert_eq!(c.config.image.as_deref(), Some("bb"), "{f}");
        // And survives our own serialization.
        let back: vessel_specgen::ContainerCreate =
            serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(back, c, "{f}");
    }
    let c = fixture("21_compose_up");
    assert_eq!(c.config.healthcheck.as_ref().unwrap().start_period, None);
    assert_eq!(
        c.config.labels.as_ref().unwrap()["com.docker.compose.service"],
        "web"
    );
}

#[test]
fn run_rm_echo() {
    let spec = run("05_run_rm", |_| {}).unwrap();
    assert_eq!(spec.version(), "1.0.2-dev");
    assert_eq!(args(&spec), ["echo", "hi"]);
    assert_eq!(
        env(&spec),
        [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            &format!("HOSTNAME={}", &ID[..12])
        ]
    );
    assert_eq!(spec.hostname().as_deref(), Some(&ID[..12]));
    let p = spec.process().as_ref().unwrap();
    assert_eq!(p.cwd(), Path::new("/"));
    assert_eq!((p.user().uid(), p.user().gid()), (0, 0));
    assert_eq!(p.user().additional_gids().as_deref(), Some(&[10][..]));
    assert_eq!(p.terminal(), Some(false));
    assert_eq!(p.no_new_privileges(), Some(false));
    assert_eq!(p.oom_score_adj(), Some(0));
    assert!(p.console_size().is_none(), "ConsoleSize [0,0] means none");
    let caps = p.capabilities().as_ref().unwrap();
    let bounding = caps.bounding().as_ref().unwrap();
    assert_eq!(bounding.len(), 14);
    assert!(bounding.contains(&Capability::NetRaw) && !bounding.contains(&Capability::SysAdmin));
    assert_eq!(caps.effective(), caps.bounding());
    assert_eq!(caps.permitted(), caps.bounding());
    assert!(caps.inheritable().as_ref().unwrap().is_empty());

    let root = spec.root().as_ref().unwrap();
    assert_eq!(root.readonly(), Some(false));

    assert_eq!(
        mount_dests(&spec),
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/dev/shm",
            "/etc/resolv.conf",
            "/etc/hostname",
            "/etc/hosts"
        ]
    );
    let resolv = mount(&spec, "/etc/resolv.conf");
    assert_eq!(resolv.typ().as_deref(), Some("bind"));
    assert_eq!(resolv.options().as_deref().unwrap(), ["rbind", "rprivate"]);
    assert_eq!(
        mount(&spec, "/dev/shm")
            .options()
            .as_deref()
            .unwrap()
            .last()
            .unwrap(),
        "size=65536k"
    );
    assert_eq!(
        mount(&spec, "/dev/pts").options().as_deref().unwrap(),
        [
            "nosuid",
            "noexec",
            "newinstance",
            "ptmxmode=0666",
            "mode=0620",
            "gid=5"
        ]
    );

    let linux = spec.linux().as_ref().unwrap();
    assert_eq!(
        linux.cgroups_path().as_deref(),
        Some(Path::new(&format!("/vessel/{ID}")))
    );
    assert_eq!(
        linux.masked_paths().as_deref().unwrap(),
        [
            "/proc/asound",
            "/proc/acpi",
            "/proc/interrupts",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/proc/scsi",
            "/sys/firmware",
            "/sys/devices/virtual/powercap"
        ]
    );
    assert_eq!(
        linux.readonly_paths().as_deref().unwrap(),
        [
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger"
        ]
    );
    use LinuxNamespaceType::*;
    assert_eq!(ns_types(&spec), [Mount, Network, Uts, Pid, Ipc, Cgroup]);
    let seccomp = linux.seccomp().as_ref().unwrap();
    assert_eq!(seccomp.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(syscall_rules(&spec, "mount"), 0);
    assert_eq!(syscall_rules(&spec, "clone"), 1);
    let sysctl = linux.sysctl().as_ref().unwrap();
    assert_eq!(sysctl["net.ipv4.ping_group_range"], "0 2147483647");
    let rules = linux
        .resources()
        .as_ref()
        .unwrap()
        .devices()
        .as_ref()
        .unwrap();
    assert!(!rules[0].allow() && rules[0].typ().is_none());
    assert!(linux.devices().is_none());
    assert!(spec.annotations().is_none());
}

#[test]
fn run_d_httpd() {
    let spec = run("06_run_d", |i| {
        i.join.net = Some("/run/vessel/netns/web".into())
    })
    .unwrap();
    assert_eq!(args(&spec), ["busybox", "httpd", "-f", "-v", "-p", "8080"]);
    let net = spec
        .linux()
        .as_ref()
        .unwrap()
        .namespaces()
        .as_ref()
        .unwrap()
        .iter()
        .find(|n| n.typ() == LinuxNamespaceType::Network)
        .cloned()
        .unwrap();
    assert_eq!(
        net.path().as_deref(),
        Some(Path::new("/run/vessel/netns/web"))
    );
}

#[test]
fn run_it_tty() {
    let spec = run("10_run_it_rm", |_| {}).unwrap();
    let p = spec.process().as_ref().unwrap();
    assert_eq!(p.terminal(), Some(true));
    assert!(env(&spec).contains(&"TERM=xterm".to_string()));
    let cs = p.console_size().unwrap();
    assert_eq!((cs.height(), cs.width()), (30, 100));
    assert_eq!(args(&spec), ["sh"]);
}

#[test]
fn run_volume_requires_resolution() {
    let e = run("19_run_volume", |_| {}).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"volume "vol" for /data was not resolved by the engine"#
    );

    let spec = run("19_run_volume", |i| {
        i.mounts.push(ResolvedMount {
            source: "/var/lib/vessel/volumes/vol/_data".into(),
            destination: "/data".into(),
            readonly: false,
            kind: MountKind::Volume,
            options: vec![],
        })
    })
    .unwrap();
    let m = mount(&spec, "/data");
    assert_eq!(
        m.source().as_deref(),
        Some(Path::new("/var/lib/vessel/volumes/vol/_data"))
    );
    assert_eq!(m.options().as_deref().unwrap(), ["rbind"]);
    assert_eq!(args(&spec), ["sh", "-c", "echo x > /data/f; ls /data"]);
    // --network none: a fresh, empty network namespace.
    assert!(ns_types(&spec).contains(&LinuxNamespaceType::Network));
}

#[test]
fn run_mounts_env_workdir() {
    let spec = run("19b_run_mounts", |i| {
        i.mounts.push(ResolvedMount {
            source: "/var/lib/vessel/volumes/vol/_data".into(),
            destination: "/data".into(),
            readonly: false,
            kind: MountKind::Volume,
            options: vec![],
        })
    })
    .unwrap();
    assert!(env(&spec).contains(&"FOO=bar".to_string()));
    assert_eq!(spec.process().as_ref().unwrap().cwd(), Path::new("/data"));
    let dests = mount_dests(&spec);
    // User mounts sorted by depth (moby `sortMounts`): one-component targets first.
    assert_eq!(
        &dests[7..],
        [
            "/data",
            "/www",
            "/t",
            "/etc/resolv.conf",
            "/etc/hostname",
            "/etc/hosts"
        ]
    );
    let www = mount(&spec, "/www");
    assert_eq!(
        www.source().as_deref(),
        Some(Path::new("/home/user/demo/www"))
    );
    assert_eq!(
        www.options().as_deref().unwrap(),
        ["rbind", "ro", "rprivate"]
    );
    let t = mount(&spec, "/t");
    assert_eq!(t.typ().as_deref(), Some("tmpfs"));
    assert_eq!(
        t.options().as_deref().unwrap(),
        ["noexec", "nosuid", "nodev", "rprivate"]
    );
    // Labels are not annotations.
    assert!(spec.annotations().is_none());
}

#[test]
fn compose_web_and_worker() {
    for (f, greeting) in [
        ("21_compose_up", "GREETING=hello"),
        ("21_compose_up_1", "GREETING=hi-from-worker"),
    ] {
        let spec = run(f, |i| {
            i.join.net = Some("/run/vessel/netns/demo".into());
            i.mounts.push(ResolvedMount {
                source: "/var/lib/vessel/volumes/demo_data/_data".into(),
                destination: "/data".into(),
                readonly: false,
                kind: MountKind::Volume,
                options: vec![],
            });
        })
        .unwrap();
        // `Volumes: {"/data": {}}` and the bind on /data are one mount, not a duplicate.
        assert_eq!(
            mount_dests(&spec).iter().filter(|d| *d == "/data").count(),
            1,
            "{f}"
        );
        assert!(env(&spec).iter().any(|e| e == greeting), "{f}");
    }
}

#[test]
fn user_and_group_add() {
    let mut create = fixture("05_run_rm");
    create.config.user = Some("nobody".into());
    create.host_config.as_mut().unwrap().group_add = Some(vec!["video".into(), "1234".into()]);
    let image = busybox();
    let root = rootfs();
    let input = SpecInput::new(&create, &image, root.path().into(), ID);
    let spec = generate(&input).unwrap();
    let u = spec.process().as_ref().unwrap().user();
    assert_eq!((u.uid(), u.gid()), (65534, 65534));
    assert_eq!(u.additional_gids().as_deref(), Some(&[44, 1234][..]));

    create.config.user = Some("ghost".into());
    let input = SpecInput::new(&create, &image, root.path().into(), ID);
    assert!(matches!(
        generate(&input),
        Err(SpecError::UnknownUser { .. })
    ));

    // The image's USER applies when the request has none.
    create.config.user = Some(String::new());
    create.host_config.as_mut().unwrap().group_add = None;
    let image = vessel_specgen::ImageConfig {
        user: Some("www-data".into()),
        ..busybox()
    };
    let input = SpecInput::new(&create, &image, root.path().into(), ID);
    assert_eq!(
        generate(&input)
            .unwrap()
            .process()
            .as_ref()
            .unwrap()
            .user()
            .uid(),
        33
    );
}

fn with_hc(f: impl FnOnce(&mut vessel_specgen::HostConfig)) -> vessel_specgen::ContainerCreate {
    let mut c = fixture("05_run_rm");
    f(c.host_config.as_mut().unwrap());
    c
}

fn gen<'a>(
    create: &'a vessel_specgen::ContainerCreate,
    f: impl FnOnce(&mut SpecInput<'a>),
) -> Result<Spec, SpecError> {
    // Leaked so the input can borrow it for as long as the caller's lookup lives.
    let image: &'static vessel_specgen::ImageConfig = Box::leak(Box::new(busybox()));
    let root = rootfs();
    let mut input = SpecInput::new(create, image, root.path().into(), ID);
    input.arch = "x86_64".into();
    f(&mut input);
    let spec = generate(&input)?;
    roundtrip(&spec);
    Ok(spec)
}

#[test]
fn cap_add_sys_admin_opens_mount_in_seccomp() {
    let c = with_hc(|h| {
        h.cap_add = Some(vec!["sys_admin".into()]);
        h.cap_drop = Some(vec!["CAP_NET_RAW".into()]);
    });
    let spec = gen(&c, |_| {}).unwrap();
    let b = spec
        .process()
        .as_ref()
        .unwrap()
        .capabilities()
        .as_ref()
        .unwrap()
        .bounding()
        .clone()
        .unwrap();
    assert!(b.contains(&Capability::SysAdmin) && !b.contains(&Capability::NetRaw));
    assert_eq!(syscall_rules(&spec, "mount"), 1);
    assert_eq!(syscall_rules(&spec, "unshare"), 1);

    let c = with_hc(|h| h.cap_add = Some(vec!["FOO".into()]));
    assert_eq!(
        gen(&c, |_| {}).unwrap_err().to_string(),
        r#"invalid --cap-add "FOO": unknown capability"#
    );
}

#[test]
fn privileged() {
    let c = with_hc(|h| h.privileged = Some(true));
    let devs = FakeDevices::default()
        .chr("/hd/null", 1, 3)
        .chr("/hd/kvm", 10, 232)
        .chr("/hd/pts/0", 136, 0);
    let spec = gen(&c, |i| {
        i.device_lookup = &devs;
        i.host_dev_dir = "/hd".into();
    })
    .unwrap();
    let p = spec.process().as_ref().unwrap();
    assert_eq!(
        p.capabilities()
            .as_ref()
            .unwrap()
            .bounding()
            .as_ref()
            .unwrap()
            .len(),
        41
    );
    let linux = spec.linux().as_ref().unwrap();
    assert!(linux.seccomp().is_none());
    assert!(linux.masked_paths().as_ref().unwrap().is_empty());
    assert!(linux.readonly_paths().as_ref().unwrap().is_empty());
    let paths: Vec<_> = linux
        .devices()
        .as_ref()
        .unwrap()
        .iter()
        .map(|d| d.path().display().to_string())
        .collect();
    assert_eq!(paths, ["/dev/kvm", "/dev/null"]);
    let rules = linux
        .resources()
        .as_ref()
        .unwrap()
        .devices()
        .as_ref()
        .unwrap();
    assert_eq!(rules.len(), 1);
    assert!(rules[0].allow() && rules[0].typ().is_none());
    assert!(mount(&spec, "/sys")
        .options()
        .as_ref()
        .unwrap()
        .contains(&"rw".to_string()));
    assert!(mount(&spec, "/sys/fs/cgroup")
        .options()
        .as_ref()
        .unwrap()
        .contains(&"rw".to_string()));
}

#[test]
fn security_opts() {
    let c = with_hc(|h| {
        h.security_opt = Some(vec![
            "seccomp=unconfined".into(),
            "no-new-privileges".into(),
            "apparmor=unconfined".into(),
        ])
    });
    let spec = gen(&c, |_| {}).unwrap();
    assert!(spec.linux().as_ref().unwrap().seccomp().is_none());
    assert_eq!(
        spec.process().as_ref().unwrap().no_new_privileges(),
        Some(true)
    );

    // The CLI sends the profile file's content.
    let profile = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["chmod"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#;
    let c = with_hc(|h| h.security_opt = Some(vec![format!("seccomp={profile}")]));
    let spec = gen(&c, |_| {}).unwrap();
    let s = spec.linux().as_ref().unwrap().seccomp().clone().unwrap();
    assert_eq!(s.default_action(), LinuxSeccompAction::ScmpActAllow);
    assert_eq!(syscall_rules(&spec, "chmod"), 1);

    let c = with_hc(|h| h.security_opt = Some(vec!["seccomp={broken".into()]));
    assert!(matches!(
        gen(&c, |_| {}),
        Err(SpecError::ParseSeccompProfile(_))
    ));
}

#[test]
fn init_prefix_and_mount() {
    let c = with_hc(|h| h.init = Some(true));
    assert!(matches!(gen(&c, |_| {}), Err(SpecError::NoInitBinary)));
    let spec = gen(&c, |i| {
        i.init_binary = Some("/usr/libexec/vessel/tini".into())
    })
    .unwrap();
    assert_eq!(args(&spec), ["/dev/init", "--", "echo", "hi"]);
    let m = mount(&spec, "/dev/init");
    assert_eq!(
        m.source().as_deref(),
        Some(Path::new("/usr/libexec/vessel/tini"))
    );
    assert_eq!(m.options().as_deref().unwrap(), ["bind", "ro"]);
    // After /dev, so the tmpfs does not hide it.
    let dests = mount_dests(&spec);
    assert!(dests.iter().position(|d| d == "/dev/init") > dests.iter().position(|d| d == "/dev"));
}

#[test]
fn devices_and_rules() {
    let devs = FakeDevices::default().chr("/dev/fuse", 10, 229);
    let c = with_hc(|h| {
        h.devices = Some(vec![vessel_specgen::create::DeviceMapping {
            path_on_host: Some("/dev/fuse".into()),
            path_in_container: Some("/dev/fuse".into()),
            cgroup_permissions: Some("rwm".into()),
        }]);
        h.device_cgroup_rules = Some(vec!["c 42:* rmw".into()]);
    });
    let spec = gen(&c, |i| i.device_lookup = &devs).unwrap();
    let linux = spec.linux().as_ref().unwrap();
    let d = &linux.devices().as_ref().unwrap()[0];
    assert_eq!(
        (d.path().as_path(), d.major(), d.minor()),
        (Path::new("/dev/fuse"), 10, 229)
    );
    let rules: Vec<String> = linux
        .resources()
        .as_ref()
        .unwrap()
        .devices()
        .as_ref()
        .unwrap()
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(&rules[rules.len() - 2..], ["c 10:229 rwm", "c 42:* rmw"]);

    let c = with_hc(|h| h.device_cgroup_rules = Some(vec!["bogus".into()]));
    assert!(matches!(
        gen(&c, |_| {}),
        Err(SpecError::InvalidDeviceCgroupRule(_))
    ));
}

#[test]
fn resources_in_spec() {
    let c = with_hc(|h| {
        h.nano_cpus = Some(1_500_000_000);
        h.memory = Some(256 << 20);
        h.memory_swap = Some(-1);
        h.pids_limit = Some(64);
        h.ulimits = Some(vec![vessel_specgen::create::Ulimit {
            name: Some("nofile".into()),
            soft: Some(1024),
            hard: Some(4096),
        }]);
        h.oom_score_adj = Some(-500);
        h.shm_size = Some(128 << 20);
        h.readonly_rootfs = Some(true);
    });
    let spec = gen(&c, |i| i.resolv_conf = Some("/r".into())).unwrap();
    let r = spec.linux().as_ref().unwrap().resources().clone().unwrap();
    let cpu = r.cpu().clone().unwrap();
    assert_eq!((cpu.quota(), cpu.period()), (Some(150_000), Some(100_000)));
    let mem = r.memory().unwrap();
    assert_eq!((mem.limit(), mem.swap()), (Some(256 << 20), Some(-1)));
    assert_eq!(r.pids().unwrap().limit(), 64);
    let p = spec.process().as_ref().unwrap();
    assert_eq!(p.rlimits().as_ref().unwrap()[0].hard(), 4096);
    assert_eq!(p.oom_score_adj(), Some(-500));
    assert!(mount(&spec, "/dev/shm")
        .options()
        .as_ref()
        .unwrap()
        .contains(&"size=131072k".to_string()));
    assert_eq!(spec.root().as_ref().unwrap().readonly(), Some(true));
    assert_eq!(
        mount(&spec, "/etc/resolv.conf")
            .options()
            .as_deref()
            .unwrap(),
        ["rbind", "ro", "rprivate"]
    );

    let c = with_hc(|h| {
        h.memory = Some(256 << 20);
        h.memory_swap = Some(128 << 20);
    });
    assert_eq!(
        gen(&c, |_| {}).unwrap_err().to_string(),
        "--memory-swap must be larger than --memory"
    );
}

#[test]
fn host_namespaces() {
    let c = with_hc(|h| {
        h.network_mode = Some("host".into());
        h.pid_mode = Some("host".into());
        h.ipc_mode = Some("host".into());
        h.uts_mode = Some("host".into());
    });
    let spec = gen(&c, |i| i.hostname_default = "myhost".into()).unwrap();
    use LinuxNamespaceType::*;
    assert_eq!(ns_types(&spec), [Mount, Cgroup]);
    // The host's UTS namespace: the runtime must not set a hostname.
    assert!(spec.hostname().is_none());
    assert!(env(&spec).contains(&"HOSTNAME=myhost".to_string()));
    assert!(spec.linux().as_ref().unwrap().sysctl().is_none());
    let shm = mount(&spec, "/dev/shm");
    assert_eq!(shm.source().as_deref(), Some(Path::new("/dev/shm")));
    assert_eq!(shm.typ().as_deref(), Some("bind"));
}

#[test]
fn hostname_and_domain_and_stop_signal() {
    let mut c = fixture("05_run_rm");
    c.config.hostname = Some("web".into());
    c.config.domainname = Some("example.org".into());
    c.config.stop_signal = Some("SIGQUIT".into());
    let spec = gen(&c, |_| {}).unwrap();
    assert_eq!(spec.hostname().as_deref(), Some("web"));
    assert_eq!(spec.domainname().as_deref(), Some("example.org"));
    assert_eq!(
        spec.annotations().as_ref().unwrap()["org.opencontainers.image.stopSignal"],
        "SIGQUIT"
    );
}

#[test]
fn no_command_is_an_error() {
    let mut c = fixture("05_run_rm");
    c.config.cmd = None;
    let image = vessel_specgen::ImageConfig::default();
    let root = rootfs();
    let input = SpecInput::new(&c, &image, root.path().into(), ID);
    assert_eq!(
        generate(&input).unwrap_err().to_string(),
        "no command specified"
    );
}

#[test]
fn minimal_body_without_host_config() {
    let c: vessel_specgen::ContainerCreate = serde_json::from_str(
        r#"{"Image":"bb","Cmd":["true"],"HostConfig":null,"Env":null,"SomeFutureField":{"x":1}}"#,
    )
    .unwrap();
    let spec = gen(&c, |_| {}).unwrap();
    assert_eq!(args(&spec), ["true"]);
}

#[test]
fn thermal_throttle_masked_when_host_root_given() {
    let host = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(
        host.path()
            .join("sys/devices/system/cpu/cpu0/thermal_throttle"),
    )
    .unwrap();
    let c = fixture("05_run_rm");
    let spec = gen(&c, |i| i.host_root = Some(PathBuf::from(host.path()))).unwrap();
    let masked = spec
        .linux()
        .as_ref()
        .unwrap()
        .masked_paths()
        .clone()
        .unwrap();
    assert_eq!(
        masked.last().unwrap(),
        "/sys/devices/system/cpu/cpu0/thermal_throttle"
    );
}
