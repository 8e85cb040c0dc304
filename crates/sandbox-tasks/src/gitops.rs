//! What every Git-writing task shares: the flags that name the repository,
//! its credentials, the workdir and the commit author ([`GitArgs`]); the
//! flags that name the environment ([`EnvArgs`]); and opening a
//! [`Workspace`] from them with the credentials resolved.

use crate::vault_args::VaultArgs;
use crate::{Context, credentials};
use clap::Args;
use sandbox_core::credential::CredentialRef;
use sandbox_core::params::{BranchName, EnvPrefix, EnvironmentName, GitRemote, PrNumber, Problems};
use sandbox_core::policy::{Policy, Refusal};
use sandbox_core::{Problem, TaskError};
use sandbox_git::{Auth, Author, Options, Workspace};
use std::path::PathBuf;

/// The repository and how to reach it.
#[derive(Debug, Clone, Default, Args)]
pub struct GitArgs {
    /// The infrastructure Git repository (no credentials in the URL).
    #[arg(long, env = "SANDBOX_REPO_URL", value_name = "URL")]
    pub repo_url: Option<String>,
    /// HTTPS token for the repository: file:<path>, env:<VAR> or vault://<mount>/<path>#<key>.
    #[arg(long, env = "SANDBOX_GIT_TOKEN", value_name = "REF")]
    pub git_token: Option<String>,
    /// User name sent with the token (GitHub accepts any).
    #[arg(
        long,
        env = "SANDBOX_GIT_USER",
        value_name = "NAME",
        default_value = "x-access-token"
    )]
    pub git_user: String,
    /// SSH private key file for ssh:// and scp-like remotes.
    #[arg(long, env = "SANDBOX_SSH_KEY", value_name = "PATH")]
    pub ssh_key: Option<PathBuf>,
    /// Passphrase of the SSH key: file:, env: or vault:// reference.
    #[arg(long, env = "SANDBOX_SSH_KEY_PASSPHRASE", value_name = "REF")]
    pub ssh_key_passphrase: Option<String>,
    /// known_hosts file the SSH server's host key must be in [default: ~/.ssh/known_hosts].
    #[arg(long, env = "SANDBOX_SSH_KNOWN_HOSTS", value_name = "PATH")]
    pub ssh_known_hosts: Option<PathBuf>,
    /// Directory that keeps clones between runs (a persistent volume) [default: a temporary directory].
    #[arg(long, env = "SANDBOX_WORKDIR", value_name = "DIR")]
    pub workdir: Option<PathBuf>,
    /// Commit author name.
    #[arg(long, env = "SANDBOX_GIT_AUTHOR_NAME", value_name = "NAME", default_value = sandbox_git::DEFAULT_AUTHOR_NAME)]
    pub git_author_name: String,
    /// Commit author e-mail.
    #[arg(long, env = "SANDBOX_GIT_AUTHOR_EMAIL", value_name = "EMAIL", default_value = sandbox_git::DEFAULT_AUTHOR_EMAIL)]
    pub git_author_email: String,
    /// How to reach Vault for vault:// tokens.
    #[command(flatten)]
    pub vault: VaultArgs,
}

/// [`GitArgs`], validated.
#[derive(Debug, Clone)]
pub struct GitPlan {
    /// The repository.
    pub url: GitRemote,
    token: Option<CredentialRef>,
    user: String,
    ssh_key: Option<PathBuf>,
    ssh_key_passphrase: Option<CredentialRef>,
    ssh_known_hosts: Option<PathBuf>,
    workdir: Option<PathBuf>,
    author: Author,
    vault: VaultArgs,
}

impl GitArgs {
    /// Validate into a plan, recording every problem.
    pub fn validate(&self, problems: &mut Problems) -> Option<GitPlan> {
        let url = match &self.repo_url {
            Some(url) => problems.parse_secret("repo_url", url, GitRemote::parse),
            None => {
                problems.missing("repo_url", "pass --repo-url URL");
                None
            }
        };
        let token = self
            .git_token
            .as_deref()
            .and_then(|t| problems.parse_secret("git_token", t, CredentialRef::parse));
        let passphrase = self
            .ssh_key_passphrase
            .as_deref()
            .and_then(|t| problems.parse_secret("ssh_key_passphrase", t, CredentialRef::parse));
        if self.git_token.is_some() && self.ssh_key.is_some() {
            problems.push(Problem {
                field: "ssh_key".into(),
                rule: "one-credential".into(),
                message: "give either --git-token (HTTPS) or --ssh-key (SSH), not both".into(),
                value: None,
                fix: "drop the one that does not match the repository URL".into(),
            });
        }
        for (field, value) in [
            ("git_author_name", &self.git_author_name),
            ("git_author_email", &self.git_author_email),
        ] {
            if value.trim().is_empty() || value.contains(['<', '>', '\n']) {
                problems.push(Problem {
                    field: field.into(),
                    rule: "git-identity".into(),
                    message: format!("{field} must be non-empty without '<', '>' or newlines"),
                    value: Some(value.clone()),
                    fix: "give e.g. argo-sandbox / argo-sandbox@example.com".into(),
                });
            }
        }
        if self.git_user.is_empty() || self.git_user.contains([':', '@', '/']) {
            problems.push(Problem {
                field: "git_user".into(),
                rule: "git-user".into(),
                message: "git_user must be a plain user name".into(),
                value: Some(self.git_user.clone()),
                fix: "keep the default x-access-token".into(),
            });
        }
        Some(GitPlan {
            url: url?,
            token,
            user: self.git_user.clone(),
            ssh_key: self.ssh_key.clone(),
            ssh_key_passphrase: passphrase,
            ssh_known_hosts: self.ssh_known_hosts.clone(),
            workdir: self.workdir.clone(),
            author: Author {
                name: self.git_author_name.clone(),
                email: self.git_author_email.clone(),
            },
            vault: self.vault.clone(),
        })
    }
}

