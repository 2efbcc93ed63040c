//! `docker cp` and `docker export`: `HEAD|GET|PUT /containers/{id}/archive?path=` and
//! `GET /containers/{id}/export`.
//!
//! Paths are looked up in the container's volumes and binds first (longest destination
//! prefix), then in its rootfs. Every lookup goes through openat2(RESOLVE_IN_ROOT) from that
//! root, so a symlink planted by the container (`/x -> /etc` of the host) cannot lead the
//! daemon outside it (CVE-2018-15664 is this bug in Docker); tar extraction then re-checks
//! each entry against the opened directory.

use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use axum::extract::{Path as UrlPath, RawQuery, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;
use serde_json::json;

use super::record::ContainerRecord;
use super::ContainerError;
use crate::api::AppState;
use crate::errors::ApiError;
use crate::query::QueryParams as Query;
use crate::streaming::{blocking_body, body_reader};

/// Go's `os.FileMode` bits, which the docker CLI decodes from the path-stat header.
mod go_mode {
    pub const DIR: u32 = 1 << 31;
    pub const SYMLINK: u32 = 1 << 27;
    pub const DEVICE: u32 = 1 << 26;
    pub const NAMED_PIPE: u32 = 1 << 25;
    pub const SOCKET: u32 = 1 << 24;
    pub const SETUID: u32 = 1 << 23;
    pub const SETGID: u32 = 1 << 22;
    pub const CHAR_DEVICE: u32 = 1 << 21;
    pub const STICKY: u32 = 1 << 20;
}

/// A Unix `st_mode` as Go's `os.FileMode`.
pub fn go_file_mode(st_mode: u32) -> u32 {
    let mut m = st_mode & 0o777;
    match st_mode & libc::S_IFMT {
        libc::S_IFDIR => m |= go_mode::DIR,
        libc::S_IFLNK => m |= go_mode::SYMLINK,
        libc::S_IFBLK => m |= go_mode::DEVICE,
        libc::S_IFCHR => m |= go_mode::DEVICE | go_mode::CHAR_DEVICE,
        libc::S_IFIFO => m |= go_mode::NAMED_PIPE,
        libc::S_IFSOCK => m |= go_mode::SOCKET,
        _ => {}
    }
    if st_mode & libc::S_ISUID != 0 {
        m |= go_mode::SETUID;
    }
    if st_mode & libc::S_ISGID != 0 {
        m |= go_mode::SETGID;
    }
    if st_mode & libc::S_ISVTX != 0 {
        m |= go_mode::STICKY;
    }
    m
}

/// `/a/./b/../c/` → `["a", "c"]`; `..` never climbs above the root.
fn components(path: &str) -> Vec<&OsStr> {
    let mut out = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Where a container path lives on the host: a root directory and the path below it.
#[derive(Debug, PartialEq, Eq)]
pub struct Located {
    pub root: PathBuf,
    pub relative: PathBuf,
    /// False for read-only mounts and a read-only rootfs.
    pub writable: bool,
}

/// Pick the volume or bind whose destination is the longest prefix of `path`, else the rootfs.
pub fn locate(record: &ContainerRecord, path: &str) -> Located {
    let wanted = components(path);
    // The daemon's own files, bind-mounted over the image's.
    for (dest, file) in [
        ("etc/hostname", "hostname"),
        ("etc/hosts", "hosts"),
        ("etc/resolv.conf", "resolv.conf"),
    ] {
        if wanted == components(dest) && record.dir.join(file).is_file() {
            return Located {
                root: record.dir.clone(),
                relative: PathBuf::from(file),
                writable: true,
            };
        }
    }
    let mut best: Option<(usize, &super::record::MountPoint)> = None;
    for m in &record.mounts {
        let dest = components(&m.destination);
        if wanted.len() >= dest.len()
            && wanted[..dest.len()] == dest[..]
            && best.is_none_or(|(n, _)| dest.len() > n)
        {
            best = Some((dest.len(), m));
        }
    }
    match best {
        Some((n, m)) => Located {
            root: m.source.clone(),
            relative: wanted[n..].iter().collect(),
            writable: m.rw,
        },
        None => Located {
            root: record.rootfs.clone(),
            relative: wanted.iter().collect(),
            writable: !record
                .create
                .host_config
                .as_ref()
                .and_then(|h| h.readonly_rootfs)
                .unwrap_or(false),
        },
    }
}

/// Docker's copy-up: fill an empty volume from what the image has at `destination`. The
/// image path is opened inside the rootfs like every other lookup here, so an image's
/// symlink cannot make the daemon copy host files into the volume.
pub fn copy_up(rootfs: &Path, destination: &str, volume: &Path) -> std::io::Result<()> {
    if std::fs::read_dir(volume)?.next().is_some() {
        return Ok(());
    }
    let relative: PathBuf = components(destination).iter().collect();
    let Ok(fd) = open_in(rootfs, &relative, true) else {
        return Ok(()); // nothing in the image there
    };
    super::copyup::copy_tree(&fd_path(&fd), volume)
}

/// Open `relative` inside `root`, resolving every symlink as if `root` were `/`.
fn open_in(root: &Path, relative: &Path, follow_last: bool) -> nix::Result<OwnedFd> {
    let root_fd = nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let rel: &Path = if relative.as_os_str().is_empty() {
        Path::new(".")
    } else {
        relative
    };
    let mut flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
    if !follow_last {
        flags |= OFlag::O_NOFOLLOW;
    }
    let how = OpenHow::new()
        .flags(flags)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    nix::fcntl::openat2(&root_fd, rel, how)
}

/// Find `path` of a container (mounted again if needed) and open it inside its root.
fn open_container_path(
    c: &super::Containers,
    record: &ContainerRecord,
    path: &str,
    follow_last: bool,
) -> Result<(Located, OwnedFd), ApiError> {
    c.ensure_rootfs(record)?;
    let at = locate(record, path);
    let fd =
        open_in(&at.root, &at.relative, follow_last).map_err(|_| ContainerError::PathNotFound {
            path: path.to_string(),
            container: record.name.clone(),
        })?;
    Ok((at, fd))
}

fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// What the path-stat header says about one path.
struct PathStat {
    name: String,
    size: u64,
    mode: u32,
    mtime: String,
    link_target: String,
}

impl PathStat {
    fn of(fd: &OwnedFd, container_path: &str) -> std::io::Result<PathStat> {
        let st = nix::sys::stat::fstat(fd).map_err(std::io::Error::from)?;
        let link_target = if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
            nix::fcntl::readlinkat(fd, "")
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(PathStat {
            name: base_name(container_path),
            size: st.st_size as u64,
            mode: go_file_mode(st.st_mode),
            mtime: crate::timefmt::rfc3339_nano(st.st_mtime, st.st_mtime_nsec as u32),
            link_target,
        })
    }

    fn header(&self) -> HeaderValue {
        use base64::Engine;
        let body = json!({
            "name": self.name,
            "size": self.size,
            "mode": self.mode,
            "mtime": self.mtime,
            "linkTarget": self.link_target,
        });
        let encoded = base64::engine::general_purpose::STANDARD.encode(body.to_string());
        HeaderValue::from_str(&encoded).expect("base64 is a valid header value")
    }
}

fn base_name(path: &str) -> String {
    components(path)
        .last()
        .map(|c| c.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".into())
}

const STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// Resolve the record and open the path named by `?path=`, not following a final symlink.
async fn open_path(
    s: &AppState,
    id: String,
    q: &Query,
) -> Result<(ContainerRecord, String, OwnedFd), ApiError> {
    let path = q
        .non_empty("path")
        .ok_or(ApiError::MissingParameter { name: "path" })?
        .to_string();
    s.containers
        .call(move |c| {
            let record = c.find(&id)?;
            let (_, fd) = open_container_path(c, &record, &path, false)?;
            Ok((record, path, fd))
        })
        .await
}

/// `HEAD /containers/{id}/archive?path=`: only the stat header.
pub async fn head(
    State(s): State<AppState>,
    UrlPath(id): UrlPath<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let (_, path, fd) = open_path(&s, id, &q).await?;
    let stat = PathStat::of(&fd, &path).map_err(|e| ContainerError::io("stat", e))?;
    Ok((StatusCode::OK, [(STAT_HEADER, stat.header())]).into_response())
}

/// `GET /containers/{id}/archive?path=`: a tar whose top entry is the path's base name.
pub async fn get(
    State(s): State<AppState>,
    UrlPath(id): UrlPath<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let (record, path, fd) = open_path(&s, id, &q).await?;
    let stat = PathStat::of(&fd, &path).map_err(|e| ContainerError::io("stat", e))?;
    let name = stat.name.clone();
    let body = blocking_body(format!("archive of {path} in {}", record.id), move |out| {
        let mut b = tar::Builder::new(out);
        b.follow_symlinks(false);
        let top = if name == "/" { "." } else { name.as_str() };
        append_fd(&mut b, &fd, top)?;
        b.into_inner()?;
        Ok(())
    });
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-tar"),
            ),
            (
                header::HeaderName::from_static("x-docker-container-path-stat"),
                stat.header(),
            ),
        ],
        body,
    )
        .into_response())
}

