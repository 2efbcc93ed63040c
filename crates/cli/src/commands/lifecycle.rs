//! Container state changes: start, stop, restart, kill, rm, pause, unpause, wait, rename, port.

use std::io::Read;

use serde_json::Value;

use super::{each, Exit};
use crate::client::{enc, query, Client};
use crate::http::Body;
use crate::stream;

#[derive(clap::Args)]
pub struct Names {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(clap::Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    interactive: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(clap::Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(
        short = 't',
        long = "timeout",
        alias = "time",
        allow_hyphen_values = true
    )]
    timeout: Option<i64>,
    /// Signal to send to the container
    #[arg(short = 's', long)]
    signal: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(clap::Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long)]
    signal: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(clap::Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    volumes: bool,
    /// Remove the specified link
    #[arg(short = 'l', long)]
    link: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(clap::Args)]
pub struct RenameArgs {
    container: String,
    new_name: String,
}

#[derive(clap::Args)]
pub struct PortArgs {
    container: String,
    /// PRIVATE_PORT[/PROTO]
    port: Option<String>,
}

pub fn start(c: &Client, a: StartArgs) -> anyhow::Result<()> {
    if !(a.attach || a.interactive) {
        return each(
            &a.containers,
            |n| c.post(&format!("/containers/{}/start", enc(n))),
            |n, _| println!("{n}"),
        );
    }
    if a.containers.len() > 1 {
        return Err(Exit(
            1,
            "you cannot start and attach multiple containers at once".into(),
        )
        .into());
    }
    let name = &a.containers[0];
    let ctr: Value = super::inspect_container(c, name)?;
    let id = enc(ctr["Id"].as_str().unwrap_or(name));
    let tty = ctr["Config"]["Tty"].as_bool().unwrap_or(false);
    let stdin = a.interactive && ctr["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    let q = query(&[
        ("stderr", Some("1".into())),
        ("stdin", super::qbool(stdin)),
        ("stdout", Some("1".into())),
        ("stream", Some("1".into())),
    ]);
    let h = c.hijack("POST", &format!("/containers/{id}/attach{q}"), None)?;
    let mut wait = c.request_fresh(
        "POST",
        &format!("/containers/{id}/wait?condition=next-exit"),
        Body::Empty,
    )?;
    c.post(&format!("/containers/{id}/start"))?;
    let raw = (tty && stdin && crate::tty::stdin_is_tty())
        .then(crate::tty::RawMode::enter)
        .flatten();
    let resize = (tty && crate::tty::stdout_is_tty()).then(|| format!("/containers/{id}/resize"));
    super::run::watch_terminal(c, resize, (!tty).then(|| format!("/containers/{id}/kill")));
    let res = stream::session(h, stdin, tty);
    drop(raw);
    res?;
    let mut b = Vec::new();
    wait.read_to_end(&mut b)?;
    let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
    let code = v["StatusCode"].as_i64().unwrap_or(0) as i32;
    if code != 0 {
        return Err(Exit(code, String::new()).into());
    }
    Ok(())
}

/// `stop` and `restart` (same flags).
pub fn stop(c: &Client, a: StopArgs, verb: &str) -> anyhow::Result<()> {
    let q = query(&[
        ("signal", a.signal.clone()),
        ("t", a.timeout.map(|t| t.to_string())),
    ]);
    each(
        &a.containers,
        |n| c.post(&format!("/containers/{}/{verb}{q}", enc(n))),
        |n, _| println!("{n}"),
    )
}

pub fn kill(c: &Client, a: KillArgs) -> anyhow::Result<()> {
    let q = query(&[("signal", a.signal.clone())]);
    each(
        &a.containers,
        |n| c.post(&format!("/containers/{}/kill{q}", enc(n))),
        |n, _| println!("{n}"),
    )
}

pub fn rm(c: &Client, a: RmArgs) -> anyhow::Result<()> {
    let q = query(&[
        ("force", super::qbool(a.force)),
        ("link", super::qbool(a.link)),
        ("v", super::qbool(a.volumes)),
    ]);
    each(
        &a.containers,
        |n| c.delete(&format!("/containers/{}{q}", enc(n))),
        |n, _| println!("{n}"),
    )
}

/// `pause` and `unpause`.
pub fn simple(c: &Client, a: Names, verb: &str) -> anyhow::Result<()> {
    each(
        &a.containers,
        |n| c.post(&format!("/containers/{}/{verb}", enc(n))),
        |n, _| println!("{n}"),
    )
}

pub fn wait(c: &Client, a: Names) -> anyhow::Result<()> {
    each(
        &a.containers,
        |n| -> Result<Value, _> {
            let b = c.post(&format!("/containers/{}/wait", enc(n)))?;
            crate::client::decode("wait", &b)
        },
        |_, v| println!("{}", v["StatusCode"].as_i64().unwrap_or(-1)),
    )
}

pub fn rename(c: &Client, a: RenameArgs) -> anyhow::Result<()> {
    if a.new_name.trim().is_empty() {
        return Err(Exit(1, "Error: Neither old nor new names may be empty".into()).into());
    }
    c.post(&format!(
        "/containers/{}/rename{}",
        enc(&a.container),
        query(&[("name", Some(a.new_name.clone()))])
    ))?;
    Ok(())
}

pub fn port(c: &Client, a: PortArgs) -> anyhow::Result<()> {
    let ctr: Value = super::inspect_container(c, &a.container)?;
    let ports = ctr["NetworkSettings"]["Ports"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let fmt_binding = |b: &Value| {
        let ip = b["HostIp"].as_str().unwrap_or("");
        let ip = if ip.is_empty() { "0.0.0.0" } else { ip };
        let ip = if ip.contains(':') {
            format!("[{ip}]")
        } else {
            ip.to_string()
        };
        format!("{ip}:{}", b["HostPort"].as_str().unwrap_or(""))
    };
    let mut out = String::new();
    match &a.port {
        Some(p) => {
            let key = if p.contains('/') {
                p.clone()
            } else {
                format!("{p}/tcp")
            };
            let bindings = ports
                .get(&key)
                .and_then(Value::as_array)
                .filter(|b| !b.is_empty());
            let Some(bindings) = bindings else {
                return Err(Exit(
                    1,
                    format!(
                        "Error: No public port '{key}' published for {}",
                        a.container
                    ),
                )
                .into());
            };
            for b in bindings {
                out.push_str(&fmt_binding(b));
                out.push('\n');
            }
        }
        None => {
            let mut keys: Vec<&String> = ports.keys().collect();
            keys.sort();
            for k in keys {
                for b in ports[k].as_array().map(Vec::as_slice).unwrap_or(&[]) {
                    out.push_str(&format!("{k} -> {}\n", fmt_binding(b)));
                }
            }
        }
    }
    print!("{out}");
    Ok(())
}
