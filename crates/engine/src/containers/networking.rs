//! A container's network, from its create request to the `vessel-network` manager and back
//! into `inspect`: which mode (`none`, `host`, `container:<x>`, or networks), the endpoint
//! requests (`-p`, `-P`, `--ip`, `--network-alias`, compose aliases), the files the
//! container sees (`/etc/resolv.conf`, `/etc/hosts`), and `NetworkSettings`.
//!
//! A managed container's network namespace is created with the container and kept until it
//! is removed, so its addresses and published ports stay the same across restarts and a
//! daemon crash (the manager's state is on disk and reconciled at start).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde_json::{json, Value};
use vessel_network::{ports, EndpointInfo, EndpointRequest, NetworkManager, PortRequest};
use vessel_specgen::{ContainerCreate, ImageConfig};

use super::error::ContainerError;
use super::manager::{Containers, Result};

const BASE_HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

impl Containers {
    /// Give a new container its network and write its `hosts` and `resolv.conf` into
    /// `dir`; returns the namespace it must join, if any. On error the caller releases
    /// whatever was set up (`release_container`).
    pub(super) fn setup_network(
        &self,
        id: &str,
        name: &str,
        hostname: &str,
        dir: &std::path::Path,
        create: &ContainerCreate,
        image: &ImageConfig,
    ) -> Result<Option<PathBuf>> {
        let hc = create.host();
        let extra_hosts = extra_hosts(hc.extra_hosts.as_deref().unwrap_or_default())?;
        let host_resolv = || std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let (join, hosts, resolv) = match mode_of(create, self.default_network()) {
            NetMode::None => (None, BASE_HOSTS.to_string(), host_resolv()),
            NetMode::Host => {
                let hosts =
                    std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| BASE_HOSTS.into());
                (None, hosts, host_resolv())
            }
            NetMode::Container(other) => {
                let record = self.find(&other)?;
                if !record.state.status.is_live() {
                    return Err(ContainerError::Network(format!(
                        "cannot join the network of container {other}: it is not running"
                    ))
                    .into());
                }
                let ns = namespace_of(
                    self.networks().map(|n| n.as_ref()),
                    &record.id,
                    record.state.pid,
                )
                .ok_or_else(|| {
                    ContainerError::Network(format!("container {other} has no network namespace"))
                })?;
                let read =
                    |f: &str| std::fs::read_to_string(record.dir.join(f)).unwrap_or_default();
                (Some(ns), read("hosts"), read("resolv.conf"))
            }
            NetMode::Networks(nets) => {
                let net = self.networks().ok_or_else(|| {
                    ContainerError::Network(format!(
                        "network {:?} is not available: this daemon runs without bridge networking \
                         (see the daemon log; `--network none` or `host` work)",
                        nets[0]
                    ))
                })?;
                let ports = port_requests(create, image)?;
                let ns = net.create_netns(id).map_err(net_err)?;
                for (i, network) in nets.iter().enumerate() {
                    let req = endpoint_request(create, name, hostname, network, i == 0, &ports)?;
                    net.attach(id, &ns, network, req).map_err(net_err)?;
                }
                let resolv = net.resolv_conf(&nets[0]).map_err(net_err)?;
                let hosts = net.hosts(id, hostname, &extra_hosts);
                (Some(ns), hosts, resolv)
            }
        };
        let mut hosts = hosts;
        for (h, ip) in &extra_hosts {
            let line = format!("{ip}\t{h}\n");
            if !hosts.contains(&line) {
                hosts.push_str(&line);
            }
        }
        let resolv = with_dns_overrides(&resolv, &hc);
        write(dir, "hosts", &hosts)?;
        write(dir, "resolv.conf", &resolv)?;
        Ok(join)
    }
}

fn write(dir: &std::path::Path, file: &str, text: &str) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, text)
        .map_err(|e| ContainerError::io(format!("writing {}", path.display()), e).into())
}

fn net_err(e: vessel_network::Error) -> crate::errors::ApiError {
    ContainerError::Network(e.to_string()).into()
}

/// `--add-host name:ip` (Docker also accepts `name=ip`).
fn extra_hosts(list: &[String]) -> Result<Vec<(String, std::net::IpAddr)>> {
    list.iter()
        .map(|e| {
            let (name, ip) = e
                .split_once('=')
                .or_else(|| e.split_once(':'))
                .ok_or_else(|| {
                    ContainerError::Network(format!("invalid --add-host {e:?}: expected name:ip"))
                })?;
            let ip = ip.trim_start_matches('[').trim_end_matches(']');
            let ip = if ip == "host-gateway" {
                "127.0.0.1"
            } else {
                ip
            };
            let addr = ip.parse().map_err(|_| {
                ContainerError::Network(format!(
                    "invalid --add-host {e:?}: {ip:?} is not an IP address"
                ))
            })?;
            Ok((name.to_string(), addr))
        })
        .collect()
}

