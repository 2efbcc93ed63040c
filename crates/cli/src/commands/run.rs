//! `vessel run` and `vessel create`, in the docker CLI's order: create (pull on 404), attach
//! (101), wait (headers first), start, then stream until the container exits.

use std::io::{self, Read, Write};

use clap::ArgAction;
use serde_json::Value;

use super::{imgio, Exit};
use crate::client::{enc, query, Client, ClientError};
use crate::http::Body;
use crate::runopts::{body::CreateBody, ContainerOpts, Env};
use crate::{stream, tty};

#[derive(clap::Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    detach: bool,
    /// Print help
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    #[command(flatten)]
    opts: ContainerOpts,
}

#[derive(clap::Args)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    /// Print help
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
    #[command(flatten)]
    opts: ContainerOpts,
}

/// docker/cli `toStatusError`: the exit code a failed start maps to.
pub fn start_error_code(msg: &str) -> i32 {
    if msg.contains("executable file not found")
        || msg.contains("no such file or directory")
        || msg.contains("system cannot find the file specified")
    {
        127
    } else if msg.contains("permission denied") || msg.contains("is a directory") {
        126
    } else {
        125
    }
}

fn status_exit(e: ClientError) -> anyhow::Error {
    let code = match &e {
        ClientError::Api { message, .. } => start_error_code(message),
        _ => 125,
    };
    Exit(code, e.to_string()).into()
}

fn build_body(opts: &ContainerOpts, detached: bool) -> anyhow::Result<CreateBody> {
    let lookup = |k: &str| std::env::var(k).ok();
    let read = |p: &str| std::fs::read_to_string(p);
    let console = if opts.tty {
        tty::size().map(|(r, c)| [r, c]).unwrap_or([0, 0])
    } else {
        [0, 0]
    };
    let env = Env {
        lookup: &lookup,
        read_file: &read,
        cwd: std::env::current_dir().unwrap_or_default(),
        console,
    };
    opts.to_body(detached, &env).map_err(super::flag_error)
}

/// The reference as docker prints it in "Unable to find image" (tag defaulted).
fn display_ref(image: &str) -> String {
    let (_, tag) = super::images::split_ref(image);
    if tag.is_none() && !image.contains('@') {
        format!("{image}:latest")
    } else {
        image.to_string()
    }
}

/// Creates the container, pulling the image once if the daemon does not have it.
fn create_container(c: &Client, opts: &ContainerOpts, body: &CreateBody) -> anyhow::Result<String> {
    let data = serde_json::to_vec(body)?;
    let path = format!(
        "/containers/create{}",
        query(&[("name", opts.name.clone())])
    );
    if opts.pull == "always" {
        imgio::pull_image(c, opts.image(), None, opts.quiet, &mut io::stderr())
            .map_err(|e| Exit(125, format!("{e}")))?;
    }
    let attempt = |c: &Client| -> Result<Vec<u8>, ClientError> {
        c.call("POST", &path, Body::Bytes(&data, "application/json"))
    };
    let reply = match attempt(c) {
        Ok(r) => r,
        Err(e) if e.is_not_found() && opts.pull != "never" => {
            eprintln!(
                "Unable to find image '{}' locally",
                display_ref(opts.image())
            );
            if let Err(pe) = imgio::pull_image(c, opts.image(), None, opts.quiet, &mut io::stderr())
            {
                let msg = match pe.downcast_ref::<ClientError>() {
                    Some(ce) => ce.to_string(),
                    None => format!("Error response from daemon: {pe}"),
                };
                return Err(Exit(125, msg).into());
            }
            attempt(c).map_err(|e| Exit(125, e.to_string()))?
        }
        Err(e) => return Err(Exit(125, e.to_string()).into()),
    };
    let v: Value = crate::client::decode("container create", &reply)?;
    if let Some(w) = v["Warnings"].as_array() {
        for w in w.iter().filter_map(Value::as_str) {
            eprintln!("WARNING: {w}");
        }
    }
    let id = v["Id"].as_str().unwrap_or_default().to_string();
    if let Some(f) = &opts.cidfile {
        std::fs::write(f, &id).map_err(|e| {
            Exit(
                125,
                format!("failed to write the container ID to the file: {e}"),
            )
        })?;
    }
    Ok(id)
}

pub fn create(c: &Client, a: CreateArgs) -> anyhow::Result<()> {
    let mut body = build_body(&a.opts, false)?;
    body.stdin_once = false;
    let id = create_container(c, &a.opts, &body)?;
    println!("{id}");
    Ok(())
}

