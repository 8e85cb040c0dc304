//! `unregister-app`: remove the environment's Argo CD Application from the
//! app-of-apps directory; its finalizer makes Argo CD delete what it
//! deployed. An Application that is not registered is success.

use crate::args::{
    self, AppsArgs, AppsPlan, AuthorArgs, EnvArgs, EnvPlan, Refusals, RepoArgs, RepoPlan,
    VaultArgs, VaultPlan,
};
use crate::gitops::ACTION;
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::params::Problems;
use sandbox_core::{Outputs, TaskError};
use sandbox_git::Author;

/// Remove the environment's Argo CD Application from the app-of-apps directory.
#[derive(Debug, Clone, Default, Args)]
#[command(about = "Remove the environment's Argo CD Application from the app-of-apps directory")]
pub struct Params {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub env: EnvArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub repo: RepoArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub author: AuthorArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub apps: AppsArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
}

struct Plan {
    env: EnvPlan,
    repo: RepoPlan,
    author: Author,
    apps: AppsPlan,
    vault: VaultPlan,
}

fn validate(p: &Params) -> Result<Plan, TaskError> {
    let mut problems = Problems::new();
    let env = p.env.validate(None, &mut problems);
    let name = env.as_ref().map(|e| &e.environment);
    let scope = p.vault.scope(&mut problems);
    let repo = p.repo.validate(true, name, &scope, &mut problems);
    let author = p.author.validate(&mut problems);
    let apps = p.apps.validate(env.as_ref(), &mut problems);
    let vault = p.vault.plan(
        scope,
        name,
        repo.iter().flat_map(RepoPlan::references),
        &mut problems,
    );
    let (Some(env), Some(repo), Some(author), Some(apps), true) =
        (env, repo, author, apps, problems.is_empty())
    else {
        return Err(args::invalid(problems));
    };
    env.check(None)?;
    let mut refusals = Refusals::new();
    apps.refusals(&env, &mut refusals);
    refusals.finish()?;
    Ok(Plan {
        env,
        repo,
        author,
        apps,
        vault,
    })
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

    fn validate(params: &Params) -> Result<(), TaskError> {
        validate(params).map(drop)
    }

    #[tracing::instrument(name = "unregister-app", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let plan = validate(&params)?;
        let apps = &plan.apps;
        let mut out = Outputs::new();
        out.set("app_name", &apps.app_name)
            .set("app_file", &apps.app_file);
        if ctx.dry_run {
            tracing::info!(
                repo = %plan.repo.redacted_url(), apps_branch = %apps.apps_branch, file = %apps.app_file,
                "dry run: would remove the Application"
            );
            out.set(ACTION, "planned");
            return Ok(out);
        }
        let message = match plan.env.pr_number {
            Some(pr) => format!("unregister-app: {} (PR #{pr})", apps.app_name),
            None => format!("unregister-app: {}", apps.app_name),
        };
        let creds = plan.vault.credentials(&ctx);
        let outcome = apps
            .push(&plan.repo, &creds, plan.author.clone(), None, message)
            .await?;
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
