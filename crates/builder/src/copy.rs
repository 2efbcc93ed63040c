//! COPY and ADD: sources from the context (filtered by .dockerignore), another stage or an
//! image; Docker's directory rules (a directory's contents are copied, a file lands in a
//! destination ending in `/` under its own name); files owned by 0:0 unless `--chown`; ADD
//! extracts local tar archives.

use crate::context::Context;
use crate::error::BuildError;
use crate::fsroot;
use crate::instructions::{CopySpec, Source};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where sources are read from.
pub(crate) enum From<'a> {
    Context(&'a Context),
    /// The merged rootfs of a stage or image (`COPY --from`).
    Rootfs(&'a Path),
}

/// A matched source: its name relative to the source root and its host path.
pub(crate) struct Matched {
    pub rel: String,
    pub host: PathBuf,
}

pub(crate) enum Item {
    Path(Matched),
    Inline { name: String, content: String },
}

fn io_err(line: usize, op: &'static str, path: &Path, source: std::io::Error) -> BuildError {
    BuildError::StepIo {
        line,
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn is_url(s: &str) -> bool {
    ["http://", "https://", "git@", "git://"]
        .iter()
        .any(|p| s.starts_with(p))
}

/// Expand globs and resolve every source; an error when one matches nothing.
pub(crate) fn match_sources(
    spec: &CopySpec,
    from: &From,
    line: usize,
) -> Result<Vec<Item>, BuildError> {
    let instruction = if spec.add { "ADD" } else { "COPY" };
    let mut out = Vec::new();
    for s in &spec.sources {
        match s {
            Source::Inline { name, content } => out.push(Item::Inline {
                name: name.clone(),
                content: content.clone(),
            }),
            Source::Path(p) if is_url(p) => {
                return Err(BuildError::UrlUnsupported {
                    line,
                    url: p.clone(),
                })
            }
            Source::Path(p) => {
                let found: Vec<Matched> = match from {
                    From::Context(ctx) => ctx
                        .matches(p, line)?
                        .into_iter()
                        .map(|rel| {
                            let (rel, host) = ctx.resolve(&rel, line)?;
                            Ok(Matched { rel, host })
                        })
                        .collect::<Result<_, BuildError>>()?,
                    From::Rootfs(root) => {
                        let host = fsroot::resolve(root, p, true)
                            .map_err(|e| io_err(line, "resolve", Path::new(p), e))?;
                        if fs::symlink_metadata(&host).is_ok() {
                            vec![Matched {
                                rel: fsroot::clean_rel(p.trim_start_matches('/'))
                                    .unwrap_or_default(),
                                host,
                            }]
                        } else {
                            Vec::new()
                        }
                    }
                };
                if found.is_empty() {
                    return Err(BuildError::NoSource {
                        line,
                        instruction: instruction.into(),
                        pattern: p.clone(),
                    });
                }
                out.extend(found.into_iter().map(Item::Path));
            }
        }
    }
    Ok(out)
}

/// Visit `host` and, for a directory, everything below it (sorted), skipping context paths
/// `.dockerignore` excludes. `rel` is the path below the source.
fn walk(
    host: &Path,
    ctx_rel: &str,
    ctx: Option<&Context>,
    rel: &Path,
    f: &mut dyn FnMut(&Path, &Path, &fs::Metadata) -> std::io::Result<()>,
) -> std::io::Result<()> {
    walk_inner(host, ctx_rel, ctx, rel, false, f)
}

/// `hidden`: an excluded directory walked only for `!` exceptions below it.
fn walk_inner(
    host: &Path,
    ctx_rel: &str,
    ctx: Option<&Context>,
    rel: &Path,
    hidden: bool,
    f: &mut dyn FnMut(&Path, &Path, &fs::Metadata) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let md = fs::symlink_metadata(host)?;
    if !hidden {
        f(host, rel, &md)?;
    }
    if md.is_dir() {
        let mut names: Vec<_> = fs::read_dir(host)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        names.sort();
        for n in names {
            let name = n.to_string_lossy();
            let child_ctx = if ctx_rel.is_empty() {
                name.to_string()
            } else {
                format!("{ctx_rel}/{name}")
            };
            let child_hidden = match ctx {
                Some(c) if c.excluded(&child_ctx) => {
                    // Only a directory can hold an exception (`!dir/keep`).
                    let is_dir = fs::symlink_metadata(host.join(&n)).is_ok_and(|m| m.is_dir());
                    if !(is_dir && c.has_exceptions()) {
                        continue;
                    }
                    true
                }
                _ => false,
            };
            walk_inner(
                &host.join(&n),
                &child_ctx,
                ctx,
                &rel.join(&n),
                child_hidden,
                f,
            )?;
        }
    }
    Ok(())
}

/// Content hash of the sources (names, types, modes, link targets and bytes — not times),
/// the cache key of a COPY from the context.
pub(crate) fn content_hash(
    items: &[Item],
    ctx: Option<&Context>,
    line: usize,
) -> Result<String, BuildError> {
    let mut h = Sha256::new();
    for it in items {
        match it {
            Item::Inline { name, content } => {
                h.update(b"inline\0");
                h.update(name.as_bytes());
                h.update([0]);
                h.update(content.as_bytes());
            }
            Item::Path(m) => {
                h.update(b"path\0");
                h.update(m.rel.as_bytes());
                h.update([0]);
                walk(&m.host, &m.rel, ctx, Path::new(""), &mut |p, rel, md| {
                    h.update(rel.as_os_str().as_encoded_bytes());
                    h.update([0]);
                    h.update(md.mode().to_le_bytes());
                    if md.is_file() {
                        let mut f = fs::File::open(p)?;
                        let mut fh = Sha256::new();
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = f.read(&mut buf)?;
                            if n == 0 {
                                break;
                            }
                            fh.update(&buf[..n]);
                        }
                        h.update(fh.finalize());
                    } else if md.file_type().is_symlink() {
                        h.update(fs::read_link(p)?.as_os_str().as_encoded_bytes());
                    }
                    h.update([0]);
                    Ok(())
                })
                .map_err(|e| io_err(line, "read", &m.host, e))?;
            }
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// Ownership and mode overrides.
pub(crate) struct Perms {
    pub uid: u32,
    pub gid: u32,
    pub chmod: Option<u32>,
}

fn apply_meta(dst: &Path, md: &fs::Metadata, perms: &Perms) -> std::io::Result<()> {
    std::os::unix::fs::lchown(dst, Some(perms.uid), Some(perms.gid))?;
    if !md.file_type().is_symlink() {
        let mode = perms.chmod.unwrap_or(md.mode() & 0o7777);
        fs::set_permissions(dst, fs::Permissions::from_mode(mode))?;
        let t = libc::timespec {
            tv_sec: md.mtime(),
            tv_nsec: md.mtime_nsec(),
        };
        let times = [t, t];
        let c = std::ffi::CString::new(dst.as_os_str().as_encoded_bytes())
            .map_err(std::io::Error::other)?;
        // SAFETY: a valid C string and a two-element timespec array, as utimensat requires.
        if unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Copy one tree (or file) from `src` to `dst` in the rootfs.
fn copy_tree(
    src: &Path,
    ctx_rel: &str,
    ctx: Option<&Context>,
    dst: &Path,
    perms: &Perms,
    root: &Path,
) -> std::io::Result<()> {
    let mut dirs: Vec<(PathBuf, fs::Metadata)> = Vec::new();
    let dst_in_root = dst
        .strip_prefix(root)
        .map_err(std::io::Error::other)?
        .to_path_buf();
    walk(src, ctx_rel, ctx, Path::new(""), &mut |p, rel, md| {
        let ft = md.file_type();
        // Symlinks already in the image are followed inside the rootfs (as Docker does), never
        // on the host: a link to `/etc` means the image's /etc. A file replaces a link.
        let in_root = dst_in_root.join(rel);
        let target = fsroot::resolve(root, &in_root.to_string_lossy(), ft.is_dir())?;
        if ft.is_dir() {
            let real_dir = fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir());
            if !real_dir {
                let _ = fs::remove_file(&target);
                fs::create_dir_all(&target)?;
            }
            // Directory times are set after their contents are written.
            dirs.push((target, md.clone()));
            return Ok(());
        }
        if let Ok(old) = fs::symlink_metadata(&target) {
            if old.is_dir() {
                fs::remove_dir_all(&target)?;
            } else {
                fs::remove_file(&target)?;
            }
        }
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(p)?, &target)?;
        } else if ft.is_file() {
            if let Some(parent) = target.parent() {
                // The parent may be an excluded directory walked for an exception.
                fs::create_dir_all(parent)?;
            }
            fs::copy(p, &target)?;
        } else {
            return Ok(()); // devices, fifos and sockets are not copied from a context
        }
        apply_meta(&target, md, perms)
    })?;
    for (d, md) in dirs.iter().rev() {
        apply_meta(d, md, perms)?;
    }
    Ok(())
}

fn tar_reader(path: &Path) -> Option<Box<dyn Read>> {
    let mut f = fs::File::open(path).ok()?;
    let mut head = vec![0u8; 512];
    let n = f.read(&mut head).ok()?;
    head.truncate(n);
    let f = fs::File::open(path).ok()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let mut gz = flate2::read::GzDecoder::new(&head[..]);
        let mut inner = vec![0u8; 512];
        let m = gz.read(&mut inner).unwrap_or(0);
        return (m >= 262 && &inner[257..262] == b"ustar")
            .then(|| Box::new(flate2::read::GzDecoder::new(f)) as Box<dyn Read>);
    }
    (n >= 262 && &head[257..262] == b"ustar").then(|| Box::new(f) as Box<dyn Read>)
}

/// Carry out the copy into `merged` (the step's rootfs). `workdir` anchors a relative dest.
pub(crate) fn execute(
    spec: &CopySpec,
    items: &[Item],
    ctx: Option<&Context>,
    merged: &Path,
    workdir: &str,
    perms: &Perms,
    line: usize,
) -> Result<(), BuildError> {
    let dest = if spec.dest.starts_with('/') {
        spec.dest.clone()
    } else {
        format!(
            "{}/{}",
            if workdir.is_empty() { "/" } else { workdir },
            spec.dest
        )
    };
    let dest_dir_form = dest.ends_with('/') || spec.dest == "." || spec.dest.ends_with("/.");
    let host_dest = fsroot::resolve(merged, &dest, true)
        .map_err(|e| io_err(line, "resolve", Path::new(&dest), e))?;
    let dest_is_dir = dest_dir_form || host_dest.is_dir();
    let many = items.len() > 1;
    if many && !dest_dir_form && !host_dest.is_dir() {
        return Err(BuildError::invalid(
            line,
            format!("When using {} with more than one source file, the destination must be a directory and end with a /", if spec.add { "ADD" } else { "COPY" }),
        ));
    }
    let mkparent = |p: &Path| -> Result<(), BuildError> {
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent).map_err(|e| io_err(line, "create", parent, e))?;
        }
        Ok(())
    };
    for it in items {
        match it {
            Item::Inline { name, content } => {
                let target = if dest_is_dir {
                    host_dest.join(name)
                } else {
                    host_dest.clone()
                };
                mkparent(&target)?;
                if fs::symlink_metadata(&target).is_ok_and(|m| !m.is_dir()) {
                    // Replace, never follow, what is there (a symlink may point anywhere).
                    fs::remove_file(&target).map_err(|e| io_err(line, "replace", &target, e))?;
                }
                fs::write(&target, content).map_err(|e| io_err(line, "write", &target, e))?;
                std::os::unix::fs::lchown(&target, Some(perms.uid), Some(perms.gid))
                    .map_err(|e| io_err(line, "chown", &target, e))?;
                fs::set_permissions(
                    &target,
                    fs::Permissions::from_mode(perms.chmod.unwrap_or(0o644)),
                )
                .map_err(|e| io_err(line, "chmod", &target, e))?;
            }
            Item::Path(m) => {
                let md =
                    fs::symlink_metadata(&m.host).map_err(|e| io_err(line, "stat", &m.host, e))?;
                if md.is_dir() {
                    fs::create_dir_all(&host_dest)
                        .map_err(|e| io_err(line, "create", &host_dest, e))?;
                    copy_tree(&m.host, &m.rel, ctx, &host_dest, perms, merged)
                        .map_err(|e| io_err(line, "copy", &m.host, e))?;
                    continue;
                }
                if spec.add {
                    if let Some(r) = tar_reader(&m.host) {
                        fs::create_dir_all(&host_dest)
                            .map_err(|e| io_err(line, "create", &host_dest, e))?;
                        let mut ar = tar::Archive::new(r);
                        ar.set_preserve_permissions(true);
                        ar.set_preserve_ownerships(true);
                        ar.set_overwrite(true);
                        ar.unpack(&host_dest).map_err(|e| {
                            // tar's message names the entry; its cause is the reason.
                            let cause = std::error::Error::source(&e)
                                .map(|c| format!(": {c}"))
                                .unwrap_or_default();
                            let e = std::io::Error::other(format!("{e}{cause}"));
                            io_err(line, "extract", &m.host, e)
                        })?;
                        continue;
                    }
                }
                let base = Path::new(&m.rel)
                    .file_name()
                    .map(|n| n.to_os_string())
                    .unwrap_or_else(|| m.host.file_name().unwrap_or_default().to_os_string());
                let target = if dest_is_dir {
                    host_dest.join(base)
                } else {
                    host_dest.clone()
                };
                mkparent(&target)?;
                copy_tree(&m.host, &m.rel, None, &target, perms, merged)
                    .map_err(|e| io_err(line, "copy", &m.host, e))?;
            }
        }
    }
    Ok(())
}
