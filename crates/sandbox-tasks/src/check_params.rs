//! `check-params`: step 0 of the create and delete pipelines. Validates the
//! whole parameter set of a sandbox, reports every problem at once, applies
//! the guard rails, and derives the names the rest of the pipeline uses, so
//! no template computes a name itself.

use crate::vault_args::VaultArgs;
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::ErrorKind;
use sandbox_core::credential::{CredentialRef, VaultScope};
use sandbox_core::names::SandboxNames;
use sandbox_core::params::{
    BranchName, BucketUrl, DatabaseName, EnvPrefix, EnvironmentName, GitRemote, GithubRepo,
    Invalid, Namespace, PrNumber, Problems, RepoPath, parse_duration,
};
use sandbox_core::policy::Policy;
use sandbox_core::redact::redact_url;
use sandbox_core::{Outputs, TaskError};
use sandbox_db::discovery::{BackupQuery, NamePattern};
use sandbox_db::server::ServerRef;
use sandbox_storage::{Storage, StorageConfig};
use sandbox_vault::VaultConfig;
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
    /// Where the timestamp is in backup names (see restore-db --name-pattern).
    #[arg(long, env = "SANDBOX_NAME_PATTERN", value_name = "PATTERN")]
    pub name_pattern: Option<String>,
    /// Oldest acceptable backup (checked with --check-remote), e.g. 36h.
    #[arg(long, env = "SANDBOX_MAX_AGE", value_name = "DURATION")]
    pub max_age: Option<String>,
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
    /// Most sandboxes allowed at once (checked with --check-remote).
    #[arg(long, env = "SANDBOX_MAX_SANDBOXES", value_name = "N")]
    pub max_sandboxes: Option<String>,
    /// Also check the remote systems (repository, buckets, backup, database, Vault).
    #[arg(long, env = "SANDBOX_CHECK_REMOTE")]
    pub check_remote: bool,
    /// How to reach Vault for vault:// references (used by --check-remote).
    #[command(flatten)]
    pub vault: VaultArgs,
    /// What create-branch will do if the environment branch exists (checked with --check-remote).
    #[arg(long, env = "SANDBOX_IF_EXISTS", value_enum, default_value_t = crate::create_branch::IfExistsArg::Reuse)]
    pub if_exists: crate::create_branch::IfExistsArg,
    /// HTTPS token for the repository: file:, env: or vault:// reference (for --check-remote).
    #[arg(long, env = "SANDBOX_GIT_TOKEN", value_name = "REF")]
    pub git_token: Option<String>,
    /// User name sent with the token.
    #[arg(
        long,
        env = "SANDBOX_GIT_USER",
        value_name = "NAME",
        default_value = "x-access-token"
    )]
    pub git_user: String,
    /// SSH private key file for ssh:// and scp-like remotes.
    #[arg(long, env = "SANDBOX_SSH_KEY", value_name = "PATH")]
    pub ssh_key: Option<std::path::PathBuf>,
    /// Passphrase of the SSH key: file:, env: or vault:// reference.
    #[arg(long, env = "SANDBOX_SSH_KEY_PASSPHRASE", value_name = "REF")]
    pub ssh_key_passphrase: Option<String>,
    /// known_hosts file the SSH server's host key must be in [default: ~/.ssh/known_hosts].
    #[arg(long, env = "SANDBOX_SSH_KNOWN_HOSTS", value_name = "PATH")]
    pub ssh_known_hosts: Option<std::path::PathBuf>,
    /// Directory that keeps clones between runs [default: a temporary directory].
    #[arg(long, env = "SANDBOX_WORKDIR", value_name = "DIR")]
    pub workdir: Option<std::path::PathBuf>,
    /// GCS endpoint for the bucket checks (anonymous), e.g. an emulator;
    /// STORAGE_EMULATOR_HOST also works.
    #[arg(long, env = "SANDBOX_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
}

/// The task.
pub struct CheckParams;