/// `--dns`, `--dns-search`, `--dns-option` replace the matching lines of resolv.conf.
fn with_dns_overrides(base: &str, hc: &vessel_specgen::create::HostConfig) -> String {
    let dns = hc.dns.clone().unwrap_or_default();
    let search = hc.dns_search.clone().unwrap_or_default();
    let options = hc.dns_options.clone().unwrap_or_default();
    if dns.is_empty() && search.is_empty() && options.is_empty() {
        return base.to_string();
    }
    let mut out = String::new();
    for line in base.lines() {
        let key = line.split_whitespace().next().unwrap_or_default();
        let replaced = (key == "nameserver" && !dns.is_empty())
            || ((key == "search" || key == "domain") && !search.is_empty())
            || (key == "options" && !options.is_empty());
        if !replaced {
            out.push_str(line);
            out.push('\n');
        }
    }
    for d in &dns {
        out.push_str(&format!("nameserver {d}\n"));
    }
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// What `HostConfig.NetworkMode` (with the daemon's default) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetMode {
    /// Own namespace with only `lo` (`none`, or `default` when the daemon has no bridge).
    None,
    Host,
    /// `container:<name or id>`: share that container's namespace.
    Container(String),
    /// Attach to these networks, the first one primary (default route).
    Networks(Vec<String>),
}

/// Decide the mode; `default_network` is the daemon's default network (`bridge`) if any.
pub fn mode_of(create: &ContainerCreate, default_network: Option<&str>) -> NetMode {
    let hc = create.host();
    let mode = hc
        .network_mode
        .as_deref()
        .filter(|m| !m.is_empty())
        .unwrap_or("default");
    match mode {
        "none" => NetMode::None,
        "host" => NetMode::Host,
        m if m.starts_with("container:") => NetMode::Container(m["container:".len()..].to_string()),
        "default" => match default_network {
            Some(n) => NetMode::Networks(with_extra_networks(create, n)),
            None => {
                let extra = with_extra_networks(create, "");
                let extra: Vec<String> = extra.into_iter().filter(|n| !n.is_empty()).collect();
                if extra.is_empty() {
                    NetMode::None
                } else {
                    NetMode::Networks(extra)
                }
            }
        },
        m => NetMode::Networks(with_extra_networks(create, m)),
    }
}

/// The primary network first, then the others named in `NetworkingConfig.EndpointsConfig`.
fn with_extra_networks(create: &ContainerCreate, primary: &str) -> Vec<String> {
    let mut out = vec![primary.to_string()];
    for name in endpoints_config(create).keys() {
        if !out.contains(name) && name != "default" {
            out.push(name.clone());
        }
    }
    out
}

fn endpoints_config(create: &ContainerCreate) -> serde_json::Map<String, Value> {
    create
        .networking_config
        .as_ref()
        .and_then(|n| n["EndpointsConfig"].as_object().cloned())
        .unwrap_or_default()
}

/// The settings of one endpoint in `NetworkingConfig.EndpointsConfig[network]`.
fn endpoint_settings<'a>(
    config: &'a serde_json::Map<String, Value>,
    network: &str,
    primary: bool,
) -> Option<&'a Value> {
    config
        .get(network)
        .or_else(|| primary.then(|| config.get("default")).flatten())
}

/// `-p` bindings (`HostConfig.PortBindings`) and `-P` (every exposed port on a free host
/// port).
pub fn port_requests(
    create: &ContainerCreate,
    image: &ImageConfig,
) -> std::result::Result<Vec<PortRequest>, ContainerError> {
    let hc = create.host();
    let mut out = Vec::new();
    let mut bound = std::collections::BTreeSet::new();
    if let Some(map) = hc.port_bindings.as_ref().and_then(Value::as_object) {
        for (port, bindings) in map {
            bound.insert(normalize_port(port));
            let list = bindings.as_array().cloned().unwrap_or_default();
            let list = if list.is_empty() {
                vec![json!({})]
            } else {
                list
            };
            for b in list {
                let ip = b["HostIp"].as_str().unwrap_or_default();
                let host_port = b["HostPort"].as_str().unwrap_or_default();
                out.extend(
                    ports::from_binding(port, ip, host_port)
                        .map_err(|e| ContainerError::Network(e.to_string()))?,
                );
            }
        }
    }
    if hc.publish_all_ports.unwrap_or(false) {
        let exposed = create
            .config
            .exposed_ports
            .iter()
            .flatten()
            .chain(image.exposed_ports.iter().flatten())
            .map(|(k, _)| normalize_port(k))
            .collect::<std::collections::BTreeSet<_>>();
        for port in exposed.difference(&bound) {
            out.extend(
                ports::from_binding(port, "", "")
                    .map_err(|e| ContainerError::Network(e.to_string()))?,
            );
        }
    }
    Ok(out)
}

