//! `restore-db`: restore the latest integration backup into the sandbox's
//! database, streaming. The backup is found in a bucket (or a directory),
//! its format told from its bytes, and it streams through a decompressor
//! into psql or pg_restore — into a staging database that takes the target's
//! name only when the restore, the post-restore SQL and the verification
//! have succeeded. A failed or killed run leaves the target as it was; the
//! next run removes what it left.

use crate::vault_args::VaultArgs;
use crate::{Context, OutputSpec, Task};
use clap::Args;
use sandbox_core::credential::VaultScope;
use sandbox_core::params::{
    BucketUrl, DatabaseName, EnvPrefix, EnvironmentName, Invalid, PrNumber, Problems,
    parse_duration,
};
use sandbox_core::policy::{Policy, Refusal};
use sandbox_core::{Outputs, TaskError};
use sandbox_db::DbError;
use sandbox_db::admin::{self, Admin};
use sandbox_db::discovery::{self, BackupQuery, NamePattern};
use sandbox_db::pipeline::{ByteCounter, RestoreOptions};
use sandbox_db::restore::{self, Restore, RestoreMarker, Restored, Target, backup_time};
use sandbox_db::server::{Server, ServerRef};
use sandbox_storage::{Storage, StorageConfig};
use sandbox_vault::{Credentials, VaultConfig};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Restore the newest backup into the sandbox's database.
#[derive(Debug, Clone, Default, Args)]
#[command(about = "Restore the newest database backup into the sandbox's database, streaming")]
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
    /// The sandbox database [default: <environment> with '-' → '_'].
    #[arg(long, env = "SANDBOX_DATABASE_NAME", value_name = "NAME")]
    pub database_name: Option<String>,
    /// The database the backups were taken from; never restored into.
    #[arg(long, env = "SANDBOX_SOURCE_DATABASE", value_name = "NAME")]
    pub source_database: Option<String>,
    /// More protected databases, repeatable.
    #[arg(
        long,
        env = "SANDBOX_PROTECTED_DATABASES",
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub protected_databases: Vec<String>,
    /// Server to restore into: file:, env: or vault:// reference, or a URL without a password.
    #[arg(long, env = "SANDBOX_DATABASE_URL", value_name = "REF")]
    pub database_url: Option<String>,
    /// Where nightly backups are (gs://bucket/prefix/ or file:///dir); the newest is restored.
    #[arg(long, env = "SANDBOX_BACKUP_URL", value_name = "URL")]
    pub backup_url: Option<String>,
    /// Restore this object (its name below --backup-url) instead of the newest.
    #[arg(long, env = "SANDBOX_BACKUP_OBJECT", value_name = "NAME")]
    pub backup_object: Option<String>,
    /// Where the timestamp is in backup names, e.g. nightly-%Y%m%d-%H%M%S.sql.gz; the
    /// newest by that time wins (default: the newest by update time).
    #[arg(long, env = "SANDBOX_NAME_PATTERN", value_name = "PATTERN")]
    pub name_pattern: Option<String>,
    /// Refuse a backup older than this (e.g. 36h, 2d).
    #[arg(long, env = "SANDBOX_MAX_AGE", value_name = "DURATION")]
    pub max_age: Option<String>,
    /// Role owning the database when it is created.
    #[arg(long, env = "SANDBOX_OWNER", value_name = "ROLE")]
    pub owner: Option<String>,
    /// Do not restore the dump's ownership: objects belong to the restoring role.
    #[arg(long, env = "SANDBOX_NO_OWNER")]
    pub no_owner: bool,
    /// Role to restore as (SET ROLE), so it owns what --no-owner leaves.
    #[arg(long, env = "SANDBOX_ROLE", value_name = "ROLE")]
    pub role: Option<String>,
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
    /// Parallel restore jobs; above 1 a custom-format backup is first
    /// downloaded to a temporary file with parallel ranged reads.
    #[arg(long, env = "SANDBOX_JOBS", value_name = "N", default_value = "1")]
    pub jobs: String,
    /// Directory for the temporary file of a parallel restore [default: the system's].
    #[arg(long, env = "SANDBOX_TEMP_DIR", value_name = "DIR")]
    pub temp_dir: Option<PathBuf>,
    /// GCS endpoint (anonymous), e.g. an emulator; STORAGE_EMULATOR_HOST also works.
    #[arg(long, env = "SANDBOX_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
    /// Print the plan (backup chosen, target state) and change nothing.
    #[arg(long, env = "SANDBOX_DRY_RUN")]
    pub dry_run: bool,
    /// How to reach Vault for a vault:// --database-url.
    #[command(flatten)]
    pub vault: VaultArgs,
}

