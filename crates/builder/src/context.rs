//! The build context: a directory (or a tar of one, as `POST /build` sends) filtered by
//! `.dockerignore`. Every read goes through [`Context::resolve`], which refuses paths above
//! the root and resolves symlinks inside it.

use crate::dockerignore::{glob, Ignore};
use crate::error::BuildError;
use crate::fsroot;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A directory removed when dropped.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    /// A fresh `.tmp-<what>-<unique>` under `parent` (the store root, whose `open` removes
    /// leftovers of a crash).
    pub(crate) fn new(parent: &Path, what: &str) -> std::io::Result<TempDir> {
        let p = parent.join(format!(".tmp-{what}-{}", crate::unique_id()));
        fs::create_dir_all(&p)?;
        Ok(TempDir(p))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub struct Context {
    root: PathBuf,
    ignore: Ignore,
    _tmp: Option<TempDir>,
}

impl Context {
    /// A context directory; `.dockerignore` in it applies.
    pub fn from_dir(dir: &Path) -> Result<Context, BuildError> {
        let root = fs::canonicalize(dir).map_err(|source| BuildError::ContextIo {
            path: dir.to_path_buf(),
            source,
        })?;
        let ignore = match fs::read_to_string(root.join(".dockerignore")) {
            Ok(t) => Ignore::parse(&t),
            Err(_) => Ignore::default(),
        };
        Ok(Context {
            root,
            ignore,
            _tmp: None,
        })
    }

    /// Unpack a context tar (plain or gzip) into a temp directory under `scratch`, removed
    /// when the context is dropped. Entries that would land outside it are refused by the tar
    /// reader; `.dockerignore` is applied on read.
    pub fn from_tar(reader: &mut dyn Read, scratch: &Path) -> Result<Context, BuildError> {
        let tmp =
            TempDir::new(scratch, "build-context").map_err(|source| BuildError::ContextIo {
                path: scratch.to_path_buf(),
                source,
            })?;
        let mut head = [0u8; 2];
        let mut buffered = std::io::BufReader::new(reader);
        let n = {
            use std::io::BufRead;
            let b = buffered.fill_buf().map_err(BuildError::ContextTar)?;
            let n = b.len().min(2);
            head[..n].copy_from_slice(&b[..n]);
            n
        };
        let r: Box<dyn Read> = if n == 2 && head == [0x1f, 0x8b] {
            Box::new(flate2::read::GzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        let mut ar = tar::Archive::new(r);
        ar.set_preserve_permissions(true);
        ar.set_preserve_mtime(true);
        ar.set_overwrite(true);
        for entry in ar.entries().map_err(BuildError::ContextTar)? {
            let mut e = entry.map_err(BuildError::ContextTar)?;
            if !e.unpack_in(tmp.path()).map_err(BuildError::ContextTar)? {
                let p = e
                    .path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                return Err(BuildError::ContextTar(std::io::Error::other(format!(
                    "entry {p} would be written outside the context"
                ))));
            }
        }
        let mut ctx = Context::from_dir(tmp.path())?;
        ctx._tmp = Some(tmp);
        Ok(ctx)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn excluded(&self, rel: &str) -> bool {
        self.ignore.excluded(rel)
    }

    /// Whether .dockerignore has `!` exceptions (an excluded directory may hold some).
    pub fn has_exceptions(&self) -> bool {
        self.ignore.has_exceptions()
    }

    /// Read the Dockerfile (`-f`, relative to the context; read even if .dockerignore lists
    /// it, as Docker does). Defaults to `Dockerfile`, then `dockerfile`.
    pub fn read_dockerfile(&self, name: Option<&str>) -> Result<String, BuildError> {
        let names: Vec<&str> = match name {
            Some(n) if !n.is_empty() => vec![n],
            _ => vec!["Dockerfile", "dockerfile"],
        };
        let mut last = None;
        for n in &names {
            let rel = fsroot::clean_rel(n).ok_or_else(|| BuildError::DockerfileMissing {
                path: n.to_string(),
                source: std::io::Error::other("the Dockerfile must be inside the build context"),
            })?;
            let p = fsroot::resolve(&self.root, &rel, true).map_err(|source| {
                BuildError::DockerfileMissing {
                    path: n.to_string(),
                    source,
                }
            })?;
            match fs::read_to_string(&p) {
                Ok(t) => return Ok(t),
                Err(e) => last = Some(e),
            }
        }
        Err(BuildError::DockerfileMissing {
            path: names[0].to_string(),
            source: last.unwrap_or_else(|| std::io::Error::other("not found")),
        })
    }

    /// The host path of context path `src` for instruction line `line`.
    pub fn resolve(&self, src: &str, line: usize) -> Result<(String, PathBuf), BuildError> {
        let rel = fsroot::clean_rel(src).ok_or_else(|| BuildError::OutsideContext {
            line,
            path: src.to_string(),
        })?;
        let p = fsroot::resolve(&self.root, &rel, true).map_err(|source| BuildError::StepIo {
            line,
            op: "resolve",
            path: PathBuf::from(src),
            source,
        })?;
        Ok((rel, p))
    }

    /// Context paths matching `pattern` (a path, or a glob with `*`, `?`, `[…]`), relative,
    /// sorted, .dockerignore applied.
    pub fn matches(&self, pattern: &str, line: usize) -> Result<Vec<String>, BuildError> {
        let rel = fsroot::clean_rel(pattern).ok_or_else(|| BuildError::OutsideContext {
            line,
            path: pattern.to_string(),
        })?;
        if !rel.contains(['*', '?', '[']) {
            let (_, p) = self.resolve(&rel, line)?;
            let present = fs::symlink_metadata(&p).is_ok();
            return Ok(if present && (rel.is_empty() || !self.excluded(&rel)) {
                vec![rel]
            } else {
                Vec::new()
            });
        }
        let pat: Vec<&str> = rel.split('/').collect();
        let mut out = Vec::new();
        self.walk_matching(&self.root, "", &pat, &mut out)
            .map_err(|source| BuildError::ContextIo {
                path: self.root.clone(),
                source,
            })?;
        out.sort();
        Ok(out)
    }

    fn walk_matching(
        &self,
        dir: &Path,
        prefix: &str,
        pat: &[&str],
        out: &mut Vec<String>,
    ) -> std::io::Result<()> {
        let Some((first, rest)) = pat.split_first() else {
            return Ok(());
        };
        for ent in fs::read_dir(dir)? {
            let ent = ent?;
            let name = ent.file_name().to_string_lossy().into_owned();
            if !glob(first.as_bytes(), name.as_bytes()) {
                continue;
            }
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            if self.excluded(&rel) && !self.ignore.has_exceptions() {
                continue;
            }
            if rest.is_empty() {
                if !self.excluded(&rel) {
                    out.push(rel);
                }
            } else if ent.file_type()?.is_dir() {
                self.walk_matching(&ent.path(), &rel, rest, out)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(0);
            // set_path refuses `..`; write the raw name as a hostile client would.
            let raw = &mut h.as_old_mut().name;
            raw[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn tar_context_globs_and_ignore() {
        let scratch = tempfile::tempdir().unwrap();
        let t = tar_of(&[
            ("Dockerfile", b"FROM x\n"),
            (".dockerignore", b"*.tmp\n"),
            ("a.txt", b"a"),
            ("b.txt", b"b"),
            ("c.tmp", b"c"),
            ("sub/d.txt", b"d"),
        ]);
        let ctx = Context::from_tar(&mut &t[..], scratch.path()).unwrap();
        assert_eq!(ctx.read_dockerfile(None).unwrap(), "FROM x\n");
        assert_eq!(ctx.matches("*.txt", 1).unwrap(), vec!["a.txt", "b.txt"]);
        assert_eq!(ctx.matches("*", 1).unwrap().len(), 5, "c.tmp is ignored");
        assert!(ctx.matches("c.tmp", 1).unwrap().is_empty());
        assert_eq!(
            ctx.matches("./sub/../sub/*.txt", 1).unwrap(),
            vec!["sub/d.txt"]
        );
        assert!(matches!(
            ctx.matches("../x", 3),
            Err(BuildError::OutsideContext { line: 3, .. })
        ));
        let root = ctx.root().to_path_buf();
        drop(ctx);
        assert!(!root.exists(), "the unpacked context is removed");
    }

    #[test]
    fn tar_context_refuses_escapes() {
        let scratch = tempfile::tempdir().unwrap();
        let t = tar_of(&[("../evil", b"x")]);
        assert!(Context::from_tar(&mut &t[..], scratch.path()).is_err());
        assert!(!scratch.path().parent().unwrap().join("evil").exists());
    }
}
