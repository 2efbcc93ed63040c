//! Moving images in and out: `load`, `save`, `import`, `pull`, `push`.

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

/// The `X-Registry-Auth` header for `image`'s registry from `~/.docker/config.json`
/// (`e30=`, i.e. `{}`, when there is nothing: anonymous, as docker sends it).
pub fn registry_auth_for(image: &str) -> String {
    let registry = match vessel_image::Reference::parse(image) {
        Ok(r) => r.registry,
        Err(_) => return "e30=".into(),
    };
    let path = vessel_distribution::docker_config::default_path();
    let creds = vessel_distribution::docker_config::DockerConfig::load(&path)
        .and_then(|c| c.credentials(&registry));
    match creds {
        Ok(Some(mut c)) => {
            if c.serveraddress.is_empty() {
                c.serveraddress = registry;
            }
            c.to_registry_auth_header()
        }
        Ok(None) => "e30=".into(),
        Err(e) => {
            eprintln!("WARNING: ignoring stored credentials: {e}");
            "e30=".into()
        }
    }
}

/// Pulls `image`, printing docker-like status lines to `out` (stderr during `run`); on a
/// terminal, per-layer progress bars instead.
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
    let auth = registry_auth_for(image);
    let resp = c.request_with(
        "POST",
        &format!("/images/create{q}"),
        &[("X-Registry-Auth", auth.as_str())],
        Body::Empty,
    )?;
    render_progress(resp, quiet, out)
}

/// Shows a pull/push JSON message stream: indicatif bars per layer when stderr is a
/// terminal, otherwise one line per state change (byte ticks would flood a log).
fn render_progress(resp: impl Read, quiet: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    if quiet {
        return json_stream(resp, |_| {});
    }
    if !io::stderr().is_terminal() {
        return json_stream(resp, |m| {
            if m["progressDetail"]
                .as_object()
                .is_some_and(|o| !o.is_empty())
            {
                return;
            }
            if let Some(line) = status_line(m) {
                let _ = writeln!(out, "{line}");
            }
        });
    }
    let multi = indicatif::MultiProgress::new();
    let mut bars: std::collections::HashMap<String, indicatif::ProgressBar> =
        std::collections::HashMap::new();
    let style = indicatif::ProgressStyle::with_template(
        "{prefix}: {msg:<12} [{bar:40}] {bytes}/{total_bytes}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    let plain = indicatif::ProgressStyle::with_template("{prefix}: {msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    let result = json_stream(resp, |m| {
        let status = m["status"].as_str().unwrap_or_default();
        let id = m["id"].as_str().unwrap_or_default();
        // Per-layer lines have a 12-hex id; the first line's id is the tag.
        let is_layer = id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_layer {
            if let Some(line) = status_line(m) {
                let _ = multi.println(line);
            }
            return;
        }
        let bar = bars.entry(id.to_string()).or_insert_with(|| {
            let b = multi.add(indicatif::ProgressBar::new(0));
            b.set_style(plain.clone());
            b.set_prefix(id.to_string());
            b
        });
        let detail = &m["progressDetail"];
        if let (Some(cur), Some(total)) = (detail["current"].as_u64(), detail["total"].as_u64()) {
            bar.set_style(style.clone());
            bar.set_length(total);
            bar.set_position(cur);
        } else {
            bar.set_style(plain.clone());
        }
        bar.set_message(status.to_string());
    });
    for b in bars.values() {
        b.abandon();
    }
    result
}

fn status_line(m: &Value) -> Option<String> {
    if m.get("aux").is_some() {
        return None;
    }
    let status = m["status"].as_str().unwrap_or("");
    let line = match m["id"].as_str() {
        Some(id) if !id.is_empty() => format!("{id}: {status}"),
        _ => status.to_string(),
    };
    (!line.is_empty()).then_some(line)
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

#[derive(clap::Args)]
pub struct PushArgs {
    /// Push all tags of an image to the repository (not supported yet: pushes one tag)
    #[arg(short = 'a', long)]
    all_tags: bool,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    quiet: bool,
    /// NAME[:TAG]
    image: String,
}

pub fn push(c: &Client, a: PushArgs) -> anyhow::Result<()> {
    if a.all_tags {
        anyhow::bail!("--all-tags is not supported yet; push each tag");
    }
    let (repo, tag) = split_ref(&a.image);
    let q = query(&[("tag", Some(tag.unwrap_or_else(|| "latest".into())))]);
    let auth = registry_auth_for(&a.image);
    let resp = c.request_with(
        "POST",
        &format!("/images/{repo}/push{q}"),
        &[("X-Registry-Auth", auth.as_str())],
        Body::Empty,
    )?;
    render_progress(resp, a.quiet, &mut io::stdout().lock())?;
    if a.quiet {
        println!("{}", a.image);
    }
    Ok(())
}