impl GitPlan {
    /// Resolve the credentials and open the workspace (nothing is fetched).
    pub async fn open(&self, ctx: &Context) -> Result<Workspace, TaskError> {
        let auth = match (&self.token, &self.ssh_key) {
            (Some(token), _) => Auth::Token {
                user: self.user.clone(),
                token: credentials::resolve("git_token", token, ctx, Some(self.vault_access()))
                    .await?,
            },
            (None, Some(key)) => Auth::SshKey {
                private_key: key.clone(),
                passphrase: match &self.ssh_key_passphrase {
                    Some(r) => Some(
                        credentials::resolve(
                            "ssh_key_passphrase",
                            r,
                            ctx,
                            Some(self.vault_access()),
                        )
                        .await?,
                    ),
                    None => None,
                },
                known_hosts: self.ssh_known_hosts.clone(),
            },
            (None, None) => Auth::None,
        };
        let options = Options {
            workdir: self.workdir.clone(),
            author: self.author.clone(),
            ..Options::default()
        };
        let url = self.url.clone();
        blocking(move || Workspace::open(&url, auth, options).map_err(TaskError::from)).await
    }

    /// Vault access for the repository's credentials (shared tokens: no
    /// `{environment}` in their paths).
    pub fn vault_access(&self) -> credentials::VaultAccess<'_> {
        credentials::VaultAccess {
            args: &self.vault,
            environment: None,
        }
    }

    /// The repository URL with any credentials masked, for plans and outputs.
    pub fn redacted_url(&self) -> String {
        sandbox_core::redact::redact_url(self.url.as_str())
    }
}

/// Which environment the task works for.
#[derive(Debug, Clone, Default, Args)]
pub struct EnvArgs {
    /// The pull request; the environment is <env_prefix>pr-<N>.
    #[arg(long, env = "SANDBOX_PR_NUMBER", value_name = "N")]
    pub pr_number: Option<String>,
    /// Prefix of sandbox names.
    #[arg(long, env = "SANDBOX_ENV_PREFIX", value_name = "PREFIX", default_value = EnvPrefix::DEFAULT)]
    pub env_prefix: String,
    /// The sandbox's name [default: <env_prefix>pr-<pr_number>, else the branch].
    #[arg(long, env = "SANDBOX_ENVIRONMENT", value_name = "NAME")]
    pub environment: Option<String>,
    /// More protected branches (exact names or prefix/*), repeatable.
    #[arg(
        long,
        env = "SANDBOX_PROTECTED_BRANCHES",
        value_name = "BRANCH",
        value_delimiter = ','
    )]
    pub protected_branches: Vec<String>,
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
        let prefix = problems.parse("env_prefix", &self.env_prefix, EnvPrefix::parse);
        for b in &self.protected_branches {
            let pattern = b.strip_suffix("/*").unwrap_or(b);
            problems.parse("protected_branches", pattern, BranchName::parse);
        }
        let pr_number = problems.parse_opt("pr_number", self.pr_number.as_deref(), PrNumber::parse);
        let policy = prefix
            .map(|p| Policy::new(p).protect_branches(self.protected_branches.iter().cloned()));
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
    /// The environment must carry the prefix; `branch` (if any) must be
    /// its own and unprotected.
    pub fn check(&self, branch: Option<&BranchName>) -> Result<(), TaskError> {
        let mut refusals = Vec::new();
        let mut refuse = |field: &str, value: &str, r: Result<(), Refusal>| {
            if let Err(r) = r {
                refusals.push(r.into_problem(field, value));
            }
        };
        refuse(
            "environment",
            self.environment.as_str(),
            self.policy.check_environment(&self.environment),
        );
        if let Some(branch) = branch {
            refuse(
                "branch",
                branch.as_str(),
                self.policy.check_branch(branch, &self.environment),
            );
        }
        if refusals.is_empty() {
            Ok(())
        } else {
            Err(TaskError::refused(refusals))
        }
    }
}

/// Run blocking work (libgit2) off the async runtime's thread.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, TaskError> + Send + 'static,
) -> Result<T, TaskError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| TaskError::internal("the git worker failed").with_source(e))?
}

/// The outcome of a task as one of its outputs says: `created`, `reused`,
/// `pushed`, `unchanged`, `deleted`, `absent`, `kept`, `planned`.
pub const ACTION: &str = "action";
