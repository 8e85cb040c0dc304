//! Dropping a sandbox's databases, for servers shared between sandboxes
//! (where Terraform does not own the database): find the target and the
//! staging and retired copies a killed restore left, end the sessions that
//! hold them, and drop them.
//!
//! Nothing here decides policy: the task checks the target against the
//! guard rails first. What this module guarantees is that it only ever
//! touches the target itself and the two names [`admin::work_names`] makes
//! from it (`<stem>_stg_<8 hex>`, `<stem>_old_<8 hex>`): a name is matched
//! whole, so `sbx_pr_42` never reaches `sbx_pr_420` or `sbx_pr_420_stg_…`.

use crate::DbError;
use crate::admin::{self, fnv1a, ident};
use crate::server::Server;
use sandbox_core::retry::Backoff;
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};
use std::time::{Duration, Instant};

/// The `application_name` of drop-db's own sessions, so they are told
/// apart from restore-db's in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "drop-db";

/// How long ended sessions may take to go away.
const SESSION_DEADLINE: Duration = Duration::from_secs(30);

/// Between two looks at `pg_stat_activity` while waiting.
const POLL: Duration = Duration::from_millis(100);

fn query_error(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> DbError {
    let what = what.into();
    move |source| DbError::Query { what, source }
}

/// True when `name` is `target`'s staging or retired copy as restore-db
/// names them: the target's stem (cut as [`admin::work_names`] cuts it),
/// then `_stg_` or `_old_`, then exactly eight lowercase hex digits.
pub fn is_work_name(target: &str, name: &str) -> bool {
    let (staging, _) = admin::work_names(target);
    // The stem is what precedes the 13 bytes of `_stg_<8 hex>`.
    let stem = &staging[..staging.len() - 13];
    let Some(rest) = name.strip_prefix(stem) else {
        return false;
    };
    let Some(hex) = rest
        .strip_prefix("_stg_")
        .or_else(|| rest.strip_prefix("_old_"))
    else {
        return false;
    };
    hex.len() == 8
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A database of the environment as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnDatabase {
    /// Its name.
    pub name: String,
    /// `pg_database.datistemplate`: a template is never dropped.
    pub is_template: bool,
}

/// A session that holds one of the environment's databases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its backend's process id.
    pub pid: i32,
    /// The database it is connected to.
    pub database: String,
    /// Its `application_name` (`restore-db`, `psql`, …).
    pub application: String,
}

/// The advisory-lock key restore-db holds while it works on `target`
/// (`admin::Admin::lock`), so a restore of exactly this target can be
/// found through `pg_locks` and no other environment's.
pub fn restore_lock_key(target: &str) -> i64 {
    i64::from_ne_bytes(fnv1a(format!("restore-db:{target}").as_bytes()).to_ne_bytes())
}

/// A connection to the maintenance database that removes one target's
/// databases.
pub struct Dropper {
    conn: PgConnection,
    /// `server_version_num`: `WITH (FORCE)` needs 130000 or more.
    version: i32,
}

impl Dropper {
    /// Connect for removal, retrying while the server is unreachable.
    pub async fn connect(server: &Server) -> Result<Self, DbError> {
        let options = server.options(None)?.application_name(APPLICATION_NAME);
        let mut conn = Backoff::default()
            .retry(|_| async {
                PgConnection::connect_with(&options)
                    .await
                    .map_err(|source| DbError::Connect {
                        server: server.redacted(),
                        source,
                    })
            })
            .await?;
        let version: String = sqlx::query_scalar("SHOW server_version_num")
            .fetch_one(&mut conn)
            .await
            .map_err(query_error("read the server version"))?;
        Ok(Dropper {
            conn,
            version: version.trim().parse().unwrap_or(0),
        })
    }

    /// True when the server drops `WITH (FORCE)` (PostgreSQL 13 or later).
    pub fn supports_force(&self) -> bool {
        self.version >= 130_000
    }

    /// `target` and its staging and retired copies, those that exist, in
    /// name order.
    pub async fn databases_of(&mut self, target: &str) -> Result<Vec<OwnDatabase>, DbError> {
        let (staging, _) = admin::work_names(target);
        let stem = &staging[..staging.len() - 13];
        // The server narrows by the stem; the exact shape is checked here.
        let rows = sqlx::query(
            "SELECT datname::text, datistemplate FROM pg_database \
             WHERE datname = $1 OR left(datname, length($2)) = $2 ORDER BY datname",
        )
        .bind(target)
        .bind(stem)
        .fetch_all(&mut self.conn)
        .await
        .map_err(query_error(format!("list the databases of {target}")))?;
        Ok(rows
            .iter()
            .map(|r| OwnDatabase {
                name: r.get(0),
                is_template: r.get(1),
            })
            .filter(|d| d.name == target || is_work_name(target, &d.name))
            .collect())
    }

    /// The sessions to end before `target` goes: every session connected
    /// to one of `databases`, and the restore-db session that holds
    /// `target`'s restore lock (it may sit in `CREATE DATABASE` of a
    /// staging copy that does not show in `databases` yet). Never this
    /// session, and never a restore of another target.
    pub async fn sessions(
        &mut self,
        target: &str,
        databases: &[String],
    ) -> Result<Vec<Session>, DbError> {
        // pg_locks shows a bigint advisory key as its high half in classid,
        // its low half in objid, with objsubid 1.
        let rows = sqlx::query(
            "SELECT a.pid, coalesce(a.datname::text, ''), coalesce(a.application_name, '') \
             FROM pg_stat_activity a \
             WHERE a.pid <> pg_backend_pid() AND ( \
               a.datname::text = ANY($1) OR a.pid IN ( \
                 SELECT l.pid FROM pg_locks l \
                 WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted \
                   AND ((l.classid::bigint << 32) | l.objid::bigint) = $2)) \
             ORDER BY a.pid",
        )
        .bind(databases)
        .bind(restore_lock_key(target))
        .fetch_all(&mut self.conn)
        .await
        .map_err(query_error(format!("list the sessions of {target}")))?;
        Ok(rows
            .iter()
            .map(|r| Session {
                pid: r.get(0),
                database: r.get(1),
                application: r.get(2),
            })
            .collect())
    }

    /// End `pids`; how many were ended (a session may have gone already).
    pub async fn end_sessions(&mut self, pids: &[i32]) -> Result<u64, DbError> {
        if pids.is_empty() {
            return Ok(0);
        }
        let ended: i64 = sqlx::query_scalar(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) \
             FROM unnest($1::int[]) AS pid",
        )
        .bind(pids)
        .fetch_one(&mut self.conn)
        .await
        .map_err(query_error("end sessions"))?;
        Ok(ended.max(0) as u64)
    }

    /// Wait until none of `pids` is a live session: an ended session that
    /// was inside `CREATE DATABASE` has rolled it back only once it is
    /// gone. Transient (`Busy`) after [`SESSION_DEADLINE`].
    pub async fn wait_gone(&mut self, target: &str, pids: &[i32]) -> Result<(), DbError> {
        let deadline = Instant::now() + SESSION_DEADLINE;
        loop {
            let left: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])",
            )
            .bind(pids)
            .fetch_one(&mut self.conn)
            .await
            .map_err(query_error("look for ended sessions"))?;
            if left == 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(DbError::Busy(format!(
                    "{target} ({left} ended session(s) still running after {}s)",
                    SESSION_DEADLINE.as_secs()
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Take `target`'s restore lock, so no restore of it starts while its
    /// databases are dropped; `false` when a restore holds it.
    pub async fn try_lock(&mut self, target: &str) -> Result<bool, DbError> {
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(restore_lock_key(target))
            .fetch_one(&mut self.conn)
            .await
            .map_err(query_error(format!("take the restore lock of {target}")))
    }

    /// Drop `name` if it exists: `WITH (FORCE)` on PostgreSQL 13 and
    /// later (it ends the sessions that connected since they were
    /// listed); before 13, end its sessions and drop, again while a new
    /// session is in the way (SQLSTATE 55006).
    pub async fn drop_database(&mut self, name: &str) -> Result<(), DbError> {
        let what = format!("drop database {name}");
        if self.supports_force() {
            // Identifiers are quoted by ident(); nothing else is interpolated.
            sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                ident(name)
            )))
            .execute(&mut self.conn)
            .await
            .map_err(query_error(what))?;
            return Ok(());
        }
        let backoff = Backoff {
            attempts: 8,
            ..Backoff::default()
        };
        let mut attempt = 0;
        loop {
            let pids: Vec<i32> = sqlx::query_scalar(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            )
            .bind(name)
            .fetch_all(&mut self.conn)
            .await
            .map_err(query_error(format!("list the sessions of {name}")))?;
            self.end_sessions(&pids).await?;
            self.wait_gone(name, &pids).await?;
            let result = sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {}",
                ident(name)
            )))
            .execute(&mut self.conn)
            .await;
            let Err(source) = result else {
                return Ok(());
            };
            let in_use =
                matches!(&source, sqlx::Error::Database(e) if e.code().as_deref() == Some("55006"));
            attempt += 1;
            if !in_use || attempt >= backoff.attempts {
                return Err(DbError::Query { what, source });
            }
            tracing::warn!(
                database = name,
                attempt,
                "a new session is in the way; retrying"
            );
            tokio::time::sleep(backoff.delay(attempt)).await;
        }
    }

    /// Close the connection (and with it the restore lock).
    pub async fn close(self) {
        let _ = self.conn.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_names_are_matched_whole() {
        let (staging, old) = admin::work_names("sbx_pr_42");
        assert!(is_work_name("sbx_pr_42", &staging));
        assert!(is_work_name("sbx_pr_42", &old));
        assert!(is_work_name("sbx_pr_42", "sbx_pr_42_stg_deadbeef"));
        for other in [
            "sbx_pr_42",
            "sbx_pr_420",
            "sbx_pr_4",
            "sbx_pr_420_stg_deadbeef",
            "sbx_pr_4_stg_deadbeef",
            "sbx_pr_42_stg_deadbee",
            "sbx_pr_42_stg_deadbeef0",
            "sbx_pr_42_stg_DEADBEEF",
            "sbx_pr_42_tmp_deadbeef",
            "xsbx_pr_42_stg_deadbeef",
        ] {
            assert!(!is_work_name("sbx_pr_42", other), "{other}");
        }
        let (staging, _) = admin::work_names("sbx_pr_420");
        assert!(!is_work_name("sbx_pr_42", &staging));
    }

    #[test]
    fn long_targets_match_their_cut_work_names() {
        let long = "a".repeat(63);
        let (staging, old) = admin::work_names(&long);
        assert!(is_work_name(&long, &staging) && is_work_name(&long, &old));
    }
}
