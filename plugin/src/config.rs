//! The command line: `sandbox-plugin [FLAGS]` serves, `sandbox-plugin
//! manifest` prints the ConfigMap to install.

use crate::go_duration;
use crate::jobs::Limits;
use clap::{Args, Parser, Subcommand};
use sandbox_core::env_vars;
use sandbox_core::telemetry::LogFormat;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The Argo executor plugin that runs sandbox tasks inside the workflow's
/// agent pod.
#[derive(Debug, Parser)]
#[command(
    name = "sandbox-plugin",
    version,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// How to serve.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the ConfigMap `argo executor-plugin build` makes from
    /// plugin/plugin.yaml (kubectl apply -f it in the argo namespace).
    Manifest,
}

/// Flags of the server.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; the agent calls http://localhost:<port>, so
    /// loopback is enough and keeps the plugin unreachable from outside the pod.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:11355")]
    pub listen: SocketAddr,
    /// File holding the token the agent sends as `Authorization: Bearer`.
    #[arg(long, value_name = "FILE", default_value = "/var/run/argo/token")]
    pub token_file: PathBuf,
    /// How long the agent waits before asking again about a running task.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = go_duration::parse)]
    pub requeue: Duration,
    /// How long a call waits for its task before answering Running; a task
    /// that finishes sooner is answered in the same call.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = go_duration::parse)]
    pub sync_wait: Duration,
    /// Most tasks running at once; further calls are answered Pending.
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_running: u32,
    /// How long a task may run before it is stopped and its node failed.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = go_duration::parse)]
    pub deadline: Duration,
    /// A deadline for one task, overriding --deadline (repeatable), e.g.
    /// restore-db=3h.
    #[arg(long = "task-deadline", value_name = "TASK=DURATION", value_parser = parse_task_deadline)]
    pub task_deadlines: Vec<(String, Duration)>,
    /// How long a finished task's result is kept for the agent to collect.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = go_duration::parse)]
    pub result_ttl: Duration,
    /// Most finished results kept; the oldest are forgotten first.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub max_finished: usize,
    /// On SIGTERM, how long running tasks may go on before they are stopped.
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = go_duration::parse)]
    pub grace: Duration,
    /// Worker threads of the server [default: one per available CPU].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub workers: Option<u32>,
    /// Log format on stderr: text, json, or auto (json unless stderr is a terminal).
    #[arg(long, env = env_vars::LOG_FORMAT, value_name = "FORMAT", default_value = "auto")]
    pub log_format: LogFormat,
}

impl ServeArgs {
    /// The job limits these flags set.
    pub fn limits(&self) -> Limits {
        Limits {
            max_running: self.max_running as usize,
            deadline: self.deadline,
            task_deadlines: self
                .task_deadlines
                .iter()
                .cloned()
                .collect::<HashMap<_, _>>(),
            ttl: self.result_ttl,
            max_finished: self.max_finished,
        }
    }
}

impl Default for ServeArgs {
    /// The defaults of the command line.
    fn default() -> Self {
        Cli::parse_from(["sandbox-plugin"]).serve
    }
}

fn parse_task_deadline(s: &str) -> Result<(String, Duration), String> {
    let (task, duration) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not TASK=DURATION, e.g. restore-db=3h"))?;
    if !sandbox_tasks::registry::TASKS.contains(&task) {
        return Err(format!(
            "{task:?} is not a sandbox task; use one of: {}",
            sandbox_tasks::registry::TASKS.join(", ")
        ));
    }
    Ok((task.to_string(), go_duration::parse(duration)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_design() {
        let args = ServeArgs::default();
        assert_eq!(args.listen, "127.0.0.1:11355".parse().unwrap());
        assert_eq!(args.token_file, PathBuf::from("/var/run/argo/token"));
        assert_eq!(args.requeue, Duration::from_secs(5));
    }

    #[test]
    fn task_deadlines_name_real_tasks() {
        let cli =
            Cli::try_parse_from(["sandbox-plugin", "--task-deadline", "check-params=90s"]).unwrap();
        assert_eq!(
            cli.serve.limits().task_deadlines["check-params"],
            Duration::from_secs(90)
        );
        assert!(
            Cli::try_parse_from(["sandbox-plugin", "--task-deadline", "no-such-task=1s"]).is_err()
        );
        assert!(
            Cli::try_parse_from(["sandbox-plugin", "--task-deadline", "check-params"]).is_err()
        );
    }

    #[test]
    fn manifest_is_a_subcommand() {
        let cli = Cli::try_parse_from(["sandbox-plugin", "manifest"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Manifest)));
    }
}
