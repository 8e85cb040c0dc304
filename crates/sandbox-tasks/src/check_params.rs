//! `check-params`: step 0 of the create and delete pipelines. Validates the
//! whole parameter set of a sandbox, reports every problem at once, applies
//! the guard rails, and derives the names the rest of the pipeline uses, so
//! no template computes a name itself.
//!
//! It is the union of the argument groups ([`crate::args`]): every shared
//! parameter is validated by the same code as in the task that uses it, so
//! check-params cannot pass what a task then refuses. With
//! `--check-remote`, each group's remote check runs too.

use crate::args::{
    self, AppsArgs, ArgoCdArgs, AuthorArgs, BackupArgs, BaseBranchArgs, BranchArgs, BucketArgs,
    DatabaseArgs, EnvArgs, ForgeArgs, GithubArgs, IfExistsArg, ImagesFromArgs, KubeArgs,
    KubectlArgs, OverlayArgs, PoolArgs, Refusals, RepoArgs, SecretsArgs, SleepArgs, StorageArgs,
    VaultArgs,
};
use crate::remote::{self, RemoteCheck};
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::credential::CredentialRef;
use sandbox_core::params::{Invalid, Problems};
use sandbox_core::{Outputs, TaskError};

/// Validate a sandbox's parameters, apply the guard rails and derive its names.
#[derive(Debug, Clone, Default, Args)]
#[command(about = "Validate a sandbox's parameters, apply the guard rails and derive its names")]
pub struct Params {
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
    pub branch: BranchArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub base: BaseBranchArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub overlay: OverlayArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub images_from: ImagesFromArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub apps: AppsArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub bucket: BucketArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub storage: StorageArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub backup: BackupArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub pool: PoolArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub forge: ForgeArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub github: GithubArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub secrets: SecretsArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub sleep: SleepArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub kubectl: KubectlArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub argocd: ArgoCdArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub kube: KubeArgs,
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

    fn validate(params: &Params) -> Result<(), TaskError> {
        validate(params).map(drop)
    }

