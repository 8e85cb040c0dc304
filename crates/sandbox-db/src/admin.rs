//! Administration through sqlx: the staging database, its swap into the
//! target's name, the post-restore SQL and the verification queries.
//!
//! Database and role names are always double-quoted identifiers; the task
//! has validated the database names against the guard rails before any of
//! this runs.

use crate::DbError;
use crate::server::Server;
use crate::toc::TableEntry;
use sandbox_core::retry::Backoff;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};

/// `name` as a quoted SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as a quoted SQL string literal.
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn query_error(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> DbError {
    let what = what.into();
    move |source| DbError::Query { what, source }
}

/// Connect to `database` (the maintenance database when `None`), retrying
/// while the server is unreachable.
pub async fn connect(server: &Server, database: Option<&str>) -> Result<PgConnection, DbError> {
    let options = server.options(database)?;
    Backoff::default()
        .retry(|_| async {
            PgConnection::connect_with(&options)
                .await
                .map_err(|source| DbError::Connect {
                    server: server.redacted(),
                    source,
                })
        })
        .await
}

/// A database as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseInfo {
    /// Its owner.
    pub owner: String,
    /// `COMMENT ON DATABASE`, where a finished restore records its backup.
    pub comment: Option<String>,
}

/// A connection to the maintenance database that administers one target.
pub struct Admin {
    /// Crate-visible so the pool's queries share the session (and its
    /// advisory locks).
    pub(crate) conn: PgConnection,
}

impl Admin {
    /// Connect for administration.
    pub async fn connect(server: &Server) -> Result<Self, DbError> {
        Ok(Admin {
            conn: connect(server, None).await?,
        })
    }

    /// Hold the session lock of `target` so two restores of it never run
    /// at once; `Busy` when another holds it.
    pub async fn lock(&mut self, target: &str) -> Result<(), DbError> {
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(lock_key(target))
            .fetch_one(&mut self.conn)
            .await
            .map_err(query_error("take the restore lock"))?;
        if locked {
            Ok(())
        } else {
            Err(DbError::Busy(target.to_string()))
        }
    }

    /// The server's version, e.g. `15.18`.
    pub async fn version(&mut self) -> Result<String, DbError> {
        sqlx::query_scalar("SHOW server_version")
            .fetch_one(&mut self.conn)
            .await
            .map_err(query_error("read the server version"))
    }

    /// The database `name`, if it exists.
    pub async fn database(&mut self, name: &str) -> Result<Option<DatabaseInfo>, DbError> {
        let row = sqlx::query(
            "SELECT pg_get_userbyid(d.datdba)::text, shobj_description(d.oid, 'pg_database') \
             FROM pg_database d WHERE d.datname = $1",
        )
        .bind(name)
        .fetch_optional(&mut self.conn)
        .await
        .map_err(query_error(format!("look up database {name}")))?;
        Ok(row.map(|r| DatabaseInfo {
            owner: r.get(0),
            comment: r.get(1),
        }))
    }

    /// Does role `name` exist?
    pub async fn role_exists(&mut self, name: &str) -> Result<bool, DbError> {
        sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)")
            .bind(name)
            .fetch_one(&mut self.conn)
            .await
            .map_err(query_error(format!("look up role {name}")))
    }

    /// Drop `name` if it exists, ending its sessions.
    pub async fn drop_database(&mut self, name: &str) -> Result<(), DbError> {
        // Identifiers are quoted by ident(); nothing else is interpolated.
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            ident(name)
        )))
        .execute(&mut self.conn)
        .await
        .map_err(query_error(format!("drop database {name}")))?;
        Ok(())
    }

    /// Create `name` from template0, owned by `owner` when given.
    pub async fn create_database(
        &mut self,
        name: &str,
        owner: Option<&str>,
    ) -> Result<(), DbError> {
        let mut sql = format!("CREATE DATABASE {} TEMPLATE template0", ident(name));
        if let Some(owner) = owner {
            sql.push_str(&format!(" OWNER {}", ident(owner)));
        }
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut self.conn)
            .await
            .map_err(query_error(format!("create database {name}")))?;
        Ok(())
    }

    /// Record what `name` holds; the comment travels with the rename.
    pub async fn set_comment(&mut self, name: &str, comment: &str) -> Result<(), DbError> {
        sqlx::raw_sql(AssertSqlSafe(format!(
            "COMMENT ON DATABASE {} IS {}",
            ident(name),
            literal(comment)
        )))
        .execute(&mut self.conn)
        .await
        .map_err(query_error(format!("comment on database {name}")))?;
        Ok(())
    }

    /// Give `staging` the name `target` in one transaction: an existing
    /// target is renamed to `old` first (and dropped by the caller after).
    /// Sessions on the target are ended; a login racing the rename is
    /// retried.
    pub async fn swap(&mut self, staging: &str, target: &str, old: &str) -> Result<(), DbError> {
        let sql = format!(
            "BEGIN; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
               WHERE datname = {t} AND pid <> pg_backend_pid(); \
             DO $$ BEGIN \
               IF EXISTS (SELECT FROM pg_database WHERE datname = {t}) THEN \
                 EXECUTE 'ALTER DATABASE {ti} RENAME TO {oi}'; \
               END IF; \
             END $$; \
             ALTER DATABASE {si} RENAME TO {ti}; \
             COMMIT;",
            t = literal(target),
            ti = ident(target).replace('\'', "''"),
            oi = ident(old).replace('\'', "''"),
            si = ident(staging),
        );
        let backoff = Backoff {
            attempts: 8,
            ..Backoff::default()
        };
        let mut attempt = 0;
        loop {
            let result = sqlx::raw_sql(AssertSqlSafe(sql.clone()))
                .execute(&mut self.conn)
                .await;
            let Err(source) = result else {
                return Ok(());
            };
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut self.conn).await;
            let error = DbError::Query {
                what: format!("rename {staging} to {target}"),
                source,
            };
            attempt += 1;
            if !sandbox_core::retry::Retryable::is_transient(&error) || attempt >= backoff.attempts
            {
                return Err(error);
            }
            tracing::warn!(attempt, "{error}; retrying");
            tokio::time::sleep(backoff.delay(attempt)).await;
        }
    }
}

