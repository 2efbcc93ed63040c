//! Manager logic against the recording kernel: no root, no real interfaces.

use super::*;
use crate::kernel::RecordingKernel;
use crate::ports;

fn config() -> ManagerConfig {
    ManagerConfig {
        default_network: false,
        // port 0: the DNS server binds whatever is free; the gateway address is not on any
        // interface here, so tests that need DNS disable it by using the default network
        dns_port: 0,
        exclusive_table: false,
        host_resolv_conf: PathBuf::from("/nonexistent/resolv.conf"),
        ..Default::default()
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    state: PathBuf,
    run: PathBuf,
    kernel: Arc<RecordingKernel>,
}

impl Fixture {
    fn new() -> Self {
        Self::with_kernel(RecordingKernel::with_routes(vec![
            "0.0.0.0/0".parse().unwrap(),
            "172.17.0.0/16".parse().unwrap(),
        ]))
    }

    fn with_kernel(k: RecordingKernel) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Fixture {
            state: dir.path().join("state"),
            run: dir.path().join("run"),
            _dir: dir,
            kernel: Arc::new(k),
        }
    }

    fn open(&self, cfg: ManagerConfig) -> NetworkManager {
        NetworkManager::open_with(self.kernel.clone(), &self.state, &self.run, cfg).unwrap()
    }
}

/// A user network whose DNS server can bind: gateway 127.x is local everywhere.
fn loopback_spec(name: &str, third: u8) -> NetworkSpec {
    NetworkSpec {
        name: name.to_string(),
        subnet: Some(format!("127.99.{third}.0/24").parse().unwrap()),
        ..Default::default()
    }
}

#[test]
fn default_network_avoids_host_routes() {
    let f = Fixture::new();
    let mgr = f.open(ManagerConfig {
        default_network: true,
        ..config()
    });
    let nets = mgr.list();
    assert_eq!(nets.len(), 1);
    let def = &nets[0];
    assert_eq!(def.name, "bridge");
    assert_eq!(def.bridge, "vessel0");
    assert_eq!(def.subnet.to_string(), "172.18.0.0/16");
    assert_eq!(def.gateway.to_string(), "172.18.0.1");
    assert!(def.is_default && !def.dns_enabled);
    assert!(f.kernel.has_link("vessel0"));
    // reopening does not create a second default network
    drop(mgr);
    let mgr = f.open(ManagerConfig {
        default_network: true,
        ..config()
    });
    assert_eq!(mgr.list().len(), 1);
    let err = mgr.remove_network("bridge").unwrap_err();
    assert!(err.to_string().contains("cannot be removed"), "{err}");
}

