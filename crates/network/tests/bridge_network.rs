//! Real namespaces, veths, bridges, nft rules and DNS. Root only; skipped otherwise. Every
//! kernel object is named per test and process so these run in parallel with other tests.

mod common;

use std::net::{IpAddr, SocketAddr, TcpListener};

use common::*;
use vessel_network::{ports, EndpointRequest, Error, NetworkSpec};

fn spec(name: &str, k: u8) -> NetworkSpec {
    NetworkSpec {
        name: name.to_string(),
        subnet: Some(subnet(k).parse().expect("subnet")),
        ..Default::default()
    }
}

#[test]
fn containers_on_one_network_reach_each_other_and_resolve_names() {
    if skip() {
        return;
    }
    let mut g = Guard::open();
    let name = unique("net");
    let net = g
        .mgr()
        .create_network(spec(&name, 1))
        .expect("create network");
    g.networks.push(net.id.clone());
    assert!(link_exists(&net.bridge));
    let (a, ns_a) = g.container("a");
    let (b, ns_b) = g.container("b");
    let ea = g
        .mgr()
        .attach(
            &a,
            &ns_a,
            &name,
            EndpointRequest {
                name: Some(format!("{a}-name")),
                ..Default::default()
            },
        )
        .expect("attach a");
    let eb = g
        .mgr()
        .attach(
            &b,
            &ns_b,
            &name,
            EndpointRequest {
                name: Some(format!("{b}-name")),
                aliases: vec![format!("{b}-alias")],
                ..Default::default()
            },
        )
        .expect("attach b");
    assert_ne!(ea.ip, eb.ip);

    // inside the container: eth0 with the MAC and address, lo up, default route
    let addr =
        String::from_utf8_lossy(&in_ns(&ns_a, &["busybox", "ip", "addr"]).stdout).into_owned();
    assert!(addr.contains(&format!("inet {}/24", ea.ip)), "{addr}");
    assert!(addr.contains(&ea.mac), "{addr}");
    assert!(addr.contains("127.0.0.1/8"), "lo is up: {addr}");
    let route =
        String::from_utf8_lossy(&in_ns(&ns_a, &["busybox", "ip", "route"]).stdout).into_owned();
    assert!(
        route.contains(&format!("default via {}", net.gateway)),
        "{route}"
    );

    assert!(ping(&ns_a, &eb.ip.to_string()), "a pings b");
    assert!(ping(&ns_b, &ea.ip.to_string()), "b pings a");
    let stop = serve_in_ns(&ns_b, 8080, "from-b");
    let got = fetch_in_ns(&ns_a, SocketAddr::new(IpAddr::V4(eb.ip), 8080)).expect("tcp a -> b");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(got, "from-b");

    // embedded DNS on the gateway, queried from inside a
    for query in [format!("{b}-name"), format!("{b}-alias")] {
        let out = in_ns(
            &ns_a,
            &["busybox", "nslookup", &query, &net.gateway.to_string()],
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            text.contains(&eb.ip.to_string()),
            "nslookup {query}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // a name added later (compose service) resolves after dns_update
    g.mgr()
        .dns_update(&b, &name, vec![format!("svc{}", std::process::id())])
        .expect("dns_update");
    let out = in_ns(
        &ns_a,
        &[
            "busybox",
            "nslookup",
            &format!("svc{}", std::process::id()),
            &net.gateway.to_string(),
        ],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&eb.ip.to_string()));

    // resolv.conf for the container points at the gateway
    assert!(g
        .mgr()
        .resolv_conf(&name)
        .expect("resolv.conf")
        .starts_with(&format!("nameserver {}\n", net.gateway)));
}

#[test]
fn networks_are_isolated() {
    if skip() {
        return;
    }
    let mut g = Guard::open();
    let n1 = unique("iso1");
    let n2 = unique("iso2");
    let net1 = g.mgr().create_network(spec(&n1, 2)).expect("net1");
    g.networks.push(net1.id.clone());
    // a custom bridge name (com.docker.network.bridge.name) is isolated like generated ones
    let custom = unique("b");
    let net2 = g
        .mgr()
        .create_network(NetworkSpec {
            bridge_name: Some(custom.clone()),
            ..spec(&n2, 3)
        })
        .expect("net2");
    g.networks.push(net2.id.clone());
    assert_eq!(net2.bridge, custom);
    let (a, ns_a) = g.container("a");
    let (b, ns_b) = g.container("b");
    let ea = g
        .mgr()
        .attach(&a, &ns_a, &n1, EndpointRequest::default())
        .expect("attach a");
    let eb = g
        .mgr()
        .attach(&b, &ns_b, &n2, EndpointRequest::default())
        .expect("attach b");
    assert!(
        !ping(&ns_a, &eb.ip.to_string()),
        "custom-named network must not be reachable"
    );
    assert!(
        ping(&ns_a, &net1.gateway.to_string()),
        "own gateway reachable"
    );
    assert!(
        !ping(&ns_b, &ea.ip.to_string()),
        "other network must not be reachable"
    );

    // an internal network has no default route
    let n3 = unique("int");
    let net3 = g
        .mgr()
        .create_network(NetworkSpec {
            internal: true,
            ..spec(&n3, 4)
        })
        .expect("internal net");
    g.networks.push(net3.id.clone());
    let (c, ns_c) = g.container("c");
    g.mgr()
        .attach(&c, &ns_c, &n3, EndpointRequest::default())
        .expect("attach c");
    let route =
        String::from_utf8_lossy(&in_ns(&ns_c, &["busybox", "ip", "route"]).stdout).into_owned();
    assert!(!route.contains("default"), "{route}");
    assert!(!ping(&ns_c, &ea.ip.to_string()));
}

#[test]
fn published_ports_from_host_and_from_another_host() {
    if skip() {
        return;
    }
    let mut g = Guard::open();
    let name = unique("pub");
    let net = g.mgr().create_network(spec(&name, 5)).expect("network");
    g.networks.push(net.id.clone());
    let (c, ns) = g.container("web");
    let host_port = ports::random_free("0.0.0.0".parse().expect("ip"), vessel_network::Proto::Tcp)
        .expect("free port");
    let ep = g
        .mgr()
        .attach(
            &c,
            &ns,
            &name,
            EndpointRequest {
                ports: ports::parse(&format!("{host_port}:80")).expect("spec"),
                ..Default::default()
            },
        )
        .expect("attach");
    assert_eq!(ep.ports[0].host_port, host_port);
    let stop = serve_in_ns(&ns, 80, "hello");

    // from the host itself, via loopback (output DNAT + route_localnet + masquerade)
    let got = fetch(SocketAddr::from(([127, 0, 0, 1], host_port))).expect("127.0.0.1:hostport");
    assert_eq!(got, "hello");

    // from a second "host": a namespace behind a veth pair with a /30
    let ext = g.dir.path().join(format!("ext-{}", std::process::id()));
    vessel_network::netns::create(&ext).expect("ext netns");
    g.extra_netns.push(ext.clone());
    let third = std::process::id() % 250;
    let (root_ip, ext_ip) = (format!("10.213.{third}.1"), format!("10.213.{third}.2"));
    let (root_if, ext_if) = (
        format!("xr{}", std::process::id()),
        format!("xe{}", std::process::id()),
    );
    g.extra_links.push(root_if.clone());
    let run = |args: &[&str]| {
        let out = in_ns(&ext, args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // create the pair inside ext and push one end to the root namespace (pid 1's)
    run(&[
        "ip", "link", "add", &ext_if, "type", "veth", "peer", "name", &root_if, "netns", "1",
    ]);
    run(&["ip", "addr", "add", &format!("{ext_ip}/30"), "dev", &ext_if]);
    run(&["ip", "link", "set", &ext_if, "up"]);
    run(&["ip", "link", "set", "lo", "up"]);
    let st = std::process::Command::new("ip")
        .args(["addr", "add", &format!("{root_ip}/30"), "dev", &root_if])
        .status()
        .expect("ip");
    assert!(st.success());
    let st = std::process::Command::new("ip")
        .args(["link", "set", &root_if, "up"])
        .status()
        .expect("ip");
    assert!(st.success());
    let addr: SocketAddr = format!("{root_ip}:{host_port}").parse().expect("addr");
    let got = fetch_in_ns(&ext, addr).expect("from the other host");
    assert_eq!(got, "hello");

    // hairpin: the container itself and a neighbour reach the port through a host address
    let via_gw = SocketAddr::new(IpAddr::V4(net.gateway), host_port);
    assert_eq!(
        fetch_in_ns(&ns, via_gw).expect("hairpin to itself"),
        "hello"
    );
    let (nb, ns_nb) = g.container("neighbour");
    g.mgr()
        .attach(&nb, &ns_nb, &name, EndpointRequest::default())
        .expect("attach neighbour");
    assert_eq!(
        fetch_in_ns(&ns_nb, via_gw).expect("neighbour via host address"),
        "hello"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);

    // a host port held by another process is refused with a clear error
    let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken = holder.local_addr().expect("addr").port();
    let (c2, ns2) = g.container("taken");
    let err = g
        .mgr()
        .attach(
            &c2,
            &ns2,
            &name,
            EndpointRequest {
                ports: ports::parse(&format!("127.0.0.1:{taken}:80")).expect("spec"),
                ..Default::default()
            },
        )
        .expect_err("port is taken");
    assert!(matches!(err, Error::PortTaken { .. }), "{err}");
    assert!(err.to_string().contains("already in use"), "{err}");
    assert_eq!(
        g.mgr().endpoints(&name).expect("endpoints").len(),
        2,
        "failed attach left nothing"
    );
}

#[test]
fn release_and_remove_leave_nothing_behind() {
    if skip() {
        return;
    }
    let mut g = Guard::open();
    let name = unique("clean");
    let net = g.mgr().create_network(spec(&name, 6)).expect("network");
    g.networks.push(net.id.clone());
    let (c, ns) = g.container("c");
    let ep = g
        .mgr()
        .attach(
            &c,
            &ns,
            &name,
            EndpointRequest {
                ports: ports::parse("127.0.0.1::80").expect("spec"),
                ..Default::default()
            },
        )
        .expect("attach");
    let key = vessel_network::firewall::network_key(&net.id);
    assert!(nft_table().contains(&key));
    assert!(link_exists(&ep.host_veth));
    assert!(ns.exists());

    g.mgr().release_container(&c).expect("release");
    assert!(!link_exists(&ep.host_veth), "veth removed");
    assert!(!ns.exists(), "netns file removed");
    assert!(
        !nft_table().contains(&vessel_network::firewall::endpoint_key(&net.id, &c)),
        "port rules removed"
    );
    assert!(
        g.mgr().endpoints(&name).expect("endpoints").is_empty(),
        "address freed"
    );
    // releasing twice is fine (teardown is idempotent)
    g.mgr().release_container(&c).expect("release again");

    g.mgr().remove_network(&name).expect("remove network");
    assert!(!link_exists(&net.bridge), "bridge removed");
    assert!(!nft_table().contains(&key), "network rules removed");
    assert!(
        !nft_table().contains(&format!("\"{}\"", net.bridge)),
        "bridge left the isolation set"
    );
    assert!(g.mgr().list().iter().all(|n| n.id != net.id));
}

#[test]
fn reconcile_after_a_crash_keeps_live_and_removes_dead() {
    if skip() {
        return;
    }
    let mut g = Guard::open();
    let name = unique("crash");
    let net = g.mgr().create_network(spec(&name, 7)).expect("network");
    g.networks.push(net.id.clone());
    let (live, ns_live) = g.container("live");
    let (dead, ns_dead) = g.container("dead");
    let el = g
        .mgr()
        .attach(
            &live,
            &ns_live,
            &name,
            EndpointRequest {
                ports: ports::parse("127.0.0.1::80").expect("spec"),
                ..Default::default()
            },
        )
        .expect("attach live");
    let ed = g
        .mgr()
        .attach(
            &dead,
            &ns_dead,
            &name,
            EndpointRequest {
                ports: ports::parse("127.0.0.1::81").expect("spec"),
                ..Default::default()
            },
        )
        .expect("attach dead");

    // crash: the manager goes away without any cleanup, and the bridge is lost too
    g.mgr = None;
    let st = std::process::Command::new("ip")
        .args(["link", "del", &net.bridge])
        .status()
        .expect("ip link del");
    assert!(st.success());
    g.reopen();
    assert!(link_exists(&net.bridge), "open recreates the bridge");
    let report = g.mgr().reconcile(&[live.as_str()]).expect("reconcile");
    assert_eq!(report.removed_endpoints, [(dead.clone(), net.id.clone())]);
    let eps = g.mgr().endpoints(&name).expect("endpoints");
    assert_eq!(eps.len(), 1);
    assert_eq!(eps[0].ip, el.ip, "live address unchanged");
    assert!(!link_exists(&ed.host_veth), "dead veth gone");
    assert!(!ns_dead.exists(), "dead netns gone");
    let table = nft_table();
    assert!(!table.contains(&vessel_network::firewall::endpoint_key(&net.id, &dead)));
    let live_key = format!(
        "\"{}\"",
        vessel_network::firewall::endpoint_key(&net.id, &live)
    );
    assert_eq!(
        table.matches(&live_key).count(),
        2,
        "live rules rebuilt once: {table}"
    );
    assert!(link_exists(&el.host_veth));
    assert!(
        ping(&ns_live, &net.gateway.to_string()),
        "live container still connected"
    );
    // the reopened manager serves DNS again
    let live_name = live[..12.min(live.len())].to_string();
    let out = in_ns(
        &ns_live,
        &["busybox", "nslookup", &live_name, &net.gateway.to_string()],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains(&el.ip.to_string()),
        "DNS after reopen: {text}"
    );
    // the dead address is free again
    let (n, ns_n) = g.container("new");
    let en = g
        .mgr()
        .attach(&n, &ns_n, &name, EndpointRequest::default())
        .expect("attach new");
    assert_eq!(en.ip, ed.ip);
}

#[test]
fn dual_stack_network() {
    if skip() {
        return;
    }
    let mut g = Guard::open();
    let name = unique("v6");
    let pid = std::process::id();
    let net = g
        .mgr()
        .create_network(NetworkSpec {
            subnet6: Some(
                format!("fd42:{:x}:8::/64", pid & 0xffff)
                    .parse()
                    .expect("v6 subnet"),
            ),
            ..spec(&name, 8)
        })
        .expect("dual-stack network");
    g.networks.push(net.id.clone());
    let (a, ns_a) = g.container("a");
    let (b, ns_b) = g.container("b");
    let ea = g
        .mgr()
        .attach(&a, &ns_a, &name, EndpointRequest::default())
        .expect("attach a");
    let eb = g
        .mgr()
        .attach(
            &b,
            &ns_b,
            &name,
            EndpointRequest {
                name: Some(format!("{b}-n")),
                ..Default::default()
            },
        )
        .expect("attach b");
    let (ip6_a, ip6_b) = (ea.ip6.expect("a has v6"), eb.ip6.expect("b has v6"));
    assert_ne!(ip6_a, ip6_b);
    let route = String::from_utf8_lossy(&in_ns(&ns_a, &["ip", "-6", "route"]).stdout).into_owned();
    assert!(
        route.contains(&format!("default via {}", net.gateway6.expect("gw6"))),
        "{route}"
    );
    let ok = in_ns(
        &ns_a,
        &[
            "busybox",
            "ping",
            "-6",
            "-c",
            "1",
            "-W",
            "2",
            &ip6_b.to_string(),
        ],
    );
    assert!(
        ok.status.success(),
        "ping6: {}",
        String::from_utf8_lossy(&ok.stdout)
    );
    let out = in_ns(
        &ns_a,
        &[
            "busybox",
            "nslookup",
            "-type=AAAA",
            &format!("{b}-n"),
            &net.gateway.to_string(),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains(&ip6_b.to_string()), "AAAA lookup: {text}");
    let _ = ns_b;
}

/// A fake upstream resolver on 127.0.0.1 that answers one query with 192.0.2.99 (only the
/// answer's payload names that address; no traffic goes anywhere but loopback).
fn fake_upstream() -> (SocketAddr, std::thread::JoinHandle<bool>) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind fake upstream");
    sock.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    let addr = sock.local_addr().expect("addr");
    let handle = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        let Ok((n, peer)) = sock.recv_from(&mut buf) else {
            return false;
        };
        if n < 12 {
            return false;
        }
        // Minimal DNS answer: copy the header id and question, add one A record pointing at the
        // question name (compression pointer 0xc00c).
        let mut reply = buf[..n].to_vec();
        reply[2] = 0x81; // QR, RD
        reply[3] = 0x80; // RA, NOERROR
        reply[6] = 0;
        reply[7] = 1; // ANCOUNT = 1
        reply[8..12].copy_from_slice(&[0, 0, 0, 0]); // no authority/additional (drops EDNS)
        let qend = {
            let mut i = 12;
            while i < n && buf[i] != 0 {
                i += buf[i] as usize + 1;
            }
            i + 5
        };
        reply.truncate(qend.min(n));
        reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 99]);
        sock.send_to(&reply, peer).is_ok()
    });
    (addr, handle)
}

#[test]
fn unknown_names_are_forwarded_to_the_host_resolver() {
    if skip() {
        return;
    }
    let (upstream, handle) = fake_upstream();
    let mut g = Guard::open_with(|c| c.dns_upstreams = Some(vec![upstream]));
    let name = unique("fwd");
    let net = g.mgr().create_network(spec(&name, 9)).expect("network");
    g.networks.push(net.id.clone());
    let (a, ns_a) = g.container("a");
    g.mgr()
        .attach(&a, &ns_a, &name, EndpointRequest::default())
        .expect("attach");
    let out = in_ns(
        &ns_a,
        &[
            "busybox",
            "nslookup",
            "-type=A",
            "outside.example",
            &net.gateway.to_string(),
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(handle.join().unwrap_or(false), "upstream got the query");
    assert!(text.contains("192.0.2.99"), "forwarded answer: {text}");
}
