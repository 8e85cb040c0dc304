//! The sandbox tasks. Each module is one task: its `Params` (clap; the same
//! keys in snake_case in a `--params` file or a plugin request) and its
//! [`Task::run`]. The [`runner`] turns a task into a binary that keeps the
//! contract of DESIGN §3; the [`registry`] runs a task by name for the
//! plugin.

pub mod args;
pub mod catalog;
pub mod check_params;
pub mod cleanup_branch;
pub mod cleanup_bucket;
pub mod cleanup_secrets;
pub mod context;
pub mod create_branch;
pub mod drop_db;
pub mod fleet;
pub mod gitops;
pub mod hibernate;
pub mod needs;
pub mod params_file;
pub mod patch_kustomize;
pub mod pr_feedback;
pub mod prepare_db;
pub mod readme;
pub mod reap;
pub mod register_app;
pub mod registry;
pub mod remote;
pub mod report_tests;
pub mod restore_db;
pub mod runner;
pub mod seed_bucket;
pub mod unregister_app;
pub mod wait_ready;
pub mod wake;

pub use context::{Context, Progress};
pub use needs::Need;

use sandbox_core::{Outputs, TaskError};
use std::future::Future;

/// An output parameter a task writes: declared so templates and docs are
/// generated from the code, and checked by the runner on every run.
#[derive(Debug, Clone, Copy)]
pub struct OutputSpec {
    /// snake_case name: the output file and the template's output parameter.
    pub name: &'static str,
    /// One line for the template's `description` and the docs.
    pub description: &'static str,
}

/// One task of the sandbox pipelines.
pub trait Task {
    /// The binary's name and the plugin's `task` value, e.g. `check-params`.
    const NAME: &'static str;
    /// Every output the task may write on success; the runner writes the
    /// ones a run did not set as empty, in this order.
    const OUTPUTS: &'static [OutputSpec];
    /// What the task needs from its pod besides its binary (tools, a
    /// writable temporary directory, the service-account token).
    const NEEDS: &'static [Need] = &[];
    /// What the task takes, as flags, environment variables or a params object.
    type Params: clap::Args + clap::FromArgMatches + Send + 'static;
    /// Validate the parameters as `run` does before any side effect:
    /// every problem (exit 2), then the guard rails (exit 5). No I/O.
    fn validate(params: &Self::Params) -> Result<(), TaskError>;
    /// Validate the parameters, then do the work (or, with
    /// `ctx.dry_run`, only say what it would do). Must be idempotent.
    fn run(
        params: Self::Params,
        ctx: Context,
    ) -> impl Future<Output = Result<Outputs, TaskError>> + Send;
}
