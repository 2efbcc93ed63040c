//! Value parsers for `run`/`create` flags, with docker's rules and error wording.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::body::{DeviceMapping, Mount, PortBinding, Ulimit};

/// go-units `RAMInBytes`: "512m", "1.5g", "1024", "64MiB" (binary multiples).
pub fn ram_in_bytes(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid size: '{s}'");
    let t = s.trim();
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(num_end);
    let value: f64 = num.parse().map_err(|_| bad())?;
    let mut unit = unit.trim_start().to_ascii_lowercase();
    if unit.ends_with('b') {
        unit.pop();
    }
    if unit.len() == 2 && unit.ends_with('i') {
        unit.pop();
    }
    let mult: i64 = match unit.as_str() {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        "p" => 1 << 50,
        _ => return Err(bad()),
    };
    Ok((value * mult as f64) as i64)
}

const ULIMITS: &[&str] = &[
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// `nofile=1024[:2048]`.
pub fn ulimit(s: &str) -> Result<Ulimit, String> {
    let (name, limits) = s
        .split_once('=')
        .ok_or_else(|| format!("invalid ulimit argument: {s}"))?;
    if !ULIMITS.contains(&name) {
        return Err(format!("invalid ulimit type: {name}"));
    }
    let num = |v: &str| {
        v.parse::<i64>()
            .map_err(|_| format!("invalid ulimit argument: {s}"))
    };
    let (soft, hard) = match limits.split_once(':') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(limits)?, num(limits)?),
    };
    if soft > hard {
        return Err(format!(
            "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        ));
    }
    Ok(Ulimit {
        name: name.into(),
        hard,
        soft,
    })
}

/// `-e FOO=bar` as is; `-e FOO` takes FOO from our environment, or is dropped if unset.
pub fn env_value(
    s: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    let name = s.split('=').next().unwrap_or("");
    if name.is_empty() {
        return Err(format!("invalid environment variable: {s}"));
    }
    if s.contains('=') {
        return Ok(Some(s.to_string()));
    }
    Ok(lookup(s).map(|v| format!("{s}={v}")))
}

/// Docker's env-file format: `KEY=VALUE` lines taken verbatim, `KEY` alone from our
/// environment, `#` comments and blank lines skipped.
pub fn env_file(
    content: &str,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (i, raw) in content.lines().enumerate() {
        let line = if i == 0 {
            raw.trim_start_matches('\u{feff}')
        } else {
            raw
        };
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = match line.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (line, None),
        };
        let name = name.trim_start();
        if name.is_empty() {
            return Err(format!("{path}: no variable name on line '{line}'"));
        }
        if name.contains(char::is_whitespace) {
            return Err(format!("{path}: variable '{name}' contains whitespaces"));
        }
        match value {
            Some(v) => out.push(format!("{name}={v}")),
            None => {
                if let Some(v) = lookup(name) {
                    out.push(format!("{name}={v}"));
                }
            }
        }
    }
    Ok(out)
}

/// `k=v` or `k` (empty value) into a map: labels, log options, sysctls.
pub fn key_values(items: &[String]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (s.clone(), String::new()),
        })
        .collect()
}

/// Go's `time.ParseDuration` in nanoseconds ("1m30s", "500ms", "2h").
pub fn go_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("time: invalid duration \"{s}\"");
    if s == "0" {
        return Ok(0);
    }
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration \"{s}\""))?;
        let value: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            other => {
                return Err(format!(
                    "time: unknown unit \"{other}\" in duration \"{s}\""
                ))
            }
        };
        total += value * mult;
        rest = &rest[u..];
    }
    Ok(if neg { -(total as i64) } else { total as i64 })
}

/// `--cpus 1.5` → NanoCpus.
pub fn nano_cpus(s: &str) -> Result<i64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("failed to parse {s} as a rational number"))?;
    if v < 0.0 {
        return Err(format!("invalid value {s}: must be positive"));
    }
    Ok((v * 1e9).round() as i64)
}

/// `no`, `always`, `unless-stopped`, `on-failure[:N]`.
pub fn restart_policy(s: &str) -> Result<(String, i64), String> {
    let (name, count) = match s.split_once(':') {
        Some((n, c)) => (
            n,
            Some(c.parse::<i64>().map_err(|_| {
                format!(
                    "invalid restart policy format: maximum retry count must be an integer: {s}"
                )
            })?),
        ),
        None => (s, None),
    };
    match name {
        "" | "no" | "always" | "unless-stopped" => {
            if count.is_some() {
                return Err(format!(
                    "invalid restart policy format: maximum retry count cannot be used with restart policy '{name}'"
                ));
            }
            Ok((if name.is_empty() { "no" } else { name }.to_string(), 0))
        }
        "on-failure" => Ok((name.to_string(), count.unwrap_or(0))),
        _ => Err(format!(
            "invalid restart policy format: unknown policy '{name}'"
        )),
    }
}

