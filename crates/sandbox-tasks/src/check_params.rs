//! `check-params`: step 0 of the create and delete pipelines. Validates the
//! whole parameter set of a sandbox, reports every problem at once, applies
//! the guard rails, and derives the names the rest of the pipeline uses, so
//! no template computes a name itself.

use crate::{Context, Task};
use clap::Args;
use sandbox_core::credential::CredentialRef;
use sandbox_core::names::SandboxNames;
use sandbox_core::params::{
    BranchName, BucketUrl, DatabaseName, EnvPrefix, EnvironmentName, GitRemote, GithubRepo,
    Invalid, Namespace, PrNumber, Problems, RepoPath,
};
use sandbox_core::policy::Policy;
use sandbox_core::redact::redact_url;
use sandbox_core::{Outputs, TaskError};
use serde::Serialize;

/// Validate a sandbox's parameters, apply the guard rails and derive its names.
#[derive(Debug, Clone, Default, Args)]
#[command(about = "Validate a sandbox's parameters, apply the guard rails and derive its names")]
pub struct Params {
    /// The pull request the sandbox is for; the environment is <env_prefix>pr-<N>.
    #[arg(long, env = "SANDBOX_PR_NUMBER", value_name = "N")]
    pub pr_number: Option<String>,
    /// Prefix of sandbox names.
    #[arg(long, env = "SANDBOX_ENV_PREFIX", value_name = "PREFIX", default_value = EnvPrefix::DEFAULT)]
    pub env_prefix: String,
    /// The sandbox's name [default: <env_prefix>pr-<pr_number>].
    #[arg(long, env = "SANDBOX_ENVIRONMENT", value_name = "NAME")]
    pub environment: Option<String>,
    /// Its Kubernetes namespace [default: apps-<environment>].
    #[arg(long, env = "SANDBOX_NAMESPACE", value_name = "NAME")]
    pub namespace: Option<String>,
    /// The infrastructure Git repository (no credentials in the URL).
    #[arg(long, env = "SANDBOX_REPO_URL", value_name = "URL")]
    pub repo_url: Option<String>,
    /// Branch new environments start from.
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
    /// The environment's Kustomize overlay, relative to the repository root.
    #[arg(long, env = "SANDBOX_OVERLAY_PATH", value_name = "PATH")]
    pub overlay_path: Option<String>,
    /// Overlay whose image tags a new sandbox starts with.
    #[arg(long, env = "SANDBOX_IMAGES_FROM", value_name = "PATH")]
    pub images_from: Option<String>,
    /// App-of-apps directory.
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
    /// Argo CD Application name [default: <environment>].
    #[arg(long, env = "SANDBOX_APP_NAME", value_name = "NAME")]
    pub app_name: Option<String>,
    /// Where reference documents are copied from (gs://bucket/prefix or file:///dir).
    #[arg(long, env = "SANDBOX_SOURCE_BUCKET", value_name = "URL")]
    pub source_bucket: Option<String>,
    /// Where they are copied to; a bare gs://bucket gets the prefix <environment>/.
    #[arg(long, env = "SANDBOX_DEST_BUCKET", value_name = "URL")]
    pub dest_bucket: Option<String>,
    /// Where nightly backups are (gs://bucket/prefix or file:///dir).
    #[arg(long, env = "SANDBOX_BACKUP_URL", value_name = "URL")]
    pub backup_url: Option<String>,
    /// The sandbox database [default: <environment> with '-' → '_'].
    #[arg(long, env = "SANDBOX_DATABASE_NAME", value_name = "NAME")]
    pub database_name: Option<String>,
    /// The database the backups were taken from; never restored into.
    #[arg(long, env = "SANDBOX_SOURCE_DATABASE", value_name = "NAME")]
    pub source_database: Option<String>,
    /// Server to restore into: file:, env: or vault:// reference, or a URL without a password.
    #[arg(long, env = "SANDBOX_DATABASE_URL", value_name = "REF")]
    pub database_url: Option<String>,
    /// Base of the environment's secrets [default: secret/sandboxes/<environment>].
    #[arg(long, env = "SANDBOX_VAULT_PATH", value_name = "PATH")]
    pub vault_path: Option<String>,
    /// owner/name of the application repository.
    #[arg(long, env = "SANDBOX_GITHUB_REPO", value_name = "OWNER/NAME")]
    pub github_repo: Option<String>,
    /// More protected branches (exact names or prefix/*), repeatable.
    #[arg(
        long = "protect-branch",
        id = "protected_branches",
        env = "SANDBOX_PROTECTED_BRANCHES",
        value_name = "BRANCH",
        value_delimiter = ','
    )]
    pub protected_branches: Vec<String>,
    /// More protected databases, repeatable.
    #[arg(
        long = "protect-database",
        id = "protected_databases",
        env = "SANDBOX_PROTECTED_DATABASES",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub protected_databases: Vec<String>,
    /// Most sandboxes allowed at once (checked with --check-remote).
    #[arg(long, env = "SANDBOX_MAX_SANDBOXES", value_name = "N")]
    pub max_sandboxes: Option<String>,
    /// Also check the remote systems (repository, buckets, backup, database, Vault).
    #[arg(long, env = "SANDBOX_CHECK_REMOTE")]
    pub check_remote: bool,
}

