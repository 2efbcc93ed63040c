//! Bridge networking through the daemon, as a Docker user checks it: containers reach each
//! other by name on a user network and not across networks, `-p` answers on the host,
//! compose services find each other, and nothing is left behind after `rm`, a container
//! `kill -9` or a daemon `kill -9` + restart. Traffic stays on loopback and on the networks
//! these tests create.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::proc_daemon::{skip_reason, ProcDaemon};
use common::{stderr, stdout};

fn daemon(tag: &str) -> Option<ProcDaemon> {
    if let Some(why) = skip_reason() {
        eprintln!("skipping: {why}");
        return None;
    }
    if !std::path::Path::new("/usr/sbin/nft").exists() {
        eprintln!("skipping: needs nft (apt-get install nftables)");
        return None;
    }
    Some(ProcDaemon::start(tag))
}

fn unique(name: &str) -> String {
    format!("{name}{}", std::process::id())
}

/// A /24 no other test of this process uses (pid-derived, so parallel runs differ too).
fn subnet(k: u32) -> String {
    format!("10.{}.{}.0/24", 100 + k, std::process::id() % 250)
}

fn ok(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", stderr(out));
    stdout(out)
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Host-side interfaces whose name contains `needle`.
fn host_links(needle: &str) -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    stdout(&out)
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A shell command fetching `/` from host:port inside a busybox container (busybox's
/// static `wget` crashes without the host's libraries; `nc` does not).
fn fetch(host: &str, port: u16) -> String {
    format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {host} {port} | grep hello-from-web")
}

fn http_get(port: u16) -> Option<String> {
    let mut s = TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(2),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

#[test]
fn user_networks_names_isolation_ports_and_cleanup() {
    let Some(mut d) = daemon("net") else { return };
    let front = unique("front");
    let back = unique("back");
    ok(&d.docker(&["network", "create", "--subnet", &subnet(0), &front]));
    ok(&d.vessel(&[
        "network",
        "create",
        "--subnet",
        &subnet(1),
        "--label",
        "tier=back",
        &back,
    ]));
    assert_eq!(
        ok(&d.vessel(&[
            "network",
            "inspect",
            "-f",
            "{{range .IPAM.Config}}{{.Subnet}}{{end}} {{.Labels.tier}}",
            &back
        ]))
        .trim(),
        format!("{} back", subnet(1))
    );
    // Bad input gets clear errors and creates nothing.
    let out = d.docker(&[
        "network",
        "create",
        "--subnet",
        &subnet(0),
        &unique("overlap"),
    ]);
    assert!(
        !out.status.success() && stderr(&out).contains(&subnet(0)),
        "{}",
        stderr(&out)
    );
    let out = d.docker(&[
        "network",
        "create",
        "--subnet",
        "10.300.0.0/24",
        &unique("badcidr"),
    ]);
    assert!(
        !out.status.success() && stderr(&out).contains("10.300.0.0/24"),
        "{}",
        stderr(&out)
    );
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        &unique("nosuchnet"),
        &d.image,
        "true",
    ]);
    assert!(
        !out.status.success() && stderr(&out).contains("nosuchnet"),
        "{}",
        stderr(&out)
    );
    let ls = ok(&d.docker(&["network", "ls", "--format", "{{.Name}}"]));
    assert!(!ls.contains("overlap") && !ls.contains("badcidr"), "{ls}");
    assert!(
        ls.contains(&front) && ls.contains("host") && ls.contains("none"),
        "{ls}"
    );

    let web = unique("web");
    let port = free_port();
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        &web,
        "--network",
        &front,
        "--network-alias",
        "site",
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        &d.image,
        "sh",
        "-c",
        "mkdir -p /www && echo hello-from-web > /www/index.html && httpd -f -p 8080 -h /www",
    ]));
    let ip = d.inspect(
        &web,
        &format!("{{{{(index .NetworkSettings.Networks \"{front}\").IPAddress}}}}"),
    );
    assert!(
        ip.starts_with(&subnet(0)[..subnet(0).len() - 4]),
        "address {ip} not in {}",
        subnet(0)
    );

    // By name and by alias from a peer on the same network.
    for host in [web.as_str(), "site"] {
        let out = ok(&d.docker(&[
            "run",
            "--rm",
            "--network",
            &front,
            &d.image,
            "sh",
            "-c",
            &format!(
                "for i in 1 2 3 4 5; do {} && exit 0; sleep 0.5; done; exit 1",
                fetch(host, 8080)
            ),
        ]));
        assert!(out.contains("hello-from-web"), "{out}");
    }
    // Not from another user network.
    let out = d.docker(&[
        "run",
        "--rm",
        "--network",
        &back,
        &d.image,
        "wget",
        "-qO-",
        "-T",
        "2",
        &format!("http://{ip}:8080/"),
    ]);
    assert!(
        !out.status.success(),
        "a container on {back} reached {front}"
    );

    // connect puts a running container on a second network; disconnect takes it off.
    let probe = unique("probe");
    ok(&d.docker(&[
        "run",
        "-d",
        "--name",
        &probe,
        "--network",
        &back,
        &d.image,
        "sleep",
        "60",
    ]));
    ok(&d.vessel(&["network", "connect", "--alias", "prober", &front, &probe]));
    let out = ok(&d.docker(&["exec", &probe, "sh", "-c", &fetch(&web, 8080)]));
    assert!(out.contains("hello-from-web"), "{out}");
    ok(&d.vessel(&["network", "disconnect", &front, &probe]));
    let out = d.docker(&["exec", &probe, "sh", "-c", &fetch(&ip, 8080)]);
    assert!(
        !stdout(&out).contains("hello-from-web"),
        "still connected after disconnect"
    );
    ok(&d.docker(&["rm", "-f", &probe]));

    // The published port answers on the host's loopback.
    wait_until("the published port", Duration::from_secs(10), || {
        http_get(port).is_some_and(|b| b.contains("hello-from-web"))
    });
    let ports = ok(&d.docker(&["port", &web]));
    assert!(
        ports.contains(&format!("8080/tcp -> 127.0.0.1:{port}")),
        "{ports}"
    );
    // A second container asking for the same host port gets a clear error.
    let out = d.docker(&[
        "run",
        "-d",
        "--network",
        &front,
        "-p",
        &format!("127.0.0.1:{port}:80"),
        &d.image,
        "sleep",
        "5",
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains(&port.to_string()), "{}", stderr(&out));

    // none: only lo; host: the host's interfaces.
    let links = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        &d.image,
        "ls",
        "/sys/class/net",
    ]));
    assert_eq!(links.split_whitespace().collect::<Vec<_>>(), ["lo"]);
    let links = ok(&d.docker(&[
        "run",
        "--rm",
        "--network",
        "host",
        &d.image,
        "ls",
        "/sys/class/net",
    ]));
    assert!(links.split_whitespace().count() > 1, "{links}");

    // A daemon crash keeps addresses; a restart reconciles.
    let veth = d.inspect(&web, "{{.NetworkSettings.SandboxKey}}");
    assert!(std::path::Path::new(&veth).exists(), "netns file {veth}");
    d.kill_daemon();
    d.spawn();
    assert_eq!(
        d.inspect(
            &web,
            &format!("{{{{(index .NetworkSettings.Networks \"{front}\").IPAddress}}}}")
        ),
        ip,
        "address changed across a daemon restart"
    );
    assert!(http_get(port).is_some_and(|b| b.contains("hello-from-web")));

    // kill -9 of the container, then rm: nothing of it is left.
    let pid = d.inspect(&web, "{{.State.Pid}}");
    // SAFETY: signalling a container process this test started.
    unsafe { libc::kill(pid.parse().unwrap(), libc::SIGKILL) };
    wait_until("web to exit", Duration::from_secs(10), || {
        d.inspect(&web, "{{.State.Status}}") == "exited"
    });
    let id = d.inspect(&web, "{{.Id}}");
    ok(&d.docker(&["rm", &web]));
    assert!(
        !std::path::Path::new(&veth).exists(),
        "netns {veth} left after rm"
    );
    assert!(
        http_get(port).is_none(),
        "port {port} still answers after rm"
    );
    let rules = stdout(
        &std::process::Command::new("nft")
            .args(["list", "table", "ip", "vessel"])
            .output()
            .unwrap(),
    );
    assert!(
        !rules.contains(&id[..12]),
        "nft rules of {id} left:\n{rules}"
    );
    let out = d.docker(&["network", "rm", &front, &back]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bridges = host_links("vsl-");
    let net_ids = ok(&d.docker(&["network", "ls", "-q"]));
    assert!(
        net_ids.lines().count() == 2,
        "only host and none remain: {net_ids}"
    );
    let _ = bridges;
}

