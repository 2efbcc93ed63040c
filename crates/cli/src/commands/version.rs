//! `vessel version`: client and server sections laid out like docker's.

use serde_json::{json, Value};

use crate::client::Client;
use crate::template::Template;

#[derive(clap::Args)]
pub struct Args {
    /// Format output using a custom template ('json' or a Go template)
    #[arg(short = 'f', long)]
    format: Option<String>,
}

pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn row(out: &mut String, indent: &str, k: &str, v: &str) {
    let label = format!("{k}:");
    out.push_str(&format!(
        "{indent}{label:<width$}{v}\n",
        width = 20 - indent.len()
    ));
}

pub fn run(c: &Client, a: Args) -> anyhow::Result<()> {
    let client = json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": "1.41",
        "Os": "linux",
        "Arch": arch(),
        "Context": "default",
    });
    let server: Result<Value, _> = c.get_json("/version");
    if let Some(f) = &a.format {
        let data = json!({"Client": client, "Server": server.as_ref().ok()});
        if f == "json" {
            println!("{data}");
        } else {
            println!("{}", Template::parse(f)?.render(&data)?);
        }
        return Ok(server.map(|_| ())?);
    }
    let mut out = String::from("Client:\n");
    row(&mut out, " ", "Version", env!("CARGO_PKG_VERSION"));
    let api = c.api_version().unwrap_or_else(|_| "1.41".into());
    row(&mut out, " ", "API version", &api);
    row(&mut out, " ", "OS/Arch", &format!("linux/{}", arch()));
    row(&mut out, " ", "Context", "default");
    print!("{out}");
    let server = server?;
    let mut out = String::new();
    let platform = server["Platform"]["Name"].as_str().unwrap_or("");
    out.push_str(&format!(
        "\nServer:{}{}\n",
        if platform.is_empty() { "" } else { " " },
        platform
    ));
    let s = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_string();
    let empty = vec![];
    let components = server["Components"].as_array().unwrap_or(&empty);
    if components.is_empty() {
        out.push_str(" Engine:\n");
        row(&mut out, "  ", "Version", &s(&server, "Version"));
        row(
            &mut out,
            "  ",
            "API version",
            &format!(
                "{} (minimum version {})",
                s(&server, "ApiVersion"),
                s(&server, "MinAPIVersion")
            ),
        );
        row(
            &mut out,
            "  ",
            "OS/Arch",
            &format!("{}/{}", s(&server, "Os"), s(&server, "Arch")),
        );
    }
    for comp in components {
        let name = s(comp, "Name");
        out.push_str(&format!(" {name}:\n"));
        row(&mut out, "  ", "Version", &s(comp, "Version"));
        let d = &comp["Details"];
        if name == "Engine" {
            row(
                &mut out,
                "  ",
                "API version",
                &format!(
                    "{} (minimum version {})",
                    s(d, "ApiVersion"),
                    s(d, "MinAPIVersion")
                ),
            );
            for (k, label) in [
                ("GoVersion", "Go version"),
                ("GitCommit", "Git commit"),
                ("BuildTime", "Built"),
            ] {
                if !s(d, k).is_empty() {
                    row(&mut out, "  ", label, &s(d, k));
                }
            }
            row(
                &mut out,
                "  ",
                "OS/Arch",
                &format!("{}/{}", s(d, "Os"), s(d, "Arch")),
            );
            row(&mut out, "  ", "Experimental", &s(d, "Experimental"));
        } else if let Some(m) = d.as_object() {
            for (k, v) in m {
                row(&mut out, "  ", k, v.as_str().unwrap_or(""));
            }
        }
    }
    print!("{out}");
    Ok(())
}
