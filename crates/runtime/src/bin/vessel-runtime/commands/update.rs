use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use oci_spec::runtime::LinuxResources;

use super::Globals;

#[derive(clap::Args)]
pub struct Args {
    /// LinuxResources JSON file ('-' for stdin); flags below override it.
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-share", alias = "cpu-shares")]
    pub cpu_share: Option<u64>,
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit (bytes, or with k/m/g suffix; -1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    pub id: String,
}

pub fn run(args: Args, g: &Globals) -> anyhow::Result<i32> {
    let mut resources: serde_json::Value = match &args.resources {
        Some(p) => {
            let mut text = String::new();
            if p.as_os_str() == "-" {
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading resources from stdin")?;
            } else {
                text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
            }
            serde_json::from_str(&text)
                .with_context(|| format!("parsing resources {}", p.display()))?
        }
        None => serde_json::json!({}),
    };
    let mut set = |section: &str, key: &str, value: serde_json::Value| {
        if !resources[section].is_object() {
            resources[section] = serde_json::json!({});
        }
        resources[section][key] = value;
    };
    if let Some(v) = args.blkio_weight {
        set("blockIO", "weight", v.into());
    }
    if let Some(v) = args.cpu_period {
        set("cpu", "period", v.into());
    }
    if let Some(v) = args.cpu_quota {
        set("cpu", "quota", v.into());
    }
    if let Some(v) = args.cpu_share {
        set("cpu", "shares", v.into());
    }
    if let Some(v) = args.cpu_rt_period {
        set("cpu", "realtimePeriod", v.into());
    }
    if let Some(v) = args.cpu_rt_runtime {
        set("cpu", "realtimeRuntime", v.into());
    }
    if let Some(v) = &args.cpuset_cpus {
        set("cpu", "cpus", v.clone().into());
    }
    if let Some(v) = &args.cpuset_mems {
        set("cpu", "mems", v.clone().into());
    }
    if let Some(v) = &args.memory {
        set("memory", "limit", parse_bytes(v, "--memory")?.into());
    }
    if let Some(v) = &args.memory_reservation {
        set(
            "memory",
            "reservation",
            parse_bytes(v, "--memory-reservation")?.into(),
        );
    }
    if let Some(v) = &args.memory_swap {
        set("memory", "swap", parse_bytes(v, "--memory-swap")?.into());
    }
    if let Some(v) = args.pids_limit {
        set("pids", "limit", v.into());
    }
    let resources: LinuxResources = serde_json::from_value(resources)
        .context("resources do not match the OCI LinuxResources schema")?;
    g.runtime.update(&args.id, &resources)?;
    Ok(0)
}

/// "512", "64k", "10M", "1g", "-1" → bytes.
pub fn parse_bytes(text: &str, flag: &str) -> anyhow::Result<i64> {
    let t = text.trim().to_ascii_lowercase();
    if t == "-1" {
        return Ok(-1);
    }
    let t = t.trim_end_matches('b');
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num
        .parse()
        .with_context(|| format!("{flag} {text:?}: expected a size like 512, 64k, 10m or 1g"))?;
    Ok((n * mult as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("512", "x").unwrap(), 512);
        assert_eq!(parse_bytes("64k", "x").unwrap(), 65536);
        assert_eq!(parse_bytes("10M", "x").unwrap(), 10 << 20);
        assert_eq!(parse_bytes("1gb", "x").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("-1", "x").unwrap(), -1);
        assert!(parse_bytes("lots", "x").is_err());
    }
}