/// The task.
pub struct CheckParams;

impl Task for CheckParams {
    const NAME: &'static str = "check-params";
    type Params = Params;

    #[tracing::instrument(name = "check-params", skip_all)]
    async fn run(params: Params, _ctx: Context) -> Result<Outputs, TaskError> {
        let plan = validate(&params)?;
        let mut outputs = plan.outputs();
        if params.check_remote {
            let checks = plan.remote_checks();
            for check in &checks {
                tracing::warn!(check = check.check, "{}", check.detail);
            }
            outputs.set(
                "remote_checks",
                serde_json::to_string(&checks).map_err(|e| {
                    TaskError::internal("cannot encode remote checks").with_source(e)
                })?,
            );
        }
        Ok(outputs)
    }
}

/// A validated parameter set: every name the pipeline uses.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The pull request, when given.
    pub pr_number: Option<PrNumber>,
    /// Names derived from the environment (or given and checked).
    pub names: SandboxNames,
    /// The infrastructure repository.
    pub repo_url: Option<GitRemote>,
    /// The branch environments start from.
    pub base_branch: BranchName,
    /// The environment's overlay.
    pub overlay_path: Option<RepoPath>,
    /// The overlay image tags come from.
    pub images_from: Option<RepoPath>,
    /// App-of-apps directory.
    pub apps_path: RepoPath,
    /// Its branch.
    pub apps_branch: BranchName,
    /// Documents source.
    pub source_bucket: Option<BucketUrl>,
    /// Documents destination.
    pub dest_bucket: Option<BucketUrl>,
    /// Backups.
    pub backup_url: Option<BucketUrl>,
    /// Whether a database server was given.
    pub has_database_url: bool,
    /// Application repository.
    pub github_repo: Option<GithubRepo>,
    /// Limit of live sandboxes.
    pub max_sandboxes: Option<u32>,
}

