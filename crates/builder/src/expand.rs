//! Docker's word processing for Dockerfile arguments: quote removal, escapes and variable
//! expansion (`$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`,
//! `${VAR+alt}`), with word splitting for instructions that take a list.
//!
//! Unknown variables expand to nothing, as in Docker. Single quotes are literal; inside double
//! quotes only `$` and escapes of `"`, `$` and the escape character are special.

use std::collections::BTreeMap;

pub type Vars = BTreeMap<String, String>;

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    vars: &'a Vars,
    escape: char,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += 1;
        c
    }

    /// Process until the end; `split` separates words on unquoted whitespace.
    fn words(&mut self, split: bool) -> Result<Vec<String>, String> {
        let mut words = Vec::new();
        let mut cur = String::new();
        let mut has_word = false;
        while let Some(c) = self.next() {
            if split && c.is_whitespace() {
                if has_word {
                    words.push(std::mem::take(&mut cur));
                    has_word = false;
                }
                continue;
            }
            has_word = true;
            match c {
                '\'' => loop {
                    match self.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err("unexpected end of text: missing closing '".into()),
                    }
                },
                '"' => loop {
                    match self.next() {
                        Some('"') => break,
                        Some('$') => cur.push_str(&self.variable()?),
                        Some(x) if x == self.escape => match self.next() {
                            Some(n @ ('"' | '$')) => cur.push(n),
                            Some(n) if n == self.escape => cur.push(n),
                            Some(n) => {
                                cur.push(x);
                                cur.push(n);
                            }
                            None => return Err("unexpected end of text after escape".into()),
                        },
                        Some(x) => cur.push(x),
                        None => return Err("unexpected end of text: missing closing \"".into()),
                    }
                },
                '$' => {
                    let v = self.variable()?;
                    if split {
                        // Unquoted expansions are split into words, as the shell does.
                        let mut parts = v.split(char::is_whitespace).peekable();
                        while let Some(p) = parts.next() {
                            cur.push_str(p);
                            if parts.peek().is_some() && !cur.is_empty() {
                                words.push(std::mem::take(&mut cur));
                            }
                        }
                    } else {
                        cur.push_str(&v);
                    }
                }
                x if x == self.escape => match self.next() {
                    Some(n) => cur.push(n),
                    None => cur.push(x),
                },
                x => cur.push(x),
            }
        }
        if has_word {
            words.push(cur);
        }
        Ok(words)
    }

    /// After a `$`: the variable reference's value.
    fn variable(&mut self) -> Result<String, String> {
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                let name = self.name();
                if name.is_empty() {
                    return Err("bad substitution: ${} needs a variable name".into());
                }
                let value = self.vars.get(&name);
                match self.next() {
                    Some('}') => Ok(value.cloned().unwrap_or_default()),
                    Some(':') => {
                        let op = self.next();
                        let word = self.until_brace()?;
                        let set = value.is_some_and(|v| !v.is_empty());
                        match op {
                            Some('-') => Ok(if set {
                                value.cloned().unwrap_or_default()
                            } else {
                                word
                            }),
                            Some('+') => Ok(if set { word } else { String::new() }),
                            Some('?') => match value {
                                Some(v) if !v.is_empty() => Ok(v.clone()),
                                _ => Err(format!(
                                    "{name}: {}",
                                    if word.is_empty() {
                                        "is not allowed to be unset"
                                    } else {
                                        &word
                                    }
                                )),
                            },
                            _ => Err(format!(
                                "unsupported modifier in ${{{name}:…}}: use :-, :+ or :?"
                            )),
                        }
                    }
                    Some('-') => {
                        let word = self.until_brace()?;
                        Ok(value.cloned().unwrap_or(word))
                    }
                    Some('+') => {
                        let word = self.until_brace()?;
                        Ok(if value.is_some() { word } else { String::new() })
                    }
                    _ => Err(format!("bad substitution in ${{{name}…}}: missing }}")),
                }
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let name = self.name();
                Ok(self.vars.get(&name).cloned().unwrap_or_default())
            }
            _ => Ok("$".into()),
        }
    }

    fn name(&mut self) -> String {
        let mut n = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                n.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        n
    }

    /// The word of `${x:-word}`: itself expanded, up to the matching `}`.
    fn until_brace(&mut self) -> Result<String, String> {
        let mut out = String::new();
        loop {
            match self.next() {
                Some('}') => return Ok(out),
                Some('$') => out.push_str(&self.variable()?),
                Some(c) if c == self.escape => {
                    if let Some(n) = self.next() {
                        out.push(n);
                    }
                }
                Some(c) => out.push(c),
                None => return Err("bad substitution: missing }".into()),
            }
        }
    }
}

/// Expand one word: quotes removed, variables substituted, no splitting.
pub fn process_word(text: &str, vars: &Vars, escape: char) -> Result<String, String> {
    let mut l = Lexer {
        chars: text.chars().collect(),
        pos: 0,
        vars,
        escape,
    };
    Ok(l.words(false)?.into_iter().next().unwrap_or_default())
}

/// Expand and split into words on unquoted whitespace.
pub fn process_words(text: &str, vars: &Vars, escape: char) -> Result<Vec<String>, String> {
    let mut l = Lexer {
        chars: text.chars().collect(),
        pos: 0,
        vars,
        escape,
    };
    l.words(true)
}

/// Split on unquoted whitespace keeping quotes and escapes (for `ENV a="x y" b=c`, whose
/// values are then processed one by one).
pub fn split_raw(text: &str, escape: char) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == q {
                    quote = None;
                } else if c == escape && q == '"' {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                }
            }
            None if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            None => {
                cur.push(c);
                if c == '\'' || c == '"' {
                    quote = Some(c);
                } else if c == escape {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                }
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        [("A", "1"), ("B", "two words"), ("E", "")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn w(s: &str) -> String {
        process_word(s, &vars(), '\\').unwrap()
    }

    #[test]
    fn simple_and_braced() {
        assert_eq!(w("$A"), "1");
        assert_eq!(w("${A}x"), "1x");
        assert_eq!(w("a$Ab"), "a");
        assert_eq!(w("$NOPE"), "");
        assert_eq!(w("cost $"), "cost $");
    }

    #[test]
    fn modifiers() {
        assert_eq!(w("${NOPE:-def}"), "def");
        assert_eq!(w("${E:-def}"), "def");
        assert_eq!(w("${E-def}"), "");
        assert_eq!(w("${A:-def}"), "1");
        assert_eq!(w("${A:+alt}"), "alt");
        assert_eq!(w("${NOPE:+alt}"), "");
        assert_eq!(w("${NOPE:-$A}"), "1");
        assert!(process_word("${NOPE:?must be set}", &vars(), '\\').is_err());
        assert!(process_word("${A", &vars(), '\\').is_err());
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(w("'$A'"), "$A");
        assert_eq!(w("\"$A b\""), "1 b");
        assert_eq!(w("\\$A"), "$A");
        assert_eq!(w("\"a\\\"b\""), "a\"b");
        assert_eq!(process_word("`$A", &vars(), '`').unwrap(), "$A");
        assert_eq!(process_word("C:\\dir", &vars(), '`').unwrap(), "C:\\dir");
    }

    #[test]
    fn words_split() {
        let ws = process_words("80 \"x y\" $B", &vars(), '\\').unwrap();
        assert_eq!(ws, vec!["80", "x y", "two", "words"]);
        assert_eq!(
            split_raw("a=\"x y\" b=c\\ d", '\\'),
            vec!["a=\"x y\"", "b=c\\ d"]
        );
    }
}