/// The task.
pub struct RestoreDb;

impl Task for RestoreDb {
    const NAME: &'static str = "restore-db";
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
    ];
    type Params = Params;

    #[tracing::instrument(name = "restore-db", skip_all)]
    async fn run(params: Params, ctx: Context) -> Result<Outputs, TaskError> {
        let plan = validate(&params)?;
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
    /// How to reach Vault, when the server is a vault:// reference.
    pub vault: Option<VaultConfig>,
    /// The Vault flags, to log in at run time.
    pub vault_args: VaultArgs,
    /// The bases vault:// references are confined to.
    pub vault_scope: VaultScope,
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
    /// GCS endpoint override.
    pub endpoint: Option<String>,
    /// Change nothing.
    pub dry_run: bool,
}

/// A role name: what needs no more than plain quoting and reads the same
/// in every tool.
fn parse_role(s: &str) -> Result<String, Invalid> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !s.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(s.to_string())
    } else {
        Err(Invalid::one(
            "role-name",
            "role name must be 1 to 63 letters, digits, '_' or '-', not starting with a digit",
            "give the role's plain name",
        ))
    }
}

/// An object key below the backup location.
fn parse_object_key(s: &str) -> Result<String, Invalid> {
    let bad = s.is_empty()
        || s.starts_with('/')
        || s.split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..")
        || s.chars().any(char::is_control);
    if bad {
        return Err(Invalid::one(
            "object-name",
            "backup object must be a name below --backup-url, without '.' or '..' segments",
            "give e.g. nightly-20261127.sql.gz",
        ));
    }
    Ok(s.to_string())
}

fn parse_jobs(s: &str) -> Result<u32, Invalid> {
    s.parse::<u32>()
        .ok()
        .filter(|n| (1..=64).contains(n))
        .ok_or_else(|| {
            Invalid::one(
                "jobs",
                "jobs must be a whole number from 1 to 64",
                "pass e.g. 2",
            )
        })
}

