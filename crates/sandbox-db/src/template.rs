//! The template database: `prepare-db --prepare template` restores the
//! newest backup once into it (verified, carrying the [`RestoreMarker`] of
//! its backup, like a pool member), and each sandbox's `restore-db
//! --strategy template` copies it with `CREATE DATABASE … TEMPLATE …`
//! instead of restoring — a file copy, not a replay of SQL and indexes.
//!
//! PostgreSQL copies a template only while no other session is connected
//! to it (`CREATE DATABASE`, "source database is being accessed by other
//! users"), so a clone first waits, with a bound, for the template to have
//! no other connections (pg_stat_activity). From PostgreSQL 15 on the copy
//! is asked for with `STRATEGY FILE_COPY` (one checkpoint, then a copy of
//! the files; the new default, `WAL_LOG`, writes every block to the WAL and
//! is slower for a large template); older servers have only the file copy.
//!
//! Like a claim, a clone goes into the sandbox's staging name and one swap
//! gives it the sandbox's name, so a clone killed at any point leaves
//! either the sandbox as it was (and a staging database the next run
//! drops) or the finished sandbox; the template is never changed.
//! Clones hold the template's advisory lock *shared* (so they run side by
//! side) and `prepare-db` takes it exclusively, so a clone never copies a
//! template being replaced.

use crate::admin::{self, Admin, ident};
use crate::discovery::Backup;
use crate::pool;
use crate::restore::{Restore, RestoreMarker, Target};
use crate::{DbError, failpoint};
use sqlx::AssertSqlSafe;
use std::time::{Duration, Instant};

/// The first `server_version_num` with `CREATE DATABASE … STRATEGY`.
pub const FILE_COPY_SINCE: i32 = 150_000;

/// SQLSTATE `object_in_use`: "source database … is being accessed by
/// other users".
const OBJECT_IN_USE: &str = "55006";

/// How often a clone looks again at the template's connections and lock.
const POLL: Duration = Duration::from_millis(100);

/// Why a clone did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// There is no template database, or it holds no finished restore:
    /// `prepare-db --prepare template` has not run (or not finished).
    Missing(String),
    /// It holds an older backup than the newest, or one older than
    /// `--max-age`, or it stayed in use (connections, or being prepared)
    /// past the wait.
    Unusable(String),
}

impl Skip {
    /// The reason, for the log and the outputs.
    pub fn reason(&self) -> &str {
        match self {
            Skip::Missing(why) | Skip::Unusable(why) => why,
        }
    }
}

/// A sandbox's database copied from the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cloned {
    /// The template copied.
    pub template: String,
    /// The restore it holds (now the sandbox database's marker).
    pub marker: RestoreMarker,
    /// True when `STRATEGY FILE_COPY` was asked for (PostgreSQL 15+).
    pub file_copy: bool,
    /// How long the clone waited for the template to be free.
    pub waited: Duration,
}

/// The server's `server_version_num`, e.g. 150018.
pub async fn server_version_num(admin: &mut Admin) -> Result<i32, DbError> {
    let text: String = sqlx::query_scalar("SHOW server_version_num")
        .fetch_one(&mut admin.conn)
        .await
        .map_err(|source| DbError::Query {
            what: "read server_version_num".into(),
            source,
        })?;
    text.trim().parse().map_err(|_| {
        DbError::Backup(format!(
            "the server reported server_version_num {text:?}, not a number"
        ))
    })
}

/// The `CREATE DATABASE` that copies `template` into `name` on a server of
/// `version_num`, owned by `owner` when given.
pub fn create_sql(name: &str, template: &str, owner: Option<&str>, version_num: i32) -> String {
    let mut sql = format!(
        "CREATE DATABASE {} TEMPLATE {}",
        ident(name),
        ident(template)
    );
    if let Some(owner) = owner {
        sql.push_str(&format!(" OWNER {}", ident(owner)));
    }
    if version_num >= FILE_COPY_SINCE {
        sql.push_str(" STRATEGY FILE_COPY");
    }
    sql
}

