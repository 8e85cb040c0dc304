//! The infrastructure repository: where it is, how to authenticate, where
//! clones are kept; opening a [`Workspace`] on it; and its remote check.

use super::vault;
use crate::Context;
use crate::gitops::blocking;
use crate::remote::{CheckStatus, RemoteCheck};
use clap::Args;
use sandbox_core::Problem;
use sandbox_core::credential::{CredentialRef, VaultScope};
use sandbox_core::params::{BranchName, EnvironmentName, GitRemote, Problems, RepoPath};
use sandbox_core::{ErrorKind, TaskError};
use sandbox_git::{Auth, Author, Options, Workspace};
use sandbox_vault::Credentials;
use std::path::PathBuf;

/// The repository and how to reach it.
#[derive(Debug, Clone, Args)]
pub struct RepoArgs {
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
}

impl Default for RepoArgs {
    fn default() -> Self {
        RepoArgs {
            repo_url: None,
            git_token: None,
            git_user: "x-access-token".into(),
            ssh_key: None,
            ssh_key_passphrase: None,
            ssh_known_hosts: None,
            workdir: None,
        }
    }
}

/// [`RepoArgs`], validated.
#[derive(Debug, Clone)]
pub struct RepoPlan {
    /// The repository.
    pub url: GitRemote,
    token: Option<CredentialRef>,
    user: String,
    ssh_key: Option<PathBuf>,
    ssh_key_passphrase: Option<CredentialRef>,
    ssh_known_hosts: Option<PathBuf>,
    workdir: Option<PathBuf>,
}

impl RepoArgs {
    /// Validate, recording every problem. Without `--repo-url` there is no
    /// plan; that is a problem only when `required`.
    pub fn validate(
        &self,
        required: bool,
        environment: Option<&EnvironmentName>,
        scope: &VaultScope,
        problems: &mut Problems,
    ) -> Option<RepoPlan> {
        let url = match &self.repo_url {
            Some(url) => problems.parse_secret("repo_url", url, GitRemote::parse),
            None if required => {
                problems.missing("repo_url", "pass --repo-url URL");
                None
            }
            None => None,
        };
        let token = vault::reference(
            problems,
            "git_token",
            self.git_token.as_deref(),
            environment,
            scope,
        );
        let passphrase = vault::reference(
            problems,
            "ssh_key_passphrase",
            self.ssh_key_passphrase.as_deref(),
            environment,
            scope,
        );
        if self.git_token.is_some() && self.ssh_key.is_some() {
            problems.push(Problem {
                field: "ssh_key".into(),
                rule: "one-credential".into(),
                message: "give either --git-token (HTTPS) or --ssh-key (SSH), not both".into(),
                value: None,
                fix: "drop the one that does not match the repository URL".into(),
            });
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
        Some(RepoPlan {
            url: url?,
            token,
            user: self.git_user.clone(),
            ssh_key: self.ssh_key.clone(),
            ssh_key_passphrase: passphrase,
            ssh_known_hosts: self.ssh_known_hosts.clone(),
            workdir: self.workdir.clone(),
        })
    }
}

impl RepoPlan {
    /// The credential references of the plan.
    pub fn references(&self) -> impl Iterator<Item = &CredentialRef> {
        self.named_references().map(|(_, r)| r)
    }

    /// The credential references of the plan, with their parameters.
    pub fn named_references(&self) -> impl Iterator<Item = (&'static str, &CredentialRef)> {
        self.token.iter().map(|r| ("git_token", r)).chain(
            self.ssh_key_passphrase
                .iter()
                .map(|r| ("ssh_key_passphrase", r)),
        )
    }

    /// Resolve the credentials and open the workspace (nothing is
    /// fetched); commits are made as `author`.
    pub async fn open(&self, creds: &Credentials, author: Author) -> Result<Workspace, TaskError> {
        let auth = match (&self.token, &self.ssh_key) {
            (Some(token), _) => Auth::Token {
                user: self.user.clone(),
                token: creds.resolve(token).await.map_err(TaskError::from)?,
            },
            (None, Some(key)) => Auth::SshKey {
                private_key: key.clone(),
                passphrase: match &self.ssh_key_passphrase {
                    Some(r) => Some(creds.resolve(r).await.map_err(TaskError::from)?),
                    None => None,
                },
                known_hosts: self.ssh_known_hosts.clone(),
            },
            (None, None) => Auth::None,
        };
        let options = Options {
            workdir: self.workdir.clone(),
            author,
            ..Options::default()
        };
        let url = self.url.clone();
        blocking(move || Workspace::open(&url, auth, options).map_err(TaskError::from)).await
    }

