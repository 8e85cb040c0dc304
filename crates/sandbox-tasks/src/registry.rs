//! Every task by name, for callers that choose the task at run time (the
//! plugin, `sandbox lint`). Adding a task is one line in `tasks!` below.

use crate::{Context, Task, runner};
use clap::Command;
use sandbox_core::{Outputs, Problem, TaskError};
use serde_json::{Map, Value};

macro_rules! tasks {
    ($($task:path),* $(,)?) => {
        /// The names of every task, as binaries and as the plugin's `task` value.
        pub const TASKS: &[&str] = &[$(<$task as Task>::NAME),*];

        /// Run the task `name` with a params object.
        pub async fn run(name: &str, params: &Map<String, Value>, ctx: Context) -> Result<Outputs, TaskError> {
            $(
                if name == <$task as Task>::NAME {
                    return run_task::<$task>(params, ctx).await;
                }
            )*
            Err(unknown(name))
        }

        /// Check that `name` is a task and `params` are keys and values it
        /// accepts, without running it (used by `sandbox lint`).
        pub fn check(name: &str, params: &Map<String, Value>) -> Result<(), TaskError> {
            $(
                if name == <$task as Task>::NAME {
                    return runner::params_from_object::<$task>(params).map(drop);
                }
            )*
            Err(unknown(name))
        }

        /// Validate `params` for task `name` as the task does before any
        /// side effect: every problem (exit 2), then the guard rails
        /// (exit 5). Nothing is read or written.
        pub fn validate(name: &str, params: &Map<String, Value>) -> Result<(), TaskError> {
            $(
                if name == <$task as Task>::NAME {
                    let (params, _) = runner::params_from_object::<$task>(params)?;
                    return <$task as Task>::validate(&params);
                }
            )*
            Err(unknown(name))
        }

        /// Every parameter key of every task: the shared vocabulary a
        /// sandbox's parameter file is written in.
        pub fn vocabulary() -> &'static [String] {
            static VOCABULARY: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
            VOCABULARY.get_or_init(|| {
                let mut keys: Vec<String> = Vec::new();
                $(
                    for arg in runner::command::<$task>().get_arguments() {
                        let id = arg.get_id().as_str();
                        if arg.get_long().is_some()
                            && !matches!(id, "params" | "help" | "version")
                            && !keys.iter().any(|k| k == id)
                        {
                            keys.push(id.to_string());
                        }
                    }
                )*
                keys.sort();
                keys
            })
        }

        /// The ClusterWorkflowTemplate of every task: (file name, YAML).
        pub fn task_templates() -> Vec<(String, String)> {
            vec![$((format!("sandbox-{}.yaml", <$task as Task>::NAME), crate::catalog::task_template::<$task>())),*]
        }

        /// The README's table of every task (generated; checked by a test).
        pub fn readme_table() -> String {
            let mut table = crate::readme::groups_table();
            table.push_str(crate::readme::TASK_TABLE_HEADER);
            $(
                table.push_str(&crate::readme::task_row::<$task>());
                table.push('\n');
            )*
            table
        }

        /// The clap command of the task `name` (its flags, help and defaults).
        pub fn command(name: &str) -> Option<Command> {
            $(
                if name == <$task as Task>::NAME {
                    return Some(runner::command::<$task>());
                }
            )*
            None
        }
    };
}

tasks!(
    crate::check_params::CheckParams,
    crate::create_branch::CreateBranch,
    crate::register_app::RegisterApp,
    crate::unregister_app::UnregisterApp,
    crate::cleanup_branch::CleanupBranch,
    crate::pr_feedback::PrFeedback,
    crate::reap::Reap,
    crate::cleanup_secrets::CleanupSecrets,
    crate::patch_kustomize::PatchKustomize,
    crate::seed_bucket::SeedBucket,
    crate::restore_db::RestoreDb,
    crate::drop_db::DropDb,
    crate::cleanup_bucket::CleanupBucket,
    crate::prepare_db::PrepareDb,
    crate::hibernate::Hibernate,
    crate::wake::Wake,
    crate::wait_ready::WaitReady,
);

async fn run_task<T: Task>(
    params: &Map<String, Value>,
    mut ctx: Context,
) -> Result<Outputs, TaskError> {
    let (params, common) = runner::params_from_object::<T>(params)?;
    ctx.dry_run |= common.dry_run;
    runner::run_checked::<T>(params, ctx).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox_core::env_vars::flag_env;

    /// DESIGN §4: one vocabulary — the params key (snake_case), the flag
    /// (kebab-case) and the environment variable (SANDBOX_ + upper snake).
    #[test]
    fn every_flag_keeps_the_naming_contract() {
        for name in TASKS {
            let cmd = command(name).expect("registered task has a command");
            for arg in cmd.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if matches!(long, "help" | "version") {
                    continue;
                }
                let id = arg.get_id().as_str();
                let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
                assert_eq!(
                    long.replace('-', "_"),
                    id,
                    "{name}: flag --{long} does not match key {id}"
                );
                assert_eq!(
                    env,
                    Some(flag_env(id)),
                    "{name}: --{long} must read {}",
                    flag_env(id)
                );
            }
        }
    }

    /// The layering of issue 14: a task module composes argument groups and
    /// domain crates, never another task module (shared code lives in
    /// `args`, `remote`, `gitops` or a domain crate).
    #[test]
    fn no_task_module_imports_another() {
        let modules: Vec<String> = TASKS.iter().map(|t| t.replace('-', "_")).collect();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for module in &modules {
            let text = std::fs::read_to_string(dir.join(format!("{module}.rs")))
                .unwrap_or_else(|e| panic!("{module}.rs: {e}"));
            for other in modules.iter().filter(|m| *m != module) {
                for path in [format!("crate::{other}"), format!("super::{other}")] {
                    assert!(
                        !text.contains(&format!("{path}::")) && !text.contains(&format!("{path};")),
                        "{module}.rs uses {path}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_registry_runs_and_checks_by_name() {
        let mut params = Map::new();
        params.insert("pr_number".into(), Value::from(11));
        assert!(check("check-params", &params).is_ok());
        params.insert("no_such_key".into(), Value::from(1));
        let error = check("check-params", &params).unwrap_err();
        assert_eq!(error.details[0].field, "no_such_key");
        assert_eq!(
            check("no-such-task", &Map::new()).unwrap_err().details[0].rule,
            "unknown-task"
        );
        assert!(command("check-params").is_some() && command("nope").is_none());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn run_by_name_returns_the_task_outputs() {
        let mut params = Map::new();
        params.insert("pr_number".into(), Value::from(12));
        let outputs = run("check-params", &params, Context::default())
            .await
            .unwrap();
        assert_eq!(outputs.get("namespace"), Some("apps-sbx-pr-12"));
    }
}
