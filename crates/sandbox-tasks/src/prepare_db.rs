//! `prepare-db`: the nightly half of a fast sandbox database. Restores the
//! newest backup, before anyone asks, into the warm pool (`--prepare
//! pool`: `<pool_prefix>_1` … `<pool_prefix>_<pool_size>`) or into the
//! template database (`--prepare template`), each through restore-db's
//! staging, verification and marker. A database already holding the newest
//! backup is kept; pool members above `--pool-size` are dropped, and
//! nothing else. `restore-db --strategy pool` then claims a member instead
//! of restoring.

use crate::args::backup::human_duration;
use crate::args::database::resolve_server;
use crate::args::{
    self, BackupArgs, DatabaseArgs, EnvArgs, PoolArgs, Refusals, RestoreArgs, StorageArgs,
    VaultArgs,
};
use crate::{Context, OutputSpec, Task};
use clap::{Args, ValueEnum};
use sandbox_core::params::{DatabaseName, Invalid, Problems};
use sandbox_core::{Outputs, TaskError};
use sandbox_db::admin::Admin;
use sandbox_db::discovery;
use sandbox_db::pipeline::{ByteCounter, RestoreOptions};
use sandbox_db::pool::{self, MAX_SIZE, Prepared};
use sandbox_db::restore::{Restore, backup_time};
use sandbox_storage::Storage;
use std::path::PathBuf;
use std::time::Duration;

/// How long `--prepare template` waits for the template's lock, held while
/// sandboxes copy it.
const TEMPLATE_LOCK_WAIT: Duration = Duration::from_secs(600);

/// What the nightly job prepares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum PrepareArg {
    /// The warm pool: --pool-size databases a sandbox claims by renaming one.
    #[default]
    Pool,
    /// One template database, cloned for each sandbox.
    Template,
}

/// Restore the newest backup into the warm pool or the template database.
#[derive(Debug, Clone, Default, Args)]
#[command(
    about = "Restore the newest database backup into the warm pool or the template database, ahead of the sandboxes"
)]
pub struct Params {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub env: EnvArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub backup: BackupArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub storage: StorageArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub pool: PoolArgs,
    /// What to prepare: the warm pool or the template database.
    #[arg(long, env = "SANDBOX_PREPARE", value_enum, default_value_t = PrepareArg::Pool)]
    pub prepare: PrepareArg,
    /// How many pool databases to keep ready (0 drops them all).
    #[arg(long, env = "SANDBOX_POOL_SIZE", value_name = "N", default_value = "2")]
    pub pool_size: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub restore: RestoreArgs,
}

/// The task.
pub struct PrepareDb;

impl Task for PrepareDb {
    const NAME: &'static str = "prepare-db";
    const NEEDS: &'static [crate::Need] = crate::needs::RESTORE_DB;
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "backup_object",
            description: "The backup the prepared databases hold.",
        },
        OutputSpec {
            name: "backup_time",
            description: "When the backup was taken (RFC 3339).",
        },
        OutputSpec {
            name: "databases",
            description: "The prepared databases, comma-separated.",
        },
        OutputSpec {
            name: "restored",
            description: "How many were restored on this run.",
        },
        OutputSpec {
            name: "kept",
            description: "How many already held the backup and were kept.",
        },
        OutputSpec {
            name: "busy",
            description: "Pool databases another run held (a concurrent refill, or a claim), left to it, comma-separated.",
        },
        OutputSpec {
            name: "dropped",
            description: "Pool databases above --pool-size that were dropped, comma-separated.",
        },
    ];
    type Params = Params;

    fn validate(params: &Params) -> Result<(), TaskError> {
        validate(params).map(drop)
    }

    #[tracing::instrument(name = "prepare-db", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let plan = validate(&params)?;
        execute(plan, ctx).await
    }
}

