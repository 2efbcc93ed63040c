//! OCI runtime spec generation: an image config plus Docker's `POST /containers/create` body
//! become the `config.json` the engine hands to vessel-runtime, with Docker's default security
//! profile (capabilities, seccomp, masked paths, device cgroup).
//!
//! Pure logic: the only I/O is reading files the input names (the image's /etc/passwd and
//! /etc/group, CDI specs, a seccomp profile path) and device lookups through [`DeviceLookup`].

pub mod args;
pub mod caps;
pub mod cdi;
pub mod create;
pub mod devices;
mod error;
pub mod image;
pub mod mounts;
pub mod namespaces;
pub mod resources;
pub mod seccomp;
pub mod security;
pub mod user;

pub use cdi::{apply_cdi, CdiRegistry};
pub use create::{ContainerConfig, ContainerCreate, HostConfig};
pub use devices::{DeviceLookup, HostDevices, HostNode};
pub use error::SpecError;
pub use image::ImageConfig;
pub use mounts::{MountKind, MountRequest, ResolvedMount};
pub use namespaces::JoinPaths;
pub use user::resolve_user;

use create::non_empty;
use oci_spec::runtime::{Linux, Process, Root, Spec, User};
use security::SeccompChoice;
use std::collections::HashMap;
use std::path::PathBuf;

/// Everything [`generate`] needs besides the create body and the image config; the engine
/// fills in what it resolved (paths, namespaces, volumes).
pub struct SpecInput<'a> {
    pub create: &'a ContainerCreate,
    pub image: &'a ImageConfig,
    /// The container's root filesystem (also where /etc/passwd is read from).
    pub rootfs: PathBuf,
    pub container_id: String,
    /// Hostname when the request has none (e.g. the host's for `--network host`); empty means
    /// the first 12 characters of the id, as Docker does.
    pub hostname_default: String,
    pub resolv_conf: Option<PathBuf>,
    pub hosts: Option<PathBuf>,
    pub hostname_file: Option<PathBuf>,
    /// Volumes (and any other mount) the engine resolved, matched by destination.
    pub mounts: Vec<ResolvedMount>,
    pub cgroups_path: String,
    /// Namespaces to join: `netns_path` for a bridge network or `container:` mode.
    pub join: JoinPaths,
    /// Host /dev/shm (for `--ipc host`) or another container's shm (for `--ipc container:`).
    pub shm_source: Option<PathBuf>,
    /// Private cgroup namespace when `CgroupnsMode` is unset (true on cgroup v2 hosts).
    pub private_cgroupns_default: bool,
    /// The engine's tini (`docker-init`), bind-mounted at [`args::INIT_PATH`] for `--init`.
    pub init_binary: Option<PathBuf>,
    /// Extra CDI device names besides those from `DeviceRequests`.
    pub cdi_devices: Vec<String>,
    /// CDI spec directories, in increasing priority (`/etc/cdi`, `/var/run/cdi`).
    pub cdi_spec_dirs: Vec<PathBuf>,
    pub device_lookup: &'a dyn DeviceLookup,
    /// Host /dev, listed for `--privileged`.
    pub host_dev_dir: PathBuf,
    /// Root for expanding the `cpu*/thermal_throttle` masked paths; `None` skips them.
    pub host_root: Option<PathBuf>,
    /// `std::env::consts::ARCH` of the host.
    pub arch: String,
    /// Host kernel `(major, minor)` for seccomp `minKernel`; `None` assumes a recent kernel.
    pub kernel: Option<(u32, u32)>,
}

impl<'a> SpecInput<'a> {
    /// Defaults for a cgroup v2 host on this machine's architecture.
    pub fn new(
        create: &'a ContainerCreate,
        image: &'a ImageConfig,
        rootfs: PathBuf,
        container_id: impl Into<String>,
    ) -> Self {
        static HOST: HostDevices = HostDevices;
        Self {
            create,
            image,
            rootfs,
            container_id: container_id.into(),
            hostname_default: String::new(),
            resolv_conf: None,
            hosts: None,
            hostname_file: None,
            mounts: Vec::new(),
            cgroups_path: String::new(),
            join: JoinPaths::default(),
            shm_source: None,
            private_cgroupns_default: true,
            init_binary: None,
            cdi_devices: Vec::new(),
            cdi_spec_dirs: Vec::new(),
            device_lookup: &HOST,
            host_dev_dir: PathBuf::from("/dev"),
            host_root: None,
            arch: std::env::consts::ARCH.to_string(),
            kernel: None,
        }
    }
}

/// OCI spec version written into `ociVersion`.
pub const OCI_VERSION: &str = "1.0.2-dev";