fn normalize_port(p: &str) -> String {
    if p.contains('/') {
        p.to_string()
    } else {
        format!("{p}/tcp")
    }
}

/// The endpoint request for one network: the container's name, hostname, aliases (compose
/// puts the service name there), a static address, and the ports on the primary network.
pub fn endpoint_request(
    create: &ContainerCreate,
    container_name: &str,
    hostname: &str,
    network: &str,
    primary: bool,
    ports: &[PortRequest],
) -> std::result::Result<EndpointRequest, ContainerError> {
    let config = endpoints_config(create);
    let settings = endpoint_settings(&config, network, primary);
    let aliases: Vec<String> = settings
        .and_then(|s| s["Aliases"].as_array())
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    let ip = settings
        .and_then(|s| s["IPAMConfig"]["IPv4Address"].as_str())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<Ipv4Addr>().map_err(|_| {
                ContainerError::Network(format!("invalid --ip {s:?}: not an IPv4 address"))
            })
        })
        .transpose()?;
    let ip6 = settings
        .and_then(|s| s["IPAMConfig"]["IPv6Address"].as_str())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse().map_err(|_| {
                ContainerError::Network(format!("invalid --ip6 {s:?}: not an IPv6 address"))
            })
        })
        .transpose()?;
    let mac = create
        .config
        .mac_address
        .clone()
        .filter(|m| !m.is_empty() && primary)
        .or_else(|| {
            settings
                .and_then(|s| s["MacAddress"].as_str())
                .filter(|m| !m.is_empty())
                .map(str::to_string)
        });
    let labels = &create.config.labels;
    let service = labels
        .as_ref()
        .and_then(|l| l.get("com.docker.compose.service"))
        .cloned();
    Ok(EndpointRequest {
        name: Some(container_name.to_string()),
        ip,
        ip6,
        mac,
        aliases,
        hostname: Some(hostname.to_string()),
        dns_names: service.into_iter().collect(),
        ports: if primary { ports.to_vec() } else { Vec::new() },
    })
}

/// Where the network namespace of a running container is, for `container:<x>` modes:
/// the managed namespace file, else the init process's.
pub fn namespace_of(net: Option<&NetworkManager>, id: &str, pid: i32) -> Option<PathBuf> {
    if let Some(net) = net {
        if let Some(ep) = net.container_endpoints(id).first() {
            return Some(ep.netns.clone());
        }
    }
    (pid > 0).then(|| PathBuf::from(format!("/proc/{pid}/ns/net")))
}

/// Docker's 64-hex endpoint id, derived so that it needs no storing.
pub fn endpoint_id(ep: &EndpointInfo) -> String {
    let half = |s: &str| s.chars().take(32).collect::<String>();
    format!("{}{}", half(&ep.container_id), half(&ep.network_id))
}

/// `NetworkSettings` for inspect, from the endpoints the manager holds.
pub fn settings_json(endpoints: &[EndpointInfo], mode: &str) -> Value {
    let mut networks = networks_json(endpoints);
    let mut ports: BTreeMap<String, Value> = BTreeMap::new();
    for p in endpoints.iter().flat_map(|ep| &ep.ports) {
        let key = format!("{}/{}", p.container_port, p.proto.as_str());
        let entry = ports.entry(key).or_insert_with(|| json!([]));
        if let Some(list) = entry.as_array_mut() {
            list.push(
                json!({"HostIp": p.host_ip.to_string(), "HostPort": p.host_port.to_string()}),
            );
        }
    }
    if endpoints.is_empty() && (mode == "none" || mode == "host") {
        networks.insert(
            mode.to_string(),
            json!({"NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
                   "IPPrefixLen": 0, "MacAddress": "", "Aliases": null}),
        );
    }
    let primary = endpoints.iter().find(|e| e.primary).or(endpoints.first());
    json!({
        "Bridge": "",
        "SandboxID": "",
        "HairpinMode": false,
        "SandboxKey": primary.map(|e| e.netns.display().to_string()).unwrap_or_default(),
        "Ports": ports,
        "Gateway": primary.and_then(|e| e.gateway).map(|g| g.to_string()).unwrap_or_default(),
        "IPAddress": primary.map(|e| e.ip.to_string()).unwrap_or_default(),
        "IPPrefixLen": primary.map(|e| e.prefix_len).unwrap_or(0),
        "MacAddress": primary.map(|e| e.mac.clone()).unwrap_or_default(),
        "Networks": networks,
    })
}