    #[tracing::instrument(name = "check-params", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let plan = validate(&params)?;
        let mut outputs = plan.outputs.clone();
        if params.check_remote {
            let checks = plan.remote_checks(&ctx).await;
            for check in &checks {
                match check.status {
                    remote::CheckStatus::Passed => {
                        tracing::info!(check = check.check, "{}", check.detail)
                    }
                    remote::CheckStatus::Failed => {
                        tracing::warn!(check = check.check, "{}", check.detail)
                    }
                }
            }
            remote::verdict(&checks)?;
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

/// A validated parameter set: every group's plan, and the outputs.
struct Plan {
    outputs: Outputs,
    repo: Option<args::RepoPlan>,
    expected: Option<args::repo::Expected>,
    buckets: args::BucketPlan,
    storage: Option<sandbox_storage::StorageConfig>,
    backup: args::BackupPlan,
    database: args::DatabasePlan,
    vault: args::VaultPlan,
    references: Vec<(&'static str, CredentialRef)>,
}

/// Validate every group, then the guard rails. All invalid fields are
/// reported together (exit 2); only a fully valid set is checked against the
/// rails (exit 5), so a refusal is never caused by a typo.
fn validate(p: &Params) -> Result<Plan, TaskError> {
    let mut problems = Problems::new();
    let env = p.env.validate(None, &mut problems);
    let name = env.as_ref().map(|e| &e.environment);
    let scope = p.vault.scope(&mut problems);
    let repo = p.repo.validate(false, name, &scope, &mut problems);
    p.author.validate(&mut problems);
    let branch = p.branch.validate(&mut problems);
    let base_branch = p.base.validate(&mut problems);
    let overlay = p.overlay.validate(false, &mut problems);
    let images_from = p.images_from.validate(&mut problems);
    let apps = p.apps.validate(env.as_ref(), &mut problems);
    let buckets = p.bucket.validate(false, name, &mut problems);
    let storage = p.storage.validate(&mut problems);
    let backup = p.backup.validate(false, &mut problems);
    let database = p.database.validate(false, name, &scope, &mut problems);
    let pool = p.pool.validate(&mut problems);
    let github = p.github.validate(false, name, &scope, &mut problems);
    let secrets = p.secrets.validate(&p.vault, name, &mut problems);
    p.sleep.validate(&mut problems);
    p.argocd.validate(&mut problems);
    p.kube.validate(&mut problems);
    let max_sandboxes = problems.parse_opt("max_sandboxes", p.max_sandboxes.as_deref(), |s| {
        s.parse::<u32>().ok().filter(|n| *n > 0).ok_or_else(|| {
            Invalid::one(
                "positive-integer",
                "max_sandboxes must be a whole number of at least 1",
                "pass e.g. 20",
            )
        })
    });
    let mut references: Vec<(&'static str, CredentialRef)> = Vec::new();
    if let Some(repo) = &repo {
        references.extend(repo.named_references().map(|(f, r)| (f, r.clone())));
    }
    if let Some(database) = &database {
        references.extend(database.references().map(|r| ("database_url", r.clone())));
    }
    if let Some(github) = &github {
        references.extend(github.references().map(|r| ("github_token", r.clone())));
    }
    let vault = p.vault.plan(
        scope,
        name,
        references.iter().map(|(_, r)| r),
        &mut problems,
    );
    let (Some(env), Some(base_branch), Some(apps), Some(database), Some(_), Some(pool), true) = (
        env,
        base_branch,
        apps,
        database,
        github,
        pool,
        problems.is_empty(),
    ) else {
        return Err(args::invalid(problems));
    };

    // Everything parsed: the guard rails, all refusals at once.
    let branch = branch.unwrap_or_else(|| {
        sandbox_core::params::BranchName::parse(env.environment.as_str())
            .unwrap_or_else(|_| base_branch.clone())
    });
    let mut refusals = Refusals::new();
    env.refusals(&mut refusals);
    refusals.check(
        "branch",
        branch.as_str(),
        env.policy.check_branch(&branch, &env.environment),
    );
    overlay.refusals(&env, &mut refusals);
    apps.refusals(&env, &mut refusals);
    database.refusals(&env, &mut refusals);
    pool.target_refusal(&database.database, &mut refusals);
    buckets.refusals(&env, &mut refusals);
    if let Some(secrets) = &secrets {
        secrets.refusals(&env, &mut refusals);
    }
    refusals.finish()?;

    fn or_empty<T: std::fmt::Display>(v: &Option<T>) -> String {
        v.as_ref().map(ToString::to_string).unwrap_or_default()
    }
    let mut outputs = Outputs::new();
    outputs
        .set("pr_number", or_empty(&env.pr_number))
        .set("environment", &env.environment)
        .set("namespace", overlay.namespace_for(&env))
        .set("branch", &branch)
        .set("base_branch", &base_branch)
        .set("app_name", &apps.app_name)
        .set("apps_path", &apps.apps_path)
        .set("apps_branch", &apps.apps_branch)
        .set("database_name", &database.database)
        .set("vault_path", or_empty(&secrets))
        .set("bucket_prefix", format!("{}/", env.environment))
        .set(
            "repo_url",
            repo.as_ref().map(|r| r.redacted_url()).unwrap_or_default(),
        )
        .set("overlay_path", or_empty(&overlay.overlay_path))
        .set("images_from", or_empty(&images_from))
        .set("source_bucket", or_empty(&buckets.source))
        .set("dest_bucket", or_empty(&buckets.dest))
        .set(
            "backup_url",
            or_empty(&backup.query.as_ref().map(|q| q.location.clone())),
        )
        .set("github_repo", or_empty(&p.github.github_repo))
        .set("remote_checks", "");
    let expected = args::repo::Expected {
        base_branch,
        branch,
        reuse_existing: p.base.if_exists == IfExistsArg::Reuse,
        apps: max_sandboxes.map(|max| {
            (
                apps.apps_branch.clone(),
                apps.apps_path.clone(),
                format!("{}.yaml", apps.app_name),
                max,
            )
        }),
    };
    Ok(Plan {
        outputs,
        expected: Some(expected),
        repo,
        buckets,
        storage,
        backup,
        database,
        vault,
        references,
    })
}

impl Plan {
    /// Every group's remote check: the repository, the buckets, the backup,
    /// the database server and each Vault reference. Each reports what it
    /// really found.
    async fn remote_checks(&self, ctx: &Context) -> Vec<RemoteCheck> {
        let creds = self.vault.credentials(ctx);
        let mut checks = Vec::new();
        if let (Some(repo), Some(expected)) = (&self.repo, &self.expected) {
            checks.extend(repo.remote_checks(expected, &creds, ctx).await);
        }
        checks.extend(self.buckets.remote_checks(self.storage.as_ref()).await);
        checks.extend(self.backup.remote_checks(self.storage.as_ref()).await);
        checks.extend(self.database.remote_checks(&creds).await);
        checks.extend(self.vault.remote_checks(&self.references, ctx).await);
        checks
    }
}
