//! Build progress as the legacy builder's JSON stream (`{"stream": …}`, `{"aux": …}`,
//! `{"errorDetail": …}`), for the API and for the CLI to print.

use crate::error::BuildError;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Text for the user (step headers, RUN output, results).
    Stream(String),
    /// The built image id (`sha256:…`).
    Aux(String),
}

pub trait Progress {
    fn emit(&mut self, ev: Event);
}

impl<F: FnMut(Event)> Progress for F {
    fn emit(&mut self, ev: Event) {
        self(ev)
    }
}

/// One message of the JSON stream.
pub fn event_json(ev: &Event) -> Value {
    match ev {
        Event::Stream(s) => json!({ "stream": s }),
        Event::Aux(id) => json!({ "aux": { "ID": id } }),
    }
}

/// The final message of a failed build; the CLI exits with `code` when present.
pub fn error_json(e: &BuildError) -> Value {
    let message = e.to_string();
    let mut detail = json!({ "message": message });
    if let Some(c) = e.code() {
        detail["code"] = json!(c);
    }
    json!({ "errorDetail": detail, "error": message })
}

/// `sha256:abcdef…` → the 12 characters Docker prints.
pub fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}
