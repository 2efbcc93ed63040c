//! `.dockerignore`: patterns (Go `filepath.Match` syntax plus `**`), later lines winning, `!`
//! re-including. A pattern matching a directory excludes everything below it.

/// One pattern, cleaned and split into path segments.
#[derive(Debug, Clone)]
struct Pattern {
    segments: Vec<String>,
    exception: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

/// `./a//b/../c/` → `a/c` (lexically, never above the root).
pub fn clean(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    out.join("/")
}

impl Ignore {
    pub fn parse(text: &str) -> Ignore {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let (exception, p) = match l.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, l),
            };
            let c = clean(p);
            if c.is_empty() {
                continue;
            }
            patterns.push(Pattern {
                segments: c.split('/').map(str::to_string).collect(),
                exception,
            });
        }
        Ignore { patterns }
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether any `!` pattern exists (then an excluded directory must still be walked).
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exception)
    }

    /// Whether the context-relative `path` (`a/b/c`, no leading slash) is excluded.
    pub fn excluded(&self, path: &str) -> bool {
        let path = clean(path);
        if path.is_empty() {
            return false;
        }
        let segs: Vec<&str> = path.split('/').collect();
        let mut excluded = false;
        for p in &self.patterns {
            // The path itself or any of its parent directories.
            let hit = (1..=segs.len()).any(|n| match_segments(&p.segments, &segs[..n]));
            if hit {
                excluded = !p.exception;
            }
        }
        excluded
    }
}

fn match_segments(pat: &[String], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| match_segments(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((seg, prest)) => {
                glob(first.as_bytes(), seg.as_bytes()) && match_segments(rest, prest)
            }
            None => false,
        },
    }
}

/// One path segment against `*`, `?`, `[a-z]`, `[^x]` and `\` escapes.
pub fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|k| glob(rest, &s[k..])),
        Some((b'?', rest)) => !s.is_empty() && glob(rest, &s[1..]),
        Some((b'[', rest)) => {
            let Some((&c, srest)) = s.split_first() else {
                return false;
            };
            let (negate, mut r) = match rest.first() {
                Some(b'^' | b'!') => (true, &rest[1..]),
                _ => (false, rest),
            };
            let mut matched = false;
            let mut first = true;
            loop {
                match r.split_first() {
                    None => return false, // unterminated class matches nothing
                    Some((b']', after)) if !first => {
                        r = after;
                        break;
                    }
                    Some((&lo, after)) => {
                        let (lo, after) = if lo == b'\\' && !after.is_empty() {
                            (after[0], &after[1..])
                        } else {
                            (lo, after)
                        };
                        if after.first() == Some(&b'-') && after.len() > 1 && after[1] != b']' {
                            let hi = after[1];
                            matched |= lo <= c && c <= hi;
                            r = &after[2..];
                        } else {
                            matched |= lo == c;
                            r = after;
                        }
                    }
                }
                first = false;
            }
            matched != negate && glob(r, srest)
        }
        Some((b'\\', rest)) if !rest.is_empty() => {
            s.first() == Some(&rest[0]) && glob(&rest[1..], &s[1..])
        }
        Some((&c, rest)) => s.first() == Some(&c) && glob(rest, &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_exceptions() {
        let i = Ignore::parse("# comment\n*.log\n!keep.log\nbuild/\n/tmp/*\n");
        assert!(i.excluded("a.log"));
        assert!(!i.excluded("keep.log"));
        assert!(
            !i.excluded("sub/a.log"),
            "a single * does not cross directories"
        );
        assert!(i.excluded("build"));
        assert!(i.excluded("build/x/y"));
        assert!(i.excluded("tmp/z"));
        assert!(!i.excluded("tmp"));
        assert!(!i.excluded("src/main.rs"));
        assert!(i.has_exceptions());
    }

    #[test]
    fn double_star() {
        let i = Ignore::parse("**/*.o\n!**/keep/*.o\nnode_modules\n");
        assert!(i.excluded("a.o"));
        assert!(i.excluded("x/y/z.o"));
        assert!(!i.excluded("x/keep/z.o"));
        assert!(i.excluded("node_modules/p/index.js"));
        let j = Ignore::parse("a/**/b\n");
        assert!(j.excluded("a/b"));
        assert!(j.excluded("a/x/y/b"));
        assert!(!j.excluded("c/b"));
    }

    #[test]
    fn later_lines_win() {
        let i = Ignore::parse("!x\n*\n");
        assert!(i.excluded("x"));
        let j = Ignore::parse("*\n!Dockerfile\n!src\n");
        assert!(!j.excluded("src/a"));
        assert!(j.excluded("other"));
        assert!(!j.excluded("Dockerfile"));
    }

    #[test]
    fn classes_and_escapes() {
        assert!(glob(b"file[0-9].txt", b"file3.txt"));
        assert!(!glob(b"file[^0-9].txt", b"file3.txt"));
        assert!(glob(b"a\\*b", b"a*b"));
        assert!(!glob(b"a\\*b", b"axb"));
        assert!(glob(b"?x", b"ax"));
        assert_eq!(clean("./a//b/../c/"), "a/c");
        assert_eq!(clean("../../x"), "x");
    }
}
