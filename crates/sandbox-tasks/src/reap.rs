//! `reap`: find the sandboxes that should go — their pull request is closed,
//! or it is open, older than `--ttl` and without the `keep-sandbox` label —
//! and list them for the `sandbox-reap` CronWorkflow, which submits
//! `sandbox-delete` for each. Reap itself deletes nothing.
//!
//! The state and labels of every sandbox's pull request come from one
//! paginated listing of the repository's open pull requests (100 per page):
//! 1,000 sandboxes cost a handful of requests, not 1,000. A sandbox whose
//! pull request is not in the listing is closed; a listing too long to
//! read to its end stops the run rather than reaping on part of it.
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

use crate::args::{
    self, AppsDirArgs, GithubArgs, GithubPlan, PrefixArgs, RepoArgs, RepoPlan, VaultArgs,
};
use crate::fleet::sandbox_pr;
use crate::gitops;
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::params::{BranchName, Invalid, PrNumber, Problems, parse_duration};
use sandbox_core::policy::Policy;
use sandbox_core::{Outputs, TaskError};
use sandbox_git::Author;
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
    pub prefix: PrefixArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub repo: RepoArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub apps: AppsDirArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub github: GithubArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
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
}

/// A validated run.
struct Plan {
    policy: Policy,
    repo: RepoPlan,
    apps_path: sandbox_core::params::RepoPath,
    apps_branch: BranchName,
    github: GithubPlan,
    github_repo: sandbox_core::params::GithubRepo,
    vault: args::VaultPlan,
    ttl: Duration,
    keep_label: String,
}

fn validate(params: &Params) -> Result<Plan, TaskError> {
    let mut problems = Problems::new();
    let prefix = params.prefix.validate(&mut problems);
    let scope = params.vault.scope(&mut problems);
    let repo = params.repo.validate(true, None, &scope, &mut problems);
    let apps = params.apps.validate(&mut problems);
    let github = params.github.validate(true, None, &scope, &mut problems);
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
    let vault = params.vault.plan(
        scope,
        None,
        repo.iter()
            .flat_map(RepoPlan::references)
            .chain(github.iter().flat_map(GithubPlan::references)),
        &mut problems,
    );
    let (Some(prefix), Some(repo), Some((apps_path, apps_branch)), Some(github), Some(ttl), true) =
        (prefix, repo, apps, github, ttl, problems.is_empty())
    else {
        return Err(args::invalid(problems));
    };
    let Some(github_repo) = github.repo.clone() else {
        return Err(TaskError::internal("github_repo validated but absent"));
    };
    Ok(Plan {
        policy: Policy::new(prefix),
        repo,
        apps_path,
        apps_branch,
        github,
        github_repo,
        vault,
        ttl,
        keep_label,
    })
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

    fn validate(params: &Params) -> Result<(), TaskError> {
        validate(params).map(drop)
    }

    #[tracing::instrument(name = "reap", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let Plan {
            policy,
            repo,
            apps_path,
            apps_branch,
            github,
            github_repo: repo_name,
            vault,
            ttl,
            keep_label,
        } = validate(&params)?;
        let creds = vault.credentials(&ctx);
        let git = repo;
        let repo = repo_name;

        // 1. The sandboxes in the repository.
        let ws = git.open(&creds, Author::default()).await?;
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

        // 2. Their pull requests: one paginated listing of the open ones
        // (100 per page) for every sandbox; a pull request not in it is
        // closed. Cut listings are an error (sandbox-forge `open_pulls`).
        let github = github.client(&creds).await?;
        let open = github.open_pulls(&repo).await?;
        tracing::info!(open = open.len(), "open pull requests listed");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let mut expired = Vec::new();
        let mut kept = Vec::new();
        for (pr, sandbox) in &found {
            let pull = open.get(&u64::from(pr.get()));
            let age = Duration::from_secs(now.saturating_sub(sandbox.since).max(0) as u64);
            let decision = if pull.is_none() {
                Ok(ExpiredReason::PrClosed)
            } else if pull.is_some_and(|p| p.has_label(&keep_label)) {
                Err(KeptReason::KeepLabel)
            } else if age > ttl {
                Ok(ExpiredReason::TtlExpired)
            } else {
                Err(KeptReason::WithinTtl)
            };
            tracing::info!(
                pr = pr.get(), environment = %sandbox.environment, pr_open = pull.is_some(),
                age_s = age.as_secs(), dated_by = sandbox.dated_by, ?decision,
                "{}",
                match (&decision, ctx.dry_run) {
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
        let policy = Policy::new(sandbox_core::params::EnvPrefix::parse("sbx-").unwrap());
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
