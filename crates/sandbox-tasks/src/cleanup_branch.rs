//! `cleanup-branch`: delete the environment's branch of the infrastructure
//! repository, unless an open pull request still has it as its head branch
//! (then it is kept and the task succeeds). An absent branch is success.

use crate::gitops::{self, ACTION, EnvArgs, GitArgs};
use crate::{Context, OutputSpec, Task, credentials};
use clap::{Args, ValueEnum};
use sandbox_core::credential::CredentialRef;
use sandbox_core::params::{BranchName, GithubRepo, Problems};
use sandbox_core::{Outputs, TaskError};
use sandbox_forge::{GITHUB_API, GitHub, Limits};

/// Which forge is asked about open pull requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Forge {
    /// GitHub or GitHub Enterprise Server.
    #[default]
    Github,
    /// Do not ask: delete the branch.
    None,
}

/// Delete the environment's branch unless an open pull request has it as head.
#[derive(Debug, Clone, Default, Args)]
#[command(
    about = "Delete the environment's branch unless an open pull request still has it as its head"
)]
pub struct Params {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub git: GitArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub env: EnvArgs,
    /// The environment's branch [default: <environment>].
    #[arg(long, env = "SANDBOX_BRANCH", value_name = "BRANCH")]
    pub branch: Option<String>,
    /// Where to look for open pull requests.
    #[arg(long, env = "SANDBOX_FORGE", value_enum, default_value_t = Forge::Github)]
    pub forge: Forge,
    /// owner/name of the repository whose pull requests may use the branch [default: none; required with --forge github].
    #[arg(long, env = "SANDBOX_GITHUB_REPO", value_name = "OWNER/NAME")]
    pub github_repo: Option<String>,
    /// GitHub API base URL (GitHub Enterprise Server: https://<host>/api/v3).
    #[arg(long, env = "SANDBOX_GITHUB_API_URL", value_name = "URL", default_value = GITHUB_API)]
    pub github_api_url: String,
    /// GitHub token: file:, env: or vault:// reference.
    #[arg(long, env = "SANDBOX_GITHUB_TOKEN", value_name = "REF")]
    pub github_token: Option<String>,
    /// Print the plan and touch nothing.
    #[arg(long, env = "SANDBOX_DRY_RUN")]
    pub dry_run: bool,
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

    #[tracing::instrument(name = "cleanup-branch", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let mut problems = Problems::new();
        let git = params.git.validate(&mut problems);
        let branch = problems.parse_opt("branch", params.branch.as_deref(), BranchName::parse);
        let env = params.env.validate(params.branch.as_deref(), &mut problems);
        let github_repo = problems.parse_opt(
            "github_repo",
            params.github_repo.as_deref(),
            GithubRepo::parse,
        );
        let token = params
            .github_token
            .as_deref()
            .and_then(|t| problems.parse_secret("github_token", t, CredentialRef::parse));
        if params.forge == Forge::Github && params.github_repo.is_none() {
            problems.missing(
                "github_repo",
                "pass --github-repo owner/name, or --forge none",
            );
        }
        let forge = match params.forge {
            Forge::Github => problems.parse("github_api_url", &params.github_api_url, |url| {
                GitHub::new(url, None, Limits::default())
                    .map(drop)
                    .map_err(|e| {
                        sandbox_core::params::Invalid::one(
                            "url",
                            e.to_string(),
                            "give e.g. https://api.github.com",
                        )
                    })
            }),
            Forge::None => Some(()),
        };
        let (Some(git), Some(env), Some(())) = (git, env, forge) else {
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
                repo = %git.redacted_url(), %branch, forge = ?params.forge,
                "dry run: would delete {branch} unless an open pull request has it as head"
            );
            out.set(ACTION, "planned");
            return Ok(out);
        }
        let ws = git.open(&ctx).await?;
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
        if let (Forge::Github, Some(repo)) = (params.forge, &github_repo) {
            let token = match &token {
                Some(r) => {
                    let vault = credentials::VaultAccess {
                        args: &params.git.vault,
                        environment: Some(&env.environment),
                    };
                    Some(credentials::resolve("github_token", r, &ctx, Some(vault)).await?)
                }
                None => None,
            };
            let github = GitHub::new(
                &params.github_api_url,
                token.as_ref().map(|t| t.expose()),
                Limits::default(),
            )?;
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