#[test]
fn create_attach_detach_remove() {
    let f = Fixture::new();
    let mgr = f.open(config());
    let net = mgr.create_network(loopback_spec("app", 1)).unwrap();
    assert!(net.bridge.starts_with("vsl-") && net.bridge.len() == 12);
    assert!(f
        .kernel
        .rule_comments()
        .iter()
        .any(|c| c == &firewall::network_key(&net.id)));
    let ns = mgr.create_netns("c1").unwrap();
    assert_eq!(ns, f.run.join("netns/c1"));
    let ep = mgr
        .attach(
            "c1",
            &ns,
            "app",
            EndpointRequest {
                name: Some("web".into()),
                aliases: vec!["www".into()],
                ports: ports::parse("8080:80").unwrap(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(ep.ip.to_string(), "127.99.1.2");
    assert_eq!(ep.mac, "02:42:7f:63:01:02");
    assert_eq!(ep.ifname, "eth0");
    assert!(ep.primary);
    assert_eq!(ep.gateway, Some(net.gateway));
    assert_eq!(ep.dns_names, ["c1", "web", "www"]);
    assert_eq!(ep.ports[0].host_port, 8080);
    let key = firewall::endpoint_key(&net.id, "c1");
    assert_eq!(
        f.kernel
            .rule_comments()
            .iter()
            .filter(|c| **c == key)
            .count(),
        2
    );
    assert!(f
        .kernel
        .calls()
        .iter()
        .any(|c| c.starts_with("setup_endpoint") && c.contains("gw=[127.99.1.1]")));

    // the network cannot go while in use
    assert!(matches!(
        mgr.remove_network("app"),
        Err(Error::NetworkInUse { .. })
    ));
    // same host port again: refused by our own reservation (the probe cannot see DNAT ports)
    let ns2 = mgr.create_netns("c2").unwrap();
    let err = mgr
        .attach(
            "c2",
            &ns2,
            "app",
            EndpointRequest {
                ports: ports::parse("8080:81").unwrap(),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(matches!(err, Error::PortTaken { port: 8080, .. }), "{err}");
    // and the failed attach left nothing allocated
    assert_eq!(mgr.endpoints("app").unwrap().len(), 1);

    mgr.release_container("c1").unwrap();
    assert!(!f.kernel.has_link(&ep.host_veth));
    assert!(!f.kernel.rule_comments().contains(&key));
    mgr.remove_network(&net.id[..10]).unwrap();
    assert!(f.kernel.rule_comments().is_empty());
    assert!(!f.kernel.has_link(&net.bridge));
    assert!(mgr.list().is_empty());
    assert!(crate::state::list_json(&f.state.join("networks"))
        .unwrap()
        .is_empty());
}

#[test]
fn second_network_gets_eth1_and_no_default_route() {
    let f = Fixture::new();
    let mgr = f.open(config());
    mgr.create_network(loopback_spec("a", 2)).unwrap();
    mgr.create_network(loopback_spec("b", 3)).unwrap();
    let ns = mgr.create_netns("c1").unwrap();
    let e0 = mgr
        .attach("c1", &ns, "a", EndpointRequest::default())
        .unwrap();
    let e1 = mgr
        .attach("c1", &ns, "b", EndpointRequest::default())
        .unwrap();
    assert_eq!((e0.ifname.as_str(), e1.ifname.as_str()), ("eth0", "eth1"));
    assert!(e0.primary && !e1.primary);
    let calls = f.kernel.calls();
    let last = calls
        .iter()
        .rev()
        .find(|c| c.starts_with("setup_endpoint"))
        .unwrap();
    assert!(last.contains("gw=[]"), "{last}");
    assert!(matches!(
        mgr.attach("c1", &ns, "a", EndpointRequest::default()),
        Err(Error::AlreadyAttached { .. })
    ));
    assert_eq!(mgr.container_endpoints("c1").len(), 2);
    mgr.release_container("c1").unwrap();
    assert!(mgr.container_endpoints("c1").is_empty());
}

#[test]
fn state_survives_restart_and_reconcile_removes_dead() {
    let f = Fixture::new();
    let (ip_live, net_id) = {
        let mgr = f.open(config());
        let net = mgr.create_network(loopback_spec("app", 4)).unwrap();
        let ns = mgr.create_netns("dead").unwrap();
        mgr.attach(
            "dead",
            &ns,
            "app",
            EndpointRequest {
                ports: ports::parse("9090:90").unwrap(),
                ..Default::default()
            },
        )
        .unwrap();
        let ns = mgr.create_netns("live").unwrap();
        let ep = mgr
            .attach(
                "live",
                &ns,
                "app",
                EndpointRequest {
                    ip: Some("127.99.4.77".parse().unwrap()),
                    ports: ports::parse("9091:90").unwrap(),
                    ..Default::default()
                },
            )
            .unwrap();
        (ep.ip, net.id)
        // dropped without cleanup: a crash
    };
    let mgr = f.open(config());
    assert_eq!(mgr.get("app").unwrap().id, net_id);
    let report = mgr.reconcile(&["live"]).unwrap();
    assert_eq!(
        report.removed_endpoints,
        [("dead".to_string(), net_id.clone())]
    );
    let eps = mgr.endpoints("app").unwrap();
    assert_eq!(eps.len(), 1);
    assert_eq!(eps[0].ip, ip_live);
    let comments = f.kernel.rule_comments();
    assert!(comments.contains(&firewall::endpoint_key(&net_id, "live")));
    assert!(!comments.contains(&firewall::endpoint_key(&net_id, "dead")));
    // rebuilding replaced rules instead of duplicating them
    let live_rules = comments
        .iter()
        .filter(|c| **c == firewall::endpoint_key(&net_id, "live"))
        .count();
    assert_eq!(live_rules, 2);
    // the dead container's address is free again: next allocation reuses .2
    let ns = mgr.create_netns("new").unwrap();
    let ep = mgr
        .attach("new", &ns, "app", EndpointRequest::default())
        .unwrap();
    assert_eq!(ep.ip.to_string(), "127.99.4.2");
}

#[test]
fn failed_endpoint_setup_rolls_back() {
    let f = Fixture::with_kernel(RecordingKernel {
        fail_endpoint: true,
        ..Default::default()
    });
    let mgr = f.open(config());
    mgr.create_network(loopback_spec("app", 5)).unwrap();
    let ns = mgr.create_netns("c1").unwrap();
    let err = mgr
        .attach(
            "c1",
            &ns,
            "app",
            EndpointRequest {
                ports: ports::parse("7070:70").unwrap(),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(matches!(err, Error::Netlink { .. }), "{err}");
    assert!(mgr.endpoints("app").unwrap().is_empty());
    assert_eq!(
        f.kernel.rule_comments().len(),
        4,
        "only the network rules remain"
    );
}

#[test]
fn validation_errors_are_clear() {
    let f = Fixture::new();
    let mgr = f.open(config());
    mgr.create_network(loopback_spec("app", 6)).unwrap();
    assert!(matches!(
        mgr.create_network(loopback_spec("app", 7)),
        Err(Error::NetworkExists(_))
    ));
    let overlap = mgr
        .create_network(NetworkSpec {
            name: "other".into(),
            subnet: Some("127.99.6.128/25".parse().unwrap()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(overlap.to_string().contains("overlaps"), "{overlap}");
    assert!(mgr
        .create_network(NetworkSpec {
            name: "bad/name".into(),
            ..Default::default()
        })
        .is_err());
    assert!(mgr
        .create_network(NetworkSpec {
            name: "drv".into(),
            driver: Some("overlay".into()),
            ..Default::default()
        })
        .is_err());
    assert!(mgr.create_netns("../escape").is_err());
    let ns = mgr.create_netns("c1").unwrap();
    let outside = mgr
        .attach(
            "c1",
            &ns,
            "app",
            EndpointRequest {
                ip: Some("10.0.0.5".parse().unwrap()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(outside.to_string().contains("outside subnet"), "{outside}");
    let v6 = mgr
        .attach(
            "c1",
            &ns,
            "app",
            EndpointRequest {
                ip6: Some("fd00::5".parse().unwrap()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(matches!(v6, Error::WrongFamily { family: 6, .. }), "{v6}");
    assert!(mgr.endpoints("app").unwrap().is_empty(), "address released");
    assert!(matches!(mgr.get("nope"), Err(Error::NetworkNotFound(_))));
}

#[test]
fn internal_and_dual_stack_networks() {
    let f = Fixture::new();
    let mgr = f.open(config());
    let net = mgr
        .create_network(NetworkSpec {
            internal: true,
            subnet6: Some("fd00:99::/64".parse().unwrap()),
            mtu: Some(1400),
            ..loopback_spec("int", 8)
        })
        .unwrap();
    assert_eq!(
        net.gateway6.map(|g| g.to_string()).as_deref(),
        Some("fd00:99::1")
    );
    let ns = mgr.create_netns("c1").unwrap();
    let ep = mgr
        .attach(
            "c1",
            &ns,
            "int",
            EndpointRequest {
                ports: ports::parse("6060:60").unwrap(),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(ep.gateway, None);
    assert_eq!(ep.ip6.map(|i| i.to_string()).as_deref(), Some("fd00:99::2"));
    assert!(ep.ports.is_empty(), "internal networks publish nothing");
    assert_eq!(ep.mtu, 1400);
    let last = f
        .kernel
        .calls()
        .into_iter()
        .rev()
        .find(|c| c.starts_with("setup_endpoint"))
        .unwrap();
    assert!(
        last.contains("gw=[]") && last.contains("mtu=1400"),
        "{last}"
    );
    let nft: Vec<String> = f
        .kernel
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("nft"))
        .collect();
    assert!(!nft.iter().any(|c| c.contains("masquerade")));
}

#[test]
fn resolv_conf_for_default_and_user_networks() {
    let dir = tempfile::tempdir().unwrap();
    let resolv = dir.path().join("resolv.conf");
    std::fs::write(
        &resolv,
        "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch lan\n",
    )
    .unwrap();
    let f = Fixture::new();
    let mgr = f.open(ManagerConfig {
        default_network: true,
        host_resolv_conf: resolv,
        ..config()
    });
    assert_eq!(
        mgr.resolv_conf("bridge").unwrap(),
        "nameserver 10.0.0.2\nsearch lan\n"
    );
    mgr.create_network(loopback_spec("app", 9)).unwrap();
    assert_eq!(
        mgr.resolv_conf("app").unwrap(),
        "nameserver 127.99.9.1\nsearch lan\n"
    );
    let ns = mgr.create_netns("c1").unwrap();
    mgr.attach("c1", &ns, "app", EndpointRequest::default())
        .unwrap();
    assert!(mgr
        .hosts("c1", "c1host", &[])
        .ends_with("127.99.9.2\tc1host\n"));
}

#[test]
fn random_and_ranged_host_ports() {
    let f = Fixture::with_kernel(RecordingKernel {
        taken_ports: vec![9000],
        ..Default::default()
    });
    let mgr = f.open(config());
    mgr.create_network(loopback_spec("app", 10)).unwrap();
    let ns = mgr.create_netns("c1").unwrap();
    let mut p = ports::parse("80").unwrap();
    p.extend(ports::parse("9000-9002:81").unwrap());
    let ep = mgr
        .attach(
            "c1",
            &ns,
            "app",
            EndpointRequest {
                ports: p,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(ep.ports[0].host_port, 49200);
    assert_eq!(ep.ports[1].host_port, 9001, "9000 is taken on the host");
    // the fake always offers 49200, which c1 now holds: a random pick must fail clearly
    let ns = mgr.create_netns("c2").unwrap();
    let err = mgr
        .attach(
            "c2",
            &ns,
            "app",
            EndpointRequest {
                ports: ports::parse("80").unwrap(),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(matches!(err, Error::PortTaken { .. }));
}

#[test]
fn dns_update_swaps_records() {
    let f = Fixture::new();
    let mgr = f.open(config());
    mgr.create_network(loopback_spec("app", 11)).unwrap();
    let ns = mgr.create_netns("c1").unwrap();
    mgr.attach(
        "c1",
        &ns,
        "app",
        EndpointRequest {
            name: Some("web".into()),
            ..Default::default()
        },
    )
    .unwrap();
    mgr.dns_update("c1", "app", vec!["svc".into()]).unwrap();
    let ep = &mgr.endpoints("app").unwrap()[0];
    assert_eq!(ep.dns_names, ["c1", "svc", "web"]);
    let inner = mgr.lock();
    let id = find_id(&inner, "app").unwrap();
    let records = inner.dns.get(&id).map(|s| s.addr());
    assert!(records.is_some(), "DNS server runs for the user network");
}
