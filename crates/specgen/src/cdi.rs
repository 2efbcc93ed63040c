//! Container Device Interface (CDI, tags.cncf.io/container-device-interface `SPEC.md`): device
//! specs in a directory (`/etc/cdi`, `/var/run/cdi`) whose `containerEdits` are applied to the
//! OCI spec for each requested `vendor.com/class=name`. JSON spec files only.

use crate::create::DeviceRequest;
use crate::devices::{DeviceLookup, HostNode};
use crate::SpecError;
use oci_spec::runtime::{
    Hook, Hooks, LinuxDevice, LinuxDeviceCgroup, LinuxDeviceType, Mount, Spec,
};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CdiSpec {
    pub cdi_version: String,
    pub kind: String,
    pub devices: Vec<CdiDevice>,
    pub container_edits: ContainerEdits,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CdiDevice {
    pub name: String,
    pub container_edits: ContainerEdits,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerEdits {
    pub env: Vec<String>,
    pub device_nodes: Vec<DeviceNode>,
    pub hooks: Vec<CdiHook>,
    pub mounts: Vec<CdiMount>,
    pub additional_gids: Vec<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DeviceNode {
    pub path: String,
    pub host_path: Option<String>,
    #[serde(rename = "type")]
    pub typ: Option<String>,
    pub major: Option<i64>,
    pub minor: Option<i64>,
    pub file_mode: Option<u32>,
    pub permissions: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CdiHook {
    pub hook_name: String,
    pub path: String,
    pub args: Option<Vec<String>>,
    pub env: Option<Vec<String>>,
    pub timeout: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CdiMount {
    pub host_path: String,
    pub container_path: String,
    pub options: Option<Vec<String>>,
    #[serde(rename = "type")]
    pub typ: Option<String>,
}

/// The specs found in the CDI directories, in load order.
#[derive(Debug, Clone, Default)]
pub struct CdiRegistry {
    pub specs: Vec<(PathBuf, CdiSpec)>,
}

/// The kind used by `--gpus` (NVIDIA's CDI generator).
pub const GPU_KIND: &str = "nvidia.com/gpu";

fn split_name(name: &str) -> Result<(&str, &str), SpecError> {
    let (kind, dev) = name
        .split_once('=')
        .ok_or_else(|| SpecError::InvalidCdiName(name.into()))?;
    let (vendor, class) = kind
        .split_once('/')
        .ok_or_else(|| SpecError::InvalidCdiName(name.into()))?;
    if vendor.is_empty() || class.is_empty() || dev.is_empty() || class.contains('/') {
        return Err(SpecError::InvalidCdiName(name.into()));
    }
    Ok((kind, dev))
}

impl CdiRegistry {
    /// Load every `*.json` in `dirs`; a missing directory is empty. Later directories win for
    /// the same kind and device name (`/var/run/cdi` overrides `/etc/cdi`).
    pub fn load(dirs: &[PathBuf]) -> Result<Self, SpecError> {
        let mut specs = Vec::new();
        for dir in dirs {
            let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
                Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.path()).collect(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(SpecError::ReadCdiSpec {
                        path: dir.clone(),
                        source,
                    })
                }
            };
            files.retain(|p| p.extension().is_some_and(|e| e == "json"));
            files.sort();
            for path in files {
                let text = std::fs::read(&path).map_err(|source| SpecError::ReadCdiSpec {
                    path: path.clone(),
                    source,
                })?;
                let spec: CdiSpec =
                    serde_json::from_slice(&text).map_err(|source| SpecError::ParseCdiSpec {
                        path: path.clone(),
                        source,
                    })?;
                if split_name(&format!("{}=x", spec.kind)).is_err() {
                    return Err(SpecError::InvalidCdiSpec {
                        path,
                        reason: format!("invalid kind {:?}", spec.kind),
                    });
                }
                specs.push((path, spec));
            }
        }
        Ok(Self { specs })
    }

    fn find(&self, kind: &str, dev: &str) -> Option<(usize, &CdiDevice)> {
        self.specs
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, (_, s))| s.kind == kind)
            .find_map(|(i, (_, s))| s.devices.iter().find(|d| d.name == dev).map(|d| (i, d)))
    }

    /// Device names of `kind`, in spec order, without duplicates.
    pub fn devices_of(&self, kind: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, s) in self.specs.iter().filter(|(_, s)| s.kind == kind) {
            for d in &s.devices {
                let n = format!("{kind}={}", d.name);
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    }

    /// Apply the edits of `names` to `spec`. `kind=all` means every device of the kind unless
    /// a spec defines a device literally named `all`. Spec-level edits apply once per spec.
    pub fn apply(
        &self,
        spec: &mut Spec,
        names: &[String],
        lookup: &dyn DeviceLookup,
    ) -> Result<(), SpecError> {
        let mut edits: Vec<&ContainerEdits> = Vec::new();
        let mut used_specs: Vec<usize> = Vec::new();
        let mut missing = Vec::new();
        for name in names {
            let (kind, dev) = split_name(name)?;
            let expanded: Vec<String> = if dev == "all" && self.find(kind, "all").is_none() {
                self.devices_of(kind)
            } else {
                vec![name.clone()]
            };
            if expanded.is_empty() {
                missing.push(name.clone());
            }
            for n in expanded {
                let (_, d) = split_name(&n)?;
                match self.find(kind, d) {
                    Some((i, device)) => {
                        if !used_specs.contains(&i) {
                            used_specs.push(i);
                            edits.push(&self.specs[i].1.container_edits);
                        }
                        edits.push(&device.container_edits);
                    }
                    None => missing.push(n),
                }
            }
        }
        if !missing.is_empty() {
            return Err(SpecError::UnknownCdiDevice(missing.join(", ")));
        }
        for e in edits {
            apply_edits(spec, e, lookup)?;
        }
        Ok(())
    }
}

/// Convenience: load `cdi_specs_dir` and apply `names`.
pub fn apply_cdi(
    spec: &mut Spec,
    cdi_specs_dir: &Path,
    names: &[String],
    lookup: &dyn DeviceLookup,
) -> Result<(), SpecError> {
    CdiRegistry::load(&[cdi_specs_dir.to_path_buf()])?.apply(spec, names, lookup)
}

/// CDI names for `HostConfig.DeviceRequests`: driver `cdi` lists fully-qualified names;
/// `--gpus` (driver `nvidia` or empty with the `gpu` capability) maps to `nvidia.com/gpu`
/// devices: `Count: -1` is all, `DeviceIDs` name them, `Count: n` takes the first n.
pub fn names_for_requests(
    reqs: &[DeviceRequest],
    registry: &CdiRegistry,
) -> Result<Vec<String>, SpecError> {
    let mut out = Vec::new();
    for r in reqs {
        let driver = r.driver.as_deref().unwrap_or("");
        let ids = r.device_ids.clone().unwrap_or_default();
        let is_gpu = driver == "nvidia"
            || (driver.is_empty()
                && r.capabilities
                    .iter()
                    .flatten()
                    .any(|set| set.iter().any(|c| c == "gpu")));
        if driver == "cdi" {
            out.extend(ids);
        } else if is_gpu {
            let count = r.count.unwrap_or(0);
            if !ids.is_empty() {
                out.extend(ids.iter().map(|id| format!("{GPU_KIND}={id}")));
            } else if count < 0 {
                out.push(format!("{GPU_KIND}=all"));
            } else if count > 0 {
                let all = registry.devices_of(GPU_KIND);
                if all.len() < count as usize {
                    return Err(SpecError::InvalidDeviceRequest(format!(
                        "requested {count} GPUs, {} available",
                        all.len()
                    )));
                }
                out.extend(all.into_iter().take(count as usize));
            }
        } else {
            return Err(SpecError::InvalidDeviceRequest(format!(
                "unsupported device driver {driver:?}"
            )));
        }
    }
    Ok(out)
}

fn apply_edits(
    spec: &mut Spec,
    e: &ContainerEdits,
    lookup: &dyn DeviceLookup,
) -> Result<(), SpecError> {
    if let Some(p) = spec.process_mut() {
        let mut env = p.env().clone().unwrap_or_default();
        crate::args::replace_or_append_env(&mut env, &e.env);
        p.set_env(Some(env));
        if !e.additional_gids.is_empty() {
            let u = p.user_mut();
            let mut gids = u.additional_gids().clone().unwrap_or_default();
            for g in &e.additional_gids {
                if *g != 0 && !gids.contains(g) {
                    gids.push(*g);
                }
            }
            u.set_additional_gids(Some(gids));
        }
    }
    let linux = spec.linux_mut().get_or_insert_with(Default::default);
    for n in &e.device_nodes {
        let (dev, rule) = device_node(n, lookup)?;
        let devs = linux.devices_mut().get_or_insert_with(Vec::new);
        devs.retain(|d| d.path() != dev.path());
        devs.push(dev);
        let res = linux.resources_mut().get_or_insert_with(Default::default);
        res.devices_mut().get_or_insert_with(Vec::new).push(rule);
    }
    if !e.mounts.is_empty() {
        let mounts = spec.mounts_mut().get_or_insert_with(Vec::new);
        for m in &e.mounts {
            mounts.retain(|x| x.destination() != Path::new(&m.container_path));
            let mut om = Mount::default();
            om.set_destination(m.container_path.clone().into())
                .set_source(Some(m.host_path.clone().into()))
                .set_typ(Some(m.typ.clone().unwrap_or_else(|| "bind".into())))
                .set_options(Some(
                    m.options.clone().unwrap_or_else(|| vec!["bind".into()]),
                ));
            mounts.push(om);
        }
    }
    if !e.hooks.is_empty() {
        let hooks = spec.hooks_mut().get_or_insert_with(Hooks::default);
        for h in &e.hooks {
            let mut hook = Hook::default();
            hook.set_path(h.path.clone().into())
                .set_args(h.args.clone())
                .set_env(h.env.clone())
                .set_timeout(h.timeout);
            #[allow(deprecated)] // `prestart` is deprecated but CDI specs still use it
            let list = match h.hook_name.as_str() {
                "prestart" => hooks.prestart_mut(),
                "createRuntime" => hooks.create_runtime_mut(),
                "createContainer" => hooks.create_container_mut(),
                "startContainer" => hooks.start_container_mut(),
                "poststart" => hooks.poststart_mut(),
                "poststop" => hooks.poststop_mut(),
                other => {
                    return Err(SpecError::InvalidCdiSpec {
                        path: PathBuf::new(),
                        reason: format!("unknown hook name {other:?}"),
                    })
                }
            };
            list.get_or_insert_with(Vec::new).push(hook);
        }
    }
    Ok(())
}

fn device_node(
    n: &DeviceNode,
    lookup: &dyn DeviceLookup,
) -> Result<(LinuxDevice, LinuxDeviceCgroup), SpecError> {
    let host = n.host_path.clone().unwrap_or_else(|| n.path.clone());
    let mut typ = match n.typ.as_deref() {
        Some("b") => Some(LinuxDeviceType::B),
        Some("c") | Some("u") => Some(LinuxDeviceType::C),
        Some("p") => Some(LinuxDeviceType::P),
        _ => None,
    };
    let (mut major, mut minor, mut mode) = (n.major, n.minor, n.file_mode);
    if typ.is_none() || major.is_none() {
        match lookup.stat(Path::new(&host)) {
            Ok(HostNode::Device {
                typ: t,
                major: ma,
                minor: mi,
                mode: mo,
            }) => {
                typ = typ.or(Some(t));
                major = major.or(Some(ma));
                minor = minor.or(Some(mi));
                mode = mode.or(Some(mo));
            }
            Ok(_) => {
                return Err(SpecError::InvalidCdiSpec {
                    path: host.into(),
                    reason: "not a device node".into(),
                })
            }
            Err(source) => {
                return Err(SpecError::DeviceLookup {
                    path: host.into(),
                    source,
                })
            }
        }
    }
    let typ = typ.unwrap_or(LinuxDeviceType::C);
    let mut dev = LinuxDevice::default();
    dev.set_path(n.path.clone().into())
        .set_typ(typ)
        .set_major(major.unwrap_or(0))
        .set_minor(minor.unwrap_or(0))
        .set_file_mode(mode)
        .set_uid(n.uid)
        .set_gid(n.gid);
    let mut rule = LinuxDeviceCgroup::default();
    rule.set_allow(true)
        .set_typ(Some(typ))
        .set_major(Some(dev.major()))
        .set_minor(Some(dev.minor()))
        .set_access(Some(n.permissions.clone().unwrap_or_else(|| "rwm".into())));
    Ok((dev, rule))
}
