//! The flags shared by `run` and `create`, and their translation into the create body.

pub mod body;
pub mod parse;

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use serde_json::Value;

use body::{CreateBody, EndpointSettings, HealthConfig, HostConfig, NetworkingConfig};

#[derive(Args, Debug, Default, Clone)]
pub struct ContainerOpts {
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short = 'a', long = "attach")]
    pub attach: Vec<String>,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Bind mount a volume
    #[arg(short = 'v', long = "volume")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount to the container
    #[arg(long = "mount")]
    pub mount: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Memory limit
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Size of /dev/shm
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<i64>,
    /// Limit CPU CFS period
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS quota
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Ulimit options
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Security Options
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Add a host device to the container
    #[arg(long)]
    pub device: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    /// Command to run to check health
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h)
    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h)
    #[arg(long = "health-timeout")]
    pub health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long = "health-retries")]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before counting retries (ms|s|m|h)
    #[arg(long = "health-start-period")]
    pub health_start_period: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Signal to stop the container
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout", allow_hyphen_values = true)]
    pub stop_timeout: Option<i64>,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Logging driver for the container
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Log driver options
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// Runtime to use for this container
    #[arg(long)]
    pub runtime: Option<String>,
    /// Connect a container to a network
    #[arg(long = "network", alias = "net")]
    pub network: Vec<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias")]
    pub network_alias: Vec<String>,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long)]
    pub expose: Vec<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Container NIS domain name
    #[arg(long)]
    pub domainname: Option<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option")]
    pub dns_option: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Sysctl options
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// PID namespace to use
    #[arg(long)]
    pub pid: Option<String>,
    /// IPC mode to use
    #[arg(long)]
    pub ipc: Option<String>,
    /// UTS namespace to use
    #[arg(long)]
    pub uts: Option<String>,
    /// User namespace to use
    #[arg(long)]
    pub userns: Option<String>,
    /// Cgroup namespace to use (host|private)
    #[arg(long)]
    pub cgroupns: Option<String>,
    /// Optional parent cgroup for the container
    #[arg(long = "cgroup-parent")]
    pub cgroup_parent: Option<String>,
    /// Add additional groups to join
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// Disable OOM Killer
    #[arg(long = "oom-kill-disable")]
    pub oom_kill_disable: bool,
    /// Tune host's OOM preferences (-1000 to 1000)
    #[arg(long = "oom-score-adj", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i64>,
    /// Pull image before running ("always", "missing", "never")
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Suppress the pull output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Proxy received signals to the process
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    /// Write the container ID to the file
    #[arg(long)]
    pub cidfile: Option<String>,
    /// IMAGE [COMMAND] [ARG...]
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "IMAGE [COMMAND] [ARG...]"
    )]
    pub image_and_cmd: Vec<String>,
}

/// What the translation needs from the machine, passed in so tests control it.
pub struct Env<'a> {
    pub lookup: &'a dyn Fn(&str) -> Option<String>,
    pub read_file: &'a dyn Fn(&str) -> std::io::Result<String>,
    pub cwd: PathBuf,
    /// Terminal size `[rows, cols]` when `-t` and stdout is a terminal.
    pub console: [u16; 2],
}

impl ContainerOpts {
    pub fn image(&self) -> &str {
        &self.image_and_cmd[0]
    }

