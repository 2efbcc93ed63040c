//! `--user` and `--group-add`, resolved against the image's /etc/passwd and /etc/group like
//! runc's `user.GetExecUserPath`.
//!
//! The files come from an untrusted image: a symlinked /etc/passwd pointing at the host's
//! /etc/shadow must not be read (the class of bug behind CVE-2014-9357 / CVE-2019-14271), so
//! every symlink is resolved as if the rootfs were `/` and the walk never leaves it.

use crate::SpecError;
use std::path::{Component, Path, PathBuf};

const MAX_SYMLINKS: usize = 40;

/// Resolved credentials: uid, primary gid, supplementary gids.
pub type Credentials = (u32, u32, Vec<u32>);

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
}

struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// Resolve `user[:group]` (names or numbers) against `rootfs/etc/passwd` and `rootfs/etc/group`.
/// An empty spec means root. Missing files are treated as empty, so numeric ids always work.
pub fn resolve_user(spec_user: &str, rootfs: &Path) -> Result<Credentials, SpecError> {
    let (user_part, group_part) = match spec_user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec_user, None),
    };
    let passwd = parse_passwd(&read_in_rootfs(rootfs, "etc/passwd")?);
    let groups = parse_group(&read_in_rootfs(rootfs, "etc/group")?);

    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let (uid, mut gid, name) = match user_part.parse::<u32>() {
        Ok(uid) => match passwd.iter().find(|p| p.uid == uid) {
            Some(p) => (uid, p.gid, Some(p.name.clone())),
            None => (uid, 0, None),
        },
        Err(_) => {
            if !is_valid_name(user_part) {
                return Err(SpecError::InvalidUser {
                    value: spec_user.to_string(),
                    reason: "invalid user name",
                });
            }
            let p = passwd.iter().find(|p| p.name == user_part).ok_or_else(|| {
                SpecError::UnknownUser {
                    user: user_part.to_string(),
                }
            })?;
            (p.uid, p.gid, Some(p.name.clone()))
        }
    };

    let mut additional = Vec::new();
    match group_part {
        Some(g) if !g.is_empty() => gid = lookup_group(g, &groups)?,
        Some(_) => {
            return Err(SpecError::InvalidUser {
                value: spec_user.to_string(),
                reason: "empty group",
            })
        }
        // Supplementary groups come from /etc/group only when no group was given explicitly.
        None => {
            if let Some(name) = &name {
                for g in groups
                    .iter()
                    .filter(|g| g.members.iter().any(|m| m == name))
                {
                    if g.gid != gid && !additional.contains(&g.gid) {
                        additional.push(g.gid);
                    }
                }
            }
        }
    }
    Ok((uid, gid, additional))
}

/// `--group-add` entries: numbers pass through, names must exist in the image's /etc/group.
pub fn resolve_group_add(groups: &[String], rootfs: &Path) -> Result<Vec<u32>, SpecError> {
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let table = parse_group(&read_in_rootfs(rootfs, "etc/group")?);
    groups.iter().map(|g| lookup_group(g, &table)).collect()
}

fn lookup_group(g: &str, table: &[GroupEntry]) -> Result<u32, SpecError> {
    if let Ok(gid) = g.parse::<u32>() {
        return Ok(gid);
    }
    table
        .iter()
        .find(|e| e.name == g)
        .map(|e| e.gid)
        .ok_or_else(|| SpecError::UnknownGroup {
            group: g.to_string(),
        })
}

fn is_valid_name(s: &str) -> bool {
    !s.is_empty() && !s.contains(['\n', '/']) && !s.starts_with('-')
}

fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(PasswdEntry {
                name: f.first()?.to_string(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
            })
        })
        .collect()
}

fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some(GroupEntry {
                name: f.first()?.to_string(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .filter(|s| !s.is_empty())
                            .map(|s| s.trim().to_string())
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Read `rel` inside `rootfs`, resolving symlinks as if `rootfs` were `/`. A missing file reads
/// as empty.
fn read_in_rootfs(rootfs: &Path, rel: &str) -> Result<String, SpecError> {
    let path = resolve_in_root(rootfs, Path::new(rel))?;
    match std::fs::read(&path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(SpecError::ReadRootfsFile { path, source }),
    }
}

/// Lexical walk of `rel` under `root`, expanding symlinks within `root` (`..` stops at the
/// root, absolute link targets restart at the root): the "securejoin" rule.
pub(crate) fn resolve_in_root(root: &Path, rel: &Path) -> Result<PathBuf, SpecError> {
    let mut pending: Vec<PathBuf> = vec![rel.to_path_buf()];
    let mut resolved: Vec<std::ffi::OsString> = Vec::new();
    let mut links = 0;
    while let Some(p) = pending.pop() {
        let mut comps: Vec<Component> = p.components().collect();
        comps.reverse();
        while let Some(c) = comps.pop() {
            match c {
                Component::RootDir => resolved.clear(),
                Component::Prefix(_) | Component::CurDir => {}
                Component::ParentDir => {
                    resolved.pop();
                }
                Component::Normal(name) => {
                    let mut candidate = root.to_path_buf();
                    candidate.extend(resolved.iter());
                    candidate.push(name);
                    match std::fs::symlink_metadata(&candidate) {
                        Ok(md) if md.file_type().is_symlink() => {
                            links += 1;
                            if links > MAX_SYMLINKS {
                                return Err(SpecError::RootfsEscape { path: candidate });
                            }
                            let target = std::fs::read_link(&candidate).map_err(|source| {
                                SpecError::ReadRootfsFile {
                                    path: candidate.clone(),
                                    source,
                                }
                            })?;
                            let rest: PathBuf = comps.iter().rev().collect();
                            pending.push(rest);
                            pending.push(target);
                            break;
                        }
                        _ => resolved.push(name.to_os_string()),
                    }
                }
            }
        }
    }
    let mut out = root.to_path_buf();
    out.extend(resolved);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn fake_rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\n\
             nobody:x:65534:65534:nobody:/:/sbin/nologin\n\
             app:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nwheel:x:10:root,app\naudio:x:29:app\napp:x:1000:\nnogroup:x:65534:\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn names_and_numbers() {
        let r = fake_rootfs();
        let p = r.path();
        assert_eq!(resolve_user("", p).unwrap(), (0, 0, vec![10]));
        assert_eq!(resolve_user("nobody", p).unwrap(), (65534, 65534, vec![]));
        assert_eq!(resolve_user("app", p).unwrap(), (1000, 1000, vec![10, 29]));
        assert_eq!(resolve_user("1000", p).unwrap(), (1000, 1000, vec![10, 29]));
        assert_eq!(resolve_user("4242", p).unwrap(), (4242, 0, vec![]));
        assert_eq!(resolve_user("app:audio", p).unwrap(), (1000, 29, vec![]));
        assert_eq!(resolve_user("4242:7", p).unwrap(), (4242, 7, vec![]));
        assert!(matches!(
            resolve_user("ghost", p),
            Err(SpecError::UnknownUser { .. })
        ));
        assert!(matches!(
            resolve_user("app:ghosts", p),
            Err(SpecError::UnknownGroup { .. })
        ));
        assert_eq!(
            resolve_group_add(&["audio".into(), "123".into()], p).unwrap(),
            vec![29, 123]
        );
        assert!(resolve_group_add(&["nope".into()], p).is_err());
    }

    #[test]
    fn numeric_user_without_passwd_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(resolve_user("1:2", dir.path()).unwrap(), (1, 2, vec![]));
        assert!(resolve_user("nobody", dir.path()).is_err());
    }

    #[test]
    fn symlinked_passwd_stays_inside_rootfs() {
        // The "host" file the image tries to point at.
        let host = tempfile::tempdir().unwrap();
        fs::write(host.path().join("passwd"), "evil:x:7:7::/:/bin/sh\n").unwrap();

        let r = tempfile::tempdir().unwrap();
        fs::create_dir_all(r.path().join("etc")).unwrap();
        fs::create_dir_all(r.path().join("real")).unwrap();
        fs::write(r.path().join("real/passwd"), "inner:x:5:5::/:/bin/sh\n").unwrap();
        // Absolute link to the host path: re-rooted, so it resolves inside the rootfs.
        std::os::unix::fs::symlink(host.path().join("passwd"), r.path().join("etc/passwd"))
            .unwrap();
        assert!(matches!(
            resolve_user("evil", r.path()),
            Err(SpecError::UnknownUser { .. })
        ));

        // `../../..` climbs stop at the rootfs.
        fs::remove_file(r.path().join("etc/passwd")).unwrap();
        std::os::unix::fs::symlink("../../../../../real/passwd", r.path().join("etc/passwd"))
            .unwrap();
        assert_eq!(resolve_user("inner", r.path()).unwrap(), (5, 5, vec![]));

        // A symlink loop is an error, not a hang.
        fs::remove_file(r.path().join("etc/passwd")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", r.path().join("etc/passwd")).unwrap();
        assert!(matches!(
            resolve_user("x", r.path()),
            Err(SpecError::RootfsEscape { .. })
        ));
    }
}
