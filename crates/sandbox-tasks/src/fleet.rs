//! The registered sandboxes as hibernate and wake see them: which ones a
//! run selects (one, or every `<apps_path>/<env_prefix>pr-<N>.yaml` on the
//! apps branch), their Application files, the guard rail on the branch an
//! Application deploys, the open pull requests from one listing, and the
//! one commit that writes every edited file with fetch-reapply-retry.

use crate::Context;
use crate::args::{
    self, AppsArgs, AuthorArgs, EnvArgs, EnvPlan, Forge, ForgeArgs, GithubArgs, GithubPlan,
    Refusals, RepoArgs, RepoPlan, VaultArgs, VaultPlan,
};
use sandbox_core::TaskError;
use sandbox_core::params::{BranchName, EnvironmentName, GithubRepo, PrNumber, Problems, RepoPath};
use sandbox_core::policy::Policy;
use sandbox_git::{Author, EditError, PushOutcome, Workspace};
use serde::Serialize;
use std::collections::BTreeMap;

/// What both hibernate and wake validate: which sandboxes, where, and how
/// their pull requests are looked up.
pub(crate) struct Scope {
    pub(crate) policy: Policy,
    /// One sandbox, or every one under the apps path.
    pub(crate) single: Option<(EnvPlan, String)>,
    pub(crate) apps_path: RepoPath,
    pub(crate) apps_branch: BranchName,
    pub(crate) repo: RepoPlan,
    pub(crate) author: Author,
    pub(crate) github: Option<(GithubPlan, GithubRepo)>,
    pub(crate) vault: VaultPlan,
}

/// The argument groups hibernate and wake share, flattened into both.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FleetArgs {
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
    pub apps: AppsArgs,
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

impl FleetArgs {
    /// Validate; `extra` adds a task's own fields' problems. Exit 2 on any
    /// problem, then exit 5 on a refusal.
    pub(crate) fn validate(&self, extra: impl FnOnce(&mut Problems)) -> Result<Scope, TaskError> {
        let mut problems = Problems::new();
        let one = self.env.pr_number.is_some() || self.env.environment.is_some();
        let prefix = self.env.prefix.validate(&mut problems);
        let env = if one {
            self.env.validate(None, &mut problems)
        } else {
            None
        };
        let name = env.as_ref().map(|e| &e.environment);
        let scope = self.vault.scope(&mut problems);
        let repo = self.repo.validate(true, name, &scope, &mut problems);
        let author = self.author.validate(&mut problems);
        let apps = if one {
            self.apps
                .validate(env.as_ref(), &mut problems)
                .map(|a| (a.apps_path.clone(), a.apps_branch.clone(), Some(a)))
        } else {
            if let Some(app) = &self.apps.app_name {
                problems.push(sandbox_core::Problem {
                    field: "app_name".into(),
                    rule: "one-sandbox".into(),
                    message: "app_name names one sandbox's Application; without pr_number or environment every sandbox is selected".into(),
                    value: Some(app.clone()),
                    fix: "pass --pr-number N with --app-name, or leave --app-name out".into(),
                });
            }
            self.apps
                .dir
                .validate(&mut problems)
                .map(|(p, b)| (p, b, None))
        };
        let github = match self.forge.forge {
            Forge::Github => {
                if self.github.github_repo.is_none() {
                    problems.missing(
                        "github_repo",
                        "pass --github-repo owner/name, or --forge none",
                    );
                }
                self.github.validate(false, name, &scope, &mut problems)
            }
            Forge::None => None,
        };
        extra(&mut problems);
        let vault = self.vault.plan(
            scope,
            name,
            repo.iter()
                .flat_map(RepoPlan::references)
                .chain(github.iter().flat_map(GithubPlan::references)),
            &mut problems,
        );
        let (Some(prefix), Some(repo), Some(author), Some((apps_path, apps_branch, app)), true) =
            (prefix, repo, author, apps, problems.is_empty())
        else {
            return Err(args::invalid(problems));
        };
        let github = match github {
            Some(g) => {
                let Some(r) = g.repo.clone() else {
                    return Err(TaskError::internal("github_repo validated but absent"));
                };
                Some((g, r))
            }
            None => None,
        };
        let single = match (env, app) {
            (Some(env), Some(app)) => {
                let mut refusals = Refusals::new();
                env.refusals(&mut refusals);
                app.refusals(&env, &mut refusals);
                refusals.finish()?;
                Some((env, app.app_file))
            }
            _ => None,
        };
        let policy = match &single {
            Some((env, _)) => env.policy.clone(),
            None => {
                Policy::new(prefix).protect_branches(self.env.protected_branches.iter().cloned())
            }
        };
        Ok(Scope {
            policy,
            single,
            apps_path,
            apps_branch,
            repo,
            author,
            github,
            vault,
        })
    }
}