/// `-p [ip:][hostPort:]containerPort[/proto]` with equal-length ranges.
pub fn port_spec(s: &str) -> Result<Vec<(String, PortBinding)>, String> {
    let (ip, rest) = if let Some(r) = s.strip_prefix('[') {
        let (ip, after) = r
            .split_once("]:")
            .ok_or_else(|| format!("invalid IP address in port spec: {s}"))?;
        (ip.to_string(), after.to_string())
    } else {
        let parts: Vec<&str> = s.split(':').collect();
        match parts.len() {
            1 | 2 => (String::new(), s.to_string()),
            3 => (parts[0].to_string(), parts[1..].join(":")),
            _ => (
                parts[..parts.len() - 2].join(":"),
                parts[parts.len() - 2..].join(":"),
            ),
        }
    };
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (h.to_string(), c.to_string()),
        None => (String::new(), rest),
    };
    let (container, proto) = match container.split_once('/') {
        Some((c, p)) => (c.to_string(), p.to_lowercase()),
        None => (container, "tcp".to_string()),
    };
    if container.is_empty() {
        return Err(format!("no port specified: {s}<empty>"));
    }
    if !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
        return Err(format!("invalid proto: {proto}"));
    }
    let range = |r: &str| -> Result<(u32, u32), String> {
        let bad = || format!("invalid containerPort: {r}");
        let (a, b) = r.split_once('-').unwrap_or((r, r));
        let (a, b): (u32, u32) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
        if a == 0 || b > 65535 || a > b {
            return Err(bad());
        }
        Ok((a, b))
    };
    let (c0, c1) = range(&container)?;
    let host_range = if host.is_empty() {
        None
    } else {
        Some(range(&host).map_err(|_| format!("invalid hostPort: {host}"))?)
    };
    if let Some((h0, h1)) = host_range {
        if h1 - h0 != c1 - c0 && h0 != h1 {
            return Err(format!(
                "invalid ranges specified for container and host Ports: {container} and {host}"
            ));
        }
    }
    let mut out = Vec::new();
    for (i, port) in (c0..=c1).enumerate() {
        let host_port = match host_range {
            None => String::new(),
            Some((h0, h1)) if h0 == h1 && c0 != c1 => format!("{h0}"),
            Some((h0, h1)) if h0 != h1 && c0 == c1 => format!("{h0}-{h1}"),
            Some((h0, _)) => format!("{}", h0 + i as u32),
        };
        out.push((
            format!("{port}/{proto}"),
            PortBinding {
                host_ip: ip.clone(),
                host_port,
            },
        ));
    }
    Ok(out)
}

fn parse_bool(k: &str, v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "t" => Ok(true),
        "0" | "false" | "f" => Ok(false),
        _ => Err(format!("invalid value for {k}: {v}")),
    }
}

