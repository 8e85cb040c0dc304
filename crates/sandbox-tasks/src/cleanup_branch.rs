//! `cleanup-branch`: delete the environment's branch of the infrastructure
//! repository, unless an open pull request still has it as its head branch
//! (then it is kept and the task succeeds). An absent branch is success.

use crate::args::{
    self, BranchArgs, EnvArgs, Forge, ForgeArgs, GithubArgs, GithubPlan, RepoArgs, RepoPlan,
    VaultArgs, VaultPlan,
};
use crate::gitops::{self, ACTION};
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::params::{BranchName, Problems};
use sandbox_core::{Outputs, TaskError};
use sandbox_git::Author;

/// Delete the environment's branch unless an open pull request has it as head.
#[derive(Debug, Clone, Default, Args)]
#[command(
    about = "Delete the environment's branch unless an open pull request still has it as its head"
)]
pub struct Params {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub env: EnvArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub repo: RepoArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub branch: BranchArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub forge: ForgeArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub github: GithubArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
}

struct Plan {
    repo: RepoPlan,
    branch: BranchName,
    github: Option<GithubPlan>,
    vault: VaultPlan,
}

fn validate(p: &Params) -> Result<Plan, TaskError> {
    let mut problems = Problems::new();
    let env = p.env.validate(p.branch.branch.as_deref(), &mut problems);
    let name = env.as_ref().map(|e| &e.environment);
    let scope = p.vault.scope(&mut problems);
    let repo = p.repo.validate(true, name, &scope, &mut problems);
    let branch = p.branch.validate(&mut problems);
    let github = match p.forge.forge {
        Forge::Github => {
            if p.github.github_repo.is_none() {
                problems.missing(
                    "github_repo",
                    "pass --github-repo owner/name, or --forge none",
                );
            }
            p.github.validate(false, name, &scope, &mut problems)
        }
        Forge::None => None,
    };
    let vault = p.vault.plan(
        scope,
        name,
        repo.iter()
            .flat_map(RepoPlan::references)
            .chain(github.iter().flat_map(GithubPlan::references)),
        &mut problems,
    );
    let (Some(env), Some(repo), true) = (env, repo, problems.is_empty()) else {
        return Err(args::invalid(problems));
    };
    let branch = BranchArgs::resolve(branch, &env)?;
    Ok(Plan {
        repo,
        branch,
        github,
        vault,
    })
}

/// The task.
pub struct CleanupBranch;

impl Task for CleanupBranch {
    const NAME: &'static str = "cleanup-branch";
    const NEEDS: &'static [crate::Need] = crate::needs::GIT;
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "branch",
            description: "The environment's branch.",
        },
        OutputSpec {
            name: "action",
            description: "What happened: deleted, absent, kept (an open PR has it as head) or planned (dry run).",
        },
        OutputSpec {
            name: "open_pull_requests",
            description: "Comma-separated open pull requests that keep the branch (empty unless kept).",
        },
    ];
    type Params = Params;

    fn validate(params: &Params) -> Result<(), TaskError> {
        validate(params).map(drop)
    }

    #[tracing::instrument(name = "cleanup-branch", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let plan = validate(&params)?;
        let branch = plan.branch.clone();
        let mut out = Outputs::new();
        out.set("branch", &branch);
        if ctx.dry_run {
            tracing::info!(
                repo = %plan.repo.redacted_url(), %branch, forge = ?params.forge.forge,
                "dry run: would delete {branch} unless an open pull request has it as head"
            );
            out.set(ACTION, "planned");
            return Ok(out);
        }
        let creds = plan.vault.credentials(&ctx);
        let ws = plan.repo.open(&creds, Author::default()).await?;
        let (ws, tip) = {
            let branch = branch.clone();
            gitops::blocking(move || {
                let tip = ws.remote_branch(&branch).map_err(TaskError::from)?;
                Ok((ws, tip))
            })
            .await?
        };
        if tip.is_none() {
            tracing::info!(%branch, "branch is absent; nothing to delete");
            out.set(ACTION, "absent");
            return Ok(out);
        }
        if let Some((github, repo)) = plan
            .github
            .as_ref()
            .and_then(|g| g.repo.as_ref().map(|r| (g, r)))
        {
            let github = github.client(&creds).await?;
            let open = github.open_pulls_for_head(repo, branch.as_str()).await?;
            if !open.is_empty() {
                let numbers: Vec<String> = open.iter().map(|p| p.number.to_string()).collect();
                tracing::info!(%branch, pulls = %numbers.join(","), "an open pull request has the branch as head; keeping it");
                out.set(ACTION, "kept")
                    .set("open_pull_requests", numbers.join(","));
                return Ok(out);
            }
        }
        let deleted = {
            let branch = branch.clone();
            gitops::blocking(move || ws.delete_branch(&branch).map_err(TaskError::from)).await?
        };
        out.set(ACTION, if deleted { "deleted" } else { "absent" });
        Ok(out)
    }
}
