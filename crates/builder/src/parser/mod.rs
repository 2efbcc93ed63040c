//! Dockerfile text → logical instructions: parser directives, comments, line continuations
//! and heredocs. Pure: no I/O, no expansion (see [`crate::expand`]); errors carry line numbers.

mod heredoc;

use crate::error::ParseError;
pub use heredoc::Heredoc;

/// Directives that may open a Dockerfile (`# escape=`` ` ``).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    pub escape: char,
    pub syntax: Option<String>,
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            escape: '\\',
            syntax: None,
            check: None,
        }
    }
}

/// One instruction as written, continuations joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1-based line where the instruction starts.
    pub line: usize,
    /// Upper-case keyword (`RUN`, `COPY`, …).
    pub keyword: String,
    /// `--name=value` flags before the arguments, in order (`--name` alone gives `""`).
    pub flags: Vec<(String, String)>,
    /// The rest of the instruction, flags removed, untouched.
    pub args: String,
    /// Heredoc bodies named in the arguments (RUN, COPY and ADD only).
    pub heredocs: Vec<Heredoc>,
    /// The instruction as written (continuations joined), for messages and history.
    pub original: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub directives: Directives,
    pub lines: Vec<Line>,
}

/// Instructions whose arguments may open heredocs.
fn allows_heredoc(keyword: &str) -> bool {
    matches!(keyword, "RUN" | "COPY" | "ADD")
}

fn is_comment(l: &str) -> bool {
    l.trim_start().starts_with('#')
}

fn parse_directives(lines: &[&str]) -> Result<(Directives, usize), ParseError> {
    let mut d = Directives::default();
    let mut consumed = 0;
    let mut seen = Vec::new();
    for (i, raw) in lines.iter().enumerate() {
        let Some(body) = raw.trim_start().strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = body.split_once('=') else {
            break;
        };
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim().to_string();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
            break;
        }
        match key.as_str() {
            "escape" => {
                d.escape = match value.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        return Err(ParseError::new(
                            i + 1,
                            format!("invalid escape directive {value:?}: use \\ or `"),
                        ))
                    }
                }
            }
            "syntax" => d.syntax = Some(value),
            "check" => d.check = Some(value),
            _ => break,
        }
        if seen.contains(&key) {
            return Err(ParseError::new(
                i + 1,
                format!("the {key} directive may only be given once"),
            ));
        }
        seen.push(key);
        consumed = i + 1;
    }
    Ok((d, consumed))
}

/// Whether `line` (trailing whitespace removed) ends with an unescaped escape character.
fn continues(line: &str, escape: char) -> Option<&str> {
    let t = line.trim_end();
    let stripped = t.strip_suffix(escape)?;
    // An escaped escape (`\\`) at the end is a literal, not a continuation.
    let n = stripped.chars().rev().take_while(|&c| c == escape).count();
    (n % 2 == 0).then_some(stripped)
}

/// Parse a whole Dockerfile.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let raw: Vec<&str> = text.lines().collect();
    let (directives, start) = parse_directives(&raw)?;
    let esc = directives.escape;
    let mut lines = Vec::new();
    let mut i = start;
    while i < raw.len() {
        let l = raw[i];
        if l.trim().is_empty() || is_comment(l) {
            i += 1;
            continue;
        }
        let first = i + 1;
        let mut joined = String::new();
        let mut cur = l;
        loop {
            i += 1;
            match continues(cur, esc) {
                Some(part) => {
                    joined.push_str(part);
                    // Comment and empty lines inside a continuation are dropped, as Docker does.
                    while i < raw.len() && (is_comment(raw[i]) || raw[i].trim().is_empty()) {
                        i += 1;
                    }
                    if i >= raw.len() {
                        break;
                    }
                    cur = raw[i];
                }
                None => {
                    joined.push_str(cur);
                    break;
                }
            }
        }
        let mut line = split_line(first, joined.trim())?;
        if allows_heredoc(&line.keyword) {
            let names = heredoc::names(&line.args);
            for (name, strip_tabs, quoted) in names {
                let (body, next) =
                    heredoc::read_body(&raw, i, &name, strip_tabs).ok_or_else(|| {
                        ParseError::new(
                            first,
                            format!("heredoc <<{name} is not terminated: add a line {name}"),
                        )
                    })?;
                i = next;
                line.heredocs.push(Heredoc {
                    name,
                    body,
                    expand: !quoted,
                    strip_tabs,
                });
            }
        }
        lines.push(line);
    }
    Ok(Dockerfile { directives, lines })
}

/// `KEYWORD [--flag[=v]]... args` → [`Line`].
fn split_line(line: usize, text: &str) -> Result<Line, ParseError> {
    let (kw, rest) = match text.find(char::is_whitespace) {
        Some(p) => (&text[..p], text[p..].trim_start()),
        None => (text, ""),
    };
    if !kw.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(ParseError::new(
            line,
            format!("unknown instruction: {kw} (is a line continuation missing above?)"),
        ));
    }
    let keyword = kw.to_ascii_uppercase();
    let mut flags = Vec::new();
    let mut args = rest;
    // ONBUILD carries another instruction, whose flags are its own.
    if keyword != "ONBUILD" {
        while let Some(f) = args.strip_prefix("--") {
            if f.starts_with(char::is_whitespace) || f.is_empty() {
                break;
            }
            let end = f.find(char::is_whitespace).unwrap_or(f.len());
            let flag = &f[..end];
            let (k, v) = flag.split_once('=').unwrap_or((flag, ""));
            flags.push((k.to_string(), v.to_string()));
            args = f[end..].trim_start();
        }
    }
    Ok(Line {
        line,
        keyword,
        flags,
        args: args.to_string(),
        heredocs: Vec::new(),
        original: text.to_string(),
    })
}

/// The exec (JSON array) form of `args`, or `None` for the shell form.
pub fn json_form(args: &str) -> Option<Vec<String>> {
    let t = args.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(t).ok()
}

#[cfg(test)]
mod tests;