/// A validated parameter set.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The server.
    pub server: sandbox_db::server::ServerRef,
    /// How the server's credentials are read.
    pub vault: args::VaultPlan,
    /// What backup to restore.
    pub backup: discovery::BackupQuery,
    /// Oldest acceptable backup.
    pub max_age: Option<std::time::Duration>,
    /// The databases to hold the backup, in order.
    pub names: Vec<String>,
    /// The pool's prefix, when preparing the pool (its extra members are dropped).
    pub shrink: Option<(DatabaseName, u32)>,
    /// Owner of a created database.
    pub owner: Option<String>,
    /// How the tool restores.
    pub restore: RestoreOptions,
    /// Parallel jobs.
    pub jobs: u32,
    /// Where a parallel restore's file goes.
    pub temp_dir: PathBuf,
    /// How the backup bucket is reached.
    pub storage: sandbox_storage::StorageConfig,
}

fn parse_size(s: &str) -> Result<u32, Invalid> {
    s.parse::<u32>()
        .ok()
        .filter(|n| *n <= MAX_SIZE)
        .ok_or_else(|| {
            Invalid::one(
                "pool-size",
                format!("pool_size must be a whole number from 0 to {MAX_SIZE}"),
                "pass e.g. 3",
            )
        })
}

/// Validate every field (exit 2), then the guard rails (exit 5). The pool
/// belongs to no sandbox; a sandbox's fields (a shared parameter file
/// carries them) are validated and guarded as restore-db does, then unused.
pub fn validate(p: &Params) -> Result<Plan, TaskError> {
    let mut problems = Problems::new();
    let for_sandbox = p.env.pr_number.is_some() || p.env.environment.is_some();
    let (env, prefix) = if for_sandbox {
        let env = p.env.validate(None, &mut problems);
        let prefix = env.as_ref().map(|e| e.policy.prefix().clone());
        (env, prefix)
    } else {
        for name in &p.env.protected_databases {
            problems.parse("protected_databases", name, DatabaseName::parse);
        }
        (None, p.env.prefix.validate(&mut problems))
    };
    let name = env.as_ref().map(|e| &e.environment);
    let scope = p.vault.scope(&mut problems);
    let database = if for_sandbox {
        p.database.validate(true, name, &scope, &mut problems)
    } else {
        problems.parse_opt(
            "database_name",
            p.database.database_name.as_deref(),
            DatabaseName::parse,
        );
        None
    };
    let server = match &database {
        Some(plan) => plan.server.clone(),
        None if for_sandbox => None,
        None => p.database.server(true, None, &scope, &mut problems),
    };
    let source = match &database {
        Some(plan) => plan.source_database.clone(),
        None if for_sandbox => None,
        None => problems.parse_opt(
            "source_database",
            p.database.source_database.as_deref(),
            DatabaseName::parse,
        ),
    };
    let backup = p.backup.validate(true, &mut problems);
    let storage = p.storage.validate(&mut problems);
    let pool = p.pool.validate(&mut problems);
    let vault = p.vault.plan(
        scope,
        name,
        server.iter().filter_map(|s| match s {
            sandbox_db::server::ServerRef::Credential(r) => Some(r),
            _ => None,
        }),
        &mut problems,
    );
    let size = problems.parse("pool_size", &p.pool_size, parse_size);
    let restore = p.restore.validate(&mut problems);
    let (
        Some(prefix),
        Some(server),
        Some(query),
        Some(storage),
        Some(pool),
        Some(size),
        Some(restore),
        true,
    ) = (
        prefix,
        server,
        backup.query,
        storage,
        pool,
        size,
        restore,
        problems.is_empty(),
    )
    else {
        return Err(args::invalid(problems));
    };
    let mut refusals = Refusals::new();
    if let (Some(env), Some(database)) = (&env, &database) {
        env.refusals(&mut refusals);
        database.refusals(env, &mut refusals);
        pool.target_refusal(&database.database, &mut refusals);
    }
    pool.refusals(
        &prefix,
        &p.env.protected_databases,
        source.as_ref(),
        &mut refusals,
    );
    refusals.finish()?;
    let (names, shrink) = match p.prepare {
        PrepareArg::Pool => (
            (1..=size)
                .map(|k| pool::member_name(pool.prefix.as_str(), k))
                .collect(),
            Some((pool.prefix, size)),
        ),
        PrepareArg::Template => (vec![pool.template.as_str().to_string()], None),
    };
    Ok(Plan {
        server,
        vault,
        backup: query,
        max_age: backup.max_age,
        names,
        shrink,
        owner: restore.owner,
        restore: restore.options,
        jobs: restore.jobs,
        temp_dir: restore.temp_dir,
        storage,
    })
}

