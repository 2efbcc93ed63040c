//! Stages of a Dockerfile and which of them a target needs: the target, and transitively the
//! stages it names in `FROM` or `COPY --from`. Others are skipped.

use crate::error::{BuildError, ParseError};
use crate::parser::{Dockerfile, Line};
use std::collections::BTreeSet;

#[derive(Debug, Clone)]
pub struct Stage {
    pub index: usize,
    /// Lower-case `AS` name.
    pub name: Option<String>,
    /// The FROM line first, then the stage's instructions.
    pub lines: Vec<Line>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    /// `ARG`s before the first FROM.
    pub meta_args: Vec<Line>,
    pub stages: Vec<Stage>,
    /// Indexes of the stages to build, ascending; the last is the target.
    pub needed: Vec<usize>,
}

fn stage_name(from: &Line) -> Option<String> {
    let ws: Vec<&str> = from.args.split_whitespace().collect();
    match ws.as_slice() {
        [_, a, n] if a.eq_ignore_ascii_case("as") => Some(n.to_ascii_lowercase()),
        _ => None,
    }
}

/// Which stage a reference (`FROM x`, `--from=x`) names, if any: a name, or an index.
pub fn stage_ref(stages: &[Stage], before: usize, r: &str) -> Option<usize> {
    let r = r.to_ascii_lowercase();
    stages[..before]
        .iter()
        .rev()
        .find(|s| s.name.as_deref() == Some(r.as_str()))
        .map(|s| s.index)
        .or_else(|| r.parse::<usize>().ok().filter(|i| *i < before))
}

pub fn plan(df: &Dockerfile, target: Option<&str>) -> Result<Plan, BuildError> {
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for l in &df.lines {
        if l.keyword == "FROM" {
            stages.push(Stage {
                index: stages.len(),
                name: stage_name(l),
                lines: vec![l.clone()],
            });
        } else if let Some(s) = stages.last_mut() {
            s.lines.push(l.clone());
        } else if l.keyword == "ARG" {
            meta_args.push(l.clone());
        } else {
            return Err(ParseError::new(
                l.line,
                format!("{} before the first FROM: a Dockerfile must begin with FROM (only ARG may precede it)", l.keyword),
            )
            .into());
        }
    }
    if stages.is_empty() {
        return Err(ParseError::new(1, "the Dockerfile has no FROM instruction").into());
    }
    let target_idx = match target.filter(|t| !t.is_empty()) {
        None => stages.len() - 1,
        Some(t) => stages
            .iter()
            .find(|s| s.name.as_deref() == Some(t.to_ascii_lowercase().as_str()))
            .map(|s| s.index)
            .ok_or_else(|| BuildError::UnknownTarget(t.to_string()))?,
    };
    let mut needed = BTreeSet::new();
    let mut todo = vec![target_idx];
    while let Some(i) = todo.pop() {
        if !needed.insert(i) {
            continue;
        }
        let s = &stages[i];
        let mut refs = Vec::new();
        if let Some(img) = s.lines[0].args.split_whitespace().next() {
            refs.push(img.to_string());
        }
        for l in &s.lines[1..] {
            if l.keyword == "COPY" {
                refs.extend(
                    l.flags
                        .iter()
                        .filter(|(k, _)| k == "from")
                        .map(|(_, v)| v.clone()),
                );
            }
        }
        for r in refs {
            if let Some(dep) = stage_ref(&stages, i, &r) {
                todo.push(dep);
            }
        }
    }
    Ok(Plan {
        meta_args,
        stages,
        needed: needed.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse;

    #[test]
    fn target_and_skipping() {
        let df = parse(
            "ARG V=1\nFROM busybox AS base\nRUN a\nFROM base AS unused\nRUN b\nFROM busybox AS build\nRUN c\nFROM scratch\nCOPY --from=build /x /x\nCOPY --from=0 /y /y\n",
        )
        .unwrap();
        let p = plan(&df, None).unwrap();
        assert_eq!(p.meta_args.len(), 1);
        assert_eq!(p.stages.len(), 4);
        assert_eq!(p.needed, vec![0, 2, 3]);
        let p = plan(&df, Some("unused")).unwrap();
        assert_eq!(p.needed, vec![0, 1]);
        assert!(matches!(
            plan(&df, Some("nope")),
            Err(BuildError::UnknownTarget(_))
        ));
        let e = plan(&parse("RUN x\nFROM y\n").unwrap(), None).unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }
}
