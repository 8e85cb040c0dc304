//! The environment's branch, and where a new one starts.

use super::EnvPlan;
use clap::{Args, ValueEnum};
use sandbox_core::TaskError;
use sandbox_core::params::{BranchName, Problems};

/// The environment's branch.
#[derive(Debug, Clone, Default, Args)]
pub struct BranchArgs {
    /// The environment's branch of the infrastructure repository, which Argo CD deploys [default: <environment>].
    #[arg(long, env = "SANDBOX_BRANCH", value_name = "BRANCH")]
    pub branch: Option<String>,
}

impl BranchArgs {
    /// The branch as given, validated (`None` when not given).
    pub fn validate(&self, problems: &mut Problems) -> Option<BranchName> {
        problems.parse_opt("branch", self.branch.as_deref(), BranchName::parse)
    }

    /// The given branch, or the environment's name; then the guard rails
    /// (the environment's prefix, an unprotected branch of its own).
    pub fn resolve(given: Option<BranchName>, env: &EnvPlan) -> Result<BranchName, TaskError> {
        let branch = match given {
            Some(b) => b,
            None => BranchName::parse(env.environment.as_str()).map_err(|e| {
                TaskError::internal(format!("environment is not a branch name: {e}"))
            })?,
        };
        env.check(Some(&branch))?;
        Ok(branch)
    }
}

/// What to do when the environment's branch exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum IfExistsArg {
    /// Use the existing branch as it is.
    #[default]
    Reuse,
    /// Fail with exit 3.
    Fail,
}

/// Where a new environment branch starts.
#[derive(Debug, Clone, Args)]
pub struct BaseBranchArgs {
    /// Branch new environments start from.
    #[arg(
        long,
        env = "SANDBOX_BASE_BRANCH",
        value_name = "BRANCH",
        default_value = "main"
    )]
    pub base_branch: String,
    /// What create-branch does when the environment's branch already exists.
    #[arg(long, env = "SANDBOX_IF_EXISTS", value_enum, default_value_t = IfExistsArg::Reuse)]
    pub if_exists: IfExistsArg,
}

impl Default for BaseBranchArgs {
    fn default() -> Self {
        BaseBranchArgs {
            base_branch: "main".into(),
            if_exists: IfExistsArg::Reuse,
        }
    }
}

impl BaseBranchArgs {
    /// The base branch, validated.
    pub fn validate(&self, problems: &mut Problems) -> Option<BranchName> {
        problems.parse("base_branch", &self.base_branch, BranchName::parse)
    }
}
