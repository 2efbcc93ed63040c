//! `vessel info`: a readable summary of `GET /info`.

use serde_json::Value;

use crate::client::Client;
use crate::format::bytes_size;
use crate::template::Template;

#[derive(clap::Args)]
pub struct Args {
    /// Format output using a custom template ('json' or a Go template)
    #[arg(short = 'f', long)]
    format: Option<String>,
}

pub fn run(c: &Client, a: Args) -> anyhow::Result<()> {
    let info: Value = c.get_json("/info")?;
    match a.format.as_deref() {
        Some("json") => {
            println!("{info}");
            return Ok(());
        }
        Some(f) => {
            println!("{}", Template::parse(f)?.render(&info)?);
            return Ok(());
        }
        None => {}
    }
    let s = |k: &str| match &info[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    };
    let mut out = String::new();
    out.push_str("Client:\n");
    out.push_str(&format!(" Version:    {}\n", env!("CARGO_PKG_VERSION")));
    out.push_str(" Context:    default\n Debug Mode: false\n\nServer:\n");
    out.push_str(&format!(" Containers: {}\n", s("Containers")));
    out.push_str(&format!("  Running: {}\n", s("ContainersRunning")));
    out.push_str(&format!("  Paused: {}\n", s("ContainersPaused")));
    out.push_str(&format!("  Stopped: {}\n", s("ContainersStopped")));
    out.push_str(&format!(" Images: {}\n", s("Images")));
    let rows = [
        ("Server Version", "ServerVersion"),
        ("Storage Driver", "Driver"),
        ("Logging Driver", "LoggingDriver"),
        ("Cgroup Driver", "CgroupDriver"),
        ("Cgroup Version", "CgroupVersion"),
        ("Default Runtime", "DefaultRuntime"),
        ("Kernel Version", "KernelVersion"),
        ("Operating System", "OperatingSystem"),
        ("OSType", "OSType"),
        ("Architecture", "Architecture"),
        ("CPUs", "NCPU"),
    ];
    for (label, key) in rows {
        if !info[key].is_null() {
            out.push_str(&format!(" {label}: {}\n", s(key)));
        }
    }
    if let Some(rt) = info["Runtimes"].as_object() {
        let names: Vec<&str> = rt.keys().map(String::as_str).collect();
        out.push_str(&format!(" Runtimes: {}\n", names.join(" ")));
    }
    if let Some(m) = info["MemTotal"].as_f64() {
        out.push_str(&format!(" Total Memory: {}\n", bytes_size(m)));
    }
    for (label, key) in [
        ("Name", "Name"),
        ("ID", "ID"),
        ("Docker Root Dir", "DockerRootDir"),
        ("Debug Mode", "Debug"),
        ("Experimental", "ExperimentalBuild"),
        ("Live Restore Enabled", "LiveRestoreEnabled"),
    ] {
        if !info[key].is_null() {
            out.push_str(&format!(" {label}: {}\n", s(key)));
        }
    }
    if let Some(w) = info["Warnings"].as_array() {
        let mut err = String::new();
        for x in w {
            err.push_str(&format!("{}\n", x.as_str().unwrap_or("")));
        }
        eprint!("{err}");
    }
    print!("{out}");
    Ok(())
}
