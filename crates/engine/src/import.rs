//! `docker import`: a rootfs tar becomes a one-layer image. The layer is spooled to a temp
//! file while its digest is computed, wrapped into a docker-archive with a fresh config, and
//! handed to the image store's `load`, so the store has one import path to verify.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::errors::ApiError;
use crate::hostinfo::go_arch;
use crate::image_service::ImageService;
use crate::timefmt::now_rfc3339_nano;

#[derive(Debug, Clone, Default)]
pub struct ImportRequest {
    /// `repo:tag` to give the image, if any.
    pub repo_tag: Option<String>,
    pub message: Option<String>,
    /// Dockerfile-style `changes` (`CMD ["sh"]`, `ENV A=b`, …).
    pub changes: Vec<String>,
}

/// A temp directory removed on drop, whatever happened.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> ApiError {
    let context = context.into();
    move |source| ApiError::Io { context, source }
}

/// Imports `layer` (a tar, optionally gzip-compressed) and returns the new image id.
pub fn import_rootfs(
    images: &dyn ImageService,
    tmp_root: &Path,
    layer: &mut dyn Read,
    req: &ImportRequest,
) -> Result<String, ApiError> {
    let mut config = Map::new();
    for change in &req.changes {
        apply_change(&mut config, change)?;
    }
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = tmp_root.join(format!(
        "import-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
    let dir = TempDir(dir);

    let layer_path = dir.0.join("layer.tar");
    let (diff_id, size) = spool_layer(layer, &layer_path)?;
    if size == 0 {
        return Err(ApiError::UnsupportedArchive {
            reason: "the archive is empty",
        });
    }

    let created = now_rfc3339_nano();
    let comment = req
        .message
        .clone()
        .unwrap_or_else(|| "Imported from -".into());
    let image_config = json!({
        "architecture": go_arch(),
        "os": "linux",
        "created": created,
        "comment": comment,
        "config": Value::Object(config),
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{diff_id}")]},
        "history": [{"created": created, "comment": comment}],
    });
    let config_bytes = serde_json::to_vec(&image_config).map_err(ApiError::InvalidJson)?;
    let config_hex = hex(&Sha256::digest(&config_bytes));
    let manifest = json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": req.repo_tag.as_ref().map(|t| vec![t.clone()]),
        "Layers": [format!("{diff_id}/layer.tar")],
    }]);

    let archive_path = dir.0.join("archive.tar");
    write_archive(
        &archive_path,
        &config_hex,
        &config_bytes,
        &diff_id,
        &layer_path,
        &manifest,
    )?;
    let file = File::open(&archive_path).map_err(io_err("reopening the import archive"))?;
    images.load(&mut BufReader::new(file))?;
    Ok(format!("sha256:{config_hex}"))
}

/// Copies the (decompressed) layer to `path`; returns its sha256 hex and length.
fn spool_layer(input: &mut dyn Read, path: &Path) -> Result<(String, u64), ApiError> {
    let mut head = [0u8; 6];
    let mut got = 0;
    while got < head.len() {
        let n = input
            .read(&mut head[got..])
            .map_err(io_err("reading the import body"))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let head = &head[..got];
    let reason = if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some("xz-compressed archives are not supported; send a plain or gzip tar")
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some("zstd-compressed archives are not supported; send a plain or gzip tar")
    } else if head.starts_with(b"BZh") {
        Some("bzip2-compressed archives are not supported; send a plain or gzip tar")
    } else {
        None
    };
    if let Some(reason) = reason {
        return Err(ApiError::UnsupportedArchive { reason });
    }
    let chained = io::Cursor::new(head.to_vec()).chain(input);
    let mut reader: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(chained))
    } else {
        Box::new(chained)
    };
    let mut out = File::create(path).map_err(io_err(format!("creating {}", path.display())))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(io_err("reading the import body"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(io_err(format!("writing {}", path.display())))?;
        total += n as u64;
    }
    out.sync_all()
        .map_err(io_err(format!("syncing {}", path.display())))?;
    Ok((hex(&hasher.finalize()), total))
}

fn write_archive(
    path: &Path,
    config_hex: &str,
    config: &[u8],
    diff_id: &str,
    layer: &Path,
    manifest: &Value,
) -> Result<(), ApiError> {
    let ctx = format!("writing {}", path.display());
    let file = File::create(path).map_err(io_err(ctx.clone()))?;
    let mut tar = tar::Builder::new(io::BufWriter::new(file));
    let mut add = |name: &str, data: &[u8]| -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, name, data)
    };
    add(&format!("{config_hex}.json"), config).map_err(io_err(ctx.clone()))?;
    add("manifest.json", manifest.to_string().as_bytes()).map_err(io_err(ctx.clone()))?;
    let mut layer_file = File::open(layer).map_err(io_err(ctx.clone()))?;
    tar.append_file(format!("{diff_id}/layer.tar"), &mut layer_file)
        .map_err(io_err(ctx.clone()))?;
    tar.into_inner()
        .and_then(|mut w| w.flush())
        .map_err(io_err(ctx))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `changes` a `docker import -c` may carry, applied to the image's container config.
