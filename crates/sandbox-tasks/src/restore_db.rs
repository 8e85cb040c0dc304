//! `restore-db`: restore the latest integration backup into the sandbox's
//! database, streaming. The backup is found in a bucket (or a directory),
//! its format told from its bytes, and it streams through a decompressor
//! into psql or pg_restore — into a staging database that takes the target's
//! name only when the restore, the post-restore SQL and the verification
//! have succeeded. A failed or killed run leaves the target as it was; the
//! next run removes what it left.
//!
//! With `--strategy pool`, a database `prepare-db` restored from the same
//! (newest) backup is claimed instead: renamed to the staging name, given
//! the post-restore SQL there, and swapped in like a restore — a rename,
//! not a copy. With `--strategy template`, the template database
//! `prepare-db --prepare template` made is copied (`CREATE DATABASE …
//! TEMPLATE … STRATEGY FILE_COPY`) into the staging name instead; a missing
//! template is refused (exit 3), a stale or busy one falls back. `--strategy
//! auto` tries the pool, then the template, then restores. An empty or
//! stale pool or template falls back to the restore, and the `strategy`
//! and `fallback_reason` outputs say which happened and why.

use crate::args::backup::human_duration;
use crate::args::database::resolve_server;
use crate::args::{
    self, BackupArgs, DatabaseArgs, DatabasePlan, EnvArgs, PoolArgs, Refusals, RestoreArgs,
    StorageArgs, VaultArgs, VaultPlan,
};
use crate::{Context, OutputSpec, Task};
use clap::{Args, ValueEnum};
use sandbox_core::params::{DatabaseName, EnvironmentName, Invalid, Problems};
use sandbox_core::{Outputs, TaskError};
use sandbox_db::DbError;
use sandbox_db::admin::{self, Admin};
use sandbox_db::discovery::{self, BackupQuery};
use sandbox_db::pipeline::{ByteCounter, RestoreOptions};
use sandbox_db::pool;
use sandbox_db::restore::{self, Restore, RestoreMarker, Restored, Target, backup_time};
use sandbox_db::server::ServerRef;
use sandbox_db::template::{self, Skip};
use sandbox_storage::{Storage, StorageConfig};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Where the sandbox's database comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum StrategyArg {
    /// Restore the backup (streaming).
    #[default]
    Restore,
    /// Claim a warm pool database holding the newest backup (prepare-db);
    /// restore when the pool is empty or stale.
    Pool,
    /// Copy the template database holding the newest backup (prepare-db
    /// --prepare template); refuse when there is none, restore when it is
    /// stale or stays in use.
    Template,
    /// The pool, then the template, then a restore.
    Auto,
}

impl StrategyArg {
    fn as_str(self) -> &'static str {
        match self {
            StrategyArg::Restore => "restore",
            StrategyArg::Pool => "pool",
            StrategyArg::Template => "template",
            StrategyArg::Auto => "auto",
        }
    }

    fn tries_pool(self) -> bool {
        matches!(self, StrategyArg::Pool | StrategyArg::Auto)
    }

    fn tries_template(self) -> bool {
        matches!(self, StrategyArg::Template | StrategyArg::Auto)
    }
}

/// Restore the newest backup into the sandbox's database.
#[derive(Debug, Clone, Default, Args)]
#[command(about = "Restore the newest database backup into the sandbox's database, streaming")]
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
    /// Where the database comes from: a restore, a claim from the warm pool, a copy of the
    /// template, or auto (pool, then template, then restore).
    #[arg(long, env = "SANDBOX_STRATEGY", value_enum, default_value_t = StrategyArg::Restore)]
    pub strategy: StrategyArg,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub restore: RestoreArgs,
    /// Replace a database that already holds data.
    #[arg(long, env = "SANDBOX_CLEAN")]
    pub clean: bool,
    /// SQL files run after the restore, all in one transaction (anonymisation, grants).
    #[arg(
        long,
        env = "SANDBOX_POST_SQL",
        value_name = "FILE",
        num_args = 1..,
        value_delimiter = ','
    )]
    pub post_sql: Vec<PathBuf>,
}

/// The task.
pub struct RestoreDb;

