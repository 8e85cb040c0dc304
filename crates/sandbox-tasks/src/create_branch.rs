//! `create-branch`: create the environment's branch of the infrastructure
//! repository at the tip of the base branch. Idempotent: an existing branch
//! is reused (or, with `--if-exists fail`, a precondition error).

use crate::gitops::{self, ACTION, EnvArgs, GitArgs};
use crate::{Context, OutputSpec, Task};
use clap::{Args, ValueEnum};
use sandbox_core::params::{BranchName, Problems};
use sandbox_core::{Outputs, TaskError};
use sandbox_git::IfExists;

/// What to do when the branch exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum IfExistsArg {
    /// Use the existing branch as it is.
    #[default]
    Reuse,
    /// Fail with exit 3.
    Fail,
}

/// Create the environment's branch from the tip of the base branch.
#[derive(Debug, Clone, Default, Args)]
#[command(
    about = "Create the environment's branch of the infrastructure repository from the base branch"
)]
pub struct Params {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub git: GitArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub env: EnvArgs,
    /// Branch the environment starts from.
    #[arg(
        long,
        env = "SANDBOX_BASE_BRANCH",
        value_name = "BRANCH",
        default_value = "main"
    )]
    pub base_branch: String,
    /// The environment's branch [default: <environment>].
    #[arg(long, env = "SANDBOX_BRANCH", value_name = "BRANCH")]
    pub branch: Option<String>,
    /// What to do when the branch already exists.
    #[arg(long, env = "SANDBOX_IF_EXISTS", value_enum, default_value_t = IfExistsArg::Reuse)]
    pub if_exists: IfExistsArg,
    /// Print the plan and touch nothing.
    #[arg(long, env = "SANDBOX_DRY_RUN")]
    pub dry_run: bool,
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

    #[tracing::instrument(name = "create-branch", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let mut problems = Problems::new();
        let git = params.git.validate(&mut problems);
        let base = problems.parse("base_branch", &params.base_branch, BranchName::parse);
        let branch = problems.parse_opt("branch", params.branch.as_deref(), BranchName::parse);
        let env = params.env.validate(params.branch.as_deref(), &mut problems);
        let (Some(git), Some(base), Some(env)) = (git, base, env) else {
            return Err(TaskError::invalid(problems.into_vec()));
        };
        if !problems.is_empty() {
            return Err(TaskError::invalid(problems.into_vec()));
        }
        let branch = match branch {
            Some(b) => b,
            None => BranchName::parse(env.environment.as_str()).map_err(|e| {
                TaskError::internal(format!("environment is not a branch name: {e}"))
            })?,
        };
        env.check(Some(&branch))?;

        let mut out = Outputs::new();
        out.set("branch", &branch);
        if params.dry_run {
            tracing::info!(
                repo = %git.redacted_url(), %branch, %base,
                "dry run: would create {branch} from the tip of {base} (if it exists: {:?})",
                params.if_exists
            );
            out.set(ACTION, "planned");
            return Ok(out);
        }
        let ws = git.open(&ctx).await?;
        let if_exists = match params.if_exists {
            IfExistsArg::Reuse => IfExists::Reuse,
            IfExistsArg::Fail => IfExists::Fail,
        };
        let branch_name = branch.clone();
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