/// The advisory-lock key of a target database (FNV-1a of its name).
pub(crate) fn lock_key(target: &str) -> i64 {
    i64::from_ne_bytes(fnv1a(format!("restore-db:{target}").as_bytes()).to_ne_bytes())
}

/// FNV-1a, 64 bits: stable names and lock keys without a hashing crate.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The staging and retired names of `target`: always derivable from the
/// target alone, so the next run finds and cleans what a killed run left.
/// Both fit in 63 bytes.
pub fn work_names(target: &str) -> (String, String) {
    let hash = fnv1a(target.as_bytes()) as u32;
    let mut stem = target.to_string();
    let mut cut = stem.len().min(63 - 14);
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    stem.truncate(cut);
    (
        format!("{stem}_stg_{hash:08x}"),
        format!("{stem}_old_{hash:08x}"),
    )
}

/// True when `database` holds no relation outside the system schemas.
pub async fn is_empty(server: &Server, database: &str) -> Result<bool, DbError> {
    let mut conn = connect(server, Some(database)).await?;
    let count: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(query_error(format!("look into database {database}")))?;
    let _ = conn.close().await;
    Ok(count == 0)
}

/// Run post-restore SQL files in `database`, all in one transaction.
pub async fn run_post_sql(
    server: &Server,
    database: &str,
    files: &[(String, String)],
) -> Result<(), DbError> {
    if files.is_empty() {
        return Ok(());
    }
    let mut conn = connect(server, Some(database)).await?;
    let mut tx = conn
        .begin()
        .await
        .map_err(query_error("begin the post-restore transaction"))?;
    for (name, sql) in files {
        // The operator's own SQL files, run as they are.
        sqlx::raw_sql(AssertSqlSafe(sql.as_str()))
            .execute(&mut *tx)
            .await
            .map_err(|source| match source {
                sqlx::Error::Database(_) => {
                    DbError::Verify(format!("post-restore SQL {name} failed: {source}"))
                }
                other => DbError::Query {
                    what: format!("post-restore SQL {name}"),
                    source: other,
                },
            })?;
    }
    tx.commit()
        .await
        .map_err(query_error("commit the post-restore SQL"))?;
    let _ = conn.close().await;
    Ok(())
}

/// A restored table and its row estimate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestoredTable {
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// Rows the backup holds, when the dump tells.
    pub backup_rows: Option<u64>,
    /// The server's live-row estimate after the restore.
    pub estimated_rows: u64,
}

/// Compare `database` with the backup's tables: every table must be there;
/// row estimates are reported (and differences logged: statistics lag).
pub async fn verify(
    server: &Server,
    database: &str,
    backup: &[TableEntry],
) -> Result<Vec<RestoredTable>, DbError> {
    let mut conn = connect(server, Some(database)).await?;
    let rows = sqlx::query(
        "SELECT n.nspname::text, c.relname::text, \
                greatest(coalesce(s.n_live_tup, 0), c.reltuples::bigint, 0)::bigint \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid \
         WHERE c.relkind IN ('r', 'p', 'f') \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname NOT LIKE 'pg\\_toast%'",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(query_error(format!("list the tables of {database}")))?;
    let _ = conn.close().await;
    let found: Vec<(String, String, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let mut missing = Vec::new();
    let mut restored = Vec::new();
    for table in backup {
        match found
            .iter()
            .find(|(s, n, _)| *s == table.schema && *n == table.name)
        {
            Some((_, _, estimate)) => {
                let estimated_rows = (*estimate).max(0) as u64;
                if let Some(rows) = table.rows
                    && rows != estimated_rows
                {
                    tracing::info!(
                        table = %format!("{}.{}", table.schema, table.name),
                        backup_rows = rows,
                        estimated_rows,
                        "row estimate differs from the backup (statistics may lag)"
                    );
                }
                restored.push(RestoredTable {
                    schema: table.schema.clone(),
                    name: table.name.clone(),
                    backup_rows: table.rows,
                    estimated_rows,
                });
            }
            None => missing.push(format!("{}.{}", table.schema, table.name)),
        }
    }
    if !missing.is_empty() {
        return Err(DbError::Verify(format!(
            "{} table(s) of the backup are missing after the restore: {}",
            missing.len(),
            missing.join(", ")
        )));
    }
    Ok(restored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_names_fit_and_are_stable() {
        let long = "a".repeat(63);
        for target in ["sbx_pr_7", long.as_str()] {
            let (staging, old) = work_names(target);
            assert!(staging.len() <= 63 && old.len() <= 63, "{staging}");
            assert_ne!(staging, old);
            assert_eq!(work_names(target), (staging, old));
        }
        assert!(work_names("sbx_pr_7").0.starts_with("sbx_pr_7_stg_"));
    }

    #[test]
    fn quoting() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
    }
}
