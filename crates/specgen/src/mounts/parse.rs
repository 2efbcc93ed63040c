//! Parsing of the user's mount requests: `Binds` strings, `Mounts` objects, the `Tmpfs` map
//! and `VOLUME`s (moby `volume/mounts/linux_parser.go`).

use super::{format_size, MountKind, MountRequest, PROPAGATIONS};
use crate::args::clean_path;
use crate::create::{ContainerConfig, HostConfig, Mount as ApiMount};
use crate::image::ImageConfig;
use crate::SpecError;

fn is_valid_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn check_destination(dest: &str) -> Result<String, String> {
    if !dest.starts_with('/') {
        return Err(format!(
            "invalid mount path: '{dest}' mount path must be absolute"
        ));
    }
    let clean = clean_path(dest);
    if clean == "/" {
        return Err("destination can't be '/'".into());
    }
    Ok(clean)
}

/// Parse one `Binds` entry: `[src:]dst[:mode]`, mode a comma list of `ro|rw`, `z|Z`,
/// a propagation, `nocopy`.
pub fn parse_bind(spec: &str) -> Result<MountRequest, SpecError> {
    let err = |reason: String| SpecError::InvalidBind {
        value: spec.to_string(),
        reason,
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, mode) = match parts.as_slice() {
        [d] => (None, *d, None),
        // `/dst:rw`: an anonymous volume cannot take a mode.
        [_, b] if is_valid_mode(b) => return Err(err("invalid volume specification".into())),
        [s, d] => (Some(*s), *d, None),
        [s, d, m] => (Some(*s), *d, Some(*m)),
        _ => return Err(err("invalid volume specification".into())),
    };
    if src == Some("") || dst.is_empty() {
        return Err(err("invalid volume specification".into()));
    }
    let destination = check_destination(dst).map_err(err)?;
    let mut req = match src {
        Some(s) if s.starts_with('/') => {
            let mut r = MountRequest::new(MountKind::Bind, Some(clean_path(s)), destination);
            r.propagation = Some("rprivate".into());
            r
        }
        Some(s) if is_valid_volume_name(s) => {
            MountRequest::new(MountKind::Volume, Some(s.to_string()), destination)
        }
        Some(s) if s.len() == 1 && s.chars().all(|c| c.is_ascii_alphanumeric()) => {
            return Err(err(format!(
                "volume name {s:?} is too short, names should be at least two alphanumeric characters"
            )))
        }
        Some(s) => {
            return Err(err(format!(
                "{s:?} includes invalid characters for a local volume name, only \
                 \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed; if you intended to pass a host \
                 directory, use an absolute path"
            )))
        }
        None => MountRequest::new(MountKind::Volume, None, destination),
    };
    if let Some(mode) = mode {
        if !is_valid_mode(mode) {
            return Err(err(format!("invalid mode: {mode}")));
        }
        for m in mode.split(',') {
            match m {
                "ro" => req.readonly = true,
                "rw" | "z" | "Z" => {}
                "nocopy" if req.kind == MountKind::Volume => req.nocopy = true,
                p if PROPAGATIONS.contains(&p) && req.kind == MountKind::Bind => {
                    req.propagation = Some(p.to_string())
                }
                other => return Err(err(format!("invalid mode: {other}"))),
            }
        }
    }
    Ok(req)
}

/// At most one of each class: rw/ro, z/Z, propagation, nocopy.
fn is_valid_mode(mode: &str) -> bool {
    let mut classes = [0u8; 4];
    for m in mode.split(',') {
        let class = match m {
            "rw" | "ro" => 0,
            "z" | "Z" => 1,
            "nocopy" => 3,
            p if PROPAGATIONS.contains(&p) => 2,
            _ => return false,
        };
        classes[class] += 1;
        if classes[class] > 1 {
            return false;
        }
    }
    true
}

