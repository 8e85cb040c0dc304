//! `unregister-app`: remove the environment's Argo CD Application from the
//! app-of-apps directory; its finalizer makes Argo CD delete what it
//! deployed. An Application that is not registered is success.

use crate::gitops::{ACTION, EnvArgs, GitArgs};
use crate::register_app::AppsArgs;
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::params::Problems;
use sandbox_core::{Outputs, TaskError};

/// Remove the environment's Argo CD Application from the app-of-apps directory.
#[derive(Debug, Clone, Default, Args)]
#[command(about = "Remove the environment's Argo CD Application from the app-of-apps directory")]
pub struct Params {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub git: GitArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub env: EnvArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub apps: AppsArgs,
}

/// The task.
pub struct UnregisterApp;

impl Task for UnregisterApp {
    const NAME: &'static str = "unregister-app";
    const NEEDS: &'static [crate::Need] = crate::needs::GIT;
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "app_name",
            description: "The Argo CD Application name.",
        },
        OutputSpec {
            name: "app_file",
            description: "The Application's file in the app-of-apps directory.",
        },
        OutputSpec {
            name: "commit",
            description: "The commit on the apps branch without it (empty on a dry run).",
        },
        OutputSpec {
            name: "action",
            description: "What happened: removed, absent or planned (dry run).",
        },
    ];
    type Params = Params;

    #[tracing::instrument(name = "unregister-app", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let mut problems = Problems::new();
        let plan = params
            .apps
            .validate(&params.git, &params.env, None, &mut problems);
        let Some(plan) = plan.filter(|_| problems.is_empty()) else {
            return Err(TaskError::invalid(problems.into_vec()));
        };
        plan.check(None)?;
        let mut out = Outputs::new();
        out.set("app_name", &plan.app_name)
            .set("app_file", &plan.app_file);
        if params.apps.dry_run {
            tracing::info!(
                repo = %plan.git.redacted_url(), apps_branch = %plan.apps_branch, file = %plan.app_file,
                "dry run: would remove the Application"
            );
            out.set(ACTION, "planned");
            return Ok(out);
        }
        let message = match plan.env.pr_number {
            Some(pr) => format!("unregister-app: {} (PR #{pr})", plan.app_name),
            None => format!("unregister-app: {}", plan.app_name),
        };
        let outcome = plan.push(&ctx, None, message).await?;
        out.set("commit", outcome.commit()).set(
            ACTION,
            if outcome.pushed() {
                "removed"
            } else {
                "absent"
            },
        );
        Ok(out)
    }
}