    /// The repository URL with any credentials masked, for plans and outputs.
    pub fn redacted_url(&self) -> String {
        sandbox_core::redact::redact_url(self.url.as_str())
    }
}

/// What the repository check of check-params expects to find.
#[derive(Debug, Clone)]
pub struct Expected {
    /// The branch new environments start from: must exist.
    pub base_branch: BranchName,
    /// The environment's branch: absent, or present and reused.
    pub branch: BranchName,
    /// Whether an existing environment branch is reused.
    pub reuse_existing: bool,
    /// The app-of-apps branch and directory, the environment's file name
    /// there, and the most sandboxes allowed (counted only when given).
    pub apps: Option<(BranchName, RepoPath, String, u32)>,
}

impl RepoPlan {
    /// The repository checks of `check-params --check-remote`: reachable
    /// with the given credentials, the base branch present, the
    /// environment branch absent (or present and reused), fewer than the
    /// limit of sandboxes registered. Read-only: one ref listing and one
    /// shallow fetch of the apps branch.
    pub async fn remote_checks(
        &self,
        expected: &Expected,
        creds: &Credentials,
        ctx: &Context,
    ) -> Vec<RemoteCheck> {
        let mut checks = Vec::new();
        let mut record =
            |check: &'static str, outcome: Result<String, (ErrorKind, String)>, fix: &str| {
                checks.push(match outcome {
                    Ok(detail) => RemoteCheck::passed(check, "repo_url", detail),
                    Err((kind, message)) => RemoteCheck {
                        check,
                        field: "repo_url",
                        status: CheckStatus::Failed,
                        detail: message,
                        kind: Some(kind),
                        fix: fix.into(),
                    },
                })
            };
        const REACH: &str = "check the repository URL, its credentials and the branch names";
        let url = self.redacted_url();
        let ws = match self.open(creds, Author::default()).await {
            Ok(ws) => ws,
            Err(e) => {
                record(
                    "repo-reachable",
                    Err((e.kind, ctx.redactor.mask(&e.full_message()))),
                    REACH,
                );
                return checks;
            }
        };
        let apps = expected.apps.clone();
        let result = blocking(move || {
            let heads = ws.remote_heads().map_err(TaskError::from)?;
            let registered = apps.map(|(branch, dir, _, _)| {
                ws.read_branch(&branch, |tree| Ok(tree.list(dir.as_str())?))
                    .map(|names| {
                        names
                            .into_iter()
                            .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
                            .collect::<Vec<_>>()
                    })
                    .map_err(TaskError::from)
            });
            Ok((heads, registered))
        })
        .await;
        let (heads, registered) = match result {
            Ok(found) => found,
            Err(e) => {
                record(
                    "repo-reachable",
                    Err((e.kind, ctx.redactor.mask(&e.full_message()))),
                    REACH,
                );
                return checks;
            }
        };
        record(
            "repo-reachable",
            Ok(format!("{url} answered with {} branches", heads.len())),
            REACH,
        );
        let base = expected.base_branch.as_str();
        record(
            "base-branch-present",
            match heads.get(base) {
                Some(tip) => Ok(format!("{base} is at {tip}")),
                None => Err((
                    ErrorKind::Precondition,
                    format!("base branch {base} is not on {url}"),
                )),
            },
            REACH,
        );
        let branch = expected.branch.as_str();
        record(
            "environment-branch-absent",
            match (heads.get(branch), expected.reuse_existing) {
                (None, _) => Ok(format!("{branch} does not exist yet")),
                (Some(tip), true) => Ok(format!("{branch} exists at {tip} and will be reused")),
                (Some(tip), false) => Err((
                    ErrorKind::Precondition,
                    format!("{branch} already exists at {tip} and --if-exists is fail"),
                )),
            },
            "pass --if-exists reuse, or delete the branch",
        );
        if let (Some((apps_branch, apps_path, own_file, max)), Some(registered)) =
            (&expected.apps, registered)
        {
            record(
                "live-sandboxes-under-max",
                match registered {
                    Ok(files) => {
                        let others = files.iter().filter(|f| *f != own_file).count();
                        let already = files.len() != others;
                        if already || (others as u64) < u64::from(*max) {
                            Ok(format!(
                                "{others} other sandboxes registered in {apps_path}, limit {max}{}",
                                if already {
                                    "; this one is registered already"
                                } else {
                                    ""
                                }
                            ))
                        } else {
                            Err((
                                ErrorKind::Refused,
                                format!(
                                    "{others} sandboxes are registered in {apps_path} on {apps_branch}, the limit is {max}"
                                ),
                            ))
                        }
                    }
                    // An apps branch that does not exist yet holds no sandboxes.
                    Err(e) if e.message.contains("not found on") => Ok(format!(
                        "{apps_branch} has no registered sandboxes yet (branch absent)"
                    )),
                    Err(e) => Err((e.kind, ctx.redactor.mask(&e.full_message()))),
                },
                "delete finished sandboxes or raise --max-sandboxes",
            );
        }
        checks
    }
}