fn append_fd(
    b: &mut tar::Builder<impl std::io::Write>,
    fd: &OwnedFd,
    name: &str,
) -> std::io::Result<()> {
    let st = nix::sys::stat::fstat(fd).map_err(std::io::Error::from)?;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => b.append_dir_all(name, fd_path(fd)),
        libc::S_IFLNK => {
            let target = nix::fcntl::readlinkat(fd, "").map_err(std::io::Error::from)?;
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_mode(st.st_mode & 0o7777);
            h.set_uid(st.st_uid as u64);
            h.set_gid(st.st_gid as u64);
            h.set_mtime(st.st_mtime.max(0) as u64);
            h.set_size(0);
            b.append_link(&mut h, name, target)
        }
        _ => b.append_path_with_name(fd_path(fd), name),
    }
}

/// `PUT /containers/{id}/archive?path=DIR[&noOverwriteDirNonDir=1][&copyUIDGID=1]`:
/// extract a tar into an existing directory.
pub async fn put(
    State(s): State<AppState>,
    UrlPath(id): UrlPath<String>,
    RawQuery(q): RawQuery,
    req: Request,
) -> Result<Response, ApiError> {
    let q = Query::parse(q.as_deref());
    let path = q
        .non_empty("path")
        .ok_or(ApiError::MissingParameter { name: "path" })?
        .to_string();
    let no_overwrite = q.bool("noOverwriteDirNonDir");
    let copy_owner = q.bool("copyUIDGID");
    let mut reader = body_reader(req);
    s.containers
        .call(move |c| {
            let record = c.find(&id)?;
            let (at, fd) = open_container_path(c, &record, &path, true)?;
            let st =
                nix::sys::stat::fstat(&fd).map_err(|e| ContainerError::io("stat", e.into()))?;
            if st.st_mode & libc::S_IFMT != libc::S_IFDIR {
                return Err(ContainerError::NotADirectory(path.clone()).into());
            }
            if !at.writable {
                return Err(ContainerError::ReadOnlyPath(path.clone()).into());
            }
            extract(&mut reader, &fd_path(&fd), no_overwrite, copy_owner)
                .map_err(|e| ContainerError::Extract { path, cause: e }.into())
        })
        .await?;
    Ok(StatusCode::OK.into_response())
}