/// Validate every field, then the guard rails. All invalid fields are
/// reported together (exit 2); only a fully valid set is checked against the
/// rails (exit 5), so a refusal is never caused by a typo.
pub fn validate(p: &Params) -> Result<Plan, TaskError> {
    let mut problems = Problems::new();
    let prefix = problems.parse("env_prefix", &p.env_prefix, EnvPrefix::parse);
    let policy = prefix.map(|prefix| {
        Policy::new(prefix)
            .protect_branches(p.protected_branches.iter().cloned())
            .protect_databases(p.protected_databases.iter().cloned())
    });
    let pr_number = problems.parse_opt("pr_number", p.pr_number.as_deref(), PrNumber::parse);
    let environment = match (&p.environment, pr_number, &policy) {
        (Some(env), _, _) => problems.parse("environment", env, EnvironmentName::parse),
        (None, Some(pr), Some(policy)) => problems.parse("environment", &pr.to_string(), |_| {
            policy.environment_for(pr)
        }),
        (None, None, _) if p.pr_number.is_none() => {
            problems.missing("pr_number", "pass --pr-number N (or --environment NAME)");
            None
        }
        _ => None,
    };
    let names = environment
        .as_ref()
        .and_then(|env| problems.parse("environment", env.as_str(), |_| SandboxNames::derive(env)));
    let namespace = problems.parse_opt("namespace", p.namespace.as_deref(), Namespace::parse);
    let repo_url = match &p.repo_url {
        Some(url) => problems.parse_secret("repo_url", url, GitRemote::parse),
        None => None,
    };
    let base_branch = problems.parse("base_branch", &p.base_branch, BranchName::parse);
    let branch = problems.parse_opt("branch", p.branch.as_deref(), BranchName::parse);
    let overlay_path =
        problems.parse_opt("overlay_path", p.overlay_path.as_deref(), RepoPath::parse);
    let images_from = problems.parse_opt("images_from", p.images_from.as_deref(), RepoPath::parse);
    let apps_path = problems.parse("apps_path", &p.apps_path, RepoPath::parse);
    let apps_branch = problems.parse("apps_branch", &p.apps_branch, BranchName::parse);
    let app_name = problems.parse_opt("app_name", p.app_name.as_deref(), Namespace::parse);
    let source_bucket = problems.parse_opt(
        "source_bucket",
        p.source_bucket.as_deref(),
        BucketUrl::parse,
    );
    let dest_bucket = problems.parse_opt("dest_bucket", p.dest_bucket.as_deref(), BucketUrl::parse);
    let backup_url = problems.parse_opt("backup_url", p.backup_url.as_deref(), BucketUrl::parse);
    let database_name = problems.parse_opt(
        "database_name",
        p.database_name.as_deref(),
        DatabaseName::parse,
    );
    let source_database = problems.parse_opt(
        "source_database",
        p.source_database.as_deref(),
        DatabaseName::parse,
    );
    if let Some(url) = &p.database_url {
        problems.parse_secret("database_url", url, parse_database_url);
    }
    let vault_path = problems.parse_opt("vault_path", p.vault_path.as_deref(), parse_vault_path);
    let github_repo =
        problems.parse_opt("github_repo", p.github_repo.as_deref(), GithubRepo::parse);
    for b in &p.protected_branches {
        let pattern = b.strip_suffix("/*").unwrap_or(b);
        problems.parse("protected_branches", pattern, BranchName::parse);
    }
    let max_sandboxes = problems.parse_opt("max_sandboxes", p.max_sandboxes.as_deref(), |s| {
        s.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
            Invalid::one(
                "positive-integer",
                "max_sandboxes must be a whole number of at least 1",
                "pass e.g. 20",
            )
        })
    });

    let (Some(policy), Some(mut names), Some(base_branch), Some(apps_path), Some(apps_branch)) =
        (policy, names, base_branch, apps_path, apps_branch)
    else {
        return Err(TaskError::invalid(problems.into_vec()));
    };
    if !problems.is_empty() {
        return Err(TaskError::invalid(problems.into_vec()));
    }

    // Everything parsed: apply the overrides and the guard rails.
    let env = names.environment.clone();
    let mut refusals = Vec::new();
    let mut refuse = |field: &str, value: &str, r: Result<(), sandbox_core::policy::Refusal>| {
        if let Err(r) = r {
            refusals.push(r.into_problem(field, value));
        }
    };
    refuse("environment", env.as_str(), policy.check_environment(&env));
    if let Some(ns) = namespace {
        refuse("namespace", ns.as_str(), policy.check_namespace(&ns, &env));
        names.namespace = ns;
    }
    if let Some(b) = branch {
        names.branch = b;
    }
    refuse(
        "branch",
        names.branch.as_str(),
        policy.check_branch(&names.branch, &env),
    );
    if let Some(app) = app_name {
        refuse(
            "app_name",
            app.as_str(),
            policy.check_app_name(app.as_str(), &env),
        );
        names.app_name = app.to_string();
    }
    if let Some(db) = database_name {
        names.database_name = db;
    }
    refuse(
        "database_name",
        names.database_name.as_str(),
        policy.check_database(&names.database_name, &env, source_database.as_ref()),
    );
    if let Some(path) = vault_path {
        refuse("vault_path", &path, policy.check_vault_path(&path, &env));
        names.vault_path = path;
    }
    // A bare destination bucket gets the environment's own prefix.
    let dest_bucket = dest_bucket.map(|d| match d {
        BucketUrl::Gs { bucket, prefix } if prefix.is_empty() => BucketUrl::Gs {
            bucket,
            prefix: names.bucket_prefix.clone(),
        },
        other => other,
    });
    if let Some(dest) = &dest_bucket {
        refuse(
            "dest_bucket",
            &dest.to_string(),
            policy.check_destination(dest, &env, source_bucket.as_ref()),
        );
    }
    if !refusals.is_empty() {
        return Err(TaskError::refused(refusals));
    }
    Ok(Plan {
        pr_number,
        names,
        repo_url,
        base_branch,
        overlay_path,
        images_from,
        apps_path,
        apps_branch,
        source_bucket,
        dest_bucket,
        backup_url,
        has_database_url: p.database_url.is_some(),
        github_repo,
        max_sandboxes,
    })
}

