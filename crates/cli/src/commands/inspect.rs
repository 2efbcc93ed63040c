//! `vessel inspect`: containers first, then images, networks and volumes on 404, printed as
//! docker does (one indented JSON array of the daemon's bodies, key order kept).

use anyhow::Context;
use serde_json::Value;

use super::Exit;
use crate::client::{enc, Client, ClientError};
use crate::format::json_array;
use crate::template::Template;

#[derive(clap::Args)]
pub struct Args {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    format: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short = 's', long)]
    size: bool,
    /// Only inspect objects of the given type (container, image, network, volume)
    #[arg(long = "type")]
    kind: Option<String>,
    #[arg(required = true)]
    names: Vec<String>,
}

fn path(kind: &str, name: &str, size: bool) -> String {
    let n = enc(name);
    match kind {
        "containers" => format!("/containers/{n}/json{}", if size { "?size=1" } else { "" }),
        "images" => format!("/images/{n}/json"),
        "networks" => format!("/networks/{n}"),
        _ => format!("/volumes/{n}"),
    }
}

fn no_such(kind: &str, name: &str) -> String {
    match kind {
        "containers" => format!("Error response from daemon: No such container: {name}"),
        "images" => format!("Error response from daemon: No such image: {name}"),
        "networks" => format!("Error response from daemon: network {name} not found"),
        "volumes" => format!("Error response from daemon: get {name}: no such volume"),
        _ => format!("Error: No such object: {name}"),
    }
}

/// Prints the collected documents; `failed` makes the exit code 1 after printing.
fn emit(docs: Vec<String>, format: Option<&str>, failed: bool) -> anyhow::Result<()> {
    match format {
        None => print!("{}", json_array(&docs)),
        Some(f) => {
            let t = Template::parse(&f.replace("\\t", "\t").replace("\\n", "\n"))?;
            let mut out = String::new();
            for d in &docs {
                let v: Value = serde_json::from_str(d).context("decoding the daemon's reply")?;
                out.push_str(&t.render(&v)?);
                out.push('\n');
            }
            print!("{out}");
        }
    }
    if failed {
        return Err(Exit(1, String::new()).into());
    }
    Ok(())
}

fn fetch(c: &Client, p: &str) -> Result<String, ClientError> {
    Ok(String::from_utf8_lossy(&c.call("GET", p, crate::http::Body::Empty)?).into_owned())
}

/// `container inspect`, `image inspect`, `volume inspect`: one kind only.
pub fn typed(c: &Client, kind: &str, names: &[String], format: Option<&str>) -> anyhow::Result<()> {
    let mut docs = Vec::new();
    let mut failed = false;
    for n in names {
        match fetch(c, &path(kind, n, false)) {
            Ok(d) => docs.push(d),
            Err(e) => {
                failed = true;
                eprintln!("{e}");
            }
        }
    }
    emit(docs, format, failed)
}

pub fn run(c: &Client, a: Args) -> anyhow::Result<()> {
    let kinds: Vec<&str> = match a.kind.as_deref() {
        None => vec!["containers", "images", "networks", "volumes"],
        Some("container") => vec!["containers"],
        Some("image") => vec!["images"],
        Some("network") => vec!["networks"],
        Some("volume") => vec!["volumes"],
        Some(other) => {
            return Err(Exit(1, format!("\"{other}\" is not a valid value for --type")).into())
        }
    };
    let mut docs = Vec::new();
    let mut failed = false;
    'names: for n in &a.names {
        for kind in &kinds {
            match fetch(c, &path(kind, n, a.size)) {
                Ok(d) => {
                    docs.push(d);
                    continue 'names;
                }
                // Only "not found" moves on to the next kind; anything else (an ambiguous
                // prefix, a dead daemon) is the answer.
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    failed = true;
                    eprintln!("{e}");
                    continue 'names;
                }
            }
        }
        failed = true;
        let msg = if kinds.len() == 1 {
            no_such(kinds[0], n)
        } else {
            no_such("", n)
        };
        eprintln!("{msg}");
    }
    emit(docs, a.format.as_deref(), failed)
}