impl Task for RestoreDb {
    const NAME: &'static str = "restore-db";
    const NEEDS: &'static [crate::Need] = crate::needs::RESTORE_DB;
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "backup_object",
            description: "The backup restored (or that would be, on a dry run).",
        },
        OutputSpec {
            name: "backup_time",
            description: "When the backup was taken (RFC 3339).",
        },
        OutputSpec {
            name: "bytes_read",
            description: "Bytes of the backup read.",
        },
        OutputSpec {
            name: "tables_restored",
            description: "Tables in the restored database.",
        },
        OutputSpec {
            name: "database_name",
            description: "The sandbox database.",
        },
        OutputSpec {
            name: "backup_size",
            description: "Size of the backup in bytes (dry run).",
        },
        OutputSpec {
            name: "plan",
            description: "JSON plan of a dry run: target, staging database, owner, options.",
        },
        OutputSpec {
            name: "strategy",
            description: "How the database was made: pool (claimed), template (copied) or restore (also the fallback).",
        },
        OutputSpec {
            name: "pool_database",
            description: "The pool database claimed (empty otherwise).",
        },
        OutputSpec {
            name: "template_database",
            description: "The template database copied (empty otherwise).",
        },
        OutputSpec {
            name: "fallback_reason",
            description: "Why each strategy tried before the one used was skipped, e.g. `pool: …; template: …` (empty otherwise).",
        },
    ];
    type Params = Params;

    fn validate(params: &Params) -> Result<(), TaskError> {
        validate(params).map(drop)
    }

    #[tracing::instrument(name = "restore-db", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let mut plan = validate(&params)?;
        plan.dry_run = ctx.dry_run;
        execute(plan, ctx).await
    }
}

/// A validated parameter set.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The environment.
    pub environment: EnvironmentName,
    /// The database restored into.
    pub database: DatabaseName,
    /// The server.
    pub server: ServerRef,
    /// How the server's credentials are read.
    pub vault: VaultPlan,
    /// What backup to restore.
    pub backup: BackupQuery,
    /// Oldest acceptable backup.
    pub max_age: Option<Duration>,
    /// Owner of a created database.
    pub owner: Option<String>,
    /// How the tool restores.
    pub restore: RestoreOptions,
    /// Replace a non-empty target.
    pub clean: bool,
    /// Post-restore SQL: (file name, contents).
    pub post_sql: Vec<(String, String)>,
    /// Parallel jobs.
    pub jobs: u32,
    /// Where a parallel restore's file goes.
    pub temp_dir: PathBuf,
    /// How the backup bucket is reached.
    pub storage: StorageConfig,
    /// Change nothing.
    pub dry_run: bool,
    /// Restore, or claim from the pool first.
    pub strategy: StrategyArg,
    /// The pool claimed from.
    pub pool_prefix: DatabaseName,
    /// The template copied.
    pub template: DatabaseName,
    /// How long a copy waits for the template to be free.
    pub template_wait: Duration,
}

/// Validate every field, then the guard rails (exit 2 with every problem,
/// then exit 5); nothing is touched before both pass. Post-restore SQL
/// files are read here, so a missing one stops the run before it starts.
pub fn validate(p: &Params) -> Result<Plan, TaskError> {
    let mut problems = Problems::new();
    let env = p.env.validate(None, &mut problems);
    let name = env.as_ref().map(|e| &e.environment);
    let scope = p.vault.scope(&mut problems);
    let database = p.database.validate(true, name, &scope, &mut problems);
    let backup = p.backup.validate(true, &mut problems);
    let storage = p.storage.validate(&mut problems);
    let pool = p.pool.validate(&mut problems);
    let vault = p.vault.plan(
        scope,
        name,
        database.iter().flat_map(DatabasePlan::references),
        &mut problems,
    );
    let restore = p.restore.validate(&mut problems);
    let mut post_sql = Vec::new();
    for file in &p.post_sql {
        let shown = file.display().to_string();
        if let Some(text) = problems.parse("post_sql", &shown, |_| {
            std::fs::read_to_string(file).map_err(|e| {
                Invalid::one(
                    "post-sql-file",
                    format!("cannot read {shown}: {e}"),
                    "give readable UTF-8 SQL files",
                )
            })
        }) {
            post_sql.push((shown, text));
        }
    }
    let (Some(env), Some(database), Some(query), Some(storage), Some(pool), Some(restore), true) = (
        env,
        database,
        backup.query,
        storage,
        pool,
        restore,
        problems.is_empty(),
    ) else {
        return Err(args::invalid(problems));
    };
    let Some(server) = database.server.clone() else {
        return Err(TaskError::internal("database_url validated but absent"));
    };
    let mut refusals = Refusals::new();
    env.refusals(&mut refusals);
    database.refusals(&env, &mut refusals);
    pool.target_refusal(&database.database, &mut refusals);
    refusals.finish()?;
    Ok(Plan {
        environment: env.environment,
        database: database.database,
        server,
        vault,
        backup: query,
        max_age: backup.max_age,
        owner: restore.owner,
        restore: restore.options,
        clean: p.clean,
        post_sql,
        jobs: restore.jobs,
        temp_dir: restore.temp_dir,
        storage,
        dry_run: false,
        strategy: p.strategy,
        pool_prefix: pool.prefix,
        template: pool.template,
        template_wait: pool.template_wait,
    })
}

