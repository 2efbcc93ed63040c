//! `vessel cp`: tar archives through `GET`/`PUT /containers/{id}/archive`, with docker's rules
//! for naming the copy (into an existing directory, or as the destination's name).

use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::Value;

use super::Exit;
use crate::client::{enc, query, Client};
use crate::http::Body;

#[derive(clap::Args)]
pub struct Args {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long = "follow-link")]
    follow_link: bool,
    /// Suppress progress output during copy
    #[arg(short = 'q', long)]
    quiet: bool,
    /// CONTAINER:SRC_PATH or SRC_PATH|-
    src: String,
    /// DEST_PATH|- or CONTAINER:DEST_PATH
    dst: String,
}

/// `CONTAINER:PATH` → Some((container, path)); local paths (absolute, `.`-relative, or with a
/// slash before any colon) → None.
fn split(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    let (c, p) = arg.split_once(':')?;
    if c.contains('/') {
        return None;
    }
    Some((c, p))
}

fn b64decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for ch in s.bytes() {
        let v = match ch {
            b'A'..=b'Z' => ch - b'A',
            b'a'..=b'z' => ch - b'a' + 26,
            b'0'..=b'9' => ch - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Go's `os.ModeDir` in the path-stat header.
const MODE_DIR: u64 = 1 << 31;

/// `HEAD /containers/{id}/archive?path=`: the stat of a path in the container, None on 404.
fn stat(c: &Client, ctr: &str, path: &str) -> anyhow::Result<Option<Value>> {
    let q = query(&[("path", Some(path.to_string()))]);
    match c.request(
        "HEAD",
        &format!("/containers/{}/archive{q}", enc(ctr)),
        Body::Empty,
    ) {
        Ok(resp) => {
            let v = resp
                .header("X-Docker-Container-Path-Stat")
                .and_then(b64decode)
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            c.recycle(resp);
            Ok(Some(v))
        }
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn parent(p: &str) -> String {
    let t = p.trim_end_matches('/');
    match t.rfind('/') {
        Some(0) => "/".into(),
        Some(i) => t[..i].into(),
        None => ".".into(),
    }
}

fn basename(p: &str) -> String {
    let t = p.trim_end_matches('/');
    t.rsplit('/').next().unwrap_or(t).to_string()
}

fn to_container(c: &Client, src: &str, ctr: &str, dst: &str, follow: bool) -> anyhow::Result<()> {
    let put = |dir: &str, body: &mut dyn Read| -> anyhow::Result<()> {
        let q = query(&[
            ("path", Some(dir.to_string())),
            ("noOverwriteDirNonDir", Some("true".into())),
        ]);
        let mut resp = c.request(
            "PUT",
            &format!("/containers/{}/archive{q}", enc(ctr)),
            Body::Stream(body, "application/x-tar"),
        )?;
        let _ = resp.read_all();
        Ok(())
    };
    if src == "-" {
        return put(dst, &mut io::stdin().lock());
    }
    let meta = if follow {
        std::fs::metadata(src)
    } else {
        std::fs::symlink_metadata(src)
    }
    .with_context(|| format!("lstat {src}"))?;
    let (dir, name) = match stat(c, ctr, dst)? {
        Some(st) if st["mode"].as_u64().unwrap_or(0) & MODE_DIR != 0 => {
            (dst.to_string(), basename(src))
        }
        Some(_) if meta.is_dir() => bail!("cannot copy directory to file"),
        Some(_) => (parent(dst), basename(dst)),
        None if dst.ends_with('/') => {
            return Err(Exit(
                1,
                format!(
                    "Error response from daemon: Could not find the file {dst} in container {ctr}"
                ),
            )
            .into())
        }
        None => (parent(dst), basename(dst)),
    };
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(follow);
    if meta.is_dir() {
        b.append_dir_all(&name, src)
            .with_context(|| format!("archiving {src}"))?;
    } else {
        b.append_path_with_name(src, &name)
            .with_context(|| format!("archiving {src}"))?;
    }
    let data = b.into_inner().context("finishing the archive")?;
    put(&dir, &mut &data[..])
}

/// Joins an archive entry path under `base`, refusing `..` and absolute components.
fn safe_join(base: &Path, rel: &Path) -> Option<PathBuf> {
    let mut out = base.to_path_buf();
    for comp in rel.components() {
        match comp {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

fn from_container(c: &Client, ctr: &str, src: &str, dst: &str) -> anyhow::Result<()> {
    let q = query(&[("path", Some(src.to_string()))]);
    let mut resp = c.request(
        "GET",
        &format!("/containers/{}/archive{q}", enc(ctr)),
        Body::Empty,
    )?;
    if dst == "-" {
        io::copy(&mut resp, &mut io::stdout().lock())?;
        return Ok(());
    }
    let dst_path = Path::new(dst);
    let (base, rename) = if dst_path.is_dir() {
        (dst_path.to_path_buf(), None)
    } else {
        if dst.ends_with('/') {
            bail!("destination directory \"{dst}\" must exist");
        }
        let p = dst_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !p.is_dir() {
            bail!("destination directory \"{}\" must exist", p.display());
        }
        (
            p.to_path_buf(),
            dst_path.file_name().map(|n| n.to_os_string()),
        )
    };
    let mut archive = tar::Archive::new(resp);
    archive.set_preserve_permissions(true);
    for entry in archive.entries().context("reading the archive")? {
        let mut entry = entry.context("reading the archive")?;
        let path = entry.path()?.into_owned();
        let rel = match &rename {
            Some(n) => {
                let mut comps = path
                    .components()
                    .filter(|c| !matches!(c, Component::CurDir));
                comps.next();
                let mut p = PathBuf::from(n);
                p.extend(comps);
                p
            }
            None => path.clone(),
        };
        let Some(target) = safe_join(&base, &rel) else {
            bail!(
                "refusing archive entry outside the destination: {}",
                path.display()
            );
        };
        if let Some(p) = target.parent() {
            std::fs::create_dir_all(p).with_context(|| format!("mkdir {}", p.display()))?;
        }
        entry
            .unpack(&target)
            .with_context(|| format!("writing {}", target.display()))?;
    }
    Ok(())
}

pub fn run(c: &Client, a: Args) -> anyhow::Result<()> {
    let _ = (a.archive, a.quiet);
    match (split(&a.src), split(&a.dst)) {
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
        (Some((ctr, src)), None) => from_container(c, ctr, src, &a.dst),
        (None, Some((ctr, dst))) => to_container(c, &a.src, ctr, dst, a.follow_link),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments() {
        assert_eq!(split("web:/etc/hosts"), Some(("web", "/etc/hosts")));
        assert_eq!(split("/tmp/a:b"), None);
        assert_eq!(split("./x"), None);
        assert_eq!(split("file"), None);
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/a/b/c/"), "/a/b");
        assert_eq!(basename("/a/b/"), "b");
        assert_eq!(b64decode("eyJhIjoxfQ==").unwrap(), b"{\"a\":1}");
        assert!(safe_join(Path::new("/x"), Path::new("../etc")).is_none());
    }
}