impl Task for CheckParams {
    const NAME: &'static str = "check-params";
    const NEEDS: &'static [crate::Need] = crate::needs::GIT;
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "pr_number",
            description: "The pull request number (empty when only environment was given).",
        },
        OutputSpec {
            name: "environment",
            description: "The sandbox's name, e.g. sbx-pr-42.",
        },
        OutputSpec {
            name: "namespace",
            description: "Its Kubernetes namespace, e.g. apps-sbx-pr-42.",
        },
        OutputSpec {
            name: "branch",
            description: "The environment's branch of the infrastructure repository.",
        },
        OutputSpec {
            name: "base_branch",
            description: "The branch the environment starts from.",
        },
        OutputSpec {
            name: "app_name",
            description: "The Argo CD Application name.",
        },
        OutputSpec {
            name: "apps_path",
            description: "The app-of-apps directory.",
        },
        OutputSpec {
            name: "apps_branch",
            description: "The app-of-apps branch.",
        },
        OutputSpec {
            name: "database_name",
            description: "The sandbox database, e.g. sbx_pr_42.",
        },
        OutputSpec {
            name: "vault_path",
            description: "Base of the environment's secrets in Vault.",
        },
        OutputSpec {
            name: "bucket_prefix",
            description: "The object prefix of the environment's documents.",
        },
        OutputSpec {
            name: "repo_url",
            description: "The infrastructure repository (credentials never included).",
        },
        OutputSpec {
            name: "overlay_path",
            description: "The environment's Kustomize overlay (empty when not given).",
        },
        OutputSpec {
            name: "images_from",
            description: "The overlay image tags come from (empty when not given).",
        },
        OutputSpec {
            name: "source_bucket",
            description: "Where documents are copied from (empty when not given).",
        },
        OutputSpec {
            name: "dest_bucket",
            description: "Where documents are copied to, with the environment's prefix (empty when not given).",
        },
        OutputSpec {
            name: "backup_url",
            description: "Where nightly backups are (empty when not given).",
        },
        OutputSpec {
            name: "github_repo",
            description: "owner/name of the application repository (empty when not given).",
        },
        OutputSpec {
            name: "remote_checks",
            description: "JSON list of remote checks and their status (empty without --check-remote).",
        },
    ];
    type Params = Params;

    #[tracing::instrument(name = "check-params", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let plan = validate(&params)?;
        let mut outputs = plan.outputs();
        if params.check_remote {
            let git = crate::check_remote_git::git_args(&params).validate(&mut Problems::new());
            let creds = params.vault.credentials(
                &ctx,
                plan.vault_scope.clone(),
                Some(plan.names.environment.clone()),
                plan.vault.clone(),
            );
            let mut checks = plan.remote_checks(params.endpoint.as_deref(), &creds).await;
            let mut failure = None;
            if let Some(git) = git.filter(|_| plan.repo_url.is_some()) {
                let found = crate::check_remote_git::run(&plan, &git, params.if_exists, &ctx).await;
                checks.extend(found.checks);
                failure = found.failure;
            }
            checks.extend(plan.vault_checks(&params.vault, &ctx).await);
            for check in &checks {
                match check.status {
                    CheckStatus::Passed => tracing::info!(check = check.check, "{}", check.detail),
                    _ => tracing::warn!(check = check.check, "{}", check.detail),
                }
            }
            if let Some(failure) = failure {
                return Err(failure);
            }
            let failed: Vec<&RemoteCheck> = checks
                .iter()
                .filter(|c| c.status == CheckStatus::Failed)
                .collect();
            if !failed.is_empty() {
                // Retrying helps only when every failure was transient.
                let kind = if failed.iter().all(|c| c.kind == Some(ErrorKind::Transient)) {
                    ErrorKind::Transient
                } else {
                    ErrorKind::Precondition
                };
                let mut error = TaskError::new(
                    kind,
                    format!(
                        "remote checks failed: {}",
                        failed
                            .iter()
                            .map(|c| c.detail.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                );
                error.details = failed
                    .iter()
                    .map(|c| sandbox_core::Problem {
                        field: c.field.to_string(),
                        rule: c.check.to_string(),
                        message: c.detail.clone(),
                        value: None,
                        fix: c.fix.clone(),
                    })
                    .collect();
                return Err(error);
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
    /// Every `vault://` reference of the set, by parameter, bound to the
    /// environment and confined to the scope.
    #[serde(skip)]
    pub vault_refs: Vec<(&'static str, CredentialRef)>,
    /// The bases `vault://` references are confined to.
    #[serde(skip)]
    pub vault_scope: VaultScope,
    /// How to reach Vault (only with --check-remote and a vault:// reference).
    #[serde(skip)]
    pub vault: Option<VaultConfig>,
    /// The database server, for the remote check.
    #[serde(skip)]
    pub database_url: Option<ServerRef>,
    /// Where the timestamp is in backup names.
    #[serde(skip)]
    pub name_pattern: Option<NamePattern>,
    /// Oldest acceptable backup.
    pub max_age: Option<std::time::Duration>,
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
    let vault_scope = p.vault.scope(&mut problems);
    let mut vault_refs = Vec::new();
    for (field, value) in [
        ("git_token", &p.git_token),
        ("ssh_key_passphrase", &p.ssh_key_passphrase),
    ] {
        if let Some(value) = value {
            let bound = problems.parse_secret(field, value, |s| {
                CredentialRef::parse(s)?.bind(environment.as_ref(), &vault_scope)
            });
            if let Some(r) = bound.filter(CredentialRef::is_vault) {
                vault_refs.push((field, r));
            }
        }
    }
    // A database server is a postgres URL without a password or a
    // credential reference; a vault:// one is bound to the environment.
    let database_url = p.database_url.as_deref().and_then(|url| {
        problems.parse_secret("database_url", url, |s| match ServerRef::parse(s)? {
            ServerRef::Credential(r) => Ok(ServerRef::Credential(
                r.bind(environment.as_ref(), &vault_scope)?,
            )),
            other => Ok(other),
        })
    });
    if let Some(ServerRef::Credential(r)) = &database_url
        && r.is_vault()
    {
        vault_refs.push(("database_url", r.clone()));
    }
    let vault = p
        .vault
        .config(p.check_remote && !vault_refs.is_empty(), &mut problems);
    let name_pattern = problems.parse_opt(
        "name_pattern",
        p.name_pattern.as_deref(),
        NamePattern::parse,
    );
    let max_age = problems.parse_opt("max_age", p.max_age.as_deref(), parse_duration);
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
    } else if let Some(base) = p.vault.vault_base.first() {
        names.vault_path = format!("{}/{env}", base.trim_matches('/'));
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
        vault_refs,
        vault_scope,
        vault,
        database_url,
        name_pattern,
        max_age,
        github_repo,
        max_sandboxes,
    })
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
    /// What restore-db would look for: the newest backup under backup_url.
    pub fn backup_query(&self) -> Option<BackupQuery> {
        self.backup_url.clone().map(|location| BackupQuery {
            location,
            object: None,
            name_pattern: self.name_pattern.clone(),
        })
    }

    /// The outputs every later step reads; optional ones are empty when
    /// not given, so every declared output is always written.
    pub fn outputs(&self) -> Outputs {
        fn or_empty<T: std::fmt::Display>(v: &Option<T>) -> String {
            v.as_ref().map(ToString::to_string).unwrap_or_default()
        }
        let n = &self.names;
        let mut out = Outputs::new();
        out.set("pr_number", or_empty(&self.pr_number))
            .set("environment", &n.environment)
            .set("namespace", &n.namespace)
            .set("branch", &n.branch)
            .set("base_branch", &self.base_branch)
            .set("app_name", &n.app_name)
            .set("apps_path", &self.apps_path)
            .set("apps_branch", &self.apps_branch)
            .set("database_name", &n.database_name)
            .set("vault_path", &n.vault_path)
            .set("bucket_prefix", &n.bucket_prefix)
            .set(
                "repo_url",
                self.repo_url
                    .as_ref()
                    .map(|r| redact_url(r.as_str()))
                    .unwrap_or_default(),
            )
            .set("overlay_path", or_empty(&self.overlay_path))
            .set("images_from", or_empty(&self.images_from))
            .set("source_bucket", or_empty(&self.source_bucket))
            .set("dest_bucket", or_empty(&self.dest_bucket))
            .set("backup_url", or_empty(&self.backup_url))
            .set("github_repo", or_empty(&self.github_repo))
            .set("remote_checks", "");
        out
    }

    /// The bucket, backup and database checks this parameter set calls
    /// for (the repository checks are in `check_remote_git`, the Vault
    /// checks in `vault_checks`). Each reports what it really found.
    pub async fn remote_checks(
        &self,
        storage_endpoint: Option<&str>,
        creds: &sandbox_vault::Credentials,
    ) -> Vec<RemoteCheck> {
        let mut checks = Vec::new();
        checks.extend(self.bucket_checks(storage_endpoint).await);
        checks.extend(
            crate::restore_db::remote_checks(
                self.backup_query().as_ref(),
                self.max_age,
                storage_endpoint,
                self.database_url.as_ref(),
                Some(creds),
            )
            .await,
        );
        checks
    }

    /// The source bucket can be listed; the destination bucket exists.
    async fn bucket_checks(&self, endpoint: Option<&str>) -> Vec<RemoteCheck> {
        let mut checks = Vec::new();
        if self.source_bucket.is_none() && self.dest_bucket.is_none() {
            return checks;
        }
        let storage = match Storage::new(StorageConfig::from_env(endpoint)) {
            Ok(s) => s,
            Err(e) => {
                checks.push(RemoteCheck {
                    check: "storage-client",
                    field: "endpoint",
                    status: CheckStatus::Failed,
                    detail: format!("cannot build the storage client: {e}"),
                    fix: "check --endpoint".into(),
                    kind: None,
                });
                return checks;
            }
        };
        if let Some(source) = &self.source_bucket {
            checks.push(match storage.check_readable(source).await {
                Ok(()) => RemoteCheck {
                    check: "source-bucket-readable",
                    field: "source_bucket",
                    status: CheckStatus::Passed,
                    detail: format!("{source} can be listed as {}", storage.identity()),
                    fix: String::new(),
                    kind: None,
                },
                Err(e) => RemoteCheck {
                    check: "source-bucket-readable",
                    field: "source_bucket",
                    status: CheckStatus::Failed,
                    detail: format!("{source} cannot be listed: {e}"),
                    fix: "grant the identity storage.objects.list on the bucket, or fix the name"
                        .into(),
                    kind: None,
                },
            });
        }
        if let Some(dest) = &self.dest_bucket {
            checks.push(match storage.check_bucket_exists(dest).await {
                Ok(()) => RemoteCheck {
                    check: "dest-bucket-exists",
                    field: "dest_bucket",
                    status: CheckStatus::Passed,
                    detail: format!("the bucket of {dest} exists"),
                    fix: String::new(),
                    kind: None,
                },
                Err(e) => RemoteCheck {
                    check: "dest-bucket-exists",
                    field: "dest_bucket",
                    status: CheckStatus::Failed,
                    detail: format!("the bucket of {dest} is not usable: {e}"),
                    fix: "create the bucket (terraform) or fix the name".into(),
                    kind: None,
                },
            });
        }
        checks
    }
}

impl Plan {
    /// Every `vault://` reference of the set read with the configured
    /// login: one check per reference. Values are read, registered with the
    /// run's redactor and dropped; only the reference is reported.
    pub async fn vault_checks(&self, args: &VaultArgs, ctx: &Context) -> Vec<RemoteCheck> {
        if self.vault_refs.is_empty() {
            return Vec::new();
        }
        let creds = args.credentials(
            ctx,
            self.vault_scope.clone(),
            Some(self.names.environment.clone()),
            self.vault.clone(),
        );
        let login = self
            .vault
            .as_ref()
            .map_or_else(String::new, |v| v.login.to_string());
        let mut checks = Vec::new();
        for (field, reference) in &self.vault_refs {
            let location = reference.vault_location().unwrap_or_default();
            let check = match creds.resolve(reference).await {
                Ok(_) => RemoteCheck {
                    check: "vault-reference-readable",
                    status: CheckStatus::Passed,
                    detail: format!("{field}: {reference} ({location}) is readable with {login}"),
                    kind: None,
                    fix: String::new(),
                    field,
                },
                Err(e) => {
                    let error = TaskError::from(e);
                    RemoteCheck {
                        check: "vault-reference-readable",
                        status: CheckStatus::Failed,
                        detail: ctx
                            .redactor
                            .mask(&format!("{field}: {}", error.full_message())),
                        kind: Some(error.kind),
                        fix: String::new(),
                        field,
                    }
                }
            };
            checks.push(check);
        }
        checks
    }
}

/// The outcome of one remote check.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteCheck {
    /// What was checked.
    pub check: &'static str,
    /// The parameter it is about.
    #[serde(skip)]
    pub field: &'static str,
    /// Its outcome.
    pub status: CheckStatus,
    /// Why, in a sentence.
    pub detail: String,
    /// The kind of the failure, when it failed.
    #[serde(skip)]
    pub kind: Option<ErrorKind>,
    /// How to fix a failure.
    #[serde(skip)]
    pub fix: String,
}

/// The outcome of a remote check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    /// Checked and fine.
    Passed,
    /// Checked and not fine.
    Failed,
}