/// `NetworkSettings.Networks`: one entry per attached network.
pub fn networks_json(endpoints: &[EndpointInfo]) -> serde_json::Map<String, Value> {
    endpoints
        .iter()
        .map(|ep| {
            let v = json!({
                "IPAMConfig": null,
                "Links": null,
                "Aliases": ep.dns_names,
                "NetworkID": ep.network_id,
                "EndpointID": endpoint_id(ep),
                "Gateway": ep.gateway.map(|g| g.to_string()).unwrap_or_default(),
                "IPAddress": ep.ip.to_string(),
                "IPPrefixLen": ep.prefix_len,
                "IPv6Gateway": ep.gateway6.map(|g| g.to_string()).unwrap_or_default(),
                "GlobalIPv6Address": ep.ip6.map(|g| g.to_string()).unwrap_or_default(),
                "GlobalIPv6PrefixLen": ep.prefix_len6.unwrap_or(0),
                "MacAddress": ep.mac,
                "DriverOpts": null,
            });
            (ep.network_name.clone(), v)
        })
        .collect()
}

/// `ps`'s `Ports` rows.
pub fn ports_json(endpoints: &[EndpointInfo]) -> Value {
    let mut rows = Vec::new();
    for ep in endpoints {
        for p in &ep.ports {
            rows.push(json!({
                "IP": p.host_ip.to_string(),
                "PrivatePort": p.container_port,
                "PublicPort": p.host_port,
                "Type": p.proto.as_str(),
            }));
        }
    }
    Value::Array(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(json: Value) -> ContainerCreate {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn modes_follow_docker_defaults() {
        let c = create(json!({"Image": "x"}));
        assert_eq!(
            mode_of(&c, Some("bridge")),
            NetMode::Networks(vec!["bridge".into()])
        );
        assert_eq!(mode_of(&c, None), NetMode::None);
        let c = create(json!({"Image": "x", "HostConfig": {"NetworkMode": "host"}}));
        assert_eq!(mode_of(&c, Some("bridge")), NetMode::Host);
        let c = create(json!({"Image": "x", "HostConfig": {"NetworkMode": "container:web"}}));
        assert_eq!(
            mode_of(&c, Some("bridge")),
            NetMode::Container("web".into())
        );
        let c = create(json!({
            "Image": "x",
            "HostConfig": {"NetworkMode": "proj_default"},
            "NetworkingConfig": {"EndpointsConfig": {"proj_default": {"Aliases": ["web"]}, "other": {}}}
        }));
        assert_eq!(
            mode_of(&c, Some("bridge")),
            NetMode::Networks(vec!["proj_default".into(), "other".into()])
        );
        let req = endpoint_request(&c, "proj_web_1", "abc", "proj_default", true, &[]).unwrap();
        assert_eq!(req.aliases, vec!["web".to_string()]);
        assert_eq!(req.name.as_deref(), Some("proj_web_1"));
    }

    #[test]
    fn port_bindings_and_publish_all() {
        let c = create(json!({
            "Image": "x",
            "ExposedPorts": {"80/tcp": {}, "53/udp": {}},
            "HostConfig": {
                "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},
                "PublishAllPorts": true
            }
        }));
        let reqs = port_requests(&c, &ImageConfig::default()).unwrap();
        assert_eq!(reqs.len(), 2, "{reqs:?}");
        let c = create(
            json!({"Image": "x", "HostConfig": {"PortBindings": {"80/tcp": [{"HostPort": "x"}]}}}),
        );
        assert!(port_requests(&c, &ImageConfig::default()).is_err());
    }

    #[test]
    fn static_ip_must_parse() {
        let c = create(json!({
            "Image": "x",
            "HostConfig": {"NetworkMode": "n"},
            "NetworkingConfig": {"EndpointsConfig": {"n": {"IPAMConfig": {"IPv4Address": "10.1.2.300"}}}}
        }));
        let err = endpoint_request(&c, "a", "h", "n", true, &[]).unwrap_err();
        assert!(err.to_string().contains("10.1.2.300"));
    }
}
