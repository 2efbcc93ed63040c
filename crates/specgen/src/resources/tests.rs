use super::*;
use crate::devices::tests::FakeDevices;

fn hc(f: impl FnOnce(&mut HostConfig)) -> HostConfig {
    let mut h = HostConfig::default();
    f(&mut h);
    h
}

#[test]
fn nano_cpus_to_quota() {
    let c = cpu(&hc(|h| h.nano_cpus = Some(1_500_000_000)))
        .unwrap()
        .unwrap();
    assert_eq!((c.quota(), c.period()), (Some(150_000), Some(100_000)));
    let e = cpu(&hc(|h| {
        h.nano_cpus = Some(1_000_000_000);
        h.cpu_quota = Some(50_000);
    }))
    .unwrap_err();
    assert!(matches!(e, SpecError::NanoCpusConflict("quota")));
    assert!(cpu(&hc(|h| h.nano_cpus = Some(1000))).is_err());
    assert!(cpu(&HostConfig::default()).unwrap().is_none());
}

#[test]
fn cpu_fields() {
    let c = cpu(&hc(|h| {
        h.cpu_shares = Some(512);
        h.cpu_quota = Some(20_000);
        h.cpu_period = Some(50_000);
        h.cpuset_cpus = Some("0-2,4".into());
        h.cpuset_mems = Some("0".into());
    }))
    .unwrap()
    .unwrap();
    assert_eq!(
        (c.shares(), c.quota(), c.period()),
        (Some(512), Some(20_000), Some(50_000))
    );
    assert_eq!(c.cpus().as_deref(), Some("0-2,4"));
    assert!(cpu(&hc(|h| h.cpuset_cpus = Some("2-1".into()))).is_err());
    assert!(cpu(&hc(|h| h.cpu_period = Some(10))).is_err());
    assert!(cpu(&hc(|h| h.cpu_quota = Some(10))).is_err());
    assert_eq!(
        cpu(&hc(|h| h.cpu_shares = Some(1)))
            .unwrap()
            .unwrap()
            .shares(),
        Some(2)
    );
}

#[test]
fn memory_and_swap() {
    let m = memory(&hc(|h| h.memory = Some(64 << 20))).unwrap().unwrap();
    assert_eq!((m.limit(), m.swap()), (Some(64 << 20), Some(128 << 20)));
    let m = memory(&hc(|h| {
        h.memory = Some(64 << 20);
        h.memory_swap = Some(-1);
    }))
    .unwrap()
    .unwrap();
    assert_eq!(m.swap(), Some(-1));
    let m = memory(&hc(|h| {
        h.memory = Some(64 << 20);
        h.memory_swap = Some(100 << 20);
        h.memory_reservation = Some(32 << 20);
        h.memory_swappiness = Some(-1);
        h.oom_kill_disable = Some(true);
    }))
    .unwrap()
    .unwrap();
    assert_eq!(
        (
            m.swap(),
            m.reservation(),
            m.swappiness(),
            m.disable_oom_killer()
        ),
        (Some(100 << 20), Some(32 << 20), None, Some(true))
    );

    let e = memory(&hc(|h| {
        h.memory = Some(64 << 20);
        h.memory_swap = Some(32 << 20);
    }))
    .unwrap_err();
    assert_eq!(e.to_string(), "--memory-swap must be larger than --memory");
    assert!(matches!(
        memory(&hc(|h| h.memory_swap = Some(1 << 30))),
        Err(SpecError::SwapWithoutMemory)
    ));
    assert!(memory(&hc(|h| h.memory = Some(1024))).is_err());
    assert!(memory(&hc(|h| {
        h.memory = Some(64 << 20);
        h.memory_reservation = Some(128 << 20);
    }))
    .is_err());
    assert!(memory(&hc(|h| h.memory_swappiness = Some(101))).is_err());
    assert!(memory(&hc(|h| h.memory_swappiness = Some(-1)))
        .unwrap()
        .is_none());
}

