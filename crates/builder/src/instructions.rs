//! A parsed [`Line`] plus the variables in scope → a typed, expanded instruction. Docker
//! expands variables in ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR
//! and ARG defaults; RUN, CMD and ENTRYPOINT are left to the shell (or taken verbatim).

use crate::error::ParseError;
use crate::expand::{process_word, process_words, split_raw, Vars};
use crate::parser::{json_form, Line};

/// Shell form (run through the image's SHELL) or exec form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Shell(String),
    Exec(Vec<String>),
}

impl Command {
    /// The argv, with `shell` (e.g. `["/bin/sh", "-c"]`) for the shell form.
    pub fn argv(&self, shell: &[String]) -> Vec<String> {
        match self {
            Command::Shell(s) => shell.iter().cloned().chain([s.clone()]).collect(),
            Command::Exec(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// No `--network` flag: the build's default (`docker build --network`), else `None`.
    Default,
    /// A fresh network namespace with only `lo` (Vessel has no bridge network yet).
    None,
    Host,
}

/// A COPY/ADD source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Path(String),
    /// A heredoc: its name becomes the file name when the destination is a directory.
    Inline {
        name: String,
        content: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySpec {
    pub add: bool,
    pub sources: Vec<Source>,
    pub dest: String,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Health {
    pub test: Vec<String>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub start_period: Option<i64>,
    pub start_interval: Option<i64>,
    pub retries: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instr {
    From {
        image: String,
        stage: Option<String>,
    },
    Run {
        cmd: Command,
        network: Network,
    },
    Copy(CopySpec),
    Env(Vec<(String, String)>),
    Arg(Vec<(String, Option<String>)>),
    Workdir(String),
    User(String),
    /// Normalized (`80/tcp`) and as written (sorted, for history).
    Expose {
        ports: Vec<String>,
        raw: Vec<String>,
    },
    Label(Vec<(String, String)>),
    Entrypoint(Command),
    Cmd(Command),
    Volume(Vec<String>),
    StopSignal(String),
    Healthcheck(Health),
    Shell(Vec<String>),
    OnBuild(String),
    Maintainer(String),
}

fn err(line: &Line, msg: impl Into<String>) -> ParseError {
    ParseError::new(line.line, format!("{}: {}", line.keyword, msg.into()))
}

fn flag<'a>(line: &'a Line, name: &str) -> Option<&'a str> {
    line.flags
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Flags only BuildKit implements; refused by name rather than half-honoured.
const BUILDKIT_ONLY: &[&str] = &[
    "mount",
    "security",
    "parents",
    "exclude",
    "checksum",
    "keep-git-dir",
];

fn check_flags(line: &Line, allowed: &[&str]) -> Result<(), ParseError> {
    for (k, _) in &line.flags {
        if BUILDKIT_ONLY.contains(&k.as_str()) {
            return Err(err(
                line,
                format!("--{k} needs BuildKit and is not supported by this builder"),
            ));
        }
        if !allowed.contains(&k.as_str()) {
            let hint = if allowed.is_empty() {
                "this instruction takes no flags".to_string()
            } else {
                format!("allowed: --{}", allowed.join(", --"))
            };
            return Err(err(line, format!("unknown flag --{k} ({hint})")));
        }
    }
    Ok(())
}

fn word(line: &Line, s: &str, vars: &Vars, esc: char) -> Result<String, ParseError> {
    process_word(s, vars, esc).map_err(|e| err(line, e))
}

/// `a=b c="d e"` (or the legacy `KEY value with spaces`) → pairs, values expanded.
fn key_values(
    line: &Line,
    vars: &Vars,
    esc: char,
    legacy_ok: bool,
) -> Result<Vec<(String, String)>, ParseError> {
    let raw = split_raw(&line.args, esc);
    if raw.is_empty() {
        return Err(err(line, "needs at least one argument"));
    }
    if !raw[0].contains('=') {
        if !legacy_ok || raw.len() < 2 {
            return Err(err(
                line,
                format!("{:?} must be of the form KEY=VALUE", raw[0]),
            ));
        }
        let key = word(line, &raw[0], vars, esc)?;
        let rest = line.args.trim_start()[raw[0].len()..].trim();
        return Ok(vec![(key, word(line, rest, vars, esc)?)]);
    }
    let mut out = Vec::new();
    for r in raw {
        let Some((k, v)) = r.split_once('=') else {
            return Err(err(line, format!("{r:?} must be of the form KEY=VALUE")));
        };
        let k = word(line, k, vars, esc)?;
        if k.is_empty() {
            return Err(err(line, format!("{r:?}: the key is empty")));
        }
        out.push((k, word(line, v, vars, esc)?));
    }
    Ok(out)
}

fn command(line: &Line) -> Result<Command, ParseError> {
    if let Some(v) = json_form(&line.args) {
        return Ok(Command::Exec(v));
    }
    if line.args.trim().is_empty() {
        return Err(err(line, "needs a command"));
    }
    Ok(Command::Shell(line.args.clone()))
}

/// Go-style duration (`30s`, `1m30s`, `500ms`) in nanoseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += num * mult;
        rest = &rest[u..];
    }
    Some(total as i64)
}

/// Resolve one line with the variables in scope.
pub fn resolve(line: &Line, vars: &Vars, esc: char) -> Result<Instr, ParseError> {
    let kw = line.keyword.as_str();
    let allowed: &[&str] = match kw {
        "FROM" => &["platform"],
        "RUN" => &["network"],
        "COPY" => &["from", "chown", "chmod", "link"],
        "ADD" => &["chown", "chmod", "link"],
        "HEALTHCHECK" => &[
            "interval",
            "timeout",
            "start-period",
            "start-interval",
            "retries",
        ],
        _ => &[],
    };
    check_flags(line, allowed)?;
    let args = line.args.trim();
    Ok(match kw {
        "FROM" => {
            let ws = process_words(args, vars, esc).map_err(|e| err(line, e))?;
            match ws.as_slice() {
                [image] => Instr::From {
                    image: image.clone(),
                    stage: None,
                },
                [image, kw_as, stage] if kw_as.eq_ignore_ascii_case("as") => {
                    let stage = stage.to_ascii_lowercase();
                    if !stage
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                    {
                        return Err(err(line, format!("invalid stage name {stage:?}")));
                    }
                    Instr::From {
                        image: image.clone(),
                        stage: Some(stage),
                    }
                }
                _ => return Err(err(line, "expected FROM <image> [AS <name>]")),
            }
        }
        "RUN" => {
            let network = match flag(line, "network") {
                None | Some("default") => Network::Default,
                Some("none") => Network::None,
                Some("host") => Network::Host,
                Some(o) => return Err(err(line, format!("--network={o}: use none or host"))),
            };
            let cmd = match command(line)? {
                Command::Shell(s) if !line.heredocs.is_empty() => {
                    let only = line.heredocs.len() == 1
                        && crate::parser::Heredoc::opener_only(&s, &line.heredocs[0].name);
                    if only {
                        Command::Shell(line.heredocs[0].body.clone())
                    } else {
                        let mut t = s;
                        t.push('\n');
                        for h in &line.heredocs {
                            t.push_str(&h.body);
                            t.push_str(&h.name);
                            t.push('\n');
                        }
                        Command::Shell(t)
                    }
                }
                c => c,
            };
            Instr::Run { cmd, network }
        }
        "COPY" | "ADD" => {
            let mut ws = match json_form(args) {
                Some(v) => v
                    .iter()
                    .map(|w| word(line, w, vars, esc))
                    .collect::<Result<Vec<_>, _>>()?,
                None => process_words(args, vars, esc).map_err(|e| err(line, e))?,
            };
            if ws.len() < 2 {
                return Err(err(
                    line,
                    "requires at least two arguments: <src>... <dest>",
                ));
            }
            let dest = ws.pop().unwrap_or_default();
            let sources = ws
                .into_iter()
                .map(|s| {
                    let name = s.strip_prefix("<<-").or_else(|| s.strip_prefix("<<"));
                    match name.and_then(|n| {
                        line.heredocs
                            .iter()
                            .find(|h| h.name == n.trim_matches(['"', '\'']))
                    }) {
                        Some(h) => Ok(Source::Inline {
                            name: h.name.clone(),
                            content: if h.expand {
                                word(
                                    line,
                                    &format!("\"{}\"", h.body.replace('"', "\\\"")),
                                    vars,
                                    esc,
                                )?
                            } else {
                                h.body.clone()
                            },
                        }),
                        None => Ok(Source::Path(s)),
                    }
                })
                .collect::<Result<Vec<_>, ParseError>>()?;
            let chmod = match flag(line, "chmod") {
                None => None,
                Some(m) => Some(
                    u32::from_str_radix(m, 8)
                        .ok()
                        .filter(|m| *m <= 0o7777)
                        .ok_or_else(|| {
                            err(
                                line,
                                format!("--chmod={m}: expected an octal mode such as 755"),
                            )
                        })?,
                ),
            };
            let from = flag(line, "from")
                .map(|f| word(line, f, vars, esc))
                .transpose()?;
            if kw == "ADD" && from.is_some() {
                return Err(err(line, "--from is only valid for COPY"));
            }
            Instr::Copy(CopySpec {
                add: kw == "ADD",
                sources,
                dest,
                from,
                chown: flag(line, "chown")
                    .map(|c| word(line, c, vars, esc))
                    .transpose()?,
                chmod,
            })
        }
        "ENV" => Instr::Env(key_values(line, vars, esc, true)?),
        "LABEL" => Instr::Label(key_values(line, vars, esc, false)?),
        "ARG" => {
            let raw = split_raw(args, esc);
            if raw.is_empty() {
                return Err(err(line, "needs a name: ARG <name>[=<default>]"));
            }
            let mut out = Vec::new();
            for r in raw {
                let (k, v) = match r.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(word(line, v, vars, esc)?)),
                    None => (r.clone(), None),
                };
                if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(err(line, format!("invalid ARG name {k:?}")));
                }
                out.push((k, v));
            }
            Instr::Arg(out)
        }
        "WORKDIR" => {
            let w = word(line, args, vars, esc)?;
            if w.is_empty() {
                return Err(err(line, "needs a path"));
            }
            Instr::Workdir(w)
        }
        "USER" => {
            let u = word(line, args, vars, esc)?;
            if u.is_empty() {
                return Err(err(line, "needs a user"));
            }
            Instr::User(u)
        }
        "EXPOSE" => {
            let mut ports = Vec::new();
            let mut raw = process_words(args, vars, esc).map_err(|e| err(line, e))?;
            raw.sort();
            for p in raw.clone() {
                let (num, proto) = p.split_once('/').unwrap_or((&p, "tcp"));
                let proto = proto.to_ascii_lowercase();
                let valid_num = num
                    .split_once('-')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .unwrap_or((num.to_string(), num.to_string()));
                if valid_num.0.parse::<u16>().is_err()
                    || valid_num.1.parse::<u16>().is_err()
                    || !matches!(proto.as_str(), "tcp" | "udp" | "sctp")
                {
                    return Err(err(
                        line,
                        format!("invalid port {p:?}: expected PORT[/tcp|udp|sctp]"),
                    ));
                }
                ports.push(format!("{num}/{proto}"));
            }
            if ports.is_empty() {
                return Err(err(line, "needs at least one port"));
            }
            Instr::Expose { ports, raw }
        }
        "ENTRYPOINT" => Instr::Entrypoint(command(line)?),
        "CMD" => Instr::Cmd(command(line)?),
        "VOLUME" => {
            let v = match json_form(args) {
                Some(v) => v
                    .iter()
                    .map(|w| word(line, w, vars, esc))
                    .collect::<Result<Vec<_>, _>>()?,
                None => process_words(args, vars, esc).map_err(|e| err(line, e))?,
            };
            if v.is_empty() || v.iter().any(String::is_empty) {
                return Err(err(line, "needs at least one path"));
            }
            Instr::Volume(v)
        }
        "STOPSIGNAL" => Instr::StopSignal(word(line, args, vars, esc)?),
        "HEALTHCHECK" => {
            let mut h = Health::default();
            let (first, rest) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            match first.to_ascii_uppercase().as_str() {
                "NONE" => {
                    if !rest.trim().is_empty() || !line.flags.is_empty() {
                        return Err(err(line, "NONE takes no other arguments"));
                    }
                    h.test = vec!["NONE".into()];
                }
                "CMD" => {
                    let rest = rest.trim();
                    h.test = match json_form(rest) {
                        Some(v) => std::iter::once("CMD".to_string()).chain(v).collect(),
                        None if rest.is_empty() => return Err(err(line, "CMD needs a command")),
                        None => vec!["CMD-SHELL".into(), rest.to_string()],
                    };
                    let dur = |name: &str| -> Result<Option<i64>, ParseError> {
                        flag(line, name)
                            .map(|v| {
                                parse_duration(v).ok_or_else(|| {
                                    err(
                                        line,
                                        format!("--{name}={v}: expected a duration such as 30s"),
                                    )
                                })
                            })
                            .transpose()
                    };
                    h.interval = dur("interval")?;
                    h.timeout = dur("timeout")?;
                    h.start_period = dur("start-period")?;
                    h.start_interval = dur("start-interval")?;
                    h.retries = flag(line, "retries")
                        .map(|v| {
                            v.parse::<i64>()
                                .map_err(|_| err(line, format!("--retries={v}: expected a number")))
                        })
                        .transpose()?;
                }
                _ => {
                    return Err(err(
                        line,
                        "expected HEALTHCHECK [OPTIONS] CMD command, or HEALTHCHECK NONE",
                    ))
                }
            }
            Instr::Healthcheck(h)
        }
        "SHELL" => match json_form(args) {
            Some(v) if !v.is_empty() => Instr::Shell(v),
            _ => {
                return Err(err(
                    line,
                    "requires the JSON form: SHELL [\"executable\", \"parameters\"]",
                ))
            }
        },
        "ONBUILD" => {
            let inner = args
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            if matches!(inner.as_str(), "ONBUILD" | "FROM" | "MAINTAINER" | "") {
                return Err(err(
                    line,
                    format!("{inner} isn't allowed as an ONBUILD trigger"),
                ));
            }
            Instr::OnBuild(args.to_string())
        }
        "MAINTAINER" => Instr::Maintainer(word(line, args, vars, esc)?),
        other => {
            return Err(ParseError::new(
                line.line,
                format!("unknown instruction: {other}"),
            ))
        }
    })
}

#[cfg(test)]
mod tests;
