//! Manifest parsing: the four media types a registry must take (OCI image manifest and index,
//! Docker schema2 manifest and manifest list), the descriptors they reference and their
//! `subject` (OCI distribution spec 1.1, "Pushing Manifests with Subject").

use serde_json::Value;

use crate::error::{ApiError, Code};
use crate::names::Digest;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Largest manifest accepted (the spec's suggested minimum a registry must take is 4 MiB).
pub const MAX_MANIFEST: usize = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
}

#[derive(Debug)]
pub struct Manifest {
    pub media_type: String,
    /// Blobs the registry must hold (config and layers; not foreign layers with `urls`).
    pub blobs: Vec<Descriptor>,
    /// Manifests an index refers to.
    pub manifests: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    pub artifact_type: Option<String>,
    pub annotations: Option<Value>,
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::detail(Code::ManifestInvalid, detail)
}

fn descriptor(v: &Value) -> Result<Descriptor, ApiError> {
    let digest = v["digest"]
        .as_str()
        .ok_or_else(|| invalid("descriptor without digest"))?;
    let digest =
        Digest::parse(digest).map_err(|e| invalid(format!("descriptor digest {digest:?}: {e}")))?;
    let size = v["size"]
        .as_u64()
        .ok_or_else(|| invalid("descriptor without size"))?;
    let media_type = v["mediaType"].as_str().unwrap_or_default().to_string();
    Ok(Descriptor {
        media_type,
        digest,
        size,
    })
}

/// Strips parameters from a Content-Type.
pub fn bare_type(ct: &str) -> &str {
    ct.split(';').next().unwrap_or("").trim()
}

/// Parses and checks a pushed manifest. `content_type` is the request's Content-Type.
pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Manifest, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| invalid(format!("not JSON: {e}")))?;
    if !v.is_object() {
        return Err(invalid("manifest is not a JSON object"));
    }
    if v["schemaVersion"].as_u64() != Some(2) {
        return Err(invalid("only schemaVersion 2 manifests are supported"));
    }
    let body_type = v["mediaType"].as_str();
    let header_type = content_type.map(bare_type).filter(|t| !t.is_empty());
    let known = |t: &str| [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].contains(&t);
    let media_type = match (body_type, header_type) {
        (Some(b), Some(h)) if known(h) && b != h => {
            return Err(invalid(format!(
                "mediaType {b} does not match Content-Type {h}"
            )));
        }
        (Some(b), _) => b.to_string(),
        (None, Some(h)) if known(h) => h.to_string(),
        (None, _) if v.get("manifests").is_some() => OCI_INDEX.to_string(),
        (None, _) if v.get("config").is_some() => OCI_MANIFEST.to_string(),
        (None, _) => return Err(invalid("cannot tell the manifest's media type")),
    };
    let mut m = Manifest {
        media_type: media_type.clone(),
        blobs: Vec::new(),
        manifests: Vec::new(),
        subject: None,
        artifact_type: v["artifactType"].as_str().map(str::to_string),
        annotations: v.get("annotations").filter(|a| a.is_object()).cloned(),
    };
    match media_type.as_str() {
        OCI_MANIFEST | DOCKER_MANIFEST => {
            let config = descriptor(&v["config"])?;
            if m.artifact_type.is_none() && media_type == OCI_MANIFEST {
                m.artifact_type = Some(config.media_type.clone());
            }
            m.blobs.push(config);
            for l in v["layers"]
                .as_array()
                .ok_or_else(|| invalid("manifest without layers"))?
            {
                let foreign = l["urls"].as_array().is_some_and(|u| !u.is_empty());
                let d = descriptor(l)?;
                if !foreign {
                    m.blobs.push(d);
                }
            }
        }
        OCI_INDEX | DOCKER_LIST => {
            for e in v["manifests"]
                .as_array()
                .ok_or_else(|| invalid("index without manifests"))?
            {
                m.manifests.push(descriptor(e)?);
            }
        }
        other => {
            return Err(invalid(format!("unsupported manifest media type {other}")));
        }
    }
    if let Some(s) = v.get("subject").filter(|s| !s.is_null()) {
        m.subject = Some(descriptor(s)?);
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(x: &str) -> String {
        Digest::of(x.as_bytes()).to_string()
    }

    #[test]
    fn image_manifest() {
        let body = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d("c"), "size": 1},
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d("l"), "size": 2},
                {"mediaType": "x", "digest": d("f"), "size": 3, "urls": ["https://example.com/f"]}
            ],
            "subject": {"mediaType": OCI_MANIFEST, "digest": d("s"), "size": 4}
        })
        .to_string();
        let m = parse(body.as_bytes(), Some(OCI_MANIFEST)).unwrap();
        assert_eq!(m.blobs.len(), 2);
        assert_eq!(m.subject.unwrap().digest.to_string(), d("s"));
        assert_eq!(
            m.artifact_type.as_deref(),
            Some("application/vnd.oci.image.config.v1+json")
        );
        let e = parse(body.as_bytes(), Some(DOCKER_MANIFEST)).unwrap_err();
        assert_eq!(e.code, Code::ManifestInvalid);
    }

    #[test]
    fn index_and_detection() {
        let body = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": OCI_MANIFEST, "digest": d("m"), "size": 9}]
        })
        .to_string();
        let m = parse(body.as_bytes(), None).unwrap();
        assert_eq!(m.media_type, OCI_INDEX);
        assert_eq!(m.manifests.len(), 1);
        for bad in [
            &b"{"[..],
            b"[]",
            br#"{"schemaVersion":1}"#,
            br#"{"schemaVersion":2,"config":{}}"#,
        ] {
            assert_eq!(parse(bad, None).unwrap_err().code, Code::ManifestInvalid);
        }
    }
}
