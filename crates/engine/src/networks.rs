//! `/networks` of the Engine API: list, inspect, create, remove, prune, connect and
//! disconnect, over the `vessel-network` manager. `host` and `none` are listed as Docker
//! lists them; they have no endpoints to manage.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use vessel_network::{NetworkInfo, NetworkManager, NetworkSpec};

use crate::api::{blocking, json_response, ok_json, AppState, JsonBody};
use crate::errors::ApiError;
use crate::filters::Filters;
use crate::query::QueryParams as Query;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/networks", get(list))
        .route("/networks/create", post(create))
        .route("/networks/prune", post(prune))
        .route("/networks/{id}", get(inspect).delete(remove))
        .route("/networks/{id}/connect", post(connect))
        .route("/networks/{id}/disconnect", post(disconnect))
}

fn manager(s: &AppState) -> Result<Arc<NetworkManager>, ApiError> {
    s.containers
        .networks()
        .cloned()
        .ok_or(ApiError::NetworkUnavailable)
}

/// The fixed `host` and `none` networks, as Docker shows them.
fn builtin(name: &str) -> Value {
    json!({
        "Name": name,
        "Id": format!("{:0<64}", hex_of(name)),
        "Created": "0001-01-01T00:00:00Z",
        "Scope": "local",
        "Driver": if name == "host" { "host" } else { "null" },
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": null, "Config": []},
        "Internal": false,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": {},
        "Options": {},
        "Labels": {},
    })
}

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn network_json(info: &NetworkInfo, containers: Value) -> Value {
    let mut config = vec![json!({
        "Subnet": info.subnet.to_string(),
        "Gateway": info.gateway.to_string(),
    })];
    if let Some(r) = &info.ip_range {
        config[0]["IPRange"] = json!(r.to_string());
    }
    if let (Some(s6), Some(g6)) = (&info.subnet6, &info.gateway6) {
        config.push(json!({"Subnet": s6.to_string(), "Gateway": g6.to_string()}));
    }
    let mut options = BTreeMap::new();
    options.insert("com.docker.network.bridge.name", info.bridge.clone());
    options.insert("com.docker.network.driver.mtu", info.mtu.to_string());
    json!({
        "Name": info.name,
        "Id": info.id,
        "Created": crate::timefmt::rfc3339_nano(info.created as i64, 0),
        "Scope": "local",
        "Driver": info.driver,
        "EnableIPv6": info.subnet6.is_some(),
        "IPAM": {"Driver": "default", "Options": {}, "Config": config},
        "Internal": info.internal,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": options,
        "Labels": info.labels,
    })
}

/// `Containers` of a network: id → name, endpoint, MAC and addresses.
fn containers_of(s: &AppState, net: &NetworkManager, info: &NetworkInfo) -> Value {
    let mut out = serde_json::Map::new();
    for ep in net.endpoints(&info.id).unwrap_or_default() {
        let name = s
            .containers
            .find(&ep.container_id)
            .map(|r| r.name)
            .unwrap_or_default();
        out.insert(
            ep.container_id.clone(),
            json!({
                "Name": name,
                "EndpointID": crate::containers::endpoint_id(&ep),
                "MacAddress": ep.mac,
                "IPv4Address": format!("{}/{}", ep.ip, ep.prefix_len),
                "IPv6Address": match (ep.ip6, ep.prefix_len6) {
                    (Some(ip), Some(len)) => format!("{ip}/{len}"),
                    _ => String::new(),
                },
            }),
        );
    }
    Value::Object(out)
}

