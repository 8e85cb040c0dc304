//! `reap`: find the sandboxes that should go — their pull request is closed,
//! or it is open, older than `--ttl` and without the `keep-sandbox` label —
//! and list them for the `sandbox-reap` CronWorkflow, which submits
//! `sandbox-delete` for each. Reap itself deletes nothing.
//!
//! A sandbox is an Application file `<apps_path>/<env_prefix>pr-<N>.yaml`
//! on the apps branch, an environment branch `<env_prefix>pr-<N>`, or both;
//! nothing whose name does not have that exact shape is ever selected.
//!
//! Its age is measured from when its Application file was added to the apps
//! branch (the committer time of the oldest commit of the file's unbroken
//! presence along the first-parent chain): register-app writes it once per
//! sandbox and later runs leave it unchanged, so the time survives
//! redeploys, and it is a commit of ours rather than of the base branch. A
//! branch without an Application (a create that failed before register-app,
//! or a delete that stopped after unregister-app) is dated by its tip
//! commit: patch-kustomize commits on it right after create-branch.

use crate::gitops::{self, GitArgs};
use crate::{Context, OutputSpec, Task, credentials};
use clap::Args;
use sandbox_core::credential::CredentialRef;
use sandbox_core::params::{
    BranchName, EnvPrefix, GithubRepo, Invalid, PrNumber, Problems, RepoPath, parse_duration,
};
use sandbox_core::policy::Policy;
use sandbox_core::{Outputs, TaskError};
use sandbox_forge::{GITHUB_API, GitHub, Limits};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// List the sandboxes to delete: PR closed, or TTL passed without the keep label.
#[derive(Debug, Clone, Default, Args)]
#[command(
    about = "List the sandboxes whose pull request is closed or whose TTL has passed, for sandbox-delete"
)]
pub struct Params {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub git: GitArgs,
    /// Prefix of sandbox names; only <env_prefix>pr-<N> is ever selected.
    #[arg(long, env = "SANDBOX_ENV_PREFIX", value_name = "PREFIX", default_value = EnvPrefix::DEFAULT)]
    pub env_prefix: String,
    /// App-of-apps directory holding the sandboxes' Applications.
    #[arg(
        long,
        env = "SANDBOX_APPS_PATH",
        value_name = "PATH",
        default_value = "apps/sandboxes"
    )]
    pub apps_path: String,
    /// Branch of the app-of-apps directory.
    #[arg(
        long,
        env = "SANDBOX_APPS_BRANCH",
        value_name = "BRANCH",
        default_value = "main"
    )]
    pub apps_branch: String,
    /// owner/name of the application repository whose pull requests own the sandboxes.
    #[arg(long, env = "SANDBOX_GITHUB_REPO", value_name = "OWNER/NAME")]
    pub github_repo: Option<String>,
    /// GitHub API base URL (GitHub Enterprise Server: https://<host>/api/v3).
    #[arg(long, env = "SANDBOX_GITHUB_API_URL", value_name = "URL", default_value = GITHUB_API)]
    pub github_api_url: String,
    /// GitHub token: file:, env: or vault:// reference.
    #[arg(long, env = "SANDBOX_GITHUB_TOKEN", value_name = "REF")]
    pub github_token: Option<String>,
    /// Age after which a sandbox whose PR is still open is deleted (e.g. 7d, 36h).
    #[arg(
        long,
        env = "SANDBOX_TTL",
        value_name = "DURATION",
        default_value = "7d"
    )]
    pub ttl: String,
    /// A PR label that exempts its open sandbox from the TTL.
    #[arg(
        long,
        env = "SANDBOX_KEEP_LABEL",
        value_name = "LABEL",
        default_value = "keep-sandbox"
    )]
    pub keep_label: String,
    /// Log what would be deleted; the outputs are the same (the CronWorkflow submits nothing).
    #[arg(long, env = "SANDBOX_DRY_RUN")]
    pub dry_run: bool,
}

/// Why a sandbox is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExpiredReason {
    /// Its pull request is closed (merged or not).
    PrClosed,
    /// Its pull request is open, unlabelled, and the sandbox is older than the TTL.
    TtlExpired,
}

/// Why a sandbox is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeptReason {
    /// Its open pull request carries the keep label.
    KeepLabel,
    /// Its pull request is open and the sandbox younger than the TTL.
    WithinTtl,
}