/// Unpack `tar` below `dir` (an opened `/proc/self/fd/N`). The tar crate refuses entries
/// that would land outside `dir` after resolving symlinks, so `../` and links planted in
/// the container cannot redirect a write to the host.
pub fn extract(
    tar: &mut dyn Read,
    dir: &Path,
    no_overwrite_dir_non_dir: bool,
    copy_owner: bool,
) -> std::io::Result<()> {
    let dir = std::fs::canonicalize(dir)?;
    let mut archive = tar::Archive::new(tar);
    // Docker's default: what is copied in belongs to the container's root, which is the
    // daemon's own uid (no user namespace); `copyUIDGID` keeps the archive's owners.
    archive.set_preserve_ownerships(copy_owner);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let rel = entry.path()?.into_owned();
        if no_overwrite_dir_non_dir {
            let target = dir.join(&rel);
            if let Ok(existing) = std::fs::symlink_metadata(&target) {
                let incoming_dir = entry.header().entry_type().is_dir();
                if existing.is_dir() != incoming_dir {
                    return Err(std::io::Error::other(format!(
                        "cannot overwrite {} {} with a {}",
                        if existing.is_dir() {
                            "directory"
                        } else {
                            "non-directory"
                        },
                        rel.display(),
                        if incoming_dir {
                            "directory"
                        } else {
                            "non-directory"
                        },
                    )));
                }
            }
        }
        entry.set_preserve_permissions(true);
        entry.set_preserve_mtime(true);
        entry.set_unpack_xattrs(false);
        if !entry.unpack_in(&dir)? {
            return Err(std::io::Error::other(format!(
                "refusing {}: it leads outside the destination directory",
                rel.display()
            )));
        }
    }
    Ok(())
}

/// `GET /containers/{id}/export`: the container's filesystem as a tar.
pub async fn export(
    State(s): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    let record = s
        .containers
        .call(move |c| {
            let record = c.find(&id)?;
            c.ensure_rootfs(&record)?;
            Ok(record)
        })
        .await?;
    let images = s.images.clone();
    let id = record.id.clone();
    let body = blocking_body(format!("export of {id}"), move |out| {
        images
            .export_rootfs(&id, out)
            .map_err(|e| std::io::Error::other(e.to_string()))
    });
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-tar"),
        )],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_modes_match_what_the_docker_cli_decodes() {
        assert_eq!(go_file_mode(libc::S_IFDIR | 0o755), (1 << 31) | 0o755);
        assert_eq!(go_file_mode(libc::S_IFREG | 0o644), 0o644);
        assert_eq!(go_file_mode(libc::S_IFLNK | 0o777), (1 << 27) | 0o777);
        assert_eq!(
            go_file_mode(libc::S_IFREG | libc::S_ISUID | 0o755),
            (1 << 23) | 0o755
        );
        assert_eq!(
            go_file_mode(libc::S_IFCHR | 0o666),
            (1 << 26) | (1 << 21) | 0o666
        );
    }

    #[test]
    fn paths_are_cleaned_and_never_climb_above_root() {
        assert_eq!(
            components("/a/./b/../c/"),
            vec![OsStr::new("a"), OsStr::new("c")]
        );
        assert_eq!(components("../../etc"), vec![OsStr::new("etc")]);
        assert_eq!(base_name("/"), "/");
        assert_eq!(base_name("/etc/hostname"), "hostname");
        assert_eq!(base_name("/data/"), "data");
    }
}
