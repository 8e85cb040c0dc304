//! `sandbox`: try the pipelines and check sandbox workflows and event wiring
//! without a cluster. This file only dispatches: each command's flags and
//! exit codes live with the command (`demo::cli`, `lint::cli`,
//! `sensor::cli`).

use clap::{Parser, Subcommand};
use sandbox_cli::{demo, lint, sensor};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "sandbox",
    version,
    about = "Try the sandbox pipelines and check their workflows and event wiring, without a cluster"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the create and delete pipelines for a sample pull request on a
    /// local world (Git repository, bucket directory, nightly backup), with
    /// the same task code as the workflows; no cluster, no network.
    Demo(demo::cli::DemoArgs),
    /// Lint Argo Workflows / Argo Events YAML: Argo's validator rules,
    /// dangling templateRefs, arguments, plugin steps, images, filters.
    Lint(lint::cli::LintArgs),
    /// Evaluate a Sensor against an event as Argo Events would: filters,
    /// triggers, and the resource each trigger submits.
    SensorTest(sensor::cli::SensorTestArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Demo(args) => demo::cli::run(args),
        Command::Lint(args) => lint::cli::run(args),
        Command::SensorTest(args) => sensor::cli::run(args),
    }
}
