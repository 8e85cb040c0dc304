//! Every task by name, for callers that choose the task at run time (the
//! plugin, `sandbox lint`).

use crate::{Context, Task, check_params, runner};
use sandbox_core::{Outputs, Problem, TaskError};
use serde_json::{Map, Value};

/// The names of every task, as binaries and as the plugin's `task` value.
pub const TASKS: &[&str] = &[check_params::CheckParams::NAME];

/// Run the task `name` with a params object.
pub async fn run(
    name: &str,
    params: &Map<String, Value>,
    ctx: Context,
) -> Result<Outputs, TaskError> {
    match name {
        check_params::CheckParams::NAME => run_task::<check_params::CheckParams>(params, ctx).await,
        other => Err(unknown(other)),
    }
}

/// Check that `name` is a task and `params` are keys it accepts, without
/// running it (used by `sandbox lint`).
pub fn check(name: &str, params: &Map<String, Value>) -> Result<(), TaskError> {
    match name {
        check_params::CheckParams::NAME => {
            runner::params_from_object::<check_params::CheckParams>(params).map(drop)
        }
        other => Err(unknown(other)),
    }
}

async fn run_task<T: Task>(
    params: &Map<String, Value>,
    ctx: Context,
) -> Result<Outputs, TaskError> {
    let params = runner::params_from_object::<T>(params)?;
    T::run(params, ctx).await
}

fn unknown(name: &str) -> TaskError {
    TaskError::invalid(vec![Problem {
        field: "task".into(),
        rule: "unknown-task".into(),
        message: format!("{name:?} is not a sandbox task"),
        value: Some(name.to_string()),
        fix: format!("use one of: {}", TASKS.join(", ")),
    }])
}