/// Run a validated plan.
pub async fn execute(plan: Plan, ctx: Context) -> Result<Outputs, TaskError> {
    let creds = plan.vault.credentials(&ctx);
    let server = resolve_server(&plan.server, &creds).await?;
    if let Some(password) = server.password() {
        ctx.redactor.add(&password);
    }
    let maintenance = server.maintenance_database();
    if plan.names.contains(&maintenance) {
        return Err(TaskError::precondition(format!(
            "the database URL names {maintenance}, a database being prepared; \
             point it at a maintenance database such as postgres"
        )));
    }
    let storage = Storage::new(plan.storage.clone()).map_err(TaskError::from)?;
    let backup = discovery::find(&storage, &plan.backup)
        .await
        .map_err(TaskError::from)?;
    if let Some(max) = plan.max_age {
        match backup.age() {
            Some(age) if age > max => {
                return Err(TaskError::precondition(format!(
                    "the newest backup {} is {} old, more than the {} allowed (--max-age)",
                    backup.url(),
                    human_duration(age),
                    human_duration(max)
                )));
            }
            Some(_) => {}
            None => {
                return Err(TaskError::precondition(format!(
                    "the age of {} is unknown (no update time, no --name-pattern), so --max-age cannot be checked",
                    backup.url()
                )));
            }
        }
    }
    tracing::info!(backup = %backup.url(), databases = plan.names.len(), "preparing");
    let mut admin = Admin::connect(&server).await.map_err(TaskError::from)?;
    for role in plan.owner.iter().chain(plan.restore.role.iter()) {
        if !admin.role_exists(role).await.map_err(TaskError::from)? {
            return Err(TaskError::precondition(format!(
                "role {role} does not exist on {}",
                server.redacted()
            )));
        }
    }
    let mut out = Outputs::new();
    out.set("backup_object", backup.url())
        .set("backup_time", backup_time(&backup));
    if ctx.dry_run {
        out.set("databases", plan.names.join(","));
        tracing::info!("dry run: nothing changed");
        return Ok(out);
    }
    let restore = Restore {
        server: &server,
        target: "",
        owner: plan.owner.as_deref(),
        options: &plan.restore,
        jobs: plan.jobs,
        temp_dir: &plan.temp_dir,
        post_sql: &[],
    };
    let (mut restored, mut kept, mut busy) = (0, 0, Vec::new());
    for name in &plan.names {
        let counter = ByteCounter::default();
        let started = std::time::Instant::now();
        let mut done;
        loop {
            done = pool::prepare_one(&mut admin, &storage, &backup, name, &restore, &counter)
                .await
                .map_err(|e| {
                    let mut error = TaskError::from(e);
                    error.message = format!("preparing {name}: {}", error.message);
                    error
                })?;
            // The template is one database: wait (bounded) for the clones
            // copying it to finish rather than leave it stale for a day.
            if !(plan.shrink.is_none()
                && matches!(done, Prepared::Busy(_))
                && started.elapsed() < TEMPLATE_LOCK_WAIT)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        match done {
            Prepared::Kept(_) => {
                kept += 1;
                tracing::info!(database = %name, "already holds this backup; kept");
            }
            Prepared::Restored(_) => {
                restored += 1;
                tracing::info!(
                    database = %name,
                    bytes_read = counter.get(),
                    elapsed_s = started.elapsed().as_secs_f64(),
                    "restored"
                );
            }
            Prepared::Busy(_) if plan.shrink.is_none() => {
                return Err(TaskError::transient(format!(
                    "the template {name} stayed in use (clones or another prepare-db) for {} s",
                    TEMPLATE_LOCK_WAIT.as_secs()
                )));
            }
            Prepared::Busy(_) => {
                tracing::info!(database = %name, "another run holds it; left to that run");
                busy.push(name.clone());
            }
        }
    }
    let mut dropped = Vec::new();
    if let Some((prefix, size)) = &plan.shrink {
        dropped = pool::shrink(&mut admin, prefix.as_str(), *size)
            .await
            .map_err(TaskError::from)?;
        for name in &dropped {
            tracing::info!(database = %name, "above --pool-size: dropped");
        }
    }
    out.set("databases", plan.names.join(","))
        .set("restored", restored)
        .set("kept", kept)
        .set("busy", busy.join(","))
        .set("dropped", dropped.join(","));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox_core::ErrorKind;

    fn params() -> Params {
        Params {
            database: DatabaseArgs {
                database_url: Some("env:DB_URL".into()),
                source_database: Some("integration".into()),
                ..DatabaseArgs::default()
            },
            backup: BackupArgs {
                backup_url: Some("gs://backups/nightly/".into()),
                ..BackupArgs::default()
            },
            pool_size: "3".into(),
            ..Params::default()
        }
    }

    #[test]
    fn the_pool_is_named_from_its_prefix() {
        let plan = validate(&params()).unwrap();
        assert_eq!(plan.names, ["sbx_pool_1", "sbx_pool_2", "sbx_pool_3"]);
        let template = validate(&Params {
            prepare: PrepareArg::Template,
            ..params()
        })
        .unwrap();
        assert_eq!(template.names, ["sbx_template"]);
        assert!(template.shrink.is_none());
    }

    #[test]
    fn bad_sizes_are_invalid_and_a_sandboxs_fields_are_guarded() {
        let p = Params {
            pool_size: "65".into(),
            ..params()
        };
        let err = validate(&p).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidParams);
        assert_eq!(err.details[0].field, "pool_size");
        // A shared parameter file's sandbox is checked, not used.
        let sandbox = |name: &str| Params {
            env: EnvArgs {
                pr_number: Some("7".into()),
                ..EnvArgs::default()
            },
            database: DatabaseArgs {
                database_name: Some(name.into()),
                ..params().database
            },
            ..params()
        };
        assert!(validate(&sandbox("sbx_pr_7")).is_ok());
        let err = validate(&sandbox("sbx_pool_1")).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Refused);
    }

    #[test]
    fn the_pool_never_takes_a_protected_source_or_sandbox_name() {
        for (prefix, template, protected, rule, field) in [
            (
                "sbx_pr",
                "sbx_template",
                "",
                "sandbox-database",
                "pool_prefix",
            ),
            (
                "sbx_pool",
                "postgres",
                "",
                "protected-database",
                "template_name",
            ),
            (
                "sbx_pool",
                "integration",
                "",
                "restore-source",
                "template_name",
            ),
            (
                "shared",
                "sbx_template",
                "shared_1",
                "protected-database",
                "pool_prefix",
            ),
        ] {
            let p = Params {
                pool: PoolArgs {
                    pool_prefix: prefix.into(),
                    template_name: template.into(),
                    ..PoolArgs::default()
                },
                env: EnvArgs {
                    protected_databases: [protected]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect(),
                    ..EnvArgs::default()
                },
                ..params()
            };
            let err = validate(&p).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Refused, "{prefix} {template}");
            assert_eq!(
                err.details.len(),
                1,
                "{prefix} {template}: {:?}",
                err.details
            );
            assert_eq!(err.details[0].rule, rule, "{prefix} {template}");
            assert_eq!(err.details[0].field, field, "{prefix} {template}");
        }
    }
}
