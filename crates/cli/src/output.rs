//! Lists printed as tables, templates or JSON lines, the same way for every verb.

use std::io::Write;

use serde_json::Value;

use crate::format::tabulate;
use crate::template::{Format, Template, TemplateError};

/// One listing: the default columns `(header, field)` and the header of every known field, so
/// `table {{.X}}` gets docker's header for X.
pub struct Columns<'a> {
    pub default: &'a [&'a str],
    pub headers: &'a [(&'a str, &'a str)],
}

impl Columns<'_> {
    fn header_ctx(&self) -> Value {
        let mut m = serde_json::Map::new();
        for (f, h) in self.headers {
            m.insert((*f).to_string(), Value::String((*h).to_string()));
        }
        Value::Object(m)
    }

    fn default_template(&self) -> Template {
        let t: Vec<String> = self
            .default
            .iter()
            .map(|f| format!("{{{{.{f}}}}}"))
            .collect();
        Template::parse(&t.join("\t")).expect("built-in templates parse")
    }
}

pub fn print_list(fmt: &Format, cols: &Columns<'_>, rows: &[Value]) -> Result<(), TemplateError> {
    let mut out = std::io::stdout().lock();
    let text = match fmt {
        Format::Json => rows.iter().map(|r| format!("{r}\n")).collect::<String>(),
        Format::Raw(t) => {
            let mut s = String::new();
            for r in rows {
                s.push_str(&t.render(r)?);
                s.push('\n');
            }
            s
        }
        Format::Table(t) => {
            let owned;
            let t = match t {
                Some(t) => t,
                None => {
                    owned = cols.default_template();
                    &owned
                }
            };
            let mut lines = vec![t.render(&cols.header_ctx())?.replace("<no value>", "")];
            for r in rows {
                lines.push(t.render(r)?);
            }
            tabulate(&lines)
        }
    };
    let _ = out.write_all(text.as_bytes());
    Ok(())
}
