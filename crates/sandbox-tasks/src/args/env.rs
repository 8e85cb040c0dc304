//! Which sandbox a task works for, and the guard rails that protect
//! everything that is not it.

use super::Refusals;
use clap::Args;
use sandbox_core::TaskError;
use sandbox_core::params::{
    BranchName, DatabaseName, EnvPrefix, EnvironmentName, PrNumber, Problems,
};
use sandbox_core::policy::Policy;

/// The prefix of sandbox names.
#[derive(Debug, Clone, Args)]
pub struct PrefixArgs {
    /// Prefix of sandbox names; only <env_prefix>pr-<N> environments are ever touched.
    #[arg(long, env = "SANDBOX_ENV_PREFIX", value_name = "PREFIX", default_value = EnvPrefix::DEFAULT)]
    pub env_prefix: String,
}

impl Default for PrefixArgs {
    fn default() -> Self {
        PrefixArgs {
            env_prefix: EnvPrefix::DEFAULT.into(),
        }
    }
}

impl PrefixArgs {
    /// The prefix, validated.
    pub fn validate(&self, problems: &mut Problems) -> Option<EnvPrefix> {
        problems.parse("env_prefix", &self.env_prefix, EnvPrefix::parse)
    }
}

/// Which environment, and what the guard rails protect besides it.
#[derive(Debug, Clone, Default, Args)]
pub struct EnvArgs {
    /// The pull request; the environment is <env_prefix>pr-<N>.
    #[arg(long, env = "SANDBOX_PR_NUMBER", value_name = "N")]
    pub pr_number: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub prefix: PrefixArgs,
    /// The sandbox's name [default: <env_prefix>pr-<pr_number>, else the branch].
    #[arg(long, env = "SANDBOX_ENVIRONMENT", value_name = "NAME")]
    pub environment: Option<String>,
    /// More protected branches (exact names or prefix/*), repeatable or comma-separated.
    #[arg(
        long,
        env = "SANDBOX_PROTECTED_BRANCHES",
        value_name = "BRANCH",
        value_delimiter = ','
    )]
    pub protected_branches: Vec<String>,
    /// More protected databases, repeatable or comma-separated.
    #[arg(
        long,
        env = "SANDBOX_PROTECTED_DATABASES",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub protected_databases: Vec<String>,
}

/// The environment and the guard rails that apply to it.
#[derive(Debug, Clone)]
pub struct EnvPlan {
    /// The guard rails.
    pub policy: Policy,
    /// The environment.
    pub environment: EnvironmentName,
    /// The pull request, when given.
    pub pr_number: Option<PrNumber>,
}

impl EnvArgs {
    /// Validate: the environment comes from `--environment`, the PR number,
    /// or else `fallback` (the branch a task was given).
    pub fn validate(&self, fallback: Option<&str>, problems: &mut Problems) -> Option<EnvPlan> {
        let prefix = self.prefix.validate(problems);
        for b in &self.protected_branches {
            let pattern = b.strip_suffix("/*").unwrap_or(b);
            problems.parse("protected_branches", pattern, BranchName::parse);
        }
        for name in &self.protected_databases {
            problems.parse("protected_databases", name, DatabaseName::parse);
        }
        let pr_number = problems.parse_opt("pr_number", self.pr_number.as_deref(), PrNumber::parse);
        let policy = prefix.map(|p| {
            Policy::new(p)
                .protect_branches(self.protected_branches.iter().cloned())
                .protect_databases(self.protected_databases.iter().cloned())
        });
        let environment = match (&self.environment, pr_number, &policy, fallback) {
            (Some(env), _, _, _) => problems.parse("environment", env, EnvironmentName::parse),
            (None, Some(pr), Some(policy), _) => {
                problems.parse("pr_number", &pr.to_string(), |_| policy.environment_for(pr))
            }
            (None, None, _, Some(branch)) if self.pr_number.is_none() => {
                problems.parse("branch", branch, EnvironmentName::parse)
            }
            (None, None, _, None) if self.pr_number.is_none() => {
                problems.missing("pr_number", "pass --pr-number N (or --environment NAME)");
                None
            }
            _ => None,
        };
        Some(EnvPlan {
            policy: policy?,
            environment: environment?,
            pr_number,
        })
    }
}

impl EnvPlan {
    /// The environment must carry the prefix.
    pub fn refusals(&self, refusals: &mut Refusals) {
        refusals.check(
            "environment",
            self.environment.as_str(),
            self.policy.check_environment(&self.environment),
        );
    }

    /// The environment must carry the prefix; `branch` (if any) must be
    /// its own and unprotected.
    pub fn check(&self, branch: Option<&BranchName>) -> Result<(), TaskError> {
        let mut refusals = Refusals::new();
        self.refusals(&mut refusals);
        if let Some(branch) = branch {
            refusals.check(
                "branch",
                branch.as_str(),
                self.policy.check_branch(branch, &self.environment),
            );
        }
        refusals.finish()
    }
}
