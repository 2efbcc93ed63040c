//! Docker's `POST /containers/create` body and the image `config` section.
//!
//! Every field is optional: clients send `null` for unset lists (`"Env": null`) and newer API
//! versions add fields (CLI 28 sends 1.50-era fields at API 1.41), so nothing here may reject
//! an unknown or missing field. Never add `deny_unknown_fields`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `{}`-valued maps such as `Volumes` and `ExposedPorts`.
pub type EmptyMap = BTreeMap<String, serde_json::Value>;

/// The body of `POST /containers/create`: the container `Config` at the top level, plus
/// `HostConfig` and `NetworkingConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerCreate {
    #[serde(flatten)]
    pub config: ContainerConfig,
    #[serde(default)]
    pub host_config: Option<HostConfig>,
    #[serde(default)]
    pub networking_config: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ContainerConfig {
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub user: Option<String>,
    pub attach_stdin: Option<bool>,
    pub attach_stdout: Option<bool>,
    pub attach_stderr: Option<bool>,
    pub exposed_ports: Option<EmptyMap>,
    pub tty: Option<bool>,
    pub open_stdin: Option<bool>,
    pub stdin_once: Option<bool>,
    pub env: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub healthcheck: Option<Healthcheck>,
    pub args_escaped: Option<bool>,
    pub image: Option<String>,
    pub volumes: Option<EmptyMap>,
    pub working_dir: Option<String>,
    pub entrypoint: Option<Vec<String>>,
    pub network_disabled: Option<bool>,
    pub mac_address: Option<String>,
    pub on_build: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    pub shell: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Healthcheck {
    pub test: Option<Vec<String>>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub retries: Option<i64>,
    pub start_period: Option<i64>,
    pub start_interval: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    pub binds: Option<Vec<String>>,
    #[serde(rename = "ContainerIDFile")]
    pub container_id_file: Option<String>,
    pub log_config: Option<LogConfig>,
    pub network_mode: Option<String>,
    pub port_bindings: Option<serde_json::Value>,
    pub restart_policy: Option<RestartPolicy>,
    pub auto_remove: Option<bool>,
    pub volume_driver: Option<String>,
    pub volumes_from: Option<Vec<String>>,
    /// `[height, width]`.
    pub console_size: Option<Vec<u64>>,
    pub annotations: Option<BTreeMap<String, String>>,
    pub cap_add: Option<Vec<String>>,
    pub cap_drop: Option<Vec<String>>,
    pub cgroupns_mode: Option<String>,
    pub dns: Option<Vec<String>>,
    pub dns_options: Option<Vec<String>>,
    pub dns_search: Option<Vec<String>>,
    pub extra_hosts: Option<Vec<String>>,
    pub group_add: Option<Vec<String>>,
    pub ipc_mode: Option<String>,
    pub cgroup: Option<String>,
    pub links: Option<Vec<String>>,
    pub oom_score_adj: Option<i64>,
    pub pid_mode: Option<String>,
    pub privileged: Option<bool>,
    pub publish_all_ports: Option<bool>,
    pub readonly_rootfs: Option<bool>,
    pub security_opt: Option<Vec<String>>,
    pub storage_opt: Option<BTreeMap<String, String>>,
    pub tmpfs: Option<BTreeMap<String, String>>,
    #[serde(rename = "UTSMode")]
    pub uts_mode: Option<String>,
    pub userns_mode: Option<String>,
    pub shm_size: Option<i64>,
    pub sysctls: Option<BTreeMap<String, String>>,
    pub runtime: Option<String>,
    pub isolation: Option<String>,
    pub cpu_shares: Option<i64>,
    pub memory: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cgroup_parent: Option<String>,
    pub blkio_weight: Option<u16>,
    pub blkio_weight_device: Option<Vec<WeightDevice>>,
    pub blkio_device_read_bps: Option<Vec<ThrottleDevice>>,
    pub blkio_device_write_bps: Option<Vec<ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Option<Vec<ThrottleDevice>>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Option<Vec<ThrottleDevice>>,
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpu_realtime_period: Option<i64>,
    pub cpu_realtime_runtime: Option<i64>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub devices: Option<Vec<DeviceMapping>>,
    pub device_cgroup_rules: Option<Vec<String>>,
    pub device_requests: Option<Vec<DeviceRequest>>,
    pub kernel_memory: Option<i64>,
    #[serde(rename = "KernelMemoryTCP")]
    pub kernel_memory_tcp: Option<i64>,
    pub memory_reservation: Option<i64>,
    pub memory_swap: Option<i64>,
    pub memory_swappiness: Option<i64>,
    pub oom_kill_disable: Option<bool>,
    pub pids_limit: Option<i64>,
    pub ulimits: Option<Vec<Ulimit>>,
    pub cpu_count: Option<i64>,
    pub cpu_percent: Option<i64>,
    #[serde(rename = "IOMaximumIOps")]
    pub io_maximum_iops: Option<u64>,
    #[serde(rename = "IOMaximumBandwidth")]
    pub io_maximum_bandwidth: Option<u64>,
    pub mounts: Option<Vec<Mount>>,
    pub masked_paths: Option<Vec<String>>,
    pub readonly_paths: Option<Vec<String>>,
    pub init: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub typ: Option<String>,
    pub config: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    pub name: Option<String>,
    pub maximum_retry_count: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightDevice {
    pub path: Option<String>,
    pub weight: Option<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleDevice {
    pub path: Option<String>,
    pub rate: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    pub path_on_host: Option<String>,
    pub path_in_container: Option<String>,
    pub cgroup_permissions: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceRequest {
    pub driver: Option<String>,
    pub count: Option<i64>,
    #[serde(rename = "DeviceIDs")]
    pub device_ids: Option<Vec<String>>,
    pub capabilities: Option<Vec<Vec<String>>>,
    pub options: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    pub name: Option<String>,
    pub soft: Option<i64>,
    pub hard: Option<i64>,
}

/// One `HostConfig.Mounts` entry (`--mount`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
    #[serde(rename = "Type")]
    pub typ: Option<String>,
    pub source: Option<String>,
    pub target: Option<String>,
    pub read_only: Option<bool>,
    pub consistency: Option<String>,
    pub bind_options: Option<BindOptions>,
    pub volume_options: Option<VolumeOptions>,
    pub tmpfs_options: Option<TmpfsOptions>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BindOptions {
    pub propagation: Option<String>,
    pub non_recursive: Option<bool>,
    pub create_mountpoint: Option<bool>,
    pub read_only_non_recursive: Option<bool>,
    pub read_only_force_recursive: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct VolumeOptions {
    pub no_copy: Option<bool>,
    pub labels: Option<BTreeMap<String, String>>,
    pub driver_config: Option<serde_json::Value>,
    pub subpath: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    pub size_bytes: Option<i64>,
    /// A Go `os.FileMode`, sent as a decimal integer (0o1777 arrives as 1023).
    pub mode: Option<u32>,
    /// `[["noexec"], ["uid", "1000"]]`-style flags (API 1.46+).
    pub options: Option<Vec<Vec<String>>>,
}

impl ContainerCreate {
    /// `HostConfig`, or an all-default one when the client sent none (docker-py may omit it).
    pub fn host(&self) -> std::borrow::Cow<'_, HostConfig> {
        match &self.host_config {
            Some(hc) => std::borrow::Cow::Borrowed(hc),
            None => std::borrow::Cow::Owned(HostConfig::default()),
        }
    }
}

/// `Some(s)` only when `s` is set and non-empty: the CLI sends `""` for every unset string.
pub(crate) fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}