/// Build the OCI runtime spec for one container.
pub fn generate(input: &SpecInput) -> Result<Spec, SpecError> {
    let cfg = &input.create.config;
    let hc = input.create.host();
    let image = input.image;
    let privileged = hc.privileged.unwrap_or(false);
    let sec = security::parse_security_opts(hc.security_opt.as_deref().unwrap_or_default())?;

    // Namespaces first: they decide hostname, /dev/shm and which sysctls are allowed.
    let ns = namespaces::decide(&hc, &input.join, input.private_cgroupns_default)?;
    let uts_private = ns.uts != namespaces::NsMode::Host;
    let hostname = non_empty(&cfg.hostname)
        .map(String::from)
        .or_else(|| (!input.hostname_default.is_empty()).then(|| input.hostname_default.clone()))
        .unwrap_or_else(|| input.container_id.chars().take(12).collect());

    // Process.
    let mut args = args::merge_args(cfg, image)?;
    if hc.init.unwrap_or(false) {
        if input.init_binary.is_none() {
            return Err(SpecError::NoInitBinary);
        }
        args = args::with_init(args);
    }
    let env = args::merge_env(cfg, image, &hostname);
    let cwd = args::working_dir(cfg, image)?;
    let user_spec = non_empty(&cfg.user)
        .or(non_empty(&image.user))
        .unwrap_or("");
    let (uid, gid, mut gids) = user::resolve_user(user_spec, &input.rootfs)?;
    for g in user::resolve_group_add(hc.group_add.as_deref().unwrap_or_default(), &input.rootfs)? {
        if !gids.contains(&g) {
            gids.push(g);
        }
    }
    let mut user = User::default();
    user.set_uid(uid)
        .set_gid(gid)
        .set_additional_gids((!gids.is_empty()).then_some(gids));

    let caps = caps::compute_caps(
        hc.cap_add.as_deref().unwrap_or_default(),
        hc.cap_drop.as_deref().unwrap_or_default(),
        privileged,
    )?;

    let mut process = Process::default();
    process
        .set_terminal(Some(cfg.tty.unwrap_or(false)))
        .set_user(user)
        .set_args(Some(args))
        .set_env(Some(env))
        .set_cwd(cwd.into())
        .set_capabilities(Some(caps::to_oci(&caps)))
        .set_rlimits(
            Some(resources::rlimits(
                hc.ulimits.as_deref().unwrap_or_default(),
            )?)
            .filter(|r| !r.is_empty()),
        )
        .set_no_new_privileges(Some(sec.no_new_privileges))
        .set_oom_score_adj(Some(resources::oom_score_adj(&hc)?))
        .set_console_size(console_size(&hc));

    // Mounts.
    let shm = if ns.ipc_none {
        mounts::Shm::None
    } else {
        match (&ns.ipc, &input.shm_source) {
            (namespaces::NsMode::New, _) => mounts::Shm::Tmpfs(resources::shm_size(&hc)?),
            (_, Some(p)) => mounts::Shm::Bind(p.clone()),
            (namespaces::NsMode::Host, None) => mounts::Shm::Bind("/dev/shm".into()),
            (namespaces::NsMode::Join(_), None) => mounts::Shm::None,
        }
    };
    let defaults = mounts::default_mounts(privileged, sec.writable_cgroups, &shm);
    let requests = mounts::requests(cfg, &hc, image)?;
    let mut user_mounts = mounts::user_mounts(&requests, &input.mounts)?;
    let readonly_rootfs = hc.readonly_rootfs.unwrap_or(false);
    let taken = |d: &str, ms: &[oci_spec::runtime::Mount]| {
        ms.iter()
            .any(|m| m.destination() == std::path::Path::new(d))
    };
    for (src, dest) in [
        (&input.resolv_conf, "/etc/resolv.conf"),
        (&input.hostname_file, "/etc/hostname"),
        (&input.hosts, "/etc/hosts"),
    ] {
        if let Some(src) = src {
            if !taken(dest, &user_mounts) {
                user_mounts.push(mounts::bind_mount(
                    src.clone(),
                    dest,
                    readonly_rootfs,
                    Some("rprivate"),
                    false,
                    &[],
                ));
            }
        }
    }
    if let (true, Some(init)) = (hc.init.unwrap_or(false), &input.init_binary) {
        let mut m = mounts::bind_mount(init.clone(), args::INIT_PATH, true, None, false, &[]);
        m.set_options(Some(vec!["bind".into(), "ro".into()]));
        user_mounts.push(m);
    }
    let all_mounts = mounts::assemble(defaults, user_mounts);

    // Linux.
    let mut linux = Linux::default();
    let mut res = resources::resources(&hc, input.device_lookup)?;
    let mut devices = Vec::new();
    let mut rules;
    if privileged {
        devices = devices::host_devices(&input.host_dev_dir, input.device_lookup)?;
        rules = devices::privileged_cgroup_rules();
    } else {
        rules = devices::default_cgroup_rules();
        for m in hc.devices.iter().flatten() {
            let (d, r) = devices::devices_from_mapping(m, input.device_lookup)?;
            devices.extend(d);
            rules.extend(r);
        }
        for r in hc.device_cgroup_rules.iter().flatten() {
            rules.push(devices::parse_cgroup_rule(r)?);
        }
    }
    res.set_devices(Some(rules));

    let seccomp = match (&sec.seccomp, privileged) {
        (SeccompChoice::Unconfined, _) | (_, true) => None,
        (choice, false) => {
            let profile = match choice {
                SeccompChoice::Json(j) => seccomp::Profile::parse(j)?,
                SeccompChoice::Path(p) => {
                    let text = std::fs::read_to_string(p).map_err(|source| {
                        SpecError::ReadSeccompProfile {
                            path: p.clone(),
                            source,
                        }
                    })?;
                    seccomp::Profile::parse(&text)?
                }
                _ => seccomp::Profile::docker_default(),
            };
            let target = seccomp::Target {
                caps: &caps,
                arch: &input.arch,
                kernel: input.kernel,
            };
            Some(seccomp::evaluate(&profile, &target)?)
        }
    };

    let (masked, readonly) = if privileged || sec.unconfined_paths {
        (Vec::new(), Vec::new())
    } else {
        let mut masked: Vec<String> = match &hc.masked_paths {
            Some(p) => p.clone(),
            None => {
                let mut m: Vec<String> = security::MASKED_PATHS
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                if let Some(root) = &input.host_root {
                    m.extend(security::thermal_throttle_paths(root));
                }
                m
            }
        };
        masked.dedup();
        let readonly = hc.readonly_paths.clone().unwrap_or_else(|| {
            security::READONLY_PATHS
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
        (masked, readonly)
    };

    let sysctls = resources::sysctls(
        &hc,
        resources::PrivateNamespaces {
            net: ns.net != namespaces::NsMode::Host
                && !matches!(&hc.network_mode, Some(m) if m.starts_with("container:")),
            ipc: ns.ipc != namespaces::NsMode::Host,
            uts: uts_private,
        },
    )?;

    linux
        .set_namespaces(Some(ns.to_oci()))
        .set_resources(Some(res))
        .set_cgroups_path(
            (!input.cgroups_path.is_empty()).then(|| input.cgroups_path.clone().into()),
        )
        .set_devices((!devices.is_empty()).then_some(devices))
        .set_seccomp(seccomp)
        .set_masked_paths(Some(masked))
        .set_readonly_paths(Some(readonly))
        .set_sysctl((!sysctls.is_empty()).then_some(sysctls))
        .set_rootfs_propagation(mounts::rootfs_propagation(&all_mounts));

    let mut root = Root::default();
    root.set_path(input.rootfs.clone())
        .set_readonly(Some(readonly_rootfs));

    let mut spec = Spec::default();
    spec.set_version(OCI_VERSION.into())
        .set_root(Some(root))
        .set_process(Some(process))
        .set_hostname(uts_private.then_some(hostname))
        .set_domainname(
            non_empty(&cfg.domainname)
                .filter(|_| uts_private)
                .map(String::from),
        )
        .set_mounts(Some(all_mounts))
        .set_hooks(None)
        .set_annotations(annotations(cfg, &hc, image))
        .set_linux(Some(linux));

    // CDI last: its edits go on top of everything else.
    let mut cdi_names = input.cdi_devices.clone();
    let requests = hc.device_requests.as_deref().unwrap_or_default();
    if !requests.is_empty() || !cdi_names.is_empty() {
        let registry = CdiRegistry::load(&input.cdi_spec_dirs)?;
        cdi_names.extend(cdi::names_for_requests(requests, &registry)?);
        registry.apply(&mut spec, &cdi_names, input.device_lookup)?;
    }
    Ok(spec)
}

fn console_size(hc: &HostConfig) -> Option<oci_spec::runtime::Box> {
    match hc.console_size.as_deref() {
        Some([h, w]) if *h > 0 || *w > 0 => oci_spec::runtime::BoxBuilder::default()
            .height(*h)
            .width(*w)
            .build()
            .ok(),
        _ => None,
    }
}

/// `HostConfig.Annotations` (API 1.43+), plus the stop signal under the OCI image annotation
/// so the runtime side can find it without the engine's config.
fn annotations(
    cfg: &ContainerConfig,
    hc: &HostConfig,
    image: &ImageConfig,
) -> Option<HashMap<String, String>> {
    let mut a: HashMap<String, String> = hc
        .annotations
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    if let Some(sig) = non_empty(&cfg.stop_signal).or(non_empty(&image.stop_signal)) {
        a.insert(
            "org.opencontainers.image.stopSignal".into(),
            sig.to_string(),
        );
    }
    (!a.is_empty()).then_some(a)
}
