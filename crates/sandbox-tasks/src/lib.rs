//! The sandbox tasks. Each module is one task: its `Params` (clap; the same
//! keys in snake_case in a `--params` file or a plugin request) and its
//! [`Task::run`]. The [`runner`] turns a task into a binary that keeps the
//! contract of DESIGN §3; the [`registry`] runs a task by name for the
//! plugin.

pub mod check_params;
pub mod context;
pub mod params_file;
pub mod registry;
pub mod runner;

pub use context::{Context, Progress};

use sandbox_core::{Outputs, TaskError};
use std::future::Future;

/// One task of the sandbox pipelines.
pub trait Task {
    /// The binary's name and the plugin's `task` value, e.g. `check-params`.
    const NAME: &'static str;
    /// What the task takes, as flags, environment variables or a params object.
    type Params: clap::Args + clap::FromArgMatches + Send + 'static;
    /// Validate the parameters, then do the work. Must be idempotent.
    fn run(
        params: Self::Params,
        ctx: Context,
    ) -> impl Future<Output = Result<Outputs, TaskError>> + Send;
}
