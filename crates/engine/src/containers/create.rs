//! `docker create`: resolve the image, mount the rootfs, give the container its network,
//! volumes and files, and write its OCI spec. Nothing runs yet.

use std::path::{Path, PathBuf};

use vessel_specgen::{ContainerCreate, ImageConfig, MountKind, ResolvedMount, SpecInput};

use super::error::ContainerError;
use super::manager::{random_bytes, random_id, write_file, Containers, Result};
use super::record::{valid_name, ContainerRecord, MountPoint, State};
use crate::errors::ApiError;

impl Containers {
    /// Create: resolve the image, mount the rootfs, write the container's files and OCI
    /// spec, and store the record. Nothing runs yet.
    pub fn create(
        &self,
        create: ContainerCreate,
        name: Option<String>,
    ) -> Result<(String, Vec<String>)> {
        let image_name = create
            .config
            .image
            .clone()
            .filter(|i| !i.is_empty())
            .ok_or(ContainerError::NoImage)?;
        let details = self
            .images
            .inspect(&image_name)
            .map_err(|e| match e.kind() {
                vessel_image::ErrorKind::NotFound => {
                    ContainerError::NoSuchImage(image_name.clone()).into()
                }
                _ => ApiError::from(e),
            })?;
        let image_id = details.summary.id.clone();
        let image_config = ImageConfig::from_image_document(
            &serde_json::to_vec(&details.config).unwrap_or_default(),
        )
        .unwrap_or_default();
        let id = random_id();
        let _names = self.names.lock().expect("names lock");
        let name = match name.filter(|n| !n.is_empty()) {
            Some(n) => {
                let n = n.trim_start_matches('/').to_string();
                if !valid_name(&n) {
                    return Err(ContainerError::InvalidName(n).into());
                }
                if let Some(other) = self.all()?.into_iter().find(|r| r.name == n) {
                    return Err(ContainerError::NameInUse {
                        name: n,
                        id: other.id,
                    }
                    .into());
                }
                n
            }
            None => self.generate_name()?,
        };
        let dir = self.data_dir.join(&id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| ContainerError::io(format!("creating {}", dir.display()), e))?;
        let result = self.create_files(
            &id,
            &name,
            &dir,
            &image_name,
            &image_id,
            &image_config,
            create,
        );
        if result.is_err() {
            if let Some(net) = &self.networks {
                let _ = net.release_container(&id);
            }
            let _ = self.images.remove_rootfs(&id);
            let _ = std::fs::remove_dir_all(&dir);
        }
        let record = result?;
        self.save(&record)?;
        self.emit(&record, "create", &[]);
        Ok((id, Vec::new()))
    }

    #[allow(clippy::too_many_arguments)]
    fn create_files(
        &self,
        id: &str,
        name: &str,
        dir: &Path,
        image_name: &str,
        image_id: &str,
        image_config: &ImageConfig,
        create: ContainerCreate,
    ) -> Result<ContainerRecord> {
        let rootfs = self.images.prepare_rootfs(image_id, id)?;
        let hostname = create
            .config
            .hostname
            .clone()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| id[..12].to_string());
        write_file(&dir.join("hostname"), &format!("{hostname}\n"))?;
        let join_net = self.setup_network(id, name, &hostname, dir, &create, image_config)?;
        let hc = create.host();
        let requests = vessel_specgen::mounts::requests(&create.config, &hc, image_config)
            .map_err(ContainerError::Spec)?;
        let mut resolved = Vec::new();
        let mut points = Vec::new();
        for req in &requests {
            match req.kind {
                MountKind::Volume => {
                    let vol = req.source.clone().unwrap_or_else(random_id);
                    let data = self.volumes_dir.join(&vol).join("_data");
                    std::fs::create_dir_all(&data)
                        .map_err(|e| ContainerError::io(format!("creating volume {vol}"), e))?;
                    if !req.nocopy && req.subpath.is_none() {
                        super::archive::copy_up(&rootfs, &req.destination, &data).map_err(|e| {
                            ContainerError::io(
                                format!(
                                    "copying {} of the image into volume {vol}",
                                    req.destination
                                ),
                                e,
                            )
                        })?;
                    }
                    resolved.push(ResolvedMount {
                        source: data.clone(),
                        destination: req.destination.clone(),
                        readonly: req.readonly,
                        kind: MountKind::Volume,
                        options: Vec::new(),
                    });
                    points.push(MountPoint {
                        kind: "volume".into(),
                        name: vol,
                        source: data,
                        destination: req.destination.clone(),
                        rw: !req.readonly,
                    });
                }
                MountKind::Bind => points.push(MountPoint {
                    kind: "bind".into(),
                    name: String::new(),
                    source: PathBuf::from(req.source.clone().unwrap_or_default()),
                    destination: req.destination.clone(),
                    rw: !req.readonly,
                }),
                MountKind::Tmpfs => {}
            }
        }
        let v1 = matches!(
            vessel_cgroups::detect(),
            Ok(vessel_cgroups::Hierarchy::V1 { .. })
        );
        let mut input = SpecInput::new(&create, image_config, rootfs.clone(), id);
        input.hostname_default = hostname;
        input.resolv_conf = Some(dir.join("resolv.conf"));
        input.hosts = Some(dir.join("hosts"));
        input.hostname_file = Some(dir.join("hostname"));
        input.mounts = resolved;
        input.cgroups_path = format!("/vessel/{id}");
        input.private_cgroupns_default = !v1;
        input.host_root = Some(PathBuf::from("/"));
        input.join.net = join_net;
        let spec = vessel_specgen::generate(&input).map_err(ContainerError::Spec)?;
        let args = spec
            .process()
            .as_ref()
            .and_then(|p| p.args().clone())
            .unwrap_or_default();
        let text = serde_json::to_vec_pretty(&spec).unwrap_or_default();
        write_file(&dir.join("config.json"), &String::from_utf8_lossy(&text))?;
        Ok(ContainerRecord {
            id: id.to_string(),
            name: name.to_string(),
            created: crate::timefmt::now_rfc3339_nano(),
            image: image_name.to_string(),
            image_id: image_id.to_string(),
            create,
            path: args.first().cloned().unwrap_or_default(),
            args: args.iter().skip(1).cloned().collect(),
            state: State::default(),
            restart_count: 0,
            rootfs,
            dir: dir.to_path_buf(),
            log_path: dir.join(format!("{id}-json.log")),
            mounts: points,
            manually_stopped: false,
        })
    }

    fn generate_name(&self) -> Result<String> {
        const LEFT: &[&str] = &[
            "brave", "calm", "eager", "fond", "keen", "lucid", "merry", "proud", "quiet", "swift",
        ];
        const RIGHT: &[&str] = &[
            "babbage", "curie", "darwin", "euler", "gauss", "hopper", "lovelace", "noether",
            "turing", "wright",
        ];
        let taken: Vec<String> = self.all()?.into_iter().map(|r| r.name).collect();
        for _ in 0..64 {
            let r = random_bytes(2);
            let name = format!(
                "{}_{}",
                LEFT[r[0] as usize % LEFT.len()],
                RIGHT[r[1] as usize % RIGHT.len()]
            );
            if !taken.contains(&name) {
                return Ok(name);
            }
        }
        Ok(format!("vessel_{}", &random_id()[..12]))
    }
}