/// The outputs of a finished restore, from its marker.
fn marker_outputs(marker: &RestoreMarker, database: &DatabaseName) -> Outputs {
    let mut out = Outputs::new();
    out.set("backup_object", &marker.backup_object)
        .set("backup_time", &marker.backup_time)
        .set("bytes_read", marker.bytes_read)
        .set("tables_restored", marker.tables_restored)
        .set("database_name", database);
    out
}

fn db_error(e: DbError) -> TaskError {
    e.into()
}

/// Run a validated plan.
pub async fn execute(plan: Plan, ctx: Context) -> Result<Outputs, TaskError> {
    let creds = plan.vault.credentials(&ctx);
    let server = resolve_server(&plan.server, &creds).await?;
    if let Some(password) = server.password() {
        ctx.redactor.add(&password);
    }
    let storage = Storage::new(plan.storage.clone()).map_err(TaskError::from)?;
    let backup = discovery::find(&storage, &plan.backup)
        .await
        .map_err(db_error)?;
    let age = backup.age();
    tracing::info!(
        backup = %backup.url(),
        size = backup.object.size,
        time = %backup_time(&backup),
        "backup chosen"
    );
    if let (Some(max), Some(age)) = (plan.max_age, age)
        && age > max
    {
        return Err(TaskError::precondition(format!(
            "the newest backup {} is {} old, more than the {} allowed (--max-age)",
            backup.url(),
            human_duration(age),
            human_duration(max)
        )));
    }
    if plan.max_age.is_some() && age.is_none() {
        return Err(TaskError::precondition(format!(
            "the age of {} is unknown (no update time, no --name-pattern), so --max-age cannot be checked",
            backup.url()
        )));
    }

    let target = plan.database.as_str();
    let (staging, old) = admin::work_names(target);
    let maintenance = server.maintenance_database();
    if [target, staging.as_str(), old.as_str()].contains(&maintenance.as_str()) {
        return Err(TaskError::precondition(format!(
            "the database URL names {maintenance}, the database being restored; \
             point it at a maintenance database such as postgres"
        )));
    }
    let mut admin = Admin::connect(&server).await.map_err(db_error)?;
    admin.lock(target).await.map_err(db_error)?;
    for role in plan.owner.iter().chain(plan.restore.role.iter()) {
        if !admin.role_exists(role).await.map_err(db_error)? {
            return Err(TaskError::precondition(format!(
                "role {role} does not exist on {}",
                server.redacted()
            )));
        }
    }
    let existing = restore::inspect_target(&mut admin, &server, target, &backup, plan.clean)
        .await
        .map_err(db_error)?;
    let existing_owner = match &existing {
        Target::Restored(done) => {
            tracing::info!(
                database = target,
                "already holds this backup; nothing to do"
            );
            if !plan.dry_run {
                // A run killed after its swap left the replaced database.
                pool::drop_leftovers(&mut admin, &staging, &old)
                    .await
                    .map_err(db_error)?;
            }
            return Ok(marker_outputs(done, &plan.database));
        }
        Target::HoldsData => {
            return Err(TaskError::precondition(format!(
                "database {target} already holds data; pass --clean to replace it"
            )));
        }
        Target::Replace { owner } => Some(owner.clone()),
        Target::Absent => None,
    };
    let owner = plan.owner.clone().or(existing_owner);
    if plan.dry_run {
        let mut out = Outputs::new();
        out.set("backup_object", backup.url())
            .set("backup_time", backup_time(&backup))
            .set("backup_size", backup.object.size)
            .set("database_name", target)
            .set("strategy", plan.strategy.as_str())
            .set(
                "plan",
                serde_json::json!({
                    "dry_run": true,
                    "strategy": plan.strategy.as_str(),
                    "target": target,
                    "target_exists": existing.exists(),
                    "replace": existing.exists(),
                    "staging": staging,
                    "owner": owner,
                    "no_owner": plan.restore.no_owner,
                    "role": plan.restore.role,
                    "jobs": plan.jobs,
                    "post_sql": plan.post_sql.iter().map(|(n, _)| n).collect::<Vec<_>>(),
                    "server": server.redacted(),
                })
                .to_string(),
            );
        tracing::info!("dry run: nothing changed");
        return Ok(out);
    }

    let restore = Restore {
        server: &server,
        target,
        owner: owner.as_deref(),
        options: &plan.restore,
        jobs: plan.jobs,
        temp_dir: &plan.temp_dir,
        post_sql: &plan.post_sql,
    };
    let mut skipped: Vec<String> = Vec::new();
    if plan.strategy.tries_pool() {
        let started = Instant::now();
        let taken = pool::take(
            &mut admin,
            plan.pool_prefix.as_str(),
            &backup,
            plan.max_age,
            &restore,
            &existing,
        )
        .await
        .map_err(|e| {
            let mut error = TaskError::from(e);
            error.message = format!("claiming from the pool: {}", error.message);
            error
        })?;
        match taken {
            Ok(taken) => {
                tracing::info!(
                    database = target,
                    member = %taken.member,
                    elapsed_s = started.elapsed().as_secs_f64(),
                    "claimed from the pool"
                );
                let mut out = marker_outputs(&taken.marker, &plan.database);
                out.set("strategy", "pool")
                    .set("pool_database", &taken.member);
                return Ok(out);
            }
            Err(why) => {
                tracing::warn!("pool: {why}; trying the next strategy");
                skipped.push(format!("pool: {why}"));
            }
        }
    }
    if plan.strategy.tries_template() {
        let started = Instant::now();
        let cloned = template::clone(
            &mut admin,
            plan.template.as_str(),
            &backup,
            plan.max_age,
            plan.template_wait,
            &restore,
            &existing,
        )
        .await
        .map_err(|e| {
            let mut error = TaskError::from(e);
            error.message = format!("copying the template: {}", error.message);
            error
        })?;
        match cloned {
            Ok(cloned) => {
                tracing::info!(
                    database = target,
                    template = %cloned.template,
                    file_copy = cloned.file_copy,
                    waited_s = cloned.waited.as_secs_f64(),
                    elapsed_s = started.elapsed().as_secs_f64(),
                    "copied from the template"
                );
                let mut out = marker_outputs(&cloned.marker, &plan.database);
                out.set("strategy", "template")
                    .set("template_database", &cloned.template)
                    .set("fallback_reason", skipped.join("; "));
                return Ok(out);
            }
            Err(Skip::Missing(why)) if plan.strategy == StrategyArg::Template => {
                return Err(TaskError::precondition(format!(
                    "--strategy template: {why}; or pass --strategy auto to restore without it"
                )));
            }
            Err(skip) => {
                tracing::warn!("template: {}; trying the next strategy", skip.reason());
                skipped.push(format!("template: {}", skip.reason()));
            }
        }
    }
    if !skipped.is_empty() {
        tracing::warn!("restoring instead");
    }
    let fallback_reason = skipped.join("; ");

    let counter = ByteCounter::default();
    let ticker = progress_ticker(counter.clone(), backup.object.size, ctx.clone());
    let started = Instant::now();
    let result =
        restore::restore_and_swap(&mut admin, &storage, &backup, &restore, &existing, &counter)
            .await;
    ticker.abort();
    let Restored { marker, tables } = result.map_err(|e| {
        let mut error = TaskError::from(e);
        error.message = format!("restoring {}: {}", backup.url(), error.message);
        error
    })?;
    let elapsed = started.elapsed();
    tracing::info!(
        database = target,
        tables = tables.len(),
        rows = tables.iter().map(|t| t.estimated_rows).sum::<u64>(),
        bytes_read = marker.bytes_read,
        elapsed_s = elapsed.as_secs_f64(),
        "restored"
    );
    let mut out = marker_outputs(&marker, &plan.database);
    out.set("strategy", "restore")
        .set("fallback_reason", fallback_reason);
    Ok(out)
}