fn matches(f: &Filters, v: &Value) -> bool {
    let text = |k: &str| v[k].as_str().unwrap_or_default().to_string();
    let labels = v["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let builtin = matches!(text("Name").as_str(), "bridge" | "host" | "none");
    (!f.contains("name") || f.values("name").any(|n| text("Name").contains(n)))
        && (!f.contains("id") || f.values("id").any(|n| text("Id").starts_with(n)))
        && (!f.contains("driver") || f.values("driver").any(|n| text("Driver") == n))
        && (!f.contains("type") || f.values("type").any(|t| (t == "builtin") == builtin))
        && (!f.contains("dangling")
            || f.values("dangling").any(|d| {
                let empty = v["Containers"].as_object().is_none_or(|m| m.is_empty());
                (d == "true" || d == "1") == (empty && !builtin)
            }))
        && f.match_labels("label", &labels)
}

async fn list(State(s): State<AppState>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let filters = Query::parse(q.as_deref()).filters()?;
    filters
        .validate(&["name", "id", "driver", "type", "label", "dangling", "scope"])
        .map_err(ApiError::Filters)?;
    let state = s.clone();
    let rows = blocking(move || {
        let mut rows = Vec::new();
        if let Some(net) = state.containers.networks() {
            for info in net.list() {
                rows.push(network_json(&info, containers_of(&state, net, &info)));
            }
        }
        rows.push(builtin("host"));
        rows.push(builtin("none"));
        Ok(rows
            .into_iter()
            .filter(|v| matches(&filters, v))
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(ok_json(&rows))
}

async fn inspect(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    if id == "host" || id == "none" {
        return Ok(ok_json(&builtin(&id)));
    }
    let net = manager(&s)?;
    let state = s.clone();
    let body = blocking(move || {
        let info = net.get(&id).map_err(ApiError::Network)?;
        Ok(network_json(&info, containers_of(&state, &net, &info)))
    })
    .await?;
    Ok(ok_json(&body))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateRequest {
    name: String,
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    internal: bool,
    #[serde(default, rename = "EnableIPv6")]
    enable_ipv6: Option<bool>,
    #[serde(default, rename = "IPAM")]
    ipam: Option<Ipam>,
    #[serde(default)]
    options: BTreeMap<String, String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Ipam {
    #[serde(default)]
    config: Option<Vec<IpamConfig>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IpamConfig {
    #[serde(default)]
    subnet: Option<String>,
    #[serde(default, rename = "IPRange")]
    ip_range: Option<String>,
    #[serde(default)]
    gateway: Option<String>,
}

fn parse<T: std::str::FromStr>(
    what: &'static str,
    v: &Option<String>,
) -> Result<Option<T>, ApiError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse().map_err(|_| ApiError::InvalidNetworkOption {
                what,
                value: s.to_string(),
            })
        })
        .transpose()
}

fn spec_of(req: CreateRequest) -> Result<NetworkSpec, ApiError> {
    let driver = req.driver.filter(|d| !d.is_empty());
    if let Some(d) = driver.as_deref().filter(|d| *d != "bridge") {
        return Err(ApiError::UnsupportedNetworkDriver(d.to_string()));
    }
    let mut spec = NetworkSpec {
        name: req.name,
        driver,
        internal: req.internal,
        enable_ipv6: req.enable_ipv6.unwrap_or(false),
        labels: req.labels.unwrap_or_default(),
        bridge_name: req.options.get("com.docker.network.bridge.name").cloned(),
        ..Default::default()
    };
    if let Some(mtu) = req.options.get("com.docker.network.driver.mtu") {
        spec.mtu = Some(mtu.parse().map_err(|_| ApiError::InvalidNetworkOption {
            what: "mtu (bytes)",
            value: mtu.clone(),
        })?);
    }
    for c in req.ipam.unwrap_or_default().config.unwrap_or_default() {
        let v6 = c.subnet.as_deref().is_some_and(|s| s.contains(':'));
        if v6 {
            spec.subnet6 = parse("IPv6 subnet", &c.subnet)?;
            spec.gateway6 = parse("IPv6 gateway", &c.gateway)?;
            spec.enable_ipv6 = true;
        } else {
            spec.subnet = parse("subnet", &c.subnet)?;
            spec.gateway = parse("gateway", &c.gateway)?;
            spec.ip_range = parse("ip-range", &c.ip_range)?;
        }
    }
    Ok(spec)
}

async fn create(
    State(s): State<AppState>,
    JsonBody(req): JsonBody<CreateRequest>,
) -> Result<Response, ApiError> {
    if matches!(req.name.as_str(), "bridge" | "host" | "none") {
        return Err(ApiError::PredefinedNetwork {
            name: req.name,
            op: "created",
        });
    }
    let spec = spec_of(req)?;
    let net = manager(&s)?;
    let info = blocking(move || net.create_network(spec).map_err(ApiError::Network)).await?;
    s.containers.events().emit(
        "network",
        "create",
        &info.id,
        [
            ("name".to_string(), info.name.clone()),
            ("type".to_string(), "bridge".to_string()),
        ]
        .into(),
    );
    Ok(json_response(
        StatusCode::CREATED,
        &json!({"Id": info.id, "Warning": ""}),
    ))
}

async fn remove(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    if id == "host" || id == "none" || id == "bridge" {
        return Err(ApiError::PredefinedNetwork {
            name: id,
            op: "removed",
        });
    }
    let net = manager(&s)?;
    let info = blocking(move || {
        let info = net.get(&id).map_err(ApiError::Network)?;
        net.remove_network(&info.id).map_err(ApiError::Network)?;
        Ok(info)
    })
    .await?;
    s.containers.events().emit(
        "network",
        "destroy",
        &info.id,
        [("name".to_string(), info.name.clone())].into(),
    );
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn prune(State(s): State<AppState>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let filters = Query::parse(q.as_deref()).filters()?;
    let net = manager(&s)?;
    let deleted = blocking(move || {
        let mut deleted = Vec::new();
        for info in net.list() {
            if info.is_default {
                continue;
            }
            let labels = info
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if !filters.match_labels("label", &labels) {
                continue;
            }
            if net
                .endpoints(&info.id)
                .map(|e| e.is_empty())
                .unwrap_or(false)
                && net.remove_network(&info.id).is_ok()
            {
                deleted.push(info.name);
            }
        }
        Ok(deleted)
    })
    .await?;
    Ok(ok_json(&json!({ "NetworksDeleted": deleted })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ConnectRequest {
    container: String,
    #[serde(default)]
    endpoint_config: Option<Value>,
    #[serde(default)]
    force: bool,
}

async fn connect(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ConnectRequest>,
) -> Result<Response, ApiError> {
    let net = manager(&s)?;
    let state = s.clone();
    blocking(move || {
        let info = net.get(&id).map_err(ApiError::Network)?;
        let record = state.containers.find(&req.container)?;
        let current = net.container_endpoints(&record.id);
        let Some(first) = current.first() else {
            return Err(ApiError::NotOnBridge {
                container: record.name.clone(),
                mode: record
                    .create
                    .host()
                    .network_mode
                    .clone()
                    .unwrap_or_default(),
            });
        };
        let mut create = record.create.clone();
        let mut endpoints = serde_json::Map::new();
        endpoints.insert(
            info.name.clone(),
            req.endpoint_config.unwrap_or(Value::Null),
        );
        create.networking_config = Some(json!({ "EndpointsConfig": endpoints }));
        let hostname = std::fs::read_to_string(record.dir.join("hostname"))
            .unwrap_or_default()
            .trim()
            .to_string();
        let request = crate::containers::endpoint_request(
            &create,
            &record.name,
            &hostname,
            &info.name,
            false,
            &[],
        )?;
        net.attach(&record.id, &first.netns, &info.name, request)
            .map_err(ApiError::Network)?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::OK.into_response())
}

async fn disconnect(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ConnectRequest>,
) -> Result<Response, ApiError> {
    let net = manager(&s)?;
    let state = s.clone();
    let _ = req.force;
    blocking(move || {
        let info = net.get(&id).map_err(ApiError::Network)?;
        let record = state.containers.find(&req.container)?;
        net.detach(&record.id, &info.id).map_err(ApiError::Network)
    })
    .await?;
    Ok(StatusCode::OK.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_maps_to_a_spec() {
        let req: CreateRequest = serde_json::from_value(json!({
            "Name": "app",
            "Driver": "bridge",
            "Internal": true,
            "IPAM": {"Driver": "default", "Config": [
                {"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.254", "IPRange": "10.9.0.128/25"},
                {"Subnet": "fd00:9::/64"}
            ]},
            "Options": {"com.docker.network.driver.mtu": "1400", "com.docker.network.bridge.name": "br-app"},
            "Labels": {"team": "a"}
        }))
        .unwrap();
        let spec = spec_of(req).unwrap();
        assert_eq!(spec.subnet.unwrap().to_string(), "10.9.0.0/24");
        assert_eq!(spec.gateway.unwrap().to_string(), "10.9.0.254");
        assert_eq!(spec.ip_range.unwrap().to_string(), "10.9.0.128/25");
        assert!(spec.enable_ipv6 && spec.internal);
        assert_eq!(spec.mtu, Some(1400));
        assert_eq!(spec.bridge_name.as_deref(), Some("br-app"));
        let bad: CreateRequest =
            serde_json::from_value(json!({"Name": "x", "Driver": "overlay"})).unwrap();
        assert!(spec_of(bad).is_err());
        let bad: CreateRequest = serde_json::from_value(json!({
            "Name": "x", "IPAM": {"Config": [{"Subnet": "10.0.0.0/33"}]}
        }))
        .unwrap();
        assert!(spec_of(bad).is_err());
    }

    #[test]
    fn filters_on_name_type_and_label() {
        let v = json!({"Name": "app", "Id": "abc", "Driver": "bridge", "Labels": {"a": "b"}, "Containers": {}});
        let f = |s: &str| Filters::parse(s).unwrap();
        assert!(matches(&f(r#"{"name":["ap"]}"#), &v));
        assert!(!matches(&f(r#"{"type":["builtin"]}"#), &v));
        assert!(matches(&f(r#"{"type":["custom"]}"#), &v));
        assert!(matches(&f(r#"{"label":["a=b"]}"#), &v));
        assert!(matches(&f(r#"{"dangling":["true"]}"#), &v));
    }
}