    /// Builds the create body exactly as the docker CLI would. `detached` is `run -d`.
    pub fn to_body(&self, detached: bool, env: &Env<'_>) -> Result<CreateBody, String> {
        let flag_err = |flag: &str, v: &str, e: String| {
            format!("invalid argument \"{v}\" for \"{flag}\" flag: {e}")
        };
        let mut hc = HostConfig::default();

        let (attach_stdin, attach_stdout, attach_stderr) = if detached {
            (false, false, false)
        } else if self.attach.is_empty() {
            (self.interactive, true, true)
        } else {
            let has = |s: &str| self.attach.iter().any(|a| a.eq_ignore_ascii_case(s));
            for a in &self.attach {
                if !["stdin", "stdout", "stderr"].contains(&a.to_lowercase().as_str()) {
                    return Err(format!("invalid argument \"{a}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"));
                }
            }
            (has("stdin"), has("stdout"), has("stderr"))
        };
        if detached && self.rm && self.restart.as_deref().is_some_and(|r| r != "no") {
            return Err("Conflicting options: --restart and --rm".into());
        }

        let mut envs = Vec::new();
        for f in &self.env_file {
            let content = (env.read_file)(f).map_err(|e| format!("open {f}: {e}"))?;
            envs.extend(parse::env_file(&content, f, env.lookup)?);
        }
        for e in &self.env {
            if let Some(v) = parse::env_value(e, env.lookup)? {
                envs.push(v);
            }
        }

        let mut volumes = BTreeMap::new();
        let mut binds = Vec::new();
        for v in &self.volume {
            match parse::volume(v, &env.cwd)? {
                parse::VolumeSpec::Bind(b) => binds.push(b),
                parse::VolumeSpec::Anonymous(d) => {
                    volumes.insert(d, Value::Object(Default::default()));
                }
            }
        }
        hc.binds = (!binds.is_empty()).then_some(binds);
        for m in &self.mount {
            hc.mounts
                .push(parse::mount(m).map_err(|e| flag_err("--mount", m, e))?);
        }
        if !self.tmpfs.is_empty() {
            hc.tmpfs = Some(self.tmpfs.iter().map(|t| parse::tmpfs(t)).collect());
        }
        hc.volumes_from = (!self.volumes_from.is_empty()).then(|| self.volumes_from.clone());

        let mut exposed = BTreeMap::new();
        for e in &self.expose {
            for (port, _) in parse::port_spec(e).map_err(|err| flag_err("--expose", e, err))? {
                exposed.insert(port, Value::Object(Default::default()));
            }
        }
        for p in &self.publish {
            for (port, binding) in
                parse::port_spec(p).map_err(|e| flag_err("-p, --publish", p, e))?
            {
                exposed.insert(port.clone(), Value::Object(Default::default()));
                hc.port_bindings.entry(port).or_default().push(binding);
            }
        }
        hc.publish_all_ports = self.publish_all;

        let mem = |flag: &str, v: &Option<String>| -> Result<i64, String> {
            match v {
                None => Ok(0),
                Some(s) if s == "-1" && flag == "--memory-swap" => Ok(-1),
                Some(s) => parse::ram_in_bytes(s).map_err(|e| flag_err(flag, s, e)),
            }
        };
        hc.memory = mem("-m, --memory", &self.memory)?;
        hc.memory_swap = mem("--memory-swap", &self.memory_swap)?;
        hc.memory_reservation = mem("--memory-reservation", &self.memory_reservation)?;
        hc.shm_size = mem("--shm-size", &self.shm_size)?;
        if let Some(c) = &self.cpus {
            hc.nano_cpus = parse::nano_cpus(c).map_err(|e| flag_err("--cpus", c, e))?;
        }
        hc.cpu_shares = self.cpu_shares.unwrap_or(0);
        hc.cpu_period = self.cpu_period.unwrap_or(0);
        hc.cpu_quota = self.cpu_quota.unwrap_or(0);
        hc.cpuset_cpus = self.cpuset_cpus.clone().unwrap_or_default();
        hc.cpuset_mems = self.cpuset_mems.clone().unwrap_or_default();
        hc.pids_limit = self.pids_limit.unwrap_or(0);
        if let Some(w) = self.blkio_weight {
            if w != 0 && !(10..=1000).contains(&w) {
                return Err(format!("invalid argument \"{w}\" for \"--blkio-weight\" flag: range of blkio weight is from 10 to 1000"));
            }
            hc.blkio_weight = w;
        }
        for u in &self.ulimit {
            hc.ulimits
                .push(parse::ulimit(u).map_err(|e| flag_err("--ulimit", u, e))?);
        }
        hc.cap_add = (!self.cap_add.is_empty()).then(|| self.cap_add.clone());
        hc.cap_drop = (!self.cap_drop.is_empty()).then(|| self.cap_drop.clone());
        hc.privileged = self.privileged;
        hc.readonly_rootfs = self.read_only;
        if !self.security_opt.is_empty() {
            let mut out = Vec::new();
            for s in &self.security_opt {
                out.push(security_opt(s, env)?);
            }
            hc.security_opt = Some(out);
        }
        for d in &self.device {
            hc.devices
                .push(parse::device(d).map_err(|e| flag_err("--device", d, e))?);
        }
        if self.init {
            hc.init = Some(true);
        }
        if let Some(r) = &self.restart {
            let (name, count) = parse::restart_policy(r)?;
            if self.rm && name != "no" {
                return Err("Conflicting options: --restart and --rm".into());
            }
            hc.restart_policy.name = name;
            hc.restart_policy.maximum_retry_count = count;
        }
        hc.auto_remove = self.rm;
        hc.log_config.kind = self.log_driver.clone().unwrap_or_default();
        hc.log_config.config = parse::key_values(&self.log_opt);
        hc.runtime = self.runtime.clone().unwrap_or_default();
        hc.dns = self.dns.clone();
        hc.dns_options = self.dns_option.clone();
        hc.dns_search = self.dns_search.clone();
        hc.extra_hosts = (!self.add_host.is_empty()).then(|| self.add_host.clone());
        hc.group_add = (!self.group_add.is_empty()).then(|| self.group_add.clone());
        if !self.sysctl.is_empty() {
            hc.sysctls = Some(parse::key_values(&self.sysctl));
        }
        hc.pid_mode = self.pid.clone().unwrap_or_default();
        hc.ipc_mode = self.ipc.clone().unwrap_or_default();
        hc.uts_mode = self.uts.clone().unwrap_or_default();
        hc.userns_mode = self.userns.clone().unwrap_or_default();
        hc.cgroupns_mode = self.cgroupns.clone().unwrap_or_default();
        hc.cgroup_parent = self.cgroup_parent.clone().unwrap_or_default();
        hc.oom_kill_disable = self.oom_kill_disable;
        hc.oom_score_adj = self.oom_score_adj.unwrap_or(0);
        hc.container_id_file = self.cidfile.clone().unwrap_or_default();
        if self.tty {
            hc.console_size = env.console;
        }

        // Docker leaves the endpoint out when one network is named without options; the
        // implicit default network gets a zero-valued endpoint.
        let mut net = NetworkingConfig::default();
        match self.network.as_slice() {
            [] => {
                net.endpoints_config
                    .insert("default".into(), endpoint(&self.network_alias));
            }
            [one] => {
                hc.network_mode = one.clone();
                if !self.network_alias.is_empty() {
                    net.endpoints_config
                        .insert(one.clone(), endpoint(&self.network_alias));
                }
            }
            many => {
                hc.network_mode = many[0].clone();
                for (i, n) in many.iter().enumerate() {
                    let aliases = if i == 0 { &self.network_alias[..] } else { &[] };
                    if net
                        .endpoints_config
                        .insert(n.clone(), endpoint(aliases))
                        .is_some()
                    {
                        return Err(format!("network \"{n}\" is specified multiple times"));
                    }
                }
            }
        }

        let health = self.health()?;
        let entrypoint = self.entrypoint.as_ref().map(|e| vec![e.clone()]);
        let cmd = self.image_and_cmd[1..].to_vec();
        let stdin = self.interactive;
        Ok(CreateBody {
            hostname: self.hostname.clone().unwrap_or_default(),
            domainname: self.domainname.clone().unwrap_or_default(),
            user: self.user.clone().unwrap_or_default(),
            attach_stdin,
            attach_stdout,
            attach_stderr,
            exposed_ports: (!exposed.is_empty()).then_some(exposed),
            tty: self.tty,
            open_stdin: stdin,
            stdin_once: stdin && attach_stdin,
            env: (!envs.is_empty()).then_some(envs),
            cmd: (!cmd.is_empty()).then_some(cmd),
            healthcheck: health,
            image: self.image().to_string(),
            volumes,
            working_dir: self.workdir.clone().unwrap_or_default(),
            entrypoint,
            on_build: None,
            labels: parse::key_values(&self.label),
            stop_signal: self.stop_signal.clone(),
            stop_timeout: self.stop_timeout,
            host_config: hc,
            networking_config: net,
        })
    }