/// Sessions connected to `name` that would stop a copy: this one and
/// autovacuum workers excepted (`CREATE DATABASE` ends those itself —
/// PostgreSQL's `src/backend/storage/ipc/procarray.c` `CountOtherDBBackends`,
/// which also waits 5 s for the others — and a freshly restored template
/// is where autovacuum goes first, to analyze it).
async fn other_connections(admin: &mut Admin, name: &str) -> Result<i64, DbError> {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() \
           AND backend_type IS DISTINCT FROM 'autovacuum worker'",
    )
    .bind(name)
    .fetch_one(&mut admin.conn)
    .await
    .map_err(|source| DbError::Query {
        what: format!("count the sessions on {name}"),
        source,
    })
}

async fn try_shared_lock(admin: &mut Admin, name: &str) -> Result<bool, DbError> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock_shared($1)")
        .bind(admin::lock_key(name))
        .fetch_one(&mut admin.conn)
        .await
        .map_err(|source| DbError::Query {
            what: format!("take the shared lock of {name}"),
            source,
        })
}

async fn unlock_shared(admin: &mut Admin, name: &str) {
    if let Err(e) = sqlx::query("SELECT pg_advisory_unlock_shared($1)")
        .bind(admin::lock_key(name))
        .execute(&mut admin.conn)
        .await
    {
        // The session ends with the task; its locks with it.
        tracing::warn!(database = name, "cannot release the shared lock: {e}");
    }
}

/// Check that `template` holds exactly `backup` (and, with `max_age`, one
/// no older than that): its marker, or why it cannot be used.
pub async fn check(
    admin: &mut Admin,
    template: &str,
    backup: &Backup,
    max_age: Option<Duration>,
) -> Result<Result<(String, RestoreMarker), Skip>, DbError> {
    let Some(info) = admin.database(template).await? else {
        return Ok(Err(Skip::Missing(format!(
            "the template database {template} does not exist; \
             run prepare-db --prepare template to make it"
        ))));
    };
    let Some(marker) = RestoreMarker::parse(info.comment.as_deref()) else {
        return Ok(Err(Skip::Missing(format!(
            "database {template} holds no finished restore (no marker); \
             run prepare-db --prepare template to make it"
        ))));
    };
    if !marker.same_backup(backup) {
        return Ok(Err(Skip::Unusable(format!(
            "the template {template} is stale: it holds {} ({}), not the newest backup {}",
            marker.backup_object,
            if marker.backup_time.is_empty() {
                "time unknown"
            } else {
                &marker.backup_time
            },
            backup.url()
        ))));
    }
    if max_age.is_some_and(|max| backup.age().is_none_or(|age| age > max)) {
        return Ok(Err(Skip::Unusable(format!(
            "the template {template} holds {}, older than --max-age",
            backup.url()
        ))));
    }
    Ok(Ok((info.owner, marker)))
}

