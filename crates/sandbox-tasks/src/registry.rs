//! Every task by name, for callers that choose the task at run time (the
//! plugin, `sandbox lint`).

use crate::{
    Context, Task, check_params, cleanup_branch, create_branch, patch_kustomize, register_app,
    runner, unregister_app,
};
use sandbox_core::{Outputs, Problem, TaskError};
use serde_json::{Map, Value};

/// The names of every task, as binaries and as the plugin's `task` value.
pub const TASKS: &[&str] = &[
    check_params::CheckParams::NAME,
    create_branch::CreateBranch::NAME,
    patch_kustomize::PatchKustomize::NAME,
    register_app::RegisterApp::NAME,
    unregister_app::UnregisterApp::NAME,
    cleanup_branch::CleanupBranch::NAME,
];

/// Run the task `name` with a params object.
pub async fn run(
    name: &str,
    params: &Map<String, Value>,
    ctx: Context,
) -> Result<Outputs, TaskError> {
    match name {
        check_params::CheckParams::NAME => run_task::<check_params::CheckParams>(params, ctx).await,
        create_branch::CreateBranch::NAME => {
            run_task::<create_branch::CreateBranch>(params, ctx).await
        }
        patch_kustomize::PatchKustomize::NAME => {
            run_task::<patch_kustomize::PatchKustomize>(params, ctx).await
        }
        register_app::RegisterApp::NAME => run_task::<register_app::RegisterApp>(params, ctx).await,
        unregister_app::UnregisterApp::NAME => {
            run_task::<unregister_app::UnregisterApp>(params, ctx).await
        }
        cleanup_branch::CleanupBranch::NAME => {
            run_task::<cleanup_branch::CleanupBranch>(params, ctx).await
        }
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
        create_branch::CreateBranch::NAME => {
            runner::params_from_object::<create_branch::CreateBranch>(params).map(drop)
        }
        patch_kustomize::PatchKustomize::NAME => {
            runner::params_from_object::<patch_kustomize::PatchKustomize>(params).map(drop)
        }
        register_app::RegisterApp::NAME => {
            runner::params_from_object::<register_app::RegisterApp>(params).map(drop)
        }
        unregister_app::UnregisterApp::NAME => {
            runner::params_from_object::<unregister_app::UnregisterApp>(params).map(drop)
        }
        cleanup_branch::CleanupBranch::NAME => {
            runner::params_from_object::<cleanup_branch::CleanupBranch>(params).map(drop)
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
