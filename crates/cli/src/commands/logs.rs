//! `vessel logs`: inspect for the TTY setting, then stream (framed unless TTY).

use serde_json::Value;

use crate::client::{enc, query, Client};
use crate::format::{now_unix, parse_rfc3339};
use crate::http::Body;
use crate::runopts::parse::go_duration;
use crate::stream;

#[derive(clap::Args)]
pub struct Args {
    /// Follow log output
    #[arg(short = 'f', long)]
    follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    timestamps: bool,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)
    #[arg(long)]
    since: Option<String>,
    /// Show logs before a timestamp or relative
    #[arg(long)]
    until: Option<String>,
    /// Show extra details provided to logs
    #[arg(long)]
    details: bool,
    container: String,
}

/// Docker's `--since`/`--until` values: unix seconds, RFC 3339, or a Go duration before now.
pub fn time_arg(v: &str) -> Result<String, String> {
    if v.chars().all(|c| c.is_ascii_digit() || c == '.') && !v.is_empty() {
        return Ok(v.to_string());
    }
    if let Some(t) = parse_rfc3339(v) {
        return Ok(t.to_string());
    }
    if let Ok(ns) = go_duration(v) {
        return Ok((now_unix() - ns / 1_000_000_000).to_string());
    }
    Err(format!("invalid value for \"since\"/\"until\": {v}"))
}

pub fn run(c: &Client, a: Args) -> anyhow::Result<()> {
    let ctr: Value = super::inspect_container(c, &a.container)?;
    let tty = ctr["Config"]["Tty"].as_bool().unwrap_or(false);
    let id = ctr["Id"].as_str().unwrap_or(&a.container).to_string();
    let since = a
        .since
        .as_deref()
        .map(time_arg)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let until = a
        .until
        .as_deref()
        .map(time_arg)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let q = query(&[
        ("details", super::qbool(a.details)),
        ("follow", super::qbool(a.follow)),
        ("since", since),
        ("stderr", Some("1".into())),
        ("stdout", Some("1".into())),
        ("tail", Some(a.tail.clone())),
        ("timestamps", super::qbool(a.timestamps)),
        ("until", until),
    ]);
    let mut resp = c.request(
        "GET",
        &format!("/containers/{}/logs{q}", enc(&id)),
        Body::Empty,
    )?;
    stream::print_output(&mut resp, tty)?;
    Ok(())
}
