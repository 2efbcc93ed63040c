//! Manifest documents (OCI image spec and Docker schema 2) and the choice of one platform
//! from an index / manifest list.

use serde::{Deserialize, Serialize};

use crate::error::{DistError, Result};

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_FOREIGN_LAYER: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// What a pull accepts, in the order docker sends them.
pub const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The machine we run on, in Go's GOOS/GOARCH names (as registries use them).
    pub fn host() -> Platform {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            "s390x" => ("s390x", None),
            "riscv64" => ("riscv64", None),
            other => (other, None),
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: variant.map(str::to_string),
        }
    }

    /// `linux/arm64/v8`, `linux/amd64`, or just `arm64` (os linux).
    pub fn parse(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.trim().split('/').collect();
        let bad = || DistError::Platform(s.to_string());
        let (os, arch, variant) = match parts.as_slice() {
            [arch] => ("linux", *arch, None),
            [os, arch] => (*os, *arch, None),
            [os, arch, v] => (*os, *arch, Some(*v)),
            _ => return Err(bad()),
        };
        if os.is_empty() || arch.is_empty() || variant == Some("") {
            return Err(bad());
        }
        let arch = match arch {
            "x86_64" | "x86-64" => "amd64",
            "aarch64" => "arm64",
            a => a,
        };
        Ok(Platform {
            os: os.to_lowercase(),
            architecture: arch.to_lowercase(),
            variant: variant.map(str::to_lowercase),
        })
    }

    /// Whether an index entry fits what we want. A wanted variant must match (arm64's
    /// default `v8` may be absent in the entry); no wanted variant accepts any.
    fn accepts(&self, entry: &Platform) -> bool {
        if self.os != entry.os || self.architecture != entry.architecture {
            return false;
        }
        match (&self.variant, &entry.variant) {
            (None, _) => true,
            (Some(w), Some(e)) => w == e,
            (Some(w), None) => self.architecture == "arm64" && w == "v8",
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    /// Foreign (Docker) and non-distributable (OCI) layers: the spec says to fetch them
    /// from their `urls`, not the registry; they are Windows base layers in practice.
    pub fn is_foreign(&self) -> bool {
        self.media_type == DOCKER_FOREIGN_LAYER || self.media_type.contains(".nondistributable.")
    }
}

/// An image manifest (either flavour: the fields we need are the same).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageManifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(
        rename = "mediaType",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IndexManifest {
    pub manifests: Vec<Descriptor>,
}

/// A fetched manifest document.
#[derive(Debug, Clone)]
pub enum Manifest {
    Image(ImageManifest),
    Index(IndexManifest),
}

impl Manifest {
    /// Parse by the Content-Type the registry sent, falling back to the document's own
    /// `mediaType` (OCI manifests may omit it; then the shape decides).
    pub fn parse(reference: &str, content_type: &str, body: &[u8]) -> Result<Manifest> {
        let bad = |reason: String| DistError::Manifest {
            reference: reference.to_string(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| bad(format!("not JSON: {e}")))?;
        let ct = content_type.split(';').next().unwrap_or("").trim();
        let media = match value.get("mediaType").and_then(|m| m.as_str()) {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => ct.to_string(),
        };
        let is_index = match media.as_str() {
            OCI_INDEX | DOCKER_LIST => true,
            OCI_MANIFEST | DOCKER_MANIFEST => false,
            "application/vnd.docker.distribution.manifest.v1+json"
            | "application/vnd.docker.distribution.manifest.v1+prettyjws" => {
                return Err(DistError::MediaType {
                    reference: reference.to_string(),
                    media_type: format!("{media} (schema 1 is deprecated; push the image again with a current client)"),
                })
            }
            _ if value.get("manifests").is_some() => true,
            _ if value.get("layers").is_some() => false,
            other => {
                return Err(DistError::MediaType {
                    reference: reference.to_string(),
                    media_type: other.to_string(),
                })
            }
        };
        if is_index {
            serde_json::from_value(value)
                .map(Manifest::Index)
                .map_err(|e| bad(e.to_string()))
        } else {
            serde_json::from_value(value)
                .map(Manifest::Image)
                .map_err(|e| bad(e.to_string()))
        }
    }
}

/// The entry of an index for `want`; the error lists what the index offers.
pub fn choose_platform<'a>(
    reference: &str,
    index: &'a IndexManifest,
    want: &Platform,
) -> Result<&'a Descriptor> {
    let candidates = || {
        index.manifests.iter().filter(|d| {
            // Attestation manifests (buildkit's `unknown/unknown`) are not images.
            d.platform.as_ref().is_some_and(|p| p.os != "unknown")
        })
    };
    // Prefer an exact variant match, then any acceptable entry, in index order.
    let exact = candidates().find(|d| d.platform.as_ref() == Some(want));
    if let Some(d) = exact
        .or_else(|| candidates().find(|d| d.platform.as_ref().is_some_and(|p| want.accepts(p))))
    {
        return Ok(d);
    }
    let mut available: Vec<String> = candidates()
        .filter_map(|d| d.platform.as_ref().map(Platform::to_string))
        .collect();
    available.dedup();
    Err(DistError::NoPlatform {
        reference: reference.to_string(),
        wanted: want.to_string(),
        available: if available.is_empty() {
            "none".into()
        } else {
            available.join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(platforms: &[&str]) -> IndexManifest {
        IndexManifest {
            manifests: platforms
                .iter()
                .enumerate()
                .map(|(i, p)| Descriptor {
                    media_type: OCI_MANIFEST.into(),
                    digest: format!("sha256:{i:064}"),
                    size: 1,
                    urls: vec![],
                    platform: Some(Platform::parse(p).unwrap()),
                })
                .collect(),
        }
    }

    #[test]
    fn platform_parse_and_display() {
        assert_eq!(
            Platform::parse("linux/amd64").unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(Platform::parse("arm64").unwrap().to_string(), "linux/arm64");
        assert_eq!(
            Platform::parse("linux/arm/v7").unwrap().variant.as_deref(),
            Some("v7")
        );
        assert_eq!(
            Platform::parse("linux/x86_64").unwrap().architecture,
            "amd64"
        );
        assert!(Platform::parse("a/b/c/d").is_err());
        assert!(Platform::parse("linux/").is_err());
        assert_eq!(Platform::host().os, "linux");
    }

    #[test]
    fn choose_from_index() {
        let idx = index(&[
            "linux/arm/v6",
            "linux/arm/v7",
            "linux/amd64",
            "linux/arm64/v8",
            "unknown/unknown",
        ]);
        let pick = |p: &str| {
            choose_platform("r", &idx, &Platform::parse(p).unwrap())
                .map(|d| d.digest.clone())
                .map_err(|e| e.to_string())
        };
        assert_eq!(pick("linux/amd64").unwrap(), format!("sha256:{:064}", 2));
        assert_eq!(pick("linux/arm/v7").unwrap(), format!("sha256:{:064}", 1));
        assert_eq!(pick("linux/arm").unwrap(), format!("sha256:{:064}", 0));
        assert_eq!(pick("linux/arm64").unwrap(), format!("sha256:{:064}", 3));
        let e = pick("linux/s390x").unwrap_err();
        assert!(e.contains("linux/s390x"), "{e}");
        assert!(
            e.contains(
                "available platforms: linux/arm/v6, linux/arm/v7, linux/amd64, linux/arm64/v8"
            ),
            "{e}"
        );
        // arm64 entries without a variant still fit linux/arm64/v8.
        let idx = index(&["linux/arm64"]);
        assert!(choose_platform("r", &idx, &Platform::parse("linux/arm64/v8").unwrap()).is_ok());
    }

    #[test]
    fn parse_by_media_type_or_shape() {
        let m = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:aa","size":2},"layers":[]}"#;
        assert!(matches!(
            Manifest::parse("r", "", m).unwrap(),
            Manifest::Image(_)
        ));
        let i = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            Manifest::parse("r", OCI_INDEX, i).unwrap(),
            Manifest::Index(_)
        ));
        let s1 = br#"{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}"#;
        assert!(Manifest::parse("r", "", s1)
            .unwrap_err()
            .to_string()
            .contains("schema 1"));
        assert!(Manifest::parse("r", "", b"[1]").is_err());
        let foreign = Descriptor {
            media_type: DOCKER_FOREIGN_LAYER.into(),
            digest: "sha256:x".into(),
            size: 1,
            urls: vec!["https://x".into()],
            platform: None,
        };
        assert!(foreign.is_foreign());
    }
}
