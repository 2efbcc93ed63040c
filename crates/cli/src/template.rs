//! The subset of Go's text/template that `--format` needs: field paths (`{{.State.Status}}`),
//! pipelines (`{{.Names | upper}}`), the functions docker adds (`json`, `join`, `upper`,
//! `lower`, `title`, `split`, `truncate`, `pad`) plus `index`, `len`, `println`, and
//! `if`/`else`/`range`/`end` blocks. Data is JSON, as the API returns it.

use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TemplateError {
    #[error("template parsing error: {0}")]
    Parse(String),
    #[error("template: executing {0}")]
    Exec(String),
}

#[derive(Debug, Clone)]
enum Arg {
    Field(Vec<String>),
    Str(String),
    Num(f64),
}

#[derive(Debug, Clone)]
struct Cmd {
    func: Option<String>,
    args: Vec<Arg>,
}

type Pipeline = Vec<Cmd>;

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipeline),
    If(Pipeline, Vec<Node>, Vec<Node>),
    Range(Pipeline, Vec<Node>),
}

#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

fn tokenize(s: &str) -> Result<Vec<String>, TemplateError> {
    let mut toks = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' || c == '`' {
            chars.next();
            let mut lit = String::new();
            loop {
                match chars.next() {
                    None => {
                        return Err(TemplateError::Parse(format!(
                            "unterminated string in {s:?}"
                        )))
                    }
                    Some(q) if q == c => break,
                    Some('\\') if c == '"' => match chars.next() {
                        Some('n') => lit.push('\n'),
                        Some('t') => lit.push('\t'),
                        Some(o) => lit.push(o),
                        None => {}
                    },
                    Some(o) => lit.push(o),
                }
            }
            toks.push(format!("\"{lit}"));
        } else if c == '|' {
            chars.next();
            toks.push("|".into());
        } else {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '|' {
                    break;
                }
                w.push(c);
                chars.next();
            }
            toks.push(w);
        }
    }
    Ok(toks)
}

fn parse_arg(t: &str) -> Result<Arg, TemplateError> {
    if let Some(s) = t.strip_prefix('"') {
        return Ok(Arg::Str(s.to_string()));
    }
    if t == "." || t == "$" {
        return Ok(Arg::Field(vec![]));
    }
    if let Some(p) = t.strip_prefix('.').or_else(|| t.strip_prefix("$.")) {
        return Ok(Arg::Field(p.split('.').map(str::to_string).collect()));
    }
    t.parse::<f64>()
        .map(Arg::Num)
        .map_err(|_| TemplateError::Parse(format!("function {t:?} not defined")))
}

const FUNCS: &[&str] = &[
    "json", "join", "upper", "lower", "title", "split", "truncate", "pad", "index", "len",
    "println", "print", "not",
];

fn parse_pipeline(src: &str) -> Result<Pipeline, TemplateError> {
    let toks = tokenize(src)?;
    if toks.is_empty() {
        return Err(TemplateError::Parse("missing value for command".into()));
    }
    let mut out = Vec::new();
    for group in toks.split(|t| t == "|") {
        let Some(first) = group.first() else {
            return Err(TemplateError::Parse(format!("missing command in {src:?}")));
        };
        let (func, rest) = if FUNCS.contains(&first.as_str()) {
            (Some(first.clone()), &group[1..])
        } else if first.starts_with(['.', '"', '$']) || first.parse::<f64>().is_ok() {
            (None, group)
        } else {
            return Err(TemplateError::Parse(format!(
                "function {first:?} not defined"
            )));
        };
        out.push(Cmd {
            func,
            args: rest
                .iter()
                .map(|t| parse_arg(t))
                .collect::<Result<_, _>>()?,
        });
    }
    Ok(out)
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut rest = src;
        while let Some(start) = rest.find("{{") {
            let mut text = &rest[..start];
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| TemplateError::Parse("unclosed action".into()))?;
            let mut action = &after[..end];
            if let Some(a) = action.strip_prefix('-') {
                action = a;
                text = text.trim_end();
            }
            let mut trim_next = false;
            if let Some(a) = action.strip_suffix('-') {
                action = a;
                trim_next = true;
            }
            pieces.push((text.to_string(), Some(action.trim().to_string())));
            rest = &after[end + 2..];
            if trim_next {
                rest = rest.trim_start();
            }
        }
        pieces.push((rest.to_string(), None));
        let mut it = pieces.into_iter();
        let (nodes, term) = parse_nodes(&mut it)?;
        if let Some(t) = term {
            return Err(TemplateError::Parse(format!("unexpected {{{{{t}}}}}")));
        }
        Ok(Template { nodes })
    }

    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        exec(&self.nodes, data, &mut out)?;
        Ok(out)
    }
}

type Pieces = std::vec::IntoIter<(String, Option<String>)>;

/// Parses until `end`/`else` (returned) or the end of input.
fn parse_nodes(it: &mut Pieces) -> Result<(Vec<Node>, Option<String>), TemplateError> {
    let mut nodes = Vec::new();
    while let Some((text, action)) = it.next() {
        if !text.is_empty() {
            nodes.push(Node::Text(text));
        }
        let Some(a) = action else { break };
        if a == "end" || a == "else" {
            return Ok((nodes, Some(a)));
        }
        if let Some(p) = a.strip_prefix("if ") {
            let pipe = parse_pipeline(p)?;
            let (then, term) = parse_nodes(it)?;
            let els = match term.as_deref() {
                Some("else") => {
                    let (els, term) = parse_nodes(it)?;
                    if term.as_deref() != Some("end") {
                        return Err(TemplateError::Parse("unexpected EOF in if".into()));
                    }
                    els
                }
                Some("end") => vec![],
                _ => return Err(TemplateError::Parse("unexpected EOF in if".into())),
            };
            nodes.push(Node::If(pipe, then, els));
        } else if let Some(p) = a.strip_prefix("range ") {
            let pipe = parse_pipeline(p)?;
            let (body, term) = parse_nodes(it)?;
            if term.as_deref() != Some("end") {
                return Err(TemplateError::Parse("unexpected EOF in range".into()));
            }
            nodes.push(Node::Range(pipe, body));
        } else if a.starts_with("/*") {
            // comment
        } else {
            nodes.push(Node::Action(parse_pipeline(&a)?));
        }
    }
    Ok((nodes, None))
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn exec(nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), TemplateError> {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Action(p) => out.push_str(&to_text(&eval(p, dot)?)),
            Node::If(p, then, els) => {
                if truthy(&eval(p, dot)?) {
                    exec(then, dot, out)?;
                } else {
                    exec(els, dot, out)?;
                }
            }
            Node::Range(p, body) => match eval(p, dot)? {
                Value::Array(a) => {
                    for v in &a {
                        exec(body, v, out)?;
                    }
                }
                Value::Object(o) => {
                    for v in o.values() {
                        exec(body, v, out)?;
                    }
                }
                Value::Null => {}
                other => {
                    return Err(TemplateError::Exec(format!(
                        "range can't iterate over {other}"
                    )))
                }
            },
        }
    }
    Ok(())
}

fn field(dot: &Value, path: &[String]) -> Result<Value, TemplateError> {
    let mut v = dot;
    for p in path {
        v = match v {
            Value::Object(o) => match o.get(p) {
                Some(x) => x,
                None => return Ok(Value::Null),
            },
            Value::Null => return Ok(Value::Null),
            _ => {
                return Err(TemplateError::Exec(format!(
                    "can't evaluate field {p} in {v}"
                )))
            }
        };
    }
    Ok(v.clone())
}

fn arg_value(a: &Arg, dot: &Value) -> Result<Value, TemplateError> {
    match a {
        Arg::Field(p) => field(dot, p),
        Arg::Str(s) => Ok(Value::String(s.clone())),
        Arg::Num(n) => Ok(serde_json::json!(n)),
    }
}

fn eval(p: &Pipeline, dot: &Value) -> Result<Value, TemplateError> {
    let mut prev: Option<Value> = None;
    for cmd in p {
        let mut args: Vec<Value> = cmd
            .args
            .iter()
            .map(|a| arg_value(a, dot))
            .collect::<Result<_, _>>()?;
        if let Some(v) = prev.take() {
            args.push(v);
        }
        prev = Some(match &cmd.func {
            None => args.into_iter().next().unwrap_or(Value::Null),
            Some(f) => call(f, &args)?,
        });
    }
    Ok(prev.unwrap_or(Value::Null))
}

fn want<'a>(f: &str, args: &'a [Value], n: usize) -> Result<&'a [Value], TemplateError> {
    if args.len() != n {
        return Err(TemplateError::Exec(format!(
            "wrong number of args for {f}: want {n} got {}",
            args.len()
        )));
    }
    Ok(args)
}

fn call(f: &str, args: &[Value]) -> Result<Value, TemplateError> {
    let s = |v: &Value| to_text(v);
    Ok(match f {
        "json" => Value::String(want(f, args, 1)?[0].to_string()),
        "upper" => Value::String(s(&want(f, args, 1)?[0]).to_uppercase()),
        "lower" => Value::String(s(&want(f, args, 1)?[0]).to_lowercase()),
        "title" => {
            let t = s(&want(f, args, 1)?[0]);
            let mut c = t.chars();
            Value::String(
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default(),
            )
        }
        "join" => {
            let a = want(f, args, 2)?;
            let items: Vec<String> = match &a[0] {
                Value::Array(v) => v.iter().map(to_text).collect(),
                Value::Null => vec![],
                o => vec![to_text(o)],
            };
            Value::String(items.join(&s(&a[1])))
        }
        "split" => {
            let a = want(f, args, 2)?;
            Value::Array(
                s(&a[0])
                    .split(&s(&a[1]))
                    .map(|x| Value::String(x.into()))
                    .collect(),
            )
        }
        "truncate" => {
            let a = want(f, args, 2)?;
            let n = a[1].as_f64().unwrap_or(0.0) as usize;
            Value::String(s(&a[0]).chars().take(n).collect())
        }
        "pad" => {
            let a = want(f, args, 3)?;
            let l = a[1].as_f64().unwrap_or(0.0) as usize;
            let r = a[2].as_f64().unwrap_or(0.0) as usize;
            Value::String(format!("{}{}{}", " ".repeat(l), s(&a[0]), " ".repeat(r)))
        }
        "len" => serde_json::json!(match &want(f, args, 1)?[0] {
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len(),
            Value::String(t) => t.len(),
            _ => 0,
        }),
        "index" => {
            let a = want(f, args, 2)?;
            match (&a[0], &a[1]) {
                (Value::Object(o), k) => o.get(&s(k)).cloned().unwrap_or(Value::Null),
                (Value::Array(v), i) => v
                    .get(i.as_f64().unwrap_or(-1.0) as usize)
                    .cloned()
                    .ok_or_else(|| TemplateError::Exec("index out of range".into()))?,
                _ => Value::Null,
            }
        }
        "not" => Value::Bool(!truthy(&want(f, args, 1)?[0])),
        "print" => Value::String(args.iter().map(to_text).collect::<Vec<_>>().join(" ")),
        "println" => Value::String(format!(
            "{}\n",
            args.iter().map(to_text).collect::<Vec<_>>().join(" ")
        )),
        _ => return Err(TemplateError::Exec(format!("function {f:?} not defined"))),
    })
}

/// Go's default printing of a value (`%v`).
pub fn to_text(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(to_text).collect::<Vec<_>>().join(" ")),
        Value::Object(o) => format!(
            "map[{}]",
            o.iter()
                .map(|(k, v)| format!("{k}:{}", to_text(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

/// A `--format` value as docker reads it: `json`, `table [TEMPLATE]`, or a template, with
/// `\t` and `\n` escapes expanded.
pub enum Format {
    Table(Option<Template>),
    Json,
    Raw(Template),
}

impl Format {
    pub fn parse(spec: Option<&str>) -> Result<Format, TemplateError> {
        let Some(spec) = spec else {
            return Ok(Format::Table(None));
        };
        let expand = |s: &str| s.replace("\\t", "\t").replace("\\n", "\n");
        match spec.trim() {
            "" | "table" => Ok(Format::Table(None)),
            "json" => Ok(Format::Json),
            s => match s.strip_prefix("table ") {
                Some(t) => Ok(Format::Table(Some(Template::parse(&expand(t.trim()))?))),
                None => Ok(Format::Raw(Template::parse(&expand(s))?)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn r(t: &str, v: Value) -> String {
        Template::parse(t).unwrap().render(&v).unwrap()
    }

    #[test]
    fn fields_and_text() {
        let v = json!({"ID":"abc","State":{"Status":"running"},"Names":"web"});
        assert_eq!(r("{{.ID}}\t{{.Names}}", v.clone()), "abc\tweb");
        assert_eq!(r("{{.State.Status}}", v.clone()), "running");
        assert_eq!(r("{{ .Missing }}", v), "<no value>");
    }

    #[test]
    fn functions_and_pipes() {
        let v = json!({"Repository":"bb","Tag":"latest","L":{"k":"v"},"A":["x","y"]});
        assert_eq!(r("{{.Repository}}:{{.Tag}}", v.clone()), "bb:latest");
        assert_eq!(r("{{json .L}}", v.clone()), r#"{"k":"v"}"#);
        assert_eq!(r("{{index .L \"k\"}}", v.clone()), "v");
        assert_eq!(r("{{join .A \",\"}}", v.clone()), "x,y");
        assert_eq!(r("{{.Tag | upper}}", v.clone()), "LATEST");
        assert_eq!(r("{{json .}}", json!({"a":1})), r#"{"a":1}"#);
        assert_eq!(r("{{len .A}}", v), "2");
    }

    #[test]
    fn blocks() {
        let v = json!({"M":[{"D":"/a"},{"D":"/b"}],"T":true,"F":""});
        assert_eq!(r("{{range .M}}{{.D}} {{end}}", v.clone()), "/a /b ");
        assert_eq!(r("{{if .T}}yes{{else}}no{{end}}", v.clone()), "yes");
        assert_eq!(r("{{if .F}}yes{{else}}no{{end}}", v.clone()), "no");
        assert_eq!(r("a {{- .F -}} b", v), "ab");
    }

    #[test]
    fn errors() {
        assert!(matches!(
            Template::parse("{{.A"),
            Err(TemplateError::Parse(_))
        ));
        assert!(matches!(
            Template::parse("{{nosuch .A}}"),
            Err(TemplateError::Parse(_))
        ));
        assert!(matches!(
            Template::parse("{{if .A}}x"),
            Err(TemplateError::Parse(_))
        ));
        let t = Template::parse("{{.A.B}}").unwrap();
        assert!(t.render(&json!({"A":"s"})).is_err());
    }

    #[test]
    fn format_specs() {
        assert!(matches!(Format::parse(None), Ok(Format::Table(None))));
        assert!(matches!(Format::parse(Some("json")), Ok(Format::Json)));
        match Format::parse(Some("table {{.ID}}\\t{{.Image}}")).unwrap() {
            Format::Table(Some(t)) => {
                assert_eq!(t.render(&json!({"ID":"1","Image":"bb"})).unwrap(), "1\tbb")
            }
            _ => panic!(),
        }
    }
}
