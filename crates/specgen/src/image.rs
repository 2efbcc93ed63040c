//! The image's `config` section (OCI image-spec `config.md`, plus Docker's `Healthcheck` and
//! `ArgsEscaped` extensions), the defaults a container inherits from its image.

use crate::create::{EmptyMap, Healthcheck};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The image's `config` section (OCI image config, with Docker's extensions).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImageConfig {
    pub user: Option<String>,
    pub env: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub working_dir: Option<String>,
    pub volumes: Option<EmptyMap>,
    pub exposed_ports: Option<EmptyMap>,
    pub stop_signal: Option<String>,
    pub labels: Option<BTreeMap<String, String>>,
    pub healthcheck: Option<Healthcheck>,
    pub args_escaped: Option<bool>,
    pub shell: Option<Vec<String>>,
    pub on_build: Option<Vec<String>>,
}

/// The whole image config document (`application/vnd.oci.image.config.v1+json`); only its
/// `config` section matters for the runtime spec.
#[derive(Debug, Clone, Default, Deserialize)]
struct ImageDocument {
    #[serde(default)]
    config: Option<ImageConfig>,
}

impl ImageConfig {
    /// Parse the `config` section out of a full image config JSON document.
    pub fn from_image_document(json: &[u8]) -> Result<Self, serde_json::Error> {
        let doc: ImageDocument = serde_json::from_slice(json)?;
        Ok(doc.config.unwrap_or_default())
    }
}
