//! Heredocs (`RUN <<EOF`, `COPY <<-"EOF" /file`): names in an instruction and their bodies.

/// One heredoc body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    /// The lines between the instruction and the terminator, each ending in `\n`.
    pub body: String,
    /// Unquoted delimiters expand variables in the body.
    pub expand: bool,
    /// `<<-`: leading tabs were removed.
    pub strip_tabs: bool,
}

/// Heredoc openers in `args`, in order: (name, strip tabs, quoted).
pub fn names(args: &str) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    let b = args.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'\'' || c == b'"' => quote = Some(c),
            None if c == b'<' && b.get(i + 1) == Some(&b'<') && b.get(i + 2) != Some(&b'<') => {
                let mut j = i + 2;
                let strip = b.get(j) == Some(&b'-');
                if strip {
                    j += 1;
                }
                let q = match b.get(j) {
                    Some(&x @ (b'"' | b'\'')) => {
                        j += 1;
                        Some(x)
                    }
                    _ => None,
                };
                let start = j;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'-')
                {
                    j += 1;
                }
                if j > start {
                    let name = args[start..j].to_string();
                    if let Some(q) = q {
                        if b.get(j) == Some(&q) {
                            j += 1;
                        }
                    }
                    out.push((name, strip, q.is_some()));
                    i = j;
                    continue;
                }
            }
            None => {}
        }
        i += 1;
    }
    out
}

/// Read from `lines[start..]` up to the terminator `name`; returns the body and the index of
/// the line after the terminator.
pub fn read_body(
    lines: &[&str],
    start: usize,
    name: &str,
    strip_tabs: bool,
) -> Option<(String, usize)> {
    let mut body = String::new();
    for (k, l) in lines.iter().enumerate().skip(start) {
        let l = if strip_tabs {
            l.trim_start_matches('\t')
        } else {
            l
        };
        if l == name {
            return Some((body, k + 1));
        }
        body.push_str(l);
        body.push('\n');
    }
    None
}

impl Heredoc {
    /// Whether `args` consists of just the opener of heredoc `name` (`<<EOF`, `<<-"EOF"`).
    pub fn opener_only(args: &str, name: &str) -> bool {
        let t = args.trim();
        let t = t.strip_prefix("<<").unwrap_or(t);
        let t = t.strip_prefix('-').unwrap_or(t);
        t.trim_matches(['"', '\'']) == name
    }
}