/// One sandbox's Application file on the apps branch.
#[derive(Debug, Clone)]
pub(crate) struct AppFile {
    pub(crate) environment: EnvironmentName,
    pub(crate) file: String,
    pub(crate) text: String,
}

/// `<prefix>pr-<N>` with N written canonically, else `None`.
pub(crate) fn sandbox_pr(policy: &Policy, name: &str) -> Option<PrNumber> {
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

/// Which Application files to read: what [`Scope`] selects, sendable to
/// a blocking thread.
#[derive(Debug, Clone)]
pub(crate) struct Select {
    single: Option<(EnvironmentName, String)>,
    policy: Policy,
    apps_path: String,
    apps_branch: BranchName,
}

impl Select {
    pub(crate) fn of(scope: &Scope) -> Select {
        Select {
            single: scope
                .single
                .as_ref()
                .map(|(env, file)| (env.environment.clone(), file.clone())),
            policy: scope.policy.clone(),
            apps_path: scope.apps_path.to_string(),
            apps_branch: scope.apps_branch.clone(),
        }
    }

    /// The selected Application files (absent ones left out).
    pub(crate) fn read(&self, ws: &Workspace) -> Result<Vec<AppFile>, TaskError> {
        ws.read_branch(&self.apps_branch, |tree| {
            let mut files = Vec::new();
            match &self.single {
                Some((environment, file)) => {
                    if let Some(text) = tree.read_string(file)? {
                        files.push(AppFile {
                            environment: environment.clone(),
                            file: file.clone(),
                            text,
                        });
                    }
                }
                None => {
                    for name in tree.list(&self.apps_path)? {
                        let Some(stem) = name.strip_suffix(".yaml") else {
                            continue;
                        };
                        if sandbox_pr(&self.policy, stem).is_none() {
                            continue;
                        }
                        let Ok(environment) = EnvironmentName::parse(stem) else {
                            continue;
                        };
                        let file = format!("{}/{name}", self.apps_path);
                        if let Some(text) = tree.read_string(&file)? {
                            files.push(AppFile {
                                environment,
                                file,
                                text,
                            });
                        }
                    }
                }
            }
            Ok(files)
        })
        .map_err(TaskError::from)
    }
}

/// The guard rail on an Application's source: its revision must be the
/// sandbox's own, unprotected branch.
pub(crate) fn check_revision(
    policy: &Policy,
    env: &EnvironmentName,
    revision: Option<&str>,
) -> Result<BranchName, sandbox_core::Problem> {
    let value = revision.unwrap_or_default();
    let branch = BranchName::parse(value).map_err(|_| sandbox_core::Problem {
        field: "spec.source.targetRevision".into(),
        rule: "environment-branch".into(),
        message: format!("the Application of {env} does not deploy a branch"),
        value: Some(value.to_string()),
        fix: "register the sandbox with register-app".into(),
    })?;
    policy
        .check_branch(&branch, env)
        .map_err(|r| r.into_problem("spec.source.targetRevision", value))?;
    Ok(branch)
}

/// An edit refused before anything is pushed, as the task's error.
pub(crate) fn edit_failed(e: EditError) -> TaskError {
    TaskError::from(sandbox_git::GitError::from(e))
}

/// Why an Application file could not be edited.
pub(crate) fn edit_error(file: &str, what: impl std::fmt::Display) -> EditError {
    EditError::precondition(format!("cannot edit {file}: {what}"))
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn utc(secs: u64) -> String {
    sandbox_core::time::format_utc(secs as i64)
}

/// One entry of the `skipped` output.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Skipped {
    /// The sandbox.
    pub(crate) environment: String,
    /// Why: already-hibernated, keep-awake-label, keep-awake-annotation,
    /// refused, no-branch, does-not-render, cannot-edit,
    /// not-an-application, not-registered, not-hibernated, pr-closed.
    pub(crate) reason: &'static str,
    /// More about it, when there is more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) detail: Option<String>,
}

/// A list as one JSON line, for an output.
pub(crate) fn to_json<T: Serialize>(items: &[T]) -> Result<String, TaskError> {
    serde_json::to_string(items)
        .map_err(|e| TaskError::internal("cannot serialize a list").with_source(e))
}

/// The open pull requests (one paginated listing), when a forge is asked.
pub(crate) async fn open_pulls(
    scope: &Scope,
    ctx: &Context,
) -> Result<Option<BTreeMap<u64, sandbox_forge::PullDetails>>, TaskError> {
    let Some((github, repo)) = &scope.github else {
        return Ok(None);
    };
    let creds = scope.vault.credentials(ctx);
    let client = github.client(&creds).await?;
    Ok(Some(client.open_pulls(repo).await?))
}

/// Push `edits` (file → new text, recomputed from the file as it is at
/// each attempt) in one commit that may touch only those files.
pub(crate) fn push_all(
    ws: &Workspace,
    branch: &BranchName,
    message: &str,
    files: Vec<String>,
    mut edit: impl FnMut(&str, &str) -> Result<Option<String>, EditError>,
) -> Result<PushOutcome, TaskError> {
    ws.commit_and_push_only(branch, message, &files, |tree| {
        for file in &files {
            // Unregistered meanwhile: nothing to write.
            let Some(text) = tree.read_string(file)? else {
                continue;
            };
            if let Some(new) = edit(file, &text)?
                && new != text
            {
                tree.write(file, new.into_bytes());
            }
        }
        Ok(())
    })
    .map_err(TaskError::from)
}

/// Set the `sleep` section of each sandbox's sticky comment, for those
/// whose pull request is open (`pulls`, from the run's one listing):
/// `notes` are (environment, text). The commit is already pushed, so a
/// comment that cannot be written is a warning, not a failure. Returns how
/// many comments say it now.
pub(crate) async fn tell_prs(
    scope: &Scope,
    ctx: &Context,
    pulls: Option<&BTreeMap<u64, sandbox_forge::PullDetails>>,
    notes: Vec<(String, String)>,
) -> usize {
    let (Some((github, repo)), Some(pulls)) = (&scope.github, pulls) else {
        return 0;
    };
    if notes.is_empty() {
        return 0;
    }
    let creds = scope.vault.credentials(ctx);
    let client = match github.client(&creds).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e.message, "cannot reach GitHub to update the comments");
            return 0;
        }
    };
    let mut told = 0;
    for (environment, text) in notes {
        let Some(pr) = sandbox_pr(&scope.policy, &environment) else {
            continue;
        };
        let number = u64::from(pr.get());
        if !pulls.contains_key(&number) {
            continue;
        }
        let marker = sandbox_forge::sticky_marker(&environment);
        match client
            .sticky_section(repo, number, &marker, "sleep", &text)
            .await
        {
            Ok(_) => told += 1,
            Err(e) => {
                tracing::warn!(%environment, pr = number, error = %e, "cannot update the sandbox's comment");
            }
        }
    }
    told
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_a_known_instant() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_796_241_600), "2026-12-02T20:00:00Z");
    }
}