/// A database server is a credential source, or a URL without a password.
fn parse_database_url(s: &str) -> Result<CredentialRef, Invalid> {
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        let has_password = s
            .split_once("://")
            .map(|(_, rest)| rest.split(['/', '?']).next().unwrap_or_default())
            .and_then(|authority| authority.rsplit_once('@'))
            .is_some_and(|(userinfo, _)| userinfo.contains(':'));
        return if has_password {
            Err(Invalid::one(
                "no-embedded-credentials",
                "database URL has a password in it",
                "put the URL in a file, an environment variable or Vault and pass file:, env: or vault://",
            ))
        } else {
            Ok(CredentialRef::Env(String::new()))
        };
    }
    CredentialRef::parse(s)
}

fn parse_vault_path(s: &str) -> Result<String, Invalid> {
    let trimmed = s.trim_matches('/');
    let bad = trimmed.is_empty()
        || trimmed
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        || trimmed
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '#');
    if bad {
        return Err(Invalid::one(
            "vault-path",
            "vault path must be <mount>/<path> of plain segments",
            "give e.g. secret/sandboxes/<environment>",
        ));
    }
    Ok(trimmed.to_string())
}

impl Plan {
    /// The outputs every later step reads.
    pub fn outputs(&self) -> Outputs {
        let mut out = Outputs::new();
        if let Some(pr) = self.pr_number {
            out.set("pr_number", pr);
        }
        let n = &self.names;
        out.set("environment", &n.environment)
            .set("namespace", &n.namespace)
            .set("branch", &n.branch)
            .set("base_branch", &self.base_branch)
            .set("app_name", &n.app_name)
            .set("apps_path", &self.apps_path)
            .set("apps_branch", &self.apps_branch)
            .set("database_name", &n.database_name)
            .set("vault_path", &n.vault_path)
            .set("bucket_prefix", &n.bucket_prefix);
        if let Some(repo) = &self.repo_url {
            out.set("repo_url", redact_url(repo.as_str()));
        }
        if let Some(p) = &self.overlay_path {
            out.set("overlay_path", p);
        }
        if let Some(p) = &self.images_from {
            out.set("images_from", p);
        }
        if let Some(b) = &self.source_bucket {
            out.set("source_bucket", b);
        }
        if let Some(b) = &self.dest_bucket {
            out.set("dest_bucket", b);
        }
        if let Some(b) = &self.backup_url {
            out.set("backup_url", b);
        }
        if let Some(r) = &self.github_repo {
            out.set("github_repo", r);
        }
        out
    }

    /// The remote checks this parameter set calls for. Capabilities that are
    /// not built yet say so; none is ever reported as passed without running.
    pub fn remote_checks(&self) -> Vec<RemoteCheck> {
        let mut checks = Vec::new();
        let mut not_built = |check: &'static str, needs: &'static str| {
            checks.push(RemoteCheck {
                check,
                status: CheckStatus::NotBuilt,
                detail: format!("not checked: {needs} is not built yet"),
            });
        };
        if self.repo_url.is_some() {
            not_built("repo-reachable", "the git client (sandbox-git)");
            not_built("base-branch-present", "the git client (sandbox-git)");
            not_built("environment-branch-absent", "the git client (sandbox-git)");
        }
        if self.max_sandboxes.is_some() {
            not_built("live-sandboxes-under-max", "the git client (sandbox-git)");
        }
        if self.source_bucket.is_some() {
            not_built(
                "source-bucket-readable",
                "the storage client (sandbox-storage)",
            );
        }
        if self.dest_bucket.is_some() {
            not_built("dest-bucket-exists", "the storage client (sandbox-storage)");
        }
        if self.backup_url.is_some() {
            not_built("backup-present-and-fresh", "backup discovery (sandbox-db)");
        }
        if self.has_database_url {
            not_built("database-reachable", "the database client (sandbox-db)");
        }
        checks
    }
}

/// The outcome of one remote check.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteCheck {
    /// What was checked.
    pub check: &'static str,
    /// Its outcome.
    pub status: CheckStatus,
    /// Why, in a sentence.
    pub detail: String,
}

/// The outcome of a remote check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    /// Checked and fine.
    Passed,
    /// Checked and not fine.
    Failed,
    /// The capability to check it does not exist yet.
    NotBuilt,
}