/// Log bytes, rate and elapsed time every few seconds, and keep the
/// plugin's progress current.
fn progress_ticker(counter: ByteCounter, total: u64, ctx: Context) -> tokio::task::JoinHandle<()> {
    ctx.progress.set_total(total);
    tokio::spawn(async move {
        let started = Instant::now();
        let mut reported = 0u64;
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let done = counter.get();
            ctx.progress.advance(done.saturating_sub(reported));
            reported = done;
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(
                bytes_read = done,
                total,
                "restore: {:.1} of {:.1} MiB read, {:.1} MiB/s, {:.0} s elapsed",
                mib(done),
                mib(total),
                mib(done) / secs.max(0.001),
                secs
            );
        }
    })
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1_048_576.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox_core::ErrorKind;

    fn params() -> Params {
        Params {
            env: EnvArgs {
                pr_number: Some("7".into()),
                ..EnvArgs::default()
            },
            database: DatabaseArgs {
                database_url: Some("env:DB_URL".into()),
                ..DatabaseArgs::default()
            },
            backup: args::BackupArgs {
                backup_url: Some("gs://backups/nightly/".into()),
                ..args::BackupArgs::default()
            },
            ..Params::default()
        }
    }

    #[test]
    fn the_database_is_derived_from_the_environment() {
        let plan = validate(&params()).unwrap();
        assert_eq!(plan.database.as_str(), "sbx_pr_7");
        assert_eq!(plan.environment.as_str(), "sbx-pr-7");
    }

    #[test]
    fn every_invalid_field_is_reported_at_once() {
        let p = Params {
            database: DatabaseArgs {
                database_url: Some("postgres://u:hunter2@db/x".into()),
                ..DatabaseArgs::default()
            },
            backup: args::BackupArgs {
                backup_url: Some("gs://UP".into()),
                name_pattern: Some("db-%Q".into()),
                max_age: Some("soon".into()),
                ..args::BackupArgs::default()
            },
            restore: RestoreArgs {
                jobs: "0".into(),
                role: Some("r;drop".into()),
                ..RestoreArgs::default()
            },
            ..params()
        };
        let err = validate(&p).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidParams);
        let fields: Vec<&str> = err.details.iter().map(|d| d.field.as_str()).collect();
        for field in [
            "database_url",
            "backup_url",
            "name_pattern",
            "max_age",
            "jobs",
            "role",
        ] {
            assert!(fields.contains(&field), "{field} missing from {fields:?}");
        }
        assert!(!format!("{err:?}").contains("hunter2"));
    }

    #[test]
    fn guard_rails_refuse_protected_and_foreign_databases() {
        for (name, source) in [
            ("postgres", None),
            ("template0", None),
            ("sbx_pr_8", None),
            ("sbx_pr_7", Some("sbx_pr_7")),
        ] {
            let p = Params {
                database: DatabaseArgs {
                    database_name: Some(name.into()),
                    source_database: source.map(str::to_string),
                    database_url: Some("env:DB_URL".into()),
                },
                ..params()
            };
            assert_eq!(validate(&p).unwrap_err().kind, ErrorKind::Refused, "{name}");
        }
    }

    #[test]
    fn a_sandbox_never_restores_into_a_pool_database() {
        for (environment, prefix) in [("sbx-pool-1", "sbx_pool"), ("sbx-warm-3", "sbx_warm")] {
            let p = Params {
                env: EnvArgs {
                    environment: Some(environment.into()),
                    ..EnvArgs::default()
                },
                pool: PoolArgs {
                    pool_prefix: prefix.into(),
                    ..PoolArgs::default()
                },
                ..params()
            };
            let err = validate(&p).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Refused, "{environment}");
            assert_eq!(err.details[0].rule, "pool-database", "{environment}");
        }
    }
}
