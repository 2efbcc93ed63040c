//! Moving images in and out: `load`, `save`, `import`, `pull`.

use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};

use anyhow::Context;
use serde_json::Value;

use super::images::split_ref;
use crate::client::{query, Client};
use crate::http::Body;

#[derive(clap::Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long)]
    input: Option<String>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    quiet: bool,
}

#[derive(clap::Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    output: Option<String>,
    #[arg(required = true)]
    images: Vec<String>,
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long)]
    change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long)]
    message: Option<String>,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    platform: Option<String>,
    /// file|URL|- to import
    source: String,
    /// REPOSITORY[:TAG]
    reference: Option<String>,
}

#[derive(clap::Args)]
pub struct PullArgs {
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Set platform if server is multi-platform capable
    #[arg(long)]
    platform: Option<String>,
    image: String,
}

/// Reads a JSON message stream (load, import, pull, build), calling `each` per message; an
/// `error` message ends it with that error.
pub fn json_stream(r: impl Read, mut each: impl FnMut(&Value)) -> anyhow::Result<()> {
    for msg in serde_json::Deserializer::from_reader(r).into_iter::<Value>() {
        let msg = msg.context("reading the daemon's progress stream")?;
        if let Some(e) = msg["errorDetail"]["message"]
            .as_str()
            .or(msg["error"].as_str())
        {
            return Err(super::Exit(1, e.to_string()).into());
        }
        each(&msg);
    }
    Ok(())
}

pub fn load(c: &Client, a: LoadArgs) -> anyhow::Result<()> {
    let mut input: Box<dyn Read> = match &a.input {
        Some(p) => Box::new(File::open(p).with_context(|| format!("open {p}"))?),
        None => {
            if io::stdin().is_terminal() {
                anyhow::bail!("requested load from stdin, but stdin is empty");
            }
            Box::new(io::stdin().lock())
        }
    };
    let q = query(&[("quiet", super::qbool(a.quiet))]);
    let resp = c.request(
        "POST",
        &format!("/images/load{q}"),
        Body::Stream(&mut input, "application/x-tar"),
    )?;
    let is_json = resp
        .header("Content-Type")
        .is_some_and(|t| t.contains("json"));
    if !is_json {
        let mut resp = resp;
        io::copy(&mut resp, &mut io::stdout().lock())?;
        return Ok(());
    }
    let mut out = io::stdout().lock();
    json_stream(resp, |m| {
        if let Some(s) = m["stream"].as_str() {
            let _ = out.write_all(s.as_bytes());
        } else if let Some(s) = m["status"].as_str() {
            let _ = writeln!(out, "{s}");
        }
    })
}

pub fn save(c: &Client, a: SaveArgs) -> anyhow::Result<()> {
    if a.output.is_none() && io::stdout().is_terminal() {
        anyhow::bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    let names: Vec<(&str, Option<String>)> = a
        .images
        .iter()
        .map(|n| ("names", Some(n.clone())))
        .collect();
    let mut resp = c.request("GET", &format!("/images/get{}", query(&names)), Body::Empty)?;
    match &a.output {
        Some(p) => {
            // Write next to the target and rename, so a failed save leaves no partial file.
            let tmp = format!("{p}.vessel-tmp");
            let mut f = File::create(&tmp).with_context(|| format!("create {tmp}"))?;
            let r = io::copy(&mut resp, &mut f).and_then(|_| f.sync_all());
            if let Err(e) = r {
                let _ = std::fs::remove_file(&tmp);
                return Err(e).context("writing the image archive");
            }
            std::fs::rename(&tmp, p).with_context(|| format!("rename {tmp} to {p}"))?;
        }
        None => {
            io::copy(&mut resp, &mut io::stdout().lock())?;
        }
    }
    Ok(())
}

pub fn import(c: &Client, a: ImportArgs) -> anyhow::Result<()> {
    let (repo, tag) = match &a.reference {
        Some(r) => {
            let (repo, tag) = split_ref(r);
            (Some(repo), tag)
        }
        None => (None, None),
    };
    let is_url = a.source.starts_with("http://") || a.source.starts_with("https://");
    let mut pairs = vec![
        (
            "fromSrc",
            Some(if is_url { a.source.clone() } else { "-".into() }),
        ),
        ("repo", repo),
        ("tag", tag),
        ("message", a.message.clone()),
        ("platform", a.platform.clone()),
    ];
    for ch in &a.change {
        pairs.push(("changes", Some(ch.clone())));
    }
    let path = format!("/images/create{}", query(&pairs));
    let resp = if is_url {
        c.request("POST", &path, Body::Empty)?
    } else if a.source == "-" {
        let mut stdin = io::stdin().lock();
        c.request("POST", &path, Body::Stream(&mut stdin, "application/x-tar"))?
    } else {
        let mut f = File::open(&a.source).with_context(|| format!("open {}", a.source))?;
        c.request("POST", &path, Body::Stream(&mut f, "application/x-tar"))?
    };
    json_stream(resp, |m| {
        if let Some(s) = m["status"].as_str() {
            println!("{s}");
        }
    })
}

/// Pulls `image`, printing docker-like status lines to `out` (stderr during `run`).
pub fn pull_image(
    c: &Client,
    image: &str,
    platform: Option<&str>,
    quiet: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let (repo, tag) = split_ref(image);
    let tag = if image.contains('@') {
        None
    } else {
        Some(tag.unwrap_or_else(|| "latest".into()))
    };
    let q = query(&[
        ("fromImage", Some(repo)),
        ("tag", tag),
        ("platform", platform.map(str::to_string)),
    ]);
    let resp = c.request_with(
        "POST",
        &format!("/images/create{q}"),
        &[("X-Registry-Auth", "e30=")],
        Body::Empty,
    )?;
    json_stream(resp, |m| {
        if quiet {
            return;
        }
        let status = m["status"].as_str().unwrap_or("");
        // Per-layer progress ticks would flood a log; keep the state changes.
        if m["progressDetail"]
            .as_object()
            .is_some_and(|o| !o.is_empty())
        {
            return;
        }
        let line = match m["id"].as_str() {
            Some(id) => format!("{id}: {status}"),
            None => status.to_string(),
        };
        if !line.is_empty() {
            let _ = writeln!(out, "{line}");
        }
    })
}

pub fn pull(c: &Client, a: PullArgs) -> anyhow::Result<()> {
    pull_image(
        c,
        &a.image,
        a.platform.as_deref(),
        a.quiet,
        &mut io::stdout().lock(),
    )?;
    if a.quiet {
        println!("{}", a.image);
    }
    Ok(())
}
