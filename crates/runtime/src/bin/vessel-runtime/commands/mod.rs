//! One file per verb; each parses its flags and calls the library.

mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod run;
mod spec;
mod start;
mod state;
mod update;

use clap::Subcommand;
use vessel_runtime::container::Runtime;

use crate::log::Logger;

pub struct Globals<'a> {
    pub runtime: Runtime,
    pub logger: &'a Logger,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a container (everything but the user process, which `start` runs).
    Create(create::CreateArgs),
    /// Run the user process of a created container.
    Start(start::Args),
    /// Create and start a container, and wait for it unless --detach.
    Run(run::Args),
    /// Print the state of a container as JSON.
    State(state::Args),
    /// Send a signal to the container's init (or all its processes with --all).
    Kill(kill::Args),
    /// Delete a stopped container (or any with --force).
    Delete(delete::Args),
    /// Run a new process inside a running container.
    Exec(exec::Args),
    /// List the processes of a container.
    Ps(ps::Args),
    /// Freeze every process of a container.
    Pause(pause::Args),
    /// Thaw a paused container.
    Resume(pause::Args),
    /// List containers.
    List(list::Args),
    /// Change the resource limits of a container.
    Update(update::Args),
    /// Print resource statistics (and OOM events) of a container.
    Events(events::Args),
    /// Write a default config.json.
    Spec(spec::Args),
    /// Print the features this runtime supports (OCI features JSON).
    Features,
}

pub fn dispatch(command: Command, g: &Globals) -> anyhow::Result<i32> {
    match command {
        Command::Create(a) => create::run(a, g),
        Command::Start(a) => start::run(a, g),
        Command::Run(a) => run::run(a, g),
        Command::State(a) => state::run(a, g),
        Command::Kill(a) => kill::run(a, g),
        Command::Delete(a) => delete::run(a, g),
        Command::Exec(a) => exec::run(a, g),
        Command::Ps(a) => ps::run(a, g),
        Command::Pause(a) => pause::pause(a, g),
        Command::Resume(a) => pause::resume(a, g),
        Command::List(a) => list::run(a, g),
        Command::Update(a) => update::run(a, g),
        Command::Events(a) => events::run(a, g),
        Command::Spec(a) => spec::run(a),
        Command::Features => features::run(),
    }
}
