//! Paths confined to a root directory (the build context, or an image's rootfs): symlinks are
//! resolved as if `root` were `/`, so neither `..` nor a link to `/etc` reaches outside it.

use std::io;
use std::path::{Component, Path, PathBuf};

const MAX_LINKS: usize = 255;

/// Lexically clean `p` relative to a root; `None` when it climbs above it (`../x`).
pub fn clean_rel(p: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            s => out.push(s),
        }
    }
    Some(out.join("/"))
}

/// Resolve `rel` (relative to `root`, or absolute meaning "from root") inside `root`,
/// following symlinks of every component (the last too when `follow_last`). The result is a
/// host path under `root`; missing trailing components are kept as named.
pub fn resolve(root: &Path, rel: &str, follow_last: bool) -> io::Result<PathBuf> {
    let mut pending: Vec<String> = rel
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .rev()
        .map(str::to_string)
        .collect();
    let mut cur: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(seg) = pending.pop() {
        if seg == ".." {
            cur.pop();
            continue;
        }
        let mut cand = root.to_path_buf();
        cand.extend(cur.iter());
        cand.push(&seg);
        let is_last = pending.is_empty();
        match std::fs::symlink_metadata(&cand) {
            Ok(md) if md.file_type().is_symlink() && (!is_last || follow_last) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(io::Error::other(format!(
                        "too many levels of symbolic links resolving {rel}"
                    )));
                }
                let target = std::fs::read_link(&cand)?;
                if target.is_absolute() {
                    cur.clear();
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(s) => pending.push(s.to_string_lossy().into_owned()),
                        Component::ParentDir => pending.push("..".into()),
                        _ => {}
                    }
                }
            }
            _ => cur.push(seg),
        }
    }
    let mut out = root.to_path_buf();
    out.extend(cur.iter());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_stay_inside() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("a/b")).unwrap();
        symlink("/etc", r.join("abs")).unwrap();
        symlink("../../..", r.join("a/b/up")).unwrap();
        symlink("b", r.join("a/rel")).unwrap();
        assert_eq!(
            resolve(r, "abs/passwd", true).unwrap(),
            r.join("etc/passwd")
        );
        assert_eq!(resolve(r, "a/b/up/x", true).unwrap(), r.join("x"));
        assert_eq!(resolve(r, "a/rel/f", true).unwrap(), r.join("a/b/f"));
        assert_eq!(resolve(r, "/a/rel", false).unwrap(), r.join("a/rel"));
        assert_eq!(resolve(r, "../../etc", true).unwrap(), r.join("etc"));
        assert_eq!(clean_rel("./a/../b/"), Some("b".into()));
        assert_eq!(clean_rel("../x"), None);
        assert_eq!(clean_rel("a/../../x"), None);
    }
}