/// Validate every field, then the guard rails (exit 2 with every problem,
/// then exit 5); nothing is touched before both pass. Post-restore SQL
/// files are read here, so a missing one stops the run before it starts.
pub fn validate(p: &Params) -> Result<Plan, TaskError> {
    let mut problems = Problems::new();
    let prefix = problems.parse("env_prefix", &p.env_prefix, EnvPrefix::parse);
    let policy = prefix
        .map(|prefix| Policy::new(prefix).protect_databases(p.protected_databases.iter().cloned()));
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
    let database = match (&p.database_name, &environment) {
        (Some(name), _) => problems.parse("database_name", name, DatabaseName::parse),
        (None, Some(env)) => problems.parse("environment", env.as_str(), |_| {
            DatabaseName::for_environment(env)
        }),
        (None, None) => None,
    };
    let source_database = problems.parse_opt(
        "source_database",
        p.source_database.as_deref(),
        DatabaseName::parse,
    );
    for name in &p.protected_databases {
        problems.parse("protected_databases", name, DatabaseName::parse);
    }
    let vault_scope = p.vault.scope(&mut problems);
    let server = match &p.database_url {
        Some(url) => problems.parse_secret("database_url", url, |s| match ServerRef::parse(s)? {
            ServerRef::Credential(r) => Ok(ServerRef::Credential(
                r.bind(environment.as_ref(), &vault_scope)?,
            )),
            other => Ok(other),
        }),
        None => {
            problems.missing(
                "database_url",
                "pass --database-url file:<path>, env:<VARIABLE> or vault://<mount>/<path>#<key>",
            );
            None
        }
    };
    let uses_vault = matches!(&server, Some(ServerRef::Credential(r)) if r.is_vault());
    let vault = p.vault.config(uses_vault, &mut problems);
    let location = match &p.backup_url {
        Some(url) => problems.parse("backup_url", url, BucketUrl::parse),
        None => {
            problems.missing("backup_url", "pass --backup-url gs://<bucket>/<prefix>/");
            None
        }
    };
    let object = problems.parse_opt(
        "backup_object",
        p.backup_object.as_deref(),
        parse_object_key,
    );
    let name_pattern = problems.parse_opt(
        "name_pattern",
        p.name_pattern.as_deref(),
        NamePattern::parse,
    );
    let max_age = problems.parse_opt("max_age", p.max_age.as_deref(), parse_duration);
    let owner = problems.parse_opt("owner", p.owner.as_deref(), parse_role);
    let role = problems.parse_opt("role", p.role.as_deref(), parse_role);
    let jobs = problems.parse("jobs", &p.jobs, parse_jobs);
    if let Some(e) = &p.endpoint {
        problems.parse("endpoint", e, |e| {
            url::Url::parse(&sandbox_storage::normalize_endpoint(e))
                .map(drop)
                .map_err(|_| {
                    Invalid::one(
                        "endpoint",
                        "endpoint is not a URL",
                        "give e.g. http://127.0.0.1:4443",
                    )
                })
        });
    }
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

    let (Some(policy), Some(environment), Some(database), Some(server), Some(location), Some(jobs)) =
        (policy, environment, database, server, location, jobs)
    else {
        return Err(TaskError::invalid(problems.into_vec()));
    };
    if !problems.is_empty() {
        return Err(TaskError::invalid(problems.into_vec()));
    }

    let mut refusals = Vec::new();
    let mut refuse = |field: &str, value: &str, r: Result<(), Refusal>| {
        if let Err(r) = r {
            refusals.push(r.into_problem(field, value));
        }
    };
    refuse(
        "environment",
        environment.as_str(),
        policy.check_environment(&environment),
    );
    refuse(
        "database_name",
        database.as_str(),
        policy.check_database(&database, &environment, source_database.as_ref()),
    );
    if !refusals.is_empty() {
        return Err(TaskError::refused(refusals));
    }
    Ok(Plan {
        environment,
        database,
        server,
        vault,
        vault_args: p.vault.clone(),
        vault_scope,
        backup: BackupQuery {
            location,
            object,
            name_pattern,
        },
        max_age,
        owner,
        restore: RestoreOptions {
            no_owner: p.no_owner,
            role,
        },
        clean: p.clean,
        post_sql,
        jobs,
        temp_dir: p.temp_dir.clone().unwrap_or_else(std::env::temp_dir),
        endpoint: p.endpoint.clone(),
        dry_run: p.dry_run,
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

/// The database server: a `vault://` reference through the run's Vault
/// credentials, anything else as sandbox-db resolves it.
pub async fn resolve_server(
    reference: &ServerRef,
    creds: Option<&Credentials>,
) -> Result<Server, TaskError> {
    match (reference, creds) {
        (ServerRef::Credential(r), Some(creds)) if r.is_vault() => {
            let url = creds.resolve(r).await?;
            Server::from_url(url.expose().trim_end()).map_err(db_error)
        }
        _ => Server::resolve(reference).await.map_err(db_error),
    }
}

/// Run a validated plan.
pub async fn execute(plan: Plan, ctx: Context) -> Result<Outputs, TaskError> {
    let creds = plan.vault_args.credentials(
        &ctx,
        plan.vault_scope.clone(),
        Some(plan.environment.clone()),
        plan.vault.clone(),
    );
    let server = resolve_server(&plan.server, Some(&creds)).await?;
    if let Some(password) = server.password() {
        ctx.redactor.add(&password);
    }
    let storage =
        Storage::new(StorageConfig::from_env(plan.endpoint.as_deref())).map_err(TaskError::from)?;
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
            .set(
                "plan",
                serde_json::json!({
                    "dry_run": true,
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

    let counter = ByteCounter::default();
    let ticker = progress_ticker(counter.clone(), backup.object.size, ctx.clone());
    let started = Instant::now();
    let restore = Restore {
        server: &server,
        target,
        owner: owner.as_deref(),
        options: &plan.restore,
        jobs: plan.jobs,
        temp_dir: &plan.temp_dir,
        post_sql: &plan.post_sql,
    };
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
    Ok(marker_outputs(&marker, &plan.database))
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

fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s >= 86_400 => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m{}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// Checks for `check-params --check-remote`: the backup is there and fresh
/// enough, and the server takes the credentials.
pub async fn remote_checks(
    backup: Option<&BackupQuery>,
    max_age: Option<Duration>,
    endpoint: Option<&str>,
    server: Option<&ServerRef>,
    creds: Option<&Credentials>,
) -> Vec<crate::check_params::RemoteCheck> {
    use crate::check_params::{CheckStatus, RemoteCheck};
    let mut checks = Vec::new();
    let mut push =
        |check: &'static str, field: &'static str, fix: &str, result: Result<String, String>| {
            let (status, detail, fix) = match result {
                Ok(d) => (CheckStatus::Passed, d, String::new()),
                Err(d) => (CheckStatus::Failed, d, fix.to_string()),
            };
            checks.push(RemoteCheck {
                check,
                field,
                status,
                detail,
                fix,
                kind: None,
            });
        };
    if let Some(query) = backup {
        let result = async {
            let storage =
                Storage::new(StorageConfig::from_env(endpoint)).map_err(|e| e.to_string())?;
            let found = discovery::find(&storage, query)
                .await
                .map_err(|e| TaskError::from(e).full_message())?;
            match (max_age, found.age()) {
                (Some(max), Some(age)) if age > max => Err(format!(
                    "newest backup {} is {} old, more than {}",
                    found.url(),
                    human_duration(age),
                    human_duration(max)
                )),
                (Some(_), None) => Err(format!("the age of {} is unknown", found.url())),
                (_, age) => Ok(format!(
                    "{} ({} bytes{})",
                    found.url(),
                    found.object.size,
                    age.map(|a| format!(", {} old", human_duration(a)))
                        .unwrap_or_default()
                )),
            }
        }
        .await;
        push(
            "backup-present-and-fresh",
            "backup_url",
            "check --backup-url and --name-pattern, and that the nightly backup ran",
            result,
        );
    }
    if let Some(reference) = server {
        let result: Result<String, TaskError> = async {
            let server = resolve_server(reference, creds).await?;
            let mut admin = Admin::connect(&server).await.map_err(TaskError::from)?;
            let version = admin.version().await.map_err(TaskError::from)?;
            Ok(format!("{} (PostgreSQL {version})", server.redacted()))
        }
        .await;
        // Retrying helps only a transient failure (Vault or the server down).
        let kind = result.as_ref().err().map(|e| e.kind);
        push(
            "database-reachable",
            "database_url",
            "check the server address and the credentials --database-url points to",
            result.map_err(|e| e.full_message()),
        );
        if let Some(last) = checks.last_mut() {
            last.kind = kind;
        }
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbox_core::ErrorKind;

    fn params() -> Params {
        Params {
            pr_number: Some("7".into()),
            env_prefix: EnvPrefix::DEFAULT.into(),
            database_url: Some("env:DB_URL".into()),
            backup_url: Some("gs://backups/nightly/".into()),
            jobs: "1".into(),
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
            database_url: Some("postgres://u:hunter2@db/x".into()),
            backup_url: Some("gs://UP".into()),
            name_pattern: Some("db-%Q".into()),
            max_age: Some("soon".into()),
            jobs: "0".into(),
            role: Some("r;drop".into()),
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
                database_name: Some(name.into()),
                source_database: source.map(str::to_string),
                ..params()
            };
            assert_eq!(validate(&p).unwrap_err().kind, ErrorKind::Refused, "{name}");
        }
    }
}
