//! OCI image layout (image-spec `image-layout.md`): `oci-layout`, `index.json`, `blobs/<alg>/`.
//! Nested indexes (multi-platform) resolve to the host's platform.

use super::{Plan, PlanLayer, Spool};
use crate::digest::Digest;
use crate::error::ImageError;
use crate::Reference;
use serde_json::Value;

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
const MANIFEST_TYPES: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

fn descriptor_digest(v: &Value, what: &str) -> Result<Digest, ImageError> {
    let s = v["digest"]
        .as_str()
        .ok_or_else(|| ImageError::InvalidArchive {
            path: what.to_string(),
            reason: "descriptor without a digest".into(),
        })?;
    Digest::parse(s)
}

/// Read a blob of the layout and check it against its digest.
fn read_verified(spool: &Spool, d: &Digest) -> Result<Value, ImageError> {
    let (bytes, v) = spool.read_json(&blob_path(d))?;
    let actual = Digest::of(&bytes);
    if actual != *d {
        return Err(ImageError::DigestMismatch {
            what: blob_path(d),
            expected: d.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(v)
}

/// The name an index entry gives its image. containerd and docker put the full name in
/// `io.containerd.image.name`; `org.opencontainers.image.ref.name` is often only a tag, which
/// names no repository, so it counts only when it parses as a full reference.
fn name_of(desc: &Value) -> Result<Option<Reference>, ImageError> {
    let ann = &desc["annotations"];
    if let Some(n) = ann["io.containerd.image.name"].as_str() {
        return Reference::parse(n).map(Some);
    }
    if let Some(n) = ann["org.opencontainers.image.ref.name"].as_str() {
        if n.contains('/') || n.contains(':') {
            return Ok(Reference::parse(n).ok());
        }
    }
    Ok(None)
}

pub fn plans(spool: &Spool) -> Result<Vec<Plan>, ImageError> {
    let (_, index) = spool.read_json("index.json")?;
    let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
    let mut out: Vec<Plan> = Vec::new();
    for desc in &manifests {
        let name = name_of(desc)?;
        let manifest_digest = resolve_manifest(spool, desc, 0)?;
        let m = read_verified(spool, &manifest_digest)?;
        let config = descriptor_digest(&m["config"], "manifest config")?;
        let layers = m["layers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|l| {
                let d = descriptor_digest(l, "manifest layer")?;
                Ok(PlanLayer {
                    path: blob_path(&d),
                    digest: Some(d),
                })
            })
            .collect::<Result<Vec<_>, ImageError>>()?;
        // Several index entries may name the same image under different tags.
        if let Some(p) = out
            .iter_mut()
            .find(|p| p.config_digest.as_ref() == Some(&config))
        {
            p.tags.extend(name);
            continue;
        }
        out.push(Plan {
            config: blob_path(&config),
            config_digest: Some(config),
            layers,
            tags: name.into_iter().collect(),
        });
    }
    if out.is_empty() {
        return Err(ImageError::InvalidArchive {
            path: "index.json".into(),
            reason: "it lists no image manifests".into(),
        });
    }
    Ok(out)
}

/// Follow nested indexes to the manifest for this host's platform.
fn resolve_manifest(spool: &Spool, desc: &Value, depth: u32) -> Result<Digest, ImageError> {
    let d = descriptor_digest(desc, "index.json")?;
    let mt = desc["mediaType"].as_str().unwrap_or("");
    if MANIFEST_TYPES.contains(&mt) {
        return Ok(d);
    }
    let v = read_verified(spool, &d)?;
    let mt = if mt.is_empty() {
        v["mediaType"].as_str().unwrap_or("")
    } else {
        mt
    };
    if !INDEX_TYPES.contains(&mt) && v["manifests"].is_null() {
        return Ok(d); // a manifest without a declared media type
    }
    if depth > 4 {
        return Err(ImageError::InvalidArchive {
            path: blob_path(&d),
            reason: "image indexes nested more than 4 deep".into(),
        });
    }
    let list = v["manifests"].as_array().cloned().unwrap_or_default();
    let pick = list
        .iter()
        .find(|m| {
            m["platform"]["os"].as_str() == Some("linux")
                && m["platform"]["architecture"].as_str() == Some(host_arch())
        })
        .or(if list.len() == 1 { list.first() } else { None })
        .ok_or_else(|| ImageError::Unsupported {
            what: "image index without a platform of",
            value: format!("linux/{}", host_arch()),
            hint: "save the image for this platform",
        })?;
    resolve_manifest(spool, pick, depth + 1)
}