#[test]
fn compose_services_reach_each_other_by_name() {
    let Some(d) = daemon("netcompose") else {
        return;
    };
    if !std::path::Path::new("/usr/bin/docker-compose").exists() {
        eprintln!("skipping: docker-compose not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = unique("np");
    let file = dir.path().join("docker-compose.yml");
    std::fs::write(
        &file,
        format!(
            r#"version: "3.7"
services:
  api:
    image: {image}
    command: sh -c 'mkdir -p /www && echo api-ok > /www/index.html && httpd -f -p 80 -h /www'
  client:
    image: {image}
    command: sh -c 'for i in $$(seq 1 40); do printf "GET / HTTP/1.0\r\n\r\n" | nc -w 1 api 80 | grep api-ok && sleep 1000; sleep 0.5; done'
networks:
  default:
    ipam:
      config:
        - subnet: {subnet}
"#,
            image = d.image,
            subnet = subnet(2),
        ),
    )
    .unwrap();
    let compose = |args: &[&str]| {
        std::process::Command::new("/usr/bin/docker-compose")
            .env("DOCKER_HOST", d.host())
            .arg("-f")
            .arg(&file)
            .arg("-p")
            .arg(&project)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = compose(&["up", "-d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_until(
        "client to fetch from api by service name",
        Duration::from_secs(30),
        || stdout(&compose(&["logs", "--no-color", "client"])).contains("api-ok"),
    );
    let out = compose(&["down", "-t", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let nets = ok(&d.docker(&["network", "ls", "--format", "{{.Name}}"]));
    assert!(!nets.contains(&project), "compose network left: {nets}");
}