#[test]
fn pids_and_blkio() {
    assert_eq!(
        pids(&hc(|h| h.pids_limit = Some(100))).unwrap().limit(),
        100
    );
    assert!(pids(&hc(|h| h.pids_limit = Some(0))).is_none());
    assert!(pids(&hc(|h| h.pids_limit = Some(-1))).is_none());

    let fake = FakeDevices::default().with(
        "/dev/sda",
        HostNode::Device {
            typ: oci_spec::runtime::LinuxDeviceType::B,
            major: 8,
            minor: 0,
            mode: 0o660,
        },
    );
    let b = block_io(
        &hc(|h| {
            h.blkio_weight = Some(300);
            h.blkio_device_read_bps = Some(vec![ThrottleDevice {
                path: Some("/dev/sda".into()),
                rate: Some(1 << 20),
            }]);
        }),
        &fake,
    )
    .unwrap()
    .unwrap();
    assert_eq!(b.weight(), Some(300));
    let t = b.throttle_read_bps_device().as_ref().unwrap()[0];
    assert_eq!((t.major(), t.minor(), t.rate()), (8, 0, 1 << 20));
    assert!(block_io(&hc(|h| h.blkio_weight = Some(5)), &fake).is_err());
    assert!(block_io(&hc(|h| h.blkio_weight = Some(0)), &fake)
        .unwrap()
        .is_none());
}

#[test]
fn ulimits() {
    let r = rlimits(&[
        Ulimit {
            name: Some("nofile".into()),
            soft: Some(1024),
            hard: Some(2048),
        },
        Ulimit {
            name: Some("core".into()),
            soft: Some(-1),
            hard: Some(-1),
        },
    ])
    .unwrap();
    assert_eq!(r[0].typ(), PosixRlimitType::RlimitNofile);
    assert_eq!((r[0].soft(), r[0].hard()), (1024, 2048));
    assert_eq!(r[1].hard(), u64::MAX);
    assert!(matches!(
        rlimits(&[Ulimit {
            name: Some("bogus".into()),
            ..Default::default()
        }]),
        Err(SpecError::InvalidUlimit(_))
    ));
    assert!(rlimits(&[Ulimit {
        name: Some("nofile".into()),
        soft: Some(10),
        hard: Some(5)
    }])
    .is_err());
}

#[test]
fn sysctl_rules() {
    let private = PrivateNamespaces {
        net: true,
        ipc: true,
        uts: true,
    };
    let s = sysctls(&HostConfig::default(), private).unwrap();
    assert_eq!(s["net.ipv4.ping_group_range"], "0 2147483647");
    assert_eq!(s["net.ipv4.ip_unprivileged_port_start"], "0");
    let h = hc(|h| {
        h.sysctls = Some(
            [
                (
                    "net.ipv4.ip_unprivileged_port_start".to_string(),
                    "1024".to_string(),
                ),
                ("kernel.shmmax".to_string(), "1".to_string()),
            ]
            .into(),
        )
    });
    let s = sysctls(&h, private).unwrap();
    assert_eq!(s["net.ipv4.ip_unprivileged_port_start"], "1024");
    let host_net = PrivateNamespaces {
        net: false,
        ipc: true,
        uts: true,
    };
    assert!(sysctls(&HostConfig::default(), host_net)
        .unwrap()
        .is_empty());
    assert!(sysctls(&h, host_net).is_err());
    let bad = hc(|h| h.sysctls = Some([("vm.swappiness".to_string(), "1".to_string())].into()));
    assert!(sysctls(&bad, private).is_err());
}

#[test]
fn oom_and_shm() {
    assert_eq!(
        oom_score_adj(&hc(|h| h.oom_score_adj = Some(500))).unwrap(),
        500
    );
    assert!(oom_score_adj(&hc(|h| h.oom_score_adj = Some(1001))).is_err());
    assert_eq!(shm_size(&HostConfig::default()).unwrap(), 64 << 20);
    assert!(shm_size(&hc(|h| h.shm_size = Some(-1))).is_err());
}
