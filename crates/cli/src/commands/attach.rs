//! `vessel attach CONTAINER`: stream a running container's stdio, exit with its code.

use serde_json::Value;

use super::Exit;
use crate::client::{enc, query, Client};
use crate::{stream, tty};

#[derive(clap::Args)]
pub struct Args {
    /// Do not attach STDIN
    #[arg(long = "no-stdin")]
    no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set)]
    sig_proxy: bool,
    container: String,
}

pub fn run(c: &Client, a: Args) -> anyhow::Result<()> {
    let ctr: Value = super::inspect_container(c, &a.container)?;
    if ctr["State"]["Running"] != Value::Bool(true) {
        return Err(Exit(
            1,
            "You cannot attach to a stopped container, start it first".into(),
        )
        .into());
    }
    if ctr["State"]["Paused"] == Value::Bool(true) {
        return Err(Exit(
            1,
            "You cannot attach to a paused container, unpause it first".into(),
        )
        .into());
    }
    let id = enc(ctr["Id"].as_str().unwrap_or(&a.container));
    let is_tty = ctr["Config"]["Tty"].as_bool().unwrap_or(false);
    let stdin = !a.no_stdin && ctr["Config"]["OpenStdin"].as_bool().unwrap_or(false);
    if stdin && is_tty && !tty::stdin_is_tty() {
        return Err(Exit(1, "the input device is not a TTY".into()).into());
    }
    let q = query(&[
        ("stderr", Some("1".into())),
        ("stdin", super::qbool(stdin)),
        ("stdout", Some("1".into())),
        ("stream", Some("1".into())),
    ]);
    let h = c.hijack("POST", &format!("/containers/{id}/attach{q}"), None)?;
    let raw = (is_tty && stdin && tty::stdin_is_tty())
        .then(tty::RawMode::enter)
        .flatten();
    let resize = (is_tty && tty::stdout_is_tty()).then(|| format!("/containers/{id}/resize"));
    let kill = (!is_tty && a.sig_proxy).then(|| format!("/containers/{id}/kill"));
    super::run::watch_terminal(c, resize, kill);
    let res = stream::session(h, stdin, is_tty);
    drop(raw);
    res?;
    let after: Value = super::inspect_container(c, &a.container).unwrap_or(Value::Null);
    let code = after["State"]["ExitCode"].as_i64().unwrap_or(0) as i32;
    if after["State"]["Running"] == Value::Bool(false) && code != 0 {
        return Err(Exit(code, String::new()).into());
    }
    Ok(())
}