/// Wait, at most `wait`, until `template` is free to copy: this session
/// holds its shared lock (no `prepare-db` is replacing it) and no other
/// session is connected to it. `Ok(Err(why))` when the wait ran out; the
/// caller releases the lock when `Ok(Ok(_))`.
async fn wait_free(
    admin: &mut Admin,
    template: &str,
    wait: Duration,
) -> Result<Result<Duration, Skip>, DbError> {
    let started = Instant::now();
    let mut said = false;
    loop {
        if try_shared_lock(admin, template).await? {
            let others = other_connections(admin, template).await?;
            if others == 0 {
                return Ok(Ok(started.elapsed()));
            }
            unlock_shared(admin, template).await;
            if started.elapsed() >= wait {
                return Ok(Err(Skip::Unusable(format!(
                    "the template {template} still had {others} other connection(s) after {} s; \
                     CREATE DATABASE copies a template only when nobody is connected to it",
                    wait.as_secs()
                ))));
            }
            if !said {
                tracing::info!(
                    template,
                    others,
                    bound_s = wait.as_secs(),
                    "waiting for the template's other connections to end"
                );
                said = true;
            }
        } else if started.elapsed() >= wait {
            return Ok(Err(Skip::Unusable(format!(
                "the template {template} was still being prepared after {} s",
                wait.as_secs()
            ))));
        } else if !said {
            tracing::info!(template, "waiting: prepare-db is replacing the template");
            said = true;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Give `restore.target` a copy of `template`, which must hold `backup`:
/// what an earlier killed run left under the target's work names is
/// dropped, the template is copied into the staging name (after waiting,
/// at most `wait`, for it to be free), marked, given the post-restore SQL,
/// and swapped in (the replaced target, when `existing` says there is one,
/// is dropped). `Ok(Err(skip))` when the template cannot be used: the
/// caller restores instead (or refuses, for a missing template). The
/// caller holds the target's lock.
pub async fn clone(
    admin: &mut Admin,
    template: &str,
    backup: &Backup,
    max_age: Option<Duration>,
    wait: Duration,
    restore: &Restore<'_>,
    existing: &Target,
) -> Result<Result<Cloned, Skip>, DbError> {
    let (staging, old) = admin::work_names(restore.target);
    pool::drop_leftovers(admin, &staging, &old).await?;
    let (_, marker) = match check(admin, template, backup, max_age).await? {
        Ok(found) => found,
        Err(skip) => return Ok(Err(skip)),
    };
    let version = server_version_num(admin).await?;
    let waited = match wait_free(admin, template, wait).await? {
        Ok(waited) => waited,
        Err(skip) => return Ok(Err(skip)),
    };
    // The lock is held: prepare-db cannot have replaced the template since
    // the check, but look again in case it did just before.
    let copied = async {
        match check(admin, template, backup, max_age).await? {
            Ok(_) => {}
            Err(skip) => return Ok(Err(skip)),
        }
        failpoint::hit("template-locked");
        // Identifiers are quoted by ident(); nothing else is interpolated.
        let sql = create_sql(&staging, template, restore.owner, version);
        tracing::info!(%sql, "cloning the template");
        match sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut admin.conn)
            .await
        {
            Ok(_) => Ok(Ok(())),
            // A session connected between the count and the copy, and
            // stayed for the 5 s CREATE DATABASE itself waits.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(OBJECT_IN_USE) => {
                Ok(Err(Skip::Unusable(format!(
                    "the template {template} was in use when copied: {e}"
                ))))
            }
            Err(source) => Err(DbError::Query {
                what: format!("copy the template {template} into {staging}"),
                source,
            }),
        }
    }
    .await;
    unlock_shared(admin, template).await;
    match copied {
        Ok(Ok(())) => {}
        Ok(Err(skip)) => return Ok(Err(skip)),
        Err(e) => return Err(e),
    }
    failpoint::hit("template-cloned");
    // A database comment is not copied with the database: mark the copy.
    admin.set_comment(&staging, &marker.to_comment()).await?;
    // Created with restore.owner when given, so finish changes no owner.
    pool::finish(
        admin,
        &staging,
        restore.owner.unwrap_or(""),
        restore,
        existing,
    )
    .await?;
    Ok(Ok(Cloned {
        template: template.to_string(),
        marker,
        file_copy: version >= FILE_COPY_SINCE,
        waited,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_copy_is_asked_for_from_postgresql_15_on() {
        assert_eq!(
            create_sql("sbx_pr_1_stg", "sbx_template", None, 150_018),
            "CREATE DATABASE \"sbx_pr_1_stg\" TEMPLATE \"sbx_template\" STRATEGY FILE_COPY"
        );
        assert_eq!(
            create_sql("a", "t", Some("app"), 140_011),
            "CREATE DATABASE \"a\" TEMPLATE \"t\" OWNER \"app\""
        );
    }
}