/// One entry of the `expired` output: what sandbox-delete needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expired {
    /// The pull request.
    pub pr_number: u32,
    /// The sandbox.
    pub environment: String,
    /// Why.
    pub reason: ExpiredReason,
}

/// One entry of the `kept` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    /// The pull request.
    pub pr_number: u32,
    /// The sandbox.
    pub environment: String,
    /// Why.
    pub reason: KeptReason,
    /// The sandbox's age in seconds.
    pub age_s: u64,
}

/// A sandbox found in the repository.
#[derive(Debug, Clone)]
struct Found {
    environment: String,
    /// Unix seconds it dates from (see the module docs).
    since: i64,
    /// Where `since` comes from: `app-file` or `branch-tip`.
    dated_by: &'static str,
}

/// The task.
pub struct Reap;

/// `<prefix>pr-<N>` with N written canonically, else `None`.
fn sandbox_pr(policy: &Policy, name: &str) -> Option<PrNumber> {
    let digits = name
        .strip_prefix(policy.prefix().as_str())?
        .strip_prefix("pr-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let pr = PrNumber::parse(digits).ok()?;
    let env = policy.environment_for(pr).ok()?;
    (env.as_str() == name && policy.check_environment(&env).is_ok()).then_some(pr)
}

impl Task for Reap {
    const NAME: &'static str = "reap";
    const NEEDS: &'static [crate::Need] = crate::needs::GIT;
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "expired",
            description: "JSON array of the sandboxes to delete: {\"pr_number\",\"environment\",\"reason\": pr-closed|ttl-expired}.",
        },
        OutputSpec {
            name: "kept",
            description: "JSON array of the sandboxes kept: {\"pr_number\",\"environment\",\"reason\": keep-label|within-ttl,\"age_s\"}.",
        },
        OutputSpec {
            name: "count",
            description: "How many sandboxes are to be deleted.",
        },
    ];
    type Params = Params;

    #[tracing::instrument(name = "reap", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let mut problems = Problems::new();
        let git = params.git.validate(&mut problems);
        let prefix = problems.parse("env_prefix", &params.env_prefix, EnvPrefix::parse);
        let apps_path = problems.parse("apps_path", &params.apps_path, RepoPath::parse);
        let apps_branch = problems.parse("apps_branch", &params.apps_branch, BranchName::parse);
        let repo = problems.parse_opt(
            "github_repo",
            params.github_repo.as_deref(),
            GithubRepo::parse,
        );
        if params.github_repo.is_none() {
            problems.missing("github_repo", "pass --github-repo owner/name");
        }
        let ttl = problems.parse("ttl", &params.ttl, |s| {
            parse_duration(s).and_then(|d| {
                if d.is_zero() {
                    Err(Invalid::one(
                        "positive-duration",
                        "ttl must be longer than zero",
                        "give e.g. 7d",
                    ))
                } else {
                    Ok(d)
                }
            })
        });
        let keep_label = params.keep_label.trim().to_string();
        if keep_label.is_empty() || keep_label.len() > 50 {
            problems.push(sandbox_core::Problem {
                field: "keep_label".into(),
                rule: "github-label".into(),
                message: "keep_label must be a GitHub label name (1-50 characters)".into(),
                value: Some(params.keep_label.clone()),
                fix: "keep the default keep-sandbox".into(),
            });
        }
        let token = params
            .github_token
            .as_deref()
            .and_then(|t| problems.parse_secret("github_token", t, CredentialRef::parse));
        problems.parse("github_api_url", &params.github_api_url, |url| {
            GitHub::new(url, None, Limits::default())
                .map(drop)
                .map_err(|e| Invalid::one("url", e.to_string(), "give e.g. https://api.github.com"))
        });
        let (Some(git), Some(prefix), Some(apps_path), Some(apps_branch), Some(repo), Some(ttl)) =
            (git, prefix, apps_path, apps_branch, repo, ttl)
        else {
            return Err(TaskError::invalid(problems.into_vec()));
        };
        if !problems.is_empty() {
            return Err(TaskError::invalid(problems.into_vec()));
        }
        let policy = Policy::new(prefix);

        // 1. The sandboxes in the repository.
        let ws = git.open(&ctx).await?;
        let found = {
            let policy = policy.clone();
            let apps_path = apps_path.to_string();
            gitops::blocking(move || {
                list_sandboxes(&ws, &policy, &apps_branch, &apps_path).map_err(TaskError::from)
            })
            .await?
        };
        tracing::info!(sandboxes = found.len(), "sandboxes found");

        let mut out = Outputs::new();
        if found.is_empty() {
            out.set("expired", "[]").set("kept", "[]").set("count", 0);
            return Ok(out);
        }

        // 2. Their pull requests.
        let token = match &token {
            Some(r) => {
                let vault = credentials::VaultAccess {
                    args: &params.git.vault,
                    environment: None,
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
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let mut expired = Vec::new();
        let mut kept = Vec::new();
        for (pr, sandbox) in &found {
            let pull = github.pull(&repo, u64::from(pr.get())).await?;
            let age = Duration::from_secs(now.saturating_sub(sandbox.since).max(0) as u64);
            let decision = if !pull.is_open() {
                Ok(ExpiredReason::PrClosed)
            } else if pull.has_label(&keep_label) {
                Err(KeptReason::KeepLabel)
            } else if age > ttl {
                Ok(ExpiredReason::TtlExpired)
            } else {
                Err(KeptReason::WithinTtl)
            };
            tracing::info!(
                pr = pr.get(), environment = %sandbox.environment, pr_state = %pull.state,
                age_s = age.as_secs(), dated_by = sandbox.dated_by, ?decision,
                "{}",
                match (&decision, params.dry_run) {
                    (Ok(_), true) => "dry run: would delete",
                    (Ok(_), false) => "to delete",
                    (Err(_), _) => "kept",
                }
            );
            match decision {
                Ok(reason) => expired.push(Expired {
                    pr_number: pr.get(),
                    environment: sandbox.environment.clone(),
                    reason,
                }),
                Err(reason) => kept.push(Kept {
                    pr_number: pr.get(),
                    environment: sandbox.environment.clone(),
                    reason,
                    age_s: age.as_secs(),
                }),
            }
        }
        out.set("expired", to_json(&expired)?)
            .set("kept", to_json(&kept)?)
            .set("count", expired.len());
        Ok(out)
    }
}

/// A list as one JSON line, for an output.
fn to_json<T: Serialize>(items: &[T]) -> Result<String, TaskError> {
    serde_json::to_string(items)
        .map_err(|e| TaskError::internal("cannot serialize a list").with_source(e))
}

/// Every sandbox of the prefix in the repository, by PR number.
fn list_sandboxes(
    ws: &sandbox_git::Workspace,
    policy: &Policy,
    apps_branch: &BranchName,
    apps_path: &str,
) -> Result<BTreeMap<PrNumber, Found>, sandbox_git::GitError> {
    let mut found = BTreeMap::new();
    let heads = ws.remote_heads()?;
    if !heads.contains_key(apps_branch.as_str()) {
        return Err(sandbox_git::GitError::BranchNotFound {
            branch: apps_branch.to_string(),
            url: ws.url(),
        });
    }
    let files = ws.files_added(apps_branch, apps_path)?.unwrap_or_default();
    for (file, since) in &files {
        let Some(name) = file.strip_suffix(".yaml") else {
            continue;
        };
        match sandbox_pr(policy, name) {
            Some(pr) => {
                found.insert(
                    pr,
                    Found {
                        environment: name.to_string(),
                        since: *since,
                        dated_by: "app-file",
                    },
                );
            }
            None => tracing::debug!(%file, "not a sandbox of this prefix; ignored"),
        }
    }
    for branch in heads.keys() {
        let Some(pr) = sandbox_pr(policy, branch) else {
            continue;
        };
        if found.contains_key(&pr) {
            continue;
        }
        let Ok(name) = BranchName::parse(branch) else {
            continue;
        };
        if let Some(since) = ws.tip_time(&name)? {
            found.insert(
                pr,
                Found {
                    environment: branch.clone(),
                    since,
                    dated_by: "branch-tip",
                },
            );
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_sandbox_shape_of_the_prefix_is_selected() {
        let policy = Policy::new(EnvPrefix::parse("sbx-").unwrap());
        assert_eq!(
            sandbox_pr(&policy, "sbx-pr-42").map(PrNumber::get),
            Some(42)
        );
        for other in [
            "main",
            "sbx-pr-",
            "sbx-pr-042",
            "sbx-pr-4x",
            "sbx-pr-0",
            "xsbx-pr-4",
            "feature/sbx-pr-4",
            "sbx-pr-4-old",
            "qa-pr-4",
            "sbx-pr-99999999999",
        ] {
            assert_eq!(sandbox_pr(&policy, other), None, "{other}");
        }
    }
}