/// Sends the terminal size now and on every SIGWINCH; forwards SIGINT/SIGTERM/... to the
/// container when `proxy` (docker's --sig-proxy, only without a TTY).
pub fn watch_terminal(c: &Client, resize_path: Option<String>, kill_path: Option<String>) {
    let mut signals = Vec::new();
    if resize_path.is_some() {
        signals.push(libc::SIGWINCH);
    }
    if kill_path.is_some() {
        signals.extend([
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGUSR2,
        ]);
    }
    if signals.is_empty() {
        return;
    }
    let c2 = c.fork();
    let resize = resize_path.clone();
    let send_resize = move |c: &Client| {
        if let (Some(p), Some((h, w))) = (&resize, tty::size()) {
            let _ = c.call("POST", &format!("{p}?h={h}&w={w}"), Body::Empty);
        }
    };
    send_resize(c);
    tty::watch_signals(&signals, move |sig| {
        if sig == libc::SIGWINCH {
            send_resize(&c2);
        } else if let Some(k) = &kill_path {
            let _ = c2.post(&format!("{k}?signal={}", tty::signal_name(sig)));
        }
    });
}

pub fn run(c: &Client, a: RunArgs) -> anyhow::Result<()> {
    let opts = &a.opts;
    if a.detach && !opts.attach.is_empty() {
        return Err(super::flag_error("Conflicting options: -a and -d"));
    }
    let body = build_body(opts, a.detach)?;
    if !a.detach && body.attach_stdin && body.tty && !tty::stdin_is_tty() {
        return Err(Exit(1, "the input device is not a TTY".into()).into());
    }
    let id = create_container(c, opts, &body)?;
    let cid = enc(&id);

    if a.detach {
        c.post(&format!("/containers/{cid}/start"))
            .map_err(status_exit)?;
        println!("{id}");
        return Ok(());
    }

    let attached = body.attach_stdin || body.attach_stdout || body.attach_stderr;
    let hijack = if attached {
        let q = query(&[
            ("stderr", super::qbool(body.attach_stderr)),
            ("stdin", super::qbool(body.attach_stdin)),
            ("stdout", super::qbool(body.attach_stdout)),
            ("stream", Some("1".into())),
        ]);
        Some(
            c.hijack("POST", &format!("/containers/{cid}/attach{q}"), None)
                .map_err(|e| Exit(125, e.to_string()))?,
        )
    } else {
        None
    };
    let condition = if body.host_config.auto_remove {
        "removed"
    } else {
        "next-exit"
    };
    let mut wait = c
        .request_fresh(
            "POST",
            &format!("/containers/{cid}/wait?condition={condition}"),
            Body::Empty,
        )
        .map_err(|e| Exit(125, e.to_string()))?;

    if let Err(e) = c.post(&format!("/containers/{cid}/start")) {
        if body.host_config.auto_remove {
            let _ = wait.read_to_end(&mut Vec::new());
        }
        return Err(status_exit(e));
    }

    let raw = (body.tty && body.attach_stdin && tty::stdin_is_tty())
        .then(tty::RawMode::enter)
        .flatten();
    let resize = (body.tty && tty::stdout_is_tty()).then(|| format!("/containers/{cid}/resize"));
    let kill = (!body.tty && opts.sig_proxy).then(|| format!("/containers/{cid}/kill"));
    watch_terminal(c, resize, kill);

    if let Some(h) = hijack {
        if let Err(e) = stream::session(h, body.attach_stdin, body.tty) {
            drop(raw);
            return Err(Exit(125, format!("{e}")).into());
        }
    }
    drop(raw);
    let mut reply = Vec::new();
    wait.read_to_end(&mut reply)
        .map_err(|e| Exit(125, format!("waiting for the container: {e}")))?;
    let v: Value = serde_json::from_slice(&reply).unwrap_or(Value::Null);
    if let Some(m) = v["Error"]["Message"].as_str() {
        if !m.is_empty() {
            let _ = writeln!(io::stderr(), "Error waiting for container: {m}");
            return Err(Exit(125, String::new()).into());
        }
    }
    let code = v["StatusCode"].as_i64().unwrap_or(125) as i32;
    if code != 0 {
        return Err(Exit(code, String::new()).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_errors_map_like_docker() {
        assert_eq!(
            start_error_code("exec: \"httpd\": executable file not found in $PATH: unknown"),
            127
        );
        assert_eq!(start_error_code("open /x: no such file or directory"), 127);
        assert_eq!(start_error_code("exec /etc: permission denied"), 126);
        assert_eq!(start_error_code("cgroup error"), 125);
        assert_eq!(display_ref("bb"), "bb:latest");
        assert_eq!(display_ref("bb:1"), "bb:1");
    }
}
