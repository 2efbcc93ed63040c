//! `vessel container …`: the management-command spelling of the container verbs.

use clap::Subcommand;

use super::*;
use crate::client::Client;

#[derive(Subcommand)]
pub enum Cmd {
    /// Run a command in a new container
    Run(run::RunArgs),
    /// Create a new container
    Create(run::CreateArgs),
    /// List containers
    #[command(aliases = ["ps", "list"])]
    Ls(ps::Args),
    /// Fetch the logs of a container
    Logs(logs::Args),
    /// Execute a command in a running container
    Exec(exec::Args),
    /// Start one or more stopped containers
    Start(lifecycle::StartArgs),
    /// Stop one or more running containers
    Stop(lifecycle::StopArgs),
    /// Restart one or more containers
    Restart(lifecycle::StopArgs),
    /// Kill one or more running containers
    Kill(lifecycle::KillArgs),
    /// Remove one or more containers
    #[command(alias = "remove")]
    Rm(lifecycle::RmArgs),
    /// Pause all processes within one or more containers
    Pause(lifecycle::Names),
    /// Unpause all processes within one or more containers
    Unpause(lifecycle::Names),
    /// Block until one or more containers stop, then print their exit codes
    Wait(lifecycle::Names),
    /// Rename a container
    Rename(lifecycle::RenameArgs),
    /// List port mappings or a specific mapping for the container
    Port(lifecycle::PortArgs),
    /// Display the running processes of a container
    Top(top::Args),
    /// Display a live stream of container(s) resource usage statistics
    Stats(stats::Args),
    /// Copy files/folders between a container and the local filesystem
    Cp(cp::Args),
    /// Update configuration of one or more containers
    Update(update::Args),
    /// Export a container's filesystem as a tar archive
    Export(export::Args),
    /// Attach local standard input, output, and error streams to a running container
    Attach(attach::Args),
    /// Display detailed information on one or more containers
    Inspect(InspectArgs),
    /// Remove all stopped containers
    Prune(prune::ContainerArgs),
}

#[derive(clap::Args)]
pub struct InspectArgs {
    /// Format output using a custom template
    #[arg(short = 'f', long)]
    format: Option<String>,
    /// Display total file sizes
    #[arg(short = 's', long)]
    size: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn dispatch(c: &Client, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Run(a) => run::run(c, a),
        Cmd::Create(a) => run::create(c, a),
        Cmd::Ls(a) => ps::run(c, a),
        Cmd::Logs(a) => logs::run(c, a),
        Cmd::Exec(a) => exec::run(c, a),
        Cmd::Start(a) => lifecycle::start(c, a),
        Cmd::Stop(a) => lifecycle::stop(c, a, "stop"),
        Cmd::Restart(a) => lifecycle::stop(c, a, "restart"),
        Cmd::Kill(a) => lifecycle::kill(c, a),
        Cmd::Rm(a) => lifecycle::rm(c, a),
        Cmd::Pause(a) => lifecycle::simple(c, a, "pause"),
        Cmd::Unpause(a) => lifecycle::simple(c, a, "unpause"),
        Cmd::Wait(a) => lifecycle::wait(c, a),
        Cmd::Rename(a) => lifecycle::rename(c, a),
        Cmd::Port(a) => lifecycle::port(c, a),
        Cmd::Top(a) => top::run(c, a),
        Cmd::Stats(a) => stats::run(c, a),
        Cmd::Cp(a) => cp::run(c, a),
        Cmd::Update(a) => update::run(c, a),
        Cmd::Export(a) => export::run(c, a),
        Cmd::Attach(a) => attach::run(c, a),
        Cmd::Inspect(a) => {
            let _ = a.size;
            inspect::typed(c, "containers", &a.containers, a.format.as_deref())
        }
        Cmd::Prune(a) => prune::containers(c, a),
    }
}
