//! `vessel exec`: create an exec instance, start it hijacked, exit with its code.

use clap::ArgAction;
use serde::Serialize;
use serde_json::Value;

use super::Exit;
use crate::client::{enc, Client};
use crate::http::Body;
use crate::runopts::parse;
use crate::{stream, tty};

#[derive(clap::Args)]
pub struct Args {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    tty: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    env_file: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long)]
    workdir: Option<String>,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    privileged: bool,
    /// Override the key sequence for detaching a container
    #[arg(long = "detach-keys")]
    detach_keys: Option<String>,
    container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, action = ArgAction::Append)]
    cmd: Vec<String>,
}

/// The exec create body, in the docker CLI's field order (transcript 08_exec).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ExecBody {
    user: String,
    privileged: bool,
    tty: bool,
    attach_stdin: bool,
    attach_stderr: bool,
    attach_stdout: bool,
    detach: bool,
    detach_keys: String,
    env: Option<Vec<String>>,
    working_dir: String,
    cmd: Vec<String>,
}

pub fn run(c: &Client, a: Args) -> anyhow::Result<()> {
    let lookup = |k: &str| std::env::var(k).ok();
    let mut env = Vec::new();
    for f in &a.env_file {
        let content = std::fs::read_to_string(f).map_err(|e| Exit(1, format!("open {f}: {e}")))?;
        env.extend(parse::env_file(&content, f, &lookup).map_err(|e| Exit(1, e))?);
    }
    for e in &a.env {
        if let Some(v) = parse::env_value(e, &lookup).map_err(|e| Exit(1, e))? {
            env.push(v);
        }
    }
    if !a.detach && a.interactive && a.tty && !tty::stdin_is_tty() {
        return Err(Exit(1, "the input device is not a TTY".into()).into());
    }
    let ctr: Value = super::inspect_container(c, &a.container)?;
    if ctr["State"]["Running"] != Value::Bool(true) {
        return Err(Exit(
            1,
            format!(
                "Error response from daemon: container {} is not running",
                ctr["Id"].as_str().unwrap_or(&a.container)
            ),
        )
        .into());
    }
    let body = ExecBody {
        user: a.user.clone().unwrap_or_default(),
        privileged: a.privileged,
        tty: a.tty,
        attach_stdin: a.interactive && !a.detach,
        attach_stderr: !a.detach,
        attach_stdout: !a.detach,
        detach: a.detach,
        detach_keys: a.detach_keys.clone().unwrap_or_default(),
        env: (!env.is_empty()).then_some(env),
        working_dir: a.workdir.clone().unwrap_or_default(),
        cmd: a.cmd.clone(),
    };
    let data = serde_json::to_vec(&body)?;
    let reply = c.call(
        "POST",
        &format!("/containers/{}/exec", enc(&a.container)),
        Body::Bytes(&data, "application/json"),
    )?;
    let v: Value = crate::client::decode("exec create", &reply)?;
    let id = v["Id"].as_str().unwrap_or_default().to_string();
    if a.detach {
        let start = serde_json::json!({"Detach": true, "Tty": a.tty}).to_string();
        c.call(
            "POST",
            &format!("/exec/{id}/start"),
            Body::Bytes(start.as_bytes(), "application/json"),
        )?;
        return Ok(());
    }
    let start = format!("{{\"Detach\":false,\"Tty\":{}}}", a.tty);
    let h = c.hijack("POST", &format!("/exec/{id}/start"), Some(start.as_bytes()))?;
    let raw = (a.tty && a.interactive && tty::stdin_is_tty())
        .then(tty::RawMode::enter)
        .flatten();
    let resize = (a.tty && tty::stdout_is_tty()).then(|| format!("/exec/{id}/resize"));
    super::run::watch_terminal(c, resize, None);
    let res = stream::session(h, a.interactive, a.tty);
    drop(raw);
    res?;
    let info: Value = c.get_json(&format!("/exec/{id}/json"))?;
    let code = info["ExitCode"].as_i64().unwrap_or(0) as i32;
    if code != 0 {
        return Err(Exit(code, String::new()).into());
    }
    Ok(())
}
