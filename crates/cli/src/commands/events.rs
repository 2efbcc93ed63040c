//! `vessel events`: the daemon's event stream, one line per event.

use std::io::{BufRead, BufReader, Write};

use serde_json::Value;

use crate::client::{filters_json, query, Client};
use crate::http::Body;
use crate::template::{Format, Template};

#[derive(clap::Args)]
pub struct Args {
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    filter: Vec<String>,
    /// Show all events created since timestamp
    #[arg(long)]
    since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    until: Option<String>,
    /// Format output using a custom template ('json' or a Go template)
    #[arg(long)]
    format: Option<String>,
}

/// Docker's default line: `TIME TYPE ACTION ID (k=v, ...)`, attributes sorted.
pub fn line(e: &Value) -> String {
    let nanos = e["timeNano"]
        .as_i64()
        .unwrap_or_else(|| e["time"].as_i64().unwrap_or(0) * 1_000_000_000);
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let date = crate::format::utc_string(secs);
    let (day, time) = date.split_at(10);
    let time = &time[1..9];
    let mut attrs: Vec<String> = e["Actor"]["Attributes"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default();
    attrs.sort();
    let mut s = format!(
        "{day}T{time}.{frac:09}Z {} {} {}",
        e["Type"].as_str().unwrap_or(""),
        e["Action"].as_str().unwrap_or(""),
        e["Actor"]["ID"].as_str().unwrap_or("")
    );
    if !attrs.is_empty() {
        s.push_str(&format!(" ({})", attrs.join(", ")));
    }
    s
}

pub fn run(c: &Client, a: Args) -> anyhow::Result<()> {
    let time = |v: &Option<String>| {
        v.as_deref()
            .map(super::logs::time_arg)
            .transpose()
            .map_err(anyhow::Error::msg)
    };
    let q = query(&[
        (
            "filters",
            filters_json(&a.filter).map_err(anyhow::Error::msg)?,
        ),
        ("since", time(&a.since)?),
        ("until", time(&a.until)?),
    ]);
    let format = match a.format.as_deref() {
        None => None,
        Some("json") => Some(Format::Json),
        Some(f) => Some(Format::Raw(Template::parse(&f.replace("\\t", "\t"))?)),
    };
    let resp = c.request("GET", &format!("/events{q}"), Body::Empty)?;
    let mut out = std::io::stdout().lock();
    for l in BufReader::new(resp).lines() {
        let l = l?;
        if l.trim().is_empty() {
            continue;
        }
        let e: Value = serde_json::from_str(&l)?;
        let text = match &format {
            None => line(&e),
            Some(Format::Raw(t)) => t.render(&e)?,
            Some(_) => e.to_string(),
        };
        if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_line() {
        let e = serde_json::json!({"Type":"container","Action":"create","Actor":{"ID":"23e5","Attributes":{"name":"evtest","image":"bb"}},"time":1795323916,"timeNano":1795323916985700378i64});
        assert_eq!(
            super::line(&e),
            "2026-11-22T05:05:16.985700378Z container create 23e5 (image=bb, name=evtest)"
        );
    }
}
