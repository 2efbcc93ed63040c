//! `vessel ps`: `GET /containers/json` as docker's table, templates or JSON lines.

use serde_json::{json, Value};

use crate::client::{filters_json, query, Client};
use crate::format::{ago, ellipsis, human_size, short_id, utc_string};
use crate::output::{print_list, Columns};
use crate::template::Format;

#[derive(clap::Args)]
pub struct Args {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", allow_hyphen_values = true)]
    last: Option<i64>,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    latest: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', 'TEMPLATE'
    #[arg(long)]
    format: Option<String>,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    no_trunc: bool,
    /// Display total file sizes
    #[arg(short = 's', long)]
    size: bool,
}

const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("State", "STATE"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("Networks", "NETWORKS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
];

/// "127.0.0.1:18080->8080/tcp, 9000/udp", sorted like docker's DisplayablePorts.
pub fn ports(v: &Value) -> String {
    let mut out: Vec<String> = Vec::new();
    for p in v.as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let private = p["PrivatePort"].as_u64().unwrap_or(0);
        let kind = p["Type"].as_str().unwrap_or("tcp");
        let s = match p["PublicPort"].as_u64() {
            Some(public) if public != 0 => {
                let ip = p["IP"].as_str().unwrap_or("");
                let ip = if ip.contains(':') {
                    format!("[{ip}]")
                } else {
                    ip.to_string()
                };
                format!("{ip}:{public}->{private}/{kind}")
            }
            _ => format!("{private}/{kind}"),
        };
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out.sort();
    out.join(", ")
}

pub fn row(c: &Value, trunc: bool) -> Value {
    let id = c["Id"].as_str().unwrap_or("");
    let names: Vec<String> = c["Names"]
        .as_array()
        .map(|n| {
            n.iter()
                .filter_map(Value::as_str)
                .map(|s| s.trim_start_matches('/').to_string())
                .collect()
        })
        .unwrap_or_default();
    let names = if trunc {
        names
            .iter()
            .find(|n| !n.contains('/'))
            .cloned()
            .unwrap_or_default()
    } else {
        names.join(",")
    };
    let image = c["Image"].as_str().unwrap_or("");
    let image = if trunc && image.starts_with("sha256:") {
        short_id(image)
    } else {
        image.to_string()
    };
    let command = c["Command"].as_str().unwrap_or("");
    let command = if trunc {
        ellipsis(command, 20)
    } else {
        command.to_string()
    };
    let created = c["Created"].as_i64().unwrap_or(0);
    let labels = c["Labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let mounts: Vec<String> = c["Mounts"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|m| {
                    let n = m["Name"]
                        .as_str()
                        .filter(|s| !s.is_empty())
                        .or(m["Source"].as_str())
                        .unwrap_or("");
                    if trunc {
                        ellipsis(n, 15)
                    } else {
                        n.to_string()
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let local_volumes = c["Mounts"]
        .as_array()
        .map(|m| m.iter().filter(|m| m["Driver"] == "local").count())
        .unwrap_or(0);
    let networks: Vec<String> = c["NetworkSettings"]["Networks"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let size = match (c["SizeRw"].as_i64(), c["SizeRootFs"].as_i64()) {
        (None, None) => String::new(),
        (rw, root) => {
            let rw = human_size(rw.unwrap_or(0));
            match root {
                Some(r) if r > 0 => format!("{rw} (virtual {})", human_size(r)),
                _ => rw,
            }
        }
    };
    json!({
        "Command": serde_json::to_string(&command).unwrap_or_default(),
        "CreatedAt": utc_string(created),
        "ID": if trunc { short_id(id) } else { id.to_string() },
        "Image": image,
        "Labels": labels,
        "LocalVolumes": local_volumes.to_string(),
        "Mounts": mounts.join(","),
        "Names": names,
        "Networks": networks.join(","),
        "Ports": ports(&c["Ports"]),
        "RunningFor": ago(created),
        "Size": size,
        "State": c["State"].as_str().unwrap_or(""),
        "Status": c["Status"].as_str().unwrap_or(""),
    })
}

pub fn run(c: &Client, a: Args) -> anyhow::Result<()> {
    let filters = filters_json(&a.filter).map_err(anyhow::Error::msg)?;
    let limit = if a.latest {
        Some(1)
    } else {
        a.last.filter(|n| *n > 0)
    };
    let path = format!(
        "/containers/json{}",
        query(&[
            ("all", super::qbool(a.all)),
            ("limit", limit.map(|n| n.to_string())),
            ("size", super::qbool(a.size)),
            ("filters", filters),
        ])
    );
    let list: Vec<Value> = c.get_json(&path)?;
    let trunc = !a.no_trunc;
    let rows: Vec<Value> = list.iter().map(|x| row(x, trunc)).collect();
    if a.quiet {
        let mut out = String::new();
        for r in &rows {
            out.push_str(r["ID"].as_str().unwrap_or(""));
            out.push('\n');
        }
        print!("{out}");
        return Ok(());
    }
    let default: &[&str] = if a.size {
        &[
            "ID",
            "Image",
            "Command",
            "RunningFor",
            "Status",
            "Ports",
            "Names",
            "Size",
        ]
    } else {
        &[
            "ID",
            "Image",
            "Command",
            "RunningFor",
            "Status",
            "Ports",
            "Names",
        ]
    };
    print_list(
        &Format::parse(a.format.as_deref())?,
        &Columns {
            default,
            headers: HEADERS,
        },
        &rows,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_like_docker() {
        let c = json!({
            "Id": "bba5219d3af770b090b6e250820733f0effc5809e5179516ad3fcf2ba6cb415e",
            "Names": ["/web"], "Image": "bb", "Command": "busybox httpd -f -v -p 8080",
            "Created": 0, "State": "running", "Status": "Up 3 seconds",
            "Ports": [{"IP":"127.0.0.1","PrivatePort":8080,"PublicPort":18080,"Type":"tcp"},{"PrivatePort":53,"Type":"udp"}],
            "Labels": {"k":"v"}
        });
        let r = row(&c, true);
        assert_eq!(r["ID"], "bba5219d3af7");
        assert_eq!(r["Command"], "\"busybox httpd -f -v…\"");
        assert_eq!(r["Names"], "web");
        assert_eq!(r["Ports"], "127.0.0.1:18080->8080/tcp, 53/udp");
        assert_eq!(r["Labels"], "k=v");
    }
}
