//! `vessel`: Docker's verbs and flags, over the Docker Engine API on a unix socket.

mod autostart;
mod client;
mod commands;
mod format;
mod http;
mod output;
mod runopts;
mod stream;
mod template;
mod tty;

use clap::{Parser, Subcommand};

use client::{Client, ClientError, Host};
use commands::*;

#[derive(Parser)]
#[command(
    name = "vessel",
    version,
    about = "A self-sufficient runtime for containers (Docker-compatible)",
    subcommand_required = true,
    arg_required_else_help = true
)]
struct Cli {
    /// Daemon socket to connect to (unix:///path)
    #[arg(short = 'H', long = "host", global = true)]
    host: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Show the Vessel version information
    Version(version::Args),
    /// Display system-wide information
    Info(info::Args),
    /// Run a command in a new container
    Run(run::RunArgs),
    /// Create a new container
    Create(run::CreateArgs),
    /// List containers
    #[command(alias = "ls")]
    Ps(ps::Args),
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
    /// Return low-level information on Vessel objects
    Inspect(inspect::Args),
    /// List images
    Images(images::ListArgs),
    /// Remove one or more images
    Rmi(images::RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(images::TagArgs),
    /// Show the history of an image
    History(images::HistoryArgs),
    /// Build an image from a Dockerfile
    Build(build::Args),
    /// Load an image from a tar archive or STDIN
    Load(imgio::LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(imgio::SaveArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(imgio::ImportArgs),
    /// Download an image from a registry
    Pull(imgio::PullArgs),
    /// Upload an image to a registry
    Push(imgio::PushArgs),
    /// Authenticate to a registry
    Login(login::LoginArgs),
    /// Log out from a registry
    Logout(login::LogoutArgs),
    /// Get real time events from the server
    Events(events::Args),
    /// Manage containers
    #[command(subcommand)]
    Container(container::Cmd),
    /// Manage images
    #[command(subcommand)]
    Image(images::Cmd),
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::Cmd),
    /// Manage networks
    #[command(subcommand)]
    Network(network::Cmd),
    /// Manage Vessel
    #[command(subcommand)]
    System(system::Cmd),
    /// Run the Vessel daemon in the foreground
    Daemon(daemon::Args),
    /// Run an OCI distribution registry, or collect its garbage
    #[command(subcommand)]
    Registry(registry::Cmd),
}

fn dispatch(cmd: Cmd, c: &Client) -> anyhow::Result<()> {
    match cmd {
        Cmd::Version(a) => version::run(c, a),
        Cmd::Info(a) => info::run(c, a),
        Cmd::Run(a) => run::run(c, a),
        Cmd::Create(a) => run::create(c, a),
        Cmd::Ps(a) => ps::run(c, a),
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
        Cmd::Inspect(a) => inspect::run(c, a),
        Cmd::Images(a) => images::list(c, a),
        Cmd::Rmi(a) => images::rmi(c, a),
        Cmd::Tag(a) => images::tag(c, a),
        Cmd::History(a) => images::history(c, a),
        Cmd::Build(a) => build::run(c, a),
        Cmd::Load(a) => imgio::load(c, a),
        Cmd::Save(a) => imgio::save(c, a),
        Cmd::Import(a) => imgio::import(c, a),
        Cmd::Pull(a) => imgio::pull(c, a),
        Cmd::Push(a) => imgio::push(c, a),
        Cmd::Login(a) => login::login(c, a),
        Cmd::Logout(a) => login::logout(a),
        Cmd::Events(a) => events::run(c, a),
        Cmd::Container(sub) => container::dispatch(c, sub),
        Cmd::Image(sub) => images::dispatch(c, sub),
        Cmd::Volume(sub) => volume::dispatch(c, sub),
        Cmd::Network(sub) => network::dispatch(c, sub),
        Cmd::System(sub) => system::dispatch(c, sub),
        Cmd::Daemon(_) => unreachable!("handled before connecting"),
        Cmd::Registry(_) => unreachable!("handled before connecting"),
    }
}

fn main() {
    // Go's CLI ignores SIGPIPE-style errors per write; Rust's default of ignoring SIGPIPE plus
    // our `let _ = write` on stream copies gives the same `| head` behaviour.
    let cli = Cli::parse();
    if let Cmd::Registry(sub) = cli.cmd {
        std::process::exit(match registry::run(sub) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("vessel registry: {e:#}");
                1
            }
        });
    }
    let host = match Host::resolve(cli.host.as_deref()) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    if let Cmd::Daemon(a) = cli.cmd {
        let listen = cli.host.is_some().then_some(&host);
        std::process::exit(match daemon::run(listen, a) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("vessel daemon: {e:#}");
                1
            }
        });
    }
    let client = Client::new(host);
    let code = match dispatch(cli.cmd, &client) {
        Ok(()) => 0,
        Err(e) => report(&e),
    };
    std::process::exit(code);
}

/// Prints an error the way docker does and picks the exit code.
fn report(e: &anyhow::Error) -> i32 {
    if let Some(Exit(code, msg)) = e.downcast_ref::<Exit>() {
        if !msg.is_empty() {
            eprintln!("{msg}");
        }
        return *code;
    }
    if let Some(ce) = e.downcast_ref::<ClientError>() {
        eprintln!("{ce}");
        // A failed autostart says why; a plain "no daemon" needs no more.
        if let ClientError::Connect { source, .. } = ce {
            if !matches!(
                source.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) {
                eprintln!("  {source}");
            }
        }
        return 1;
    }
    eprintln!("Error: {e:#}");
    1
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn flag_definitions_are_consistent() {
        super::Cli::command().debug_assert();
    }
}