    fn health(&self) -> Result<Option<HealthConfig>, String> {
        let dur = |flag: &str, v: &Option<String>| -> Result<i64, String> {
            match v {
                None => Ok(0),
                Some(s) => {
                    let d = parse::go_duration(s).map_err(|e| {
                        format!("invalid argument \"{s}\" for \"{flag}\" flag: {e}")
                    })?;
                    if d < 0 {
                        return Err(format!("{flag} cannot be negative"));
                    }
                    Ok(d)
                }
            }
        };
        let any = self.health_cmd.is_some()
            || self.health_interval.is_some()
            || self.health_timeout.is_some()
            || self.health_retries.is_some()
            || self.health_start_period.is_some();
        if self.no_healthcheck {
            if any {
                return Err("--no-healthcheck conflicts with --health-* options".into());
            }
            return Ok(Some(HealthConfig {
                test: Some(vec!["NONE".into()]),
                ..Default::default()
            }));
        }
        if !any {
            return Ok(None);
        }
        let retries = self.health_retries.unwrap_or(0);
        if retries < 0 {
            return Err("--health-retries cannot be negative".into());
        }
        Ok(Some(HealthConfig {
            test: self
                .health_cmd
                .as_ref()
                .map(|c| vec!["CMD-SHELL".to_string(), c.clone()]),
            interval: dur("--health-interval", &self.health_interval)?,
            timeout: dur("--health-timeout", &self.health_timeout)?,
            start_period: dur("--health-start-period", &self.health_start_period)?,
            retries,
        }))
    }
}

fn endpoint(aliases: &[String]) -> EndpointSettings {
    EndpointSettings {
        aliases: (!aliases.is_empty()).then(|| aliases.to_vec()),
        ..Default::default()
    }
}

/// `seccomp=PROFILE.json` is sent inline, compacted, as the docker CLI does.
fn security_opt(s: &str, env: &Env<'_>) -> Result<String, String> {
    let (k, v) = s
        .split_once(['=', ':'])
        .ok_or_else(|| {
            if s == "no-new-privileges" {
                String::new()
            } else {
                format!("Invalid --security-opt: {s:?}")
            }
        })
        .or_else(|e| if e.is_empty() { Ok((s, "")) } else { Err(e) })?;
    if k == "seccomp" && v != "unconfined" && v != "builtin" {
        let content =
            (env.read_file)(v).map_err(|e| format!("opening seccomp profile ({v}) failed: {e}"))?;
        let json: Value = serde_json::from_str(&content)
            .map_err(|e| format!("compacting json for seccomp profile ({v}) failed: {e}"))?;
        return Ok(format!("seccomp={json}"));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests;