/// Parse one `HostConfig.Mounts` entry.
pub fn parse_api_mount(m: &ApiMount) -> Result<MountRequest, SpecError> {
    let target = m.target.clone().unwrap_or_default();
    let err = |reason: String| SpecError::InvalidMount {
        target: target.clone(),
        reason,
    };
    if target.is_empty() {
        return Err(err("Target must not be empty".into()));
    }
    let destination = check_destination(&target).map_err(err)?;
    let source = m.source.clone().filter(|s| !s.is_empty());
    let typ = m.typ.as_deref().unwrap_or("");
    let mut req = match typ {
        "bind" => {
            let src =
                source.ok_or_else(|| err("Source must not be empty for a bind mount".into()))?;
            if !src.starts_with('/') {
                return Err(err(format!("invalid mount config for type \"bind\": invalid mount path: '{src}' mount path must be absolute")));
            }
            let mut r = MountRequest::new(MountKind::Bind, Some(clean_path(&src)), destination);
            let bo = m.bind_options.clone().unwrap_or_default();
            let p = bo
                .propagation
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "rprivate".into());
            if !PROPAGATIONS.contains(&p.as_str()) {
                return Err(err(format!("invalid propagation mode: {p}")));
            }
            r.propagation = Some(p);
            r.non_recursive = bo.non_recursive.unwrap_or(false);
            r
        }
        "volume" => {
            if let Some(s) = &source {
                if !is_valid_volume_name(s) {
                    return Err(err(format!("invalid volume name {s:?}")));
                }
            }
            if m.bind_options.is_some() || m.tmpfs_options.is_some() {
                return Err(err(
                    "BindOptions/TmpfsOptions are not valid for a volume mount".into(),
                ));
            }
            let mut r = MountRequest::new(MountKind::Volume, source, destination);
            let vo = m.volume_options.clone().unwrap_or_default();
            r.nocopy = vo.no_copy.unwrap_or(false);
            r.subpath = vo.subpath.filter(|s| !s.is_empty());
            r
        }
        "tmpfs" => {
            if source.is_some() {
                return Err(err("Source must not be specified for a tmpfs mount".into()));
            }
            let mut r = MountRequest::new(MountKind::Tmpfs, None, destination);
            let to = m.tmpfs_options.clone().unwrap_or_default();
            if let Some(size) = to.size_bytes.filter(|s| *s != 0) {
                if size < 0 {
                    return Err(err(format!("invalid tmpfs size {size}")));
                }
                r.tmpfs_options.push(format!("size={}", format_size(size)));
            }
            if let Some(mode) = to.mode.filter(|m| *m != 0) {
                r.tmpfs_options.push(format!("mode={:o}", mode & 0o7777));
            }
            for o in to.options.iter().flatten() {
                match o.as_slice() {
                    [k] => r.tmpfs_options.push(k.clone()),
                    [k, v] => r.tmpfs_options.push(format!("{k}={v}")),
                    _ => return Err(err(format!("invalid tmpfs option {o:?}"))),
                }
            }
            r
        }
        other => return Err(err(format!("mount type {other:?} is not supported"))),
    };
    req.readonly = m.read_only.unwrap_or(false);
    Ok(req)
}

/// Every user mount the create body asks for, in Docker's precedence: `Binds`, `Mounts`,
/// `Tmpfs`, then anonymous volumes for `Config.Volumes` and the image's `VOLUME`s that nothing
/// else covers. A destination requested twice by the user is an error.
pub fn requests(
    config: &ContainerConfig,
    hc: &HostConfig,
    image: &ImageConfig,
) -> Result<Vec<MountRequest>, SpecError> {
    let mut out: Vec<MountRequest> = Vec::new();
    let push = |r: MountRequest, out: &mut Vec<MountRequest>| {
        if out.iter().any(|o| o.destination == r.destination) {
            return Err(SpecError::DuplicateMountPoint(r.destination));
        }
        out.push(r);
        Ok(())
    };
    for b in hc.binds.iter().flatten() {
        push(parse_bind(b)?, &mut out)?;
    }
    for m in hc.mounts.iter().flatten() {
        push(parse_api_mount(m)?, &mut out)?;
    }
    for (dest, opts) in hc.tmpfs.iter().flatten() {
        let destination = check_destination(dest).map_err(|reason| SpecError::InvalidTmpfs {
            value: dest.clone(),
            reason,
        })?;
        let mut r = MountRequest::new(MountKind::Tmpfs, None, destination);
        r.tmpfs_options = opts
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        push(r, &mut out)?;
    }
    let anon = config
        .volumes
        .iter()
        .flatten()
        .chain(image.volumes.iter().flatten());
    for (dest, _) in anon {
        let Ok(destination) = check_destination(dest) else {
            continue;
        };
        if !out.iter().any(|o| o.destination == destination) {
            out.push(MountRequest::new(MountKind::Volume, None, destination));
        }
    }
    Ok(out)
}
