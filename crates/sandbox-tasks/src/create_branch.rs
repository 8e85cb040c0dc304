//! `create-branch`: create the environment's branch of the infrastructure
//! repository at the tip of the base branch. Idempotent: an existing branch
//! is reused (or, with `--if-exists fail`, a precondition error).

use crate::args::{
    self, AuthorArgs, BaseBranchArgs, BranchArgs, EnvArgs, IfExistsArg, RepoArgs, VaultArgs,
};
use crate::gitops::{self, ACTION};
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::params::{BranchName, Problems};
use sandbox_core::{Outputs, TaskError};
use sandbox_git::{Author, IfExists};

/// Create the environment's branch from the tip of the base branch.
#[derive(Debug, Clone, Default, Args)]
#[command(
    about = "Create the environment's branch of the infrastructure repository from the base branch"
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
    pub author: AuthorArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub branch: BranchArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub base: BaseBranchArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
}

/// A validated run.
struct Plan {
    repo: args::RepoPlan,
    author: Author,
    vault: args::VaultPlan,
    branch: BranchName,
    base: BranchName,
    if_exists: IfExistsArg,
}

fn validate(p: &Params) -> Result<Plan, TaskError> {
    let mut problems = Problems::new();
    let env = p.env.validate(p.branch.branch.as_deref(), &mut problems);
    let name = env.as_ref().map(|e| &e.environment);
    let scope = p.vault.scope(&mut problems);
    let repo = p.repo.validate(true, name, &scope, &mut problems);
    let author = p.author.validate(&mut problems);
    let branch = p.branch.validate(&mut problems);
    let base = p.base.validate(&mut problems);
    let vault = p.vault.plan(
        scope,
        name,
        repo.iter().flat_map(args::RepoPlan::references),
        &mut problems,
    );
    let (Some(env), Some(repo), Some(author), Some(base), true) =
        (env, repo, author, base, problems.is_empty())
    else {
        return Err(args::invalid(problems));
    };
    let branch = BranchArgs::resolve(branch, &env)?;
    Ok(Plan {
        repo,
        author,
        vault,
        branch,
        base,
        if_exists: p.base.if_exists,
    })
}

/// The task.
pub struct CreateBranch;

impl Task for CreateBranch {
    const NAME: &'static str = "create-branch";
    const NEEDS: &'static [crate::Need] = crate::needs::GIT;
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "branch",
            description: "The environment's branch.",
        },
        OutputSpec {
            name: "commit",
            description: "The commit the branch points at (empty on a dry run).",
        },
        OutputSpec {
            name: "action",
            description: "What happened: created, reused or planned (dry run).",
        },
    ];
    type Params = Params;

    fn validate(params: &Params) -> Result<(), TaskError> {
        validate(params).map(drop)
    }

    #[tracing::instrument(name = "create-branch", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let plan = validate(&params)?;
        let Plan {
            branch, base, repo, ..
        } = &plan;
        let mut out = Outputs::new();
        out.set("branch", branch);
        if ctx.dry_run {
            tracing::info!(
                repo = %repo.redacted_url(), %branch, %base,
                "dry run: would create {branch} from the tip of {base} (if it exists: {:?})",
                plan.if_exists
            );
            out.set(ACTION, "planned");
            return Ok(out);
        }
        let creds = plan.vault.credentials(&ctx);
        let ws = repo.open(&creds, plan.author.clone()).await?;
        let if_exists = match plan.if_exists {
            IfExistsArg::Reuse => IfExists::Reuse,
            IfExistsArg::Fail => IfExists::Fail,
        };
        let (branch_name, base) = (branch.clone(), base.clone());
        let created = gitops::blocking(move || {
            ws.create_branch(&branch_name, &base, if_exists)
                .map_err(TaskError::from)
        })
        .await?;
        tracing::info!(%branch, commit = %created.commit, created = created.created, "environment branch ready");
        out.set("commit", &created.commit)
            .set(ACTION, if created.created { "created" } else { "reused" });
        Ok(out)
    }
}