/// `--mount type=bind,src=/a,dst=/b,readonly` (docker's opts.MountOpt).
pub fn mount(s: &str) -> Result<Mount, String> {
    let mut m = Mount {
        kind: "volume".into(),
        ..Default::default()
    };
    let mut bind: BTreeMap<String, Value> = BTreeMap::new();
    let mut vol: BTreeMap<String, Value> = BTreeMap::new();
    let mut tmpfs: BTreeMap<String, Value> = BTreeMap::new();
    let mut vol_labels = serde_json::Map::new();
    let mut driver = serde_json::Map::new();
    let mut driver_opts = serde_json::Map::new();
    for field in s.split(',') {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k.trim().to_lowercase(), Some(v.trim())),
            None => (field.trim().to_lowercase(), None),
        };
        let need = || v.ok_or_else(|| format!("invalid field '{field}' must be a key=value pair"));
        match k.as_str() {
            "readonly" | "ro" => {
                m.read_only = v.map(|v| parse_bool(&k, v)).transpose()?.unwrap_or(true)
            }
            "volume-nocopy" => {
                let b = v.map(|v| parse_bool(&k, v)).transpose()?.unwrap_or(true);
                vol.insert("NoCopy".into(), Value::Bool(b));
            }
            "bind-nonrecursive" => {
                let b = v.map(|v| parse_bool(&k, v)).transpose()?.unwrap_or(true);
                bind.insert("NonRecursive".into(), Value::Bool(b));
            }
            "type" => m.kind = need()?.to_lowercase(),
            "source" | "src" => m.source = need()?.into(),
            "target" | "dst" | "destination" => m.target = need()?.into(),
            "consistency" => m.consistency = need()?.into(),
            "bind-propagation" => {
                bind.insert("Propagation".into(), Value::String(need()?.to_lowercase()));
            }
            "volume-driver" => {
                driver.insert("Name".into(), Value::String(need()?.into()));
            }
            "volume-label" => {
                let (a, b) = need()?.split_once('=').unwrap_or((need()?, ""));
                vol_labels.insert(a.into(), Value::String(b.into()));
            }
            "volume-opt" => {
                let (a, b) = need()?.split_once('=').unwrap_or((need()?, ""));
                driver_opts.insert(a.into(), Value::String(b.into()));
            }
            "tmpfs-size" => {
                let n = ram_in_bytes(need()?).map_err(|e| format!("invalid value for {k}: {e}"))?;
                tmpfs.insert("SizeBytes".into(), n.into());
            }
            "tmpfs-mode" => {
                let n = u32::from_str_radix(need()?, 8).map_err(|_| {
                    format!("invalid value for {k}: {}", need().unwrap_or_default())
                })?;
                tmpfs.insert("Mode".into(), n.into());
            }
            _ => return Err(format!("unexpected key '{k}' in '{field}'")),
        }
    }
    if !["bind", "volume", "tmpfs", "npipe", "cluster", "image"].contains(&m.kind.as_str()) {
        return Err(format!("invalid mount type: {}", m.kind));
    }
    if m.target.is_empty() {
        return Err("target is required".into());
    }
    if !driver_opts.is_empty() {
        driver.insert("Options".into(), Value::Object(driver_opts));
    }
    if !vol_labels.is_empty() {
        vol.insert("Labels".into(), Value::Object(vol_labels));
    }
    if !driver.is_empty() {
        vol.insert("DriverConfig".into(), Value::Object(driver));
    }
    let check = |name: &str, opts: &BTreeMap<String, Value>, ty: &str| {
        if !opts.is_empty() && m.kind != ty {
            Err(format!(
                "cannot mix '{name}*' options with mount type '{}'",
                m.kind
            ))
        } else {
            Ok(())
        }
    };
    check("bind-", &bind, "bind")?;
    check("volume-", &vol, "volume")?;
    check("tmpfs-", &tmpfs, "tmpfs")?;
    m.bind_options = (!bind.is_empty()).then_some(bind);
    m.volume_options = (!vol.is_empty()).then_some(vol);
    m.tmpfs_options = (!tmpfs.is_empty()).then_some(tmpfs);
    Ok(m)
}

/// `-v`: `SRC:DST[:OPTS]` is a bind (relative `./` host paths made absolute), `DST` alone is
/// an anonymous volume.
pub enum VolumeSpec {
    Bind(String),
    Anonymous(String),
}

pub fn volume(s: &str, cwd: &Path) -> Result<VolumeSpec, String> {
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [""] => Err("invalid empty volume spec".into()),
        [dst] => Ok(VolumeSpec::Anonymous((*dst).into())),
        [src, rest @ ..] if rest.len() <= 2 => {
            if rest[0].is_empty() {
                return Err(format!("invalid volume specification: '{s}'"));
            }
            if src.starts_with('.') {
                let abs = cwd.join(src);
                let abs = abs.to_string_lossy().replace("/./", "/");
                let abs = abs.trim_end_matches("/.");
                Ok(VolumeSpec::Bind(format!("{abs}:{}", rest.join(":"))))
            } else {
                Ok(VolumeSpec::Bind(s.into()))
            }
        }
        _ => Err(format!("invalid volume specification: '{s}'")),
    }
}

/// `--device /dev/a[:/dev/b][:rwm]`.
pub fn device(s: &str) -> Result<DeviceMapping, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let valid_perm = |p: &str| !p.is_empty() && p.chars().all(|c| "rwm".contains(c));
    let (src, dst, perm) = match parts.as_slice() {
        [a] => (*a, *a, "rwm"),
        [a, b] if valid_perm(b) => (*a, *a, *b),
        [a, b] => (*a, *b, "rwm"),
        [a, b, c] if valid_perm(c) => (*a, *b, *c),
        _ => return Err(format!("invalid device specification: {s}")),
    };
    if !dst.starts_with('/') {
        return Err(format!("invalid device specification: {s}"));
    }
    Ok(DeviceMapping {
        path_on_host: src.into(),
        path_in_container: dst.into(),
        cgroup_permissions: perm.into(),
    })
}

/// `--tmpfs /run[:opts]`.
pub fn tmpfs(s: &str) -> (String, String) {
    match s.split_once(':') {
        Some((a, b)) => (a.into(), b.into()),
        None => (s.into(), String::new()),
    }
}

#[cfg(test)]
mod tests;