pub fn apply_change(config: &mut Map<String, Value>, change: &str) -> Result<(), ApiError> {
    let invalid = |reason| ApiError::InvalidChange {
        change: change.to_owned(),
        reason,
    };
    let (instr, arg) = change
        .trim()
        .split_once([' ', '\t'])
        .unwrap_or((change.trim(), ""));
    let arg = arg.trim();
    if arg.is_empty() {
        return Err(invalid("the instruction has no argument"));
    }
    let command = || -> Value {
        match serde_json::from_str::<Vec<String>>(arg) {
            Ok(list) => json!(list),
            Err(_) => json!(["/bin/sh", "-c", arg]),
        }
    };
    let key_value = || -> Result<(String, String), ApiError> {
        match arg.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.trim_matches('"').to_owned())),
            _ => match arg.split_once(' ') {
                Some((k, v)) => Ok((k.to_owned(), v.trim().to_owned())),
                None => Err(invalid("expected KEY=VALUE")),
            },
        }
    };
    match instr.to_ascii_uppercase().as_str() {
        "CMD" => {
            config.insert("Cmd".into(), command());
        }
        "ENTRYPOINT" => {
            config.insert("Entrypoint".into(), command());
        }
        "WORKDIR" => {
            config.insert("WorkingDir".into(), json!(arg));
        }
        "USER" => {
            config.insert("User".into(), json!(arg));
        }
        "STOPSIGNAL" => {
            config.insert("StopSignal".into(), json!(arg));
        }
        "ENV" => {
            let (k, v) = key_value()?;
            let env = config.entry("Env").or_insert_with(|| json!([]));
            if let Value::Array(list) = env {
                list.retain(|e| {
                    e.as_str().and_then(|s| s.split_once('=')).map(|p| p.0) != Some(&k)
                });
                list.push(json!(format!("{k}={v}")));
            }
        }
        "LABEL" => {
            let (k, v) = key_value()?;
            let labels = config.entry("Labels").or_insert_with(|| json!({}));
            labels[k] = json!(v);
        }
        "EXPOSE" => {
            let ports = config.entry("ExposedPorts").or_insert_with(|| json!({}));
            for p in arg.split_whitespace() {
                let p = if p.contains('/') {
                    p.to_owned()
                } else {
                    format!("{p}/tcp")
                };
                ports[p] = json!({});
            }
        }
        "VOLUME" => {
            let vols = config.entry("Volumes").or_insert_with(|| json!({}));
            let list = serde_json::from_str::<Vec<String>>(arg)
                .unwrap_or_else(|_| arg.split_whitespace().map(str::to_owned).collect());
            for v in list {
                vols[v] = json!({});
            }
        }
        _ => {
            return Err(invalid(
                "supported: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR",
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes() {
        let mut c = Map::new();
        apply_change(&mut c, r#"CMD ["sh","-c","echo hi"]"#).unwrap();
        apply_change(&mut c, "ENTRYPOINT /init --x").unwrap();
        apply_change(&mut c, "ENV A=b").unwrap();
        apply_change(&mut c, "ENV A=c").unwrap();
        apply_change(&mut c, "env B 1 2").unwrap();
        apply_change(&mut c, "EXPOSE 80 53/udp").unwrap();
        apply_change(&mut c, "LABEL k=v").unwrap();
        apply_change(&mut c, "WORKDIR /data").unwrap();
        let v = Value::Object(c.clone());
        assert_eq!(v["Cmd"], json!(["sh", "-c", "echo hi"]));
        assert_eq!(v["Entrypoint"], json!(["/bin/sh", "-c", "/init --x"]));
        assert_eq!(v["Env"], json!(["A=c", "B=1 2"]));
        assert_eq!(v["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(v["Labels"], json!({"k": "v"}));
        assert_eq!(v["WorkingDir"], "/data");
        let e = apply_change(&mut c, "RUN make").unwrap_err();
        assert_eq!(e.status().as_u16(), 400);
        assert!(apply_change(&mut c, "CMD").is_err());
    }

    #[test]
    fn spools_plain_and_gzip_and_rejects_xz() {
        let dir = tempfile::tempdir().unwrap();
        let data = b"hello layer".repeat(1000);
        let (plain, n) = spool_layer(&mut &data[..], &dir.path().join("a")).unwrap();
        assert_eq!(n, data.len() as u64);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let (from_gz, _) = spool_layer(&mut &gz[..], &dir.path().join("b")).unwrap();
        assert_eq!(plain, from_gz);
        assert_eq!(plain, hex(&Sha256::digest(&data)));
        let xz = [0xfd, b'7', b'z', b'X', b'Z', 0, 1, 2];
        assert!(matches!(
            spool_layer(&mut &xz[..], &dir.path().join("c")),
            Err(ApiError::UnsupportedArchive { .. })
        ));
    }
}
