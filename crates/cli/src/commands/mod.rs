//! One module per verb (or verb group), each parsing its flags and calling the client.

pub mod attach;
pub mod build;
pub mod container;
pub mod cp;
pub mod daemon;
pub mod events;
pub mod exec;
pub mod export;
pub mod images;
pub mod imgio;
pub mod info;
pub mod inspect;
pub mod lifecycle;
pub mod login;
pub mod logs;
pub mod network;
pub mod prune;
pub mod ps;
pub mod registry;
pub mod run;
pub mod stats;
pub mod system;
pub mod top;
pub mod update;
pub mod version;
pub mod volume;

use serde_json::Value;

use crate::client::{enc, Client, ClientError};

/// An exit with a chosen code and an optional message for stderr (docker's `StatusError`).
#[derive(Debug, thiserror::Error)]
#[error("{1}")]
pub struct Exit(pub i32, pub String);

/// Runs `f` on each name, printing errors as docker does and going on; fails at the end if
/// any failed (exit 1, messages already printed).
pub fn each<T>(
    names: &[String],
    mut f: impl FnMut(&str) -> Result<T, ClientError>,
    mut ok: impl FnMut(&str, T),
) -> anyhow::Result<()> {
    let mut failed = false;
    for n in names {
        match f(n) {
            Ok(v) => ok(n, v),
            Err(e) => {
                eprintln!("{e}");
                failed = true;
            }
        }
    }
    if failed {
        return Err(Exit(1, String::new()).into());
    }
    Ok(())
}

/// `GET /containers/{name}/json`.
pub fn inspect_container(c: &Client, name: &str) -> Result<Value, ClientError> {
    c.get_json(&format!("/containers/{}/json", enc(name)))
}

/// The API's bool query value.
pub fn qbool(b: bool) -> Option<String> {
    b.then(|| "1".to_string())
}

/// A flag value the daemon would reject, reported like docker's flag errors (exit 125 for
/// run-like commands, else 1).
pub fn flag_error(msg: impl Into<String>) -> anyhow::Error {
    Exit(125, format!("{}\nSee 'vessel --help'.", msg.into())).into()
}
