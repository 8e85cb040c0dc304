//! `drop-db`: a step of the delete pipeline, for database servers shared
//! between sandboxes (where Terraform does not own the database). Ends the
//! sessions that hold the environment's databases — a restore of them
//! (restore-db, found by the lock it holds) and anything connected to them
//! — then drops `<database_name>` and the `<database_name>_stg_*` and
//! `<database_name>_old_*` copies a killed restore leaves, `WITH (FORCE)`.
//!
//! Only the environment's own database passes the guard rails (exit 5):
//! never `postgres`, a template, the restore source or another
//! environment's. Its copies are matched by their exact shape
//! (`sandbox_db::drop::is_work_name`), so PR 42's run never reaches PR
//! 420's databases. Idempotent: a second run finds nothing and succeeds.

use crate::args::database::resolve_server;
use crate::args::{
    self, DatabaseArgs, DatabasePlan, EnvArgs, PoolArgs, Refusals, VaultArgs, VaultPlan,
};
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::params::{DatabaseName, Problems};
use sandbox_core::{Outputs, Problem, TaskError};
use sandbox_db::DbError;
use sandbox_db::drop::{Dropper, OwnDatabase, Session};
use sandbox_db::server::ServerRef;

/// Drop the environment's database and what a killed restore left of it.
#[derive(Debug, Clone, Default, Args)]
#[command(
    about = "Drop the sandbox's database and the staging copies a killed restore left, ending their sessions"
)]
pub struct Params {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub env: EnvArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub database: DatabaseArgs,
    /// The warm pool's names: a pool or template database is never the
    /// sandbox's to drop (prepare-db removes those).
    #[command(flatten)]
    pub pool: PoolArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub vault: VaultArgs,
}

/// The task.
pub struct DropDb;

/// A validated run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The environment's database.
    pub database: DatabaseName,
    /// The database backups come from: never dropped.
    pub source_database: Option<DatabaseName>,
    /// The server.
    pub server: ServerRef,
    /// How the server's credentials are read.
    pub vault: VaultPlan,
}

impl Task for DropDb {
    const NAME: &'static str = "drop-db";
    const NEEDS: &'static [crate::Need] = crate::needs::VAULT;
    const OUTPUTS: &'static [OutputSpec] = &[
        OutputSpec {
            name: "databases",
            description: "JSON list of the environment's databases found (dropped, or to drop on a dry run).",
        },
        OutputSpec {
            name: "databases_dropped",
            description: "JSON list of the databases dropped (empty on a dry run).",
        },
        OutputSpec {
            name: "sessions_ended",
            description: "How many sessions on them were ended (0 on a dry run).",
        },
        OutputSpec {
            name: "database_name",
            description: "The sandbox database.",
        },
    ];
    type Params = Params;

    fn validate(params: &Params) -> Result<(), TaskError> {
        validate(params).map(drop)
    }

    #[tracing::instrument(name = "drop-db", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let plan = validate(&params)?;
        execute(plan, ctx).await
    }
}

/// Validate every parameter (exit 2), then the guard rails (exit 5):
/// the database must be the environment's own, not protected, not the
/// source.
pub fn validate(p: &Params) -> Result<Plan, TaskError> {
    let mut problems = Problems::new();
    let env = p.env.validate(None, &mut problems);
    let name = env.as_ref().map(|e| &e.environment);
    let scope = p.vault.scope(&mut problems);
    let database = p.database.validate(true, name, &scope, &mut problems);
    let pool = p.pool.validate(&mut problems);
    let vault = p.vault.plan(
        scope,
        name,
        database.iter().flat_map(DatabasePlan::references),
        &mut problems,
    );
    let (Some(env), Some(database), Some(pool), true) = (env, database, pool, problems.is_empty())
    else {
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
        database: database.database,
        source_database: database.source_database,
        server,
        vault,
    })
}

fn db_error(e: DbError) -> TaskError {
    e.into()
}

fn json_list(names: &[String]) -> Result<String, TaskError> {
    serde_json::to_string(names)
        .map_err(|e| TaskError::internal("cannot encode the database list").with_source(e))
}

/// What the server holds that must never go, though it has the shape of
/// the environment's: a template, or the restore source.
fn refuse_kept(plan: &Plan, found: &[OwnDatabase]) -> Result<(), TaskError> {
    let mut problems = Vec::new();
    for db in found {
        let rule = if db.is_template {
            "template-database"
        } else if plan
            .source_database
            .as_ref()
            .is_some_and(|s| s.as_str() == db.name)
        {
            "restore-source"
        } else {
            continue;
        };
        problems.push(Problem {
            field: "database_name".into(),
            rule: rule.into(),
            message: format!(
                "database {} is a {}; it is never dropped",
                db.name,
                rule.replace('-', " ")
            ),
            value: Some(db.name.clone()),
            fix: "drop it by hand if it really is the sandbox's".into(),
        });
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(TaskError::refused(problems))
    }
}

