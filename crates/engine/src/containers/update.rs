//! `docker update`: new resource limits and restart policy for an existing container.

use std::path::PathBuf;

use vessel_specgen::{ContainerCreate, ImageConfig, SpecInput};

use super::error::ContainerError;
use super::manager::{write_file, Containers, Result};

impl Containers {
    /// `docker update`: merge the resources and restart policy into the container's config,
    /// apply them to its cgroup when it runs, and keep them for its next start. Zero and
    /// empty values mean "unchanged", as the docker CLI sends every field.
    pub fn update(&self, id: &str, body: &serde_json::Value) -> Result<Vec<String>> {
        let mut record = self.find(id)?;
        let mut host = serde_json::to_value(record.create.host_config.clone().unwrap_or_default())
            .unwrap_or_default();
        let changes = body.as_object().ok_or_else(|| {
            ContainerError::InvalidUpdate("the body must be a JSON object".into())
        })?;
        for (k, v) in changes {
            let unchanged = v.is_null()
                || v.as_i64() == Some(0)
                || v.as_str() == Some("")
                || v.as_array().is_some_and(|a| a.is_empty())
                || (k == "RestartPolicy" && v["Name"].as_str().unwrap_or_default().is_empty());
            if !unchanged && UPDATABLE.contains(&k.as_str()) {
                host[k] = v.clone();
            }
        }
        let new_host: vessel_specgen::create::HostConfig = serde_json::from_value(host)
            .map_err(|e| ContainerError::InvalidUpdate(e.to_string()))?;
        if new_host.auto_remove == Some(true)
            && new_host
                .restart_policy
                .as_ref()
                .and_then(|p| p.name.as_deref())
                .is_some_and(|n| n != "no" && !n.is_empty())
        {
            return Err(ContainerError::InvalidUpdate(
                "a restart policy cannot be set on a container started with --rm".into(),
            )
            .into());
        }
        let mut probe = record.create.clone();
        probe.host_config = Some(new_host.clone());
        let resources = resources_of(&probe, &record.id)?;
        if record.state.status.is_live() {
            self.runtime
                .update(&record.id, &resources)
                .map_err(ContainerError::Runtime)?;
        }
        // The bundle keeps the new limits for the next start.
        let bundle = record.dir.join("config.json");
        if let Ok(text) = std::fs::read(&bundle) {
            if let Ok(mut spec) = serde_json::from_slice::<serde_json::Value>(&text) {
                spec["linux"]["resources"] = serde_json::to_value(&resources).unwrap_or_default();
                let text = serde_json::to_vec_pretty(&spec).unwrap_or_default();
                write_file(&bundle, &String::from_utf8_lossy(&text))?;
            }
        }
        record.create.host_config = Some(new_host);
        self.save(&record)?;
        self.emit(&record, "update", &[]);
        Ok(Vec::new())
    }
}

/// What `docker update` may change (Docker's `UpdateConfig`).
const UPDATABLE: &[&str] = &[
    "CpuShares",
    "Memory",
    "MemoryReservation",
    "MemorySwap",
    "MemorySwappiness",
    "KernelMemory",
    "NanoCpus",
    "CpuPeriod",
    "CpuQuota",
    "CpuRealtimePeriod",
    "CpuRealtimeRuntime",
    "CpusetCpus",
    "CpusetMems",
    "BlkioWeight",
    "BlkioWeightDevice",
    "BlkioDeviceReadBps",
    "BlkioDeviceWriteBps",
    "BlkioDeviceReadIOps",
    "BlkioDeviceWriteIOps",
    "PidsLimit",
    "OomKillDisable",
    "RestartPolicy",
];

/// The OCI resources for a create request, from the same generator that wrote the bundle.
/// Mounts are dropped first: only the limits are wanted and volumes need no resolving here.
fn resources_of(create: &ContainerCreate, id: &str) -> Result<oci_spec::runtime::LinuxResources> {
    let mut create = create.clone();
    create.config.volumes = None;
    // The command comes from the image at create; any will do for computing limits.
    create.config.entrypoint = None;
    create.config.cmd = Some(vec!["true".into()]);
    if let Some(h) = create.host_config.as_mut() {
        h.binds = None;
        h.mounts = None;
        h.tmpfs = None;
    }
    let image = ImageConfig::default();
    let mut input = SpecInput::new(&create, &image, PathBuf::from("/"), id);
    input.host_root = Some(PathBuf::from("/"));
    let spec = vessel_specgen::generate(&input).map_err(ContainerError::Spec)?;
    Ok(spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default())
}