fn describe(sessions: &[Session]) -> String {
    sessions
        .iter()
        .map(|s| format!("{} ({} on {})", s.pid, s.application, s.database))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Run a validated plan.
pub async fn execute(plan: Plan, ctx: Context) -> Result<Outputs, TaskError> {
    let creds = plan.vault.credentials(&ctx);
    let server = resolve_server(&plan.server, &creds).await?;
    if let Some(password) = server.password() {
        ctx.redactor.add(&password);
    }
    let target = plan.database.as_str();
    let mut dropper = Dropper::connect(&server).await.map_err(db_error)?;
    let maintenance = server.maintenance_database();
    if maintenance == target || sandbox_db::drop::is_work_name(target, &maintenance) {
        return Err(TaskError::precondition(format!(
            "the database URL names {maintenance}, a database being dropped; \
             point it at a maintenance database such as postgres"
        )));
    }
    let found = dropper.databases_of(target).await.map_err(db_error)?;
    refuse_kept(&plan, &found)?;
    let names: Vec<String> = found.iter().map(|d| d.name.clone()).collect();
    let sessions = dropper.sessions(target, &names).await.map_err(db_error)?;
    let mut outputs = Outputs::new();
    outputs.set("database_name", target);
    if ctx.dry_run {
        for name in &names {
            tracing::info!(database = %name, "would drop");
        }
        if !sessions.is_empty() {
            tracing::info!(sessions = %describe(&sessions), "would end these sessions");
        }
        outputs
            .set("databases", json_list(&names)?)
            .set("databases_dropped", "[]")
            .set("sessions_ended", 0);
        return Ok(outputs);
    }

    // End what holds the databases (a restore inside CREATE DATABASE of a
    // staging copy included) and wait until it is gone, so nothing it was
    // creating appears after the drop; then hold the restore lock so no
    // restore of the target starts until the drop is done.
    let mut ended = 0;
    let mut locked = false;
    for _ in 0..5 {
        let sessions = dropper.sessions(target, &names).await.map_err(db_error)?;
        if !sessions.is_empty() {
            tracing::info!(sessions = %describe(&sessions), "ending sessions");
            let pids: Vec<i32> = sessions.iter().map(|s| s.pid).collect();
            ended += dropper.end_sessions(&pids).await.map_err(db_error)?;
            dropper.wait_gone(target, &pids).await.map_err(db_error)?;
        }
        if dropper.try_lock(target).await.map_err(db_error)? {
            locked = true;
            break;
        }
    }
    if !locked {
        return Err(db_error(DbError::Busy(target.to_string())));
    }
    // Listed again: an ended restore may have created or removed a copy.
    let found = dropper.databases_of(target).await.map_err(db_error)?;
    refuse_kept(&plan, &found)?;
    ctx.progress.set_total(found.len() as u64);
    let mut dropped = Vec::new();
    for db in &found {
        dropper.drop_database(&db.name).await.map_err(db_error)?;
        tracing::info!(database = %db.name, "dropped");
        dropped.push(db.name.clone());
        ctx.progress.advance(1);
    }
    dropper.close().await;
    if dropped.is_empty() {
        tracing::info!(database = target, "nothing to drop");
    }
    let mut all = names;
    for name in &dropped {
        if !all.contains(name) {
            all.push(name.clone());
        }
    }
    outputs
        .set("databases", json_list(&all)?)
        .set("databases_dropped", json_list(&dropped)?)
        .set("sessions_ended", ended);
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox_core::ErrorKind;

    fn params(env: &str, name: Option<&str>, source: Option<&str>) -> Params {
        Params {
            env: EnvArgs {
                environment: Some(env.into()),
                ..EnvArgs::default()
            },
            database: DatabaseArgs {
                database_name: name.map(str::to_string),
                source_database: source.map(str::to_string),
                database_url: Some("env:DATABASE_URL".into()),
            },
            pool: PoolArgs::default(),
            vault: VaultArgs::default(),
        }
    }

    /// A warm pool database is prepare-db's to drop, never a sandbox's,
    /// even for an environment whose derived name would be one.
    #[test]
    fn pool_and_template_databases_are_refused() {
        for env in ["sbx-pool-1", "sbx-template"] {
            let err = validate(&params(env, None, None)).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Refused, "{env}");
            assert!(
                err.details.iter().any(|d| d.rule == "pool-database"),
                "{env}: {err:?}"
            );
        }
    }

    #[test]
    fn the_environments_own_database_is_derived() {
        let plan = validate(&params("sbx-pr-42", None, None)).unwrap();
        assert_eq!(plan.database.as_str(), "sbx_pr_42");
    }

    #[test]
    fn what_is_not_the_environments_own_is_refused() {
        for (name, source, rule) in [
            ("postgres", None, "protected-database"),
            ("template1", None, "protected-database"),
            ("sbx_pr_420", None, "foreign-database"),
            ("sbx_pr_4", None, "foreign-database"),
            ("sbx_pr_42_stg_deadbeef", None, "foreign-database"),
            ("sbx_pr_42", Some("sbx_pr_42"), "restore-source"),
        ] {
            let err = validate(&params("sbx-pr-42", Some(name), source)).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Refused, "{name}");
            assert_eq!(err.details[0].rule, rule, "{name}");
        }
    }

    #[test]
    fn a_missing_server_is_invalid_and_named() {
        let mut p = params("sbx-pr-42", None, None);
        p.database.database_url = None;
        let err = validate(&p).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidParams);
        assert_eq!(err.details[0].field, "database_url");
        assert!(err.details[0].fix.contains("--database-url"));
    }

    #[test]
    fn templates_and_the_source_are_never_dropped() {
        let plan = validate(&params("sbx-pr-42", None, Some("integration"))).unwrap();
        let found = [OwnDatabase {
            name: "sbx_pr_42".into(),
            is_template: true,
        }];
        let err = refuse_kept(&plan, &found).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Refused);
        assert_eq!(err.details[0].rule, "template-database");
    }
}
