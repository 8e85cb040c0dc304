//! The warm pool: databases restored from the newest backup before anyone
//! asks (`prepare-db`), each named `<prefix>_<k>` and carrying the
//! [`RestoreMarker`] of its backup, so a sandbox's `restore-db` can *claim*
//! one — rename it into place in milliseconds — instead of restoring.
//!
//! A claim is atomic twice over: the claimer holds the member's advisory
//! lock (the same key a restore of that name takes, so a claim never takes
//! a member `prepare-db` is rebuilding), and `ALTER DATABASE … RENAME`
//! succeeds for one session only — a member already renamed away is simply
//! gone for the next claimer. A member is claimed by renaming it to the
//! sandbox's staging name ([`admin::work_names`]): a claim killed after the
//! rename leaves a staging database the next run drops, never a
//! half-renamed sandbox database, and the pool is one member smaller.
//!
//! Only names of the exact form `<prefix>_<digits>` holding a restore
//! marker are pool members; the task refuses a prefix that names a
//! protected database, the source, or a sandbox's.

use crate::admin::{self, Admin, ident};
use crate::discovery::Backup;
use crate::pipeline::ByteCounter;
use crate::restore::{self, Restore, RestoreMarker, Restored, Target};
use crate::{DbError, failpoint};
use sandbox_core::retry::Retryable;
use sqlx::{AssertSqlSafe, Row};
use std::time::Duration;

/// The pool prefix when none is given.
pub const DEFAULT_PREFIX: &str = "sbx_pool";

/// The template database when none is given.
pub const DEFAULT_TEMPLATE: &str = "sbx_template";

/// Most pool members one prefix may have: the listing, the names and the
/// nightly job stay small.
pub const MAX_SIZE: u32 = 64;

/// The name of member `k` (from 1) of the pool `prefix`.
pub fn member_name(prefix: &str, k: u32) -> String {
    format!("{prefix}_{k}")
}

/// `k` when `name` is member `k` of the pool `prefix`: exactly
/// `<prefix>_<digits>`, no leading zero, so a name maps to one member.
pub fn member_index(prefix: &str, name: &str) -> Option<u32> {
    let digits = name.strip_prefix(prefix)?.strip_prefix('_')?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A pool member as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its name, `<prefix>_<index>`.
    pub name: String,
    /// Its index.
    pub index: u32,
    /// Its owner.
    pub owner: String,
    /// The restore it holds; `None` for a database of that name that no
    /// finished restore made (never claimed, never dropped).
    pub marker: Option<RestoreMarker>,
}

fn query_error(what: impl Into<String>) -> impl FnOnce(sqlx::Error) -> DbError {
    let what = what.into();
    move |source| DbError::Query { what, source }
}

/// The members of the pool `prefix`, by index.
pub async fn members(admin: &mut Admin, prefix: &str) -> Result<Vec<Member>, DbError> {
    let rows = sqlx::query(
        "SELECT d.datname::text, pg_get_userbyid(d.datdba)::text, \
                shobj_description(d.oid, 'pg_database') \
         FROM pg_database d WHERE starts_with(d.datname, $1)",
    )
    .bind(format!("{prefix}_"))
    .fetch_all(&mut admin.conn)
    .await
    .map_err(query_error(format!("list the pool {prefix}")))?;
    let mut members: Vec<Member> = rows
        .iter()
        .filter_map(|r| {
            let name: String = r.get(0);
            let index = member_index(prefix, &name)?;
            let comment: Option<String> = r.get(2);
            Some(Member {
                index,
                owner: r.get(1),
                marker: RestoreMarker::parse(comment.as_deref()),
                name,
            })
        })
        .collect();
    members.sort_by_key(|m| m.index);
    Ok(members)
}

/// Release the advisory lock `Admin::lock(name)` took.
pub(crate) async fn unlock(admin: &mut Admin, name: &str) {
    let key = admin::lock_key(name);
    if let Err(e) = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut admin.conn)
        .await
    {
        // The session ends with the task; its locks with it.
        tracing::warn!(database = name, "cannot release the lock: {e}");
    }
}

/// What `prepare` did with one database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepared {
    /// It already held the backup: kept as it is.
    Kept(String),
    /// It was restored (or replaced) from the backup.
    Restored(String),
    /// Another run holds its lock (a concurrent refill preparing it, or a
    /// claim renaming it away): left to that run.
    Busy(String),
}

impl Prepared {
    /// The database's name.
    pub fn name(&self) -> &str {
        match self {
            Prepared::Kept(n) | Prepared::Restored(n) | Prepared::Busy(n) => n,
        }
    }
}

/// Make `name` hold `backup`: kept when its marker already says so,
/// restored through the staging database otherwise (replacing a member of
/// an older backup). A database of that name that no restore made is
/// refused, never replaced. `restore.target` is ignored: `name` is the
/// target. Holds the name's lock while it works, so no claim takes it half
/// made; a name another run holds is [`Prepared::Busy`] (two refills after
/// two claims may run at once).
pub async fn prepare_one(
    admin: &mut Admin,
    storage: &sandbox_storage::Storage,
    backup: &Backup,
    name: &str,
    restore: &Restore<'_>,
    counter: &ByteCounter,
) -> Result<Prepared, DbError> {
    match admin.lock(name).await {
        Ok(()) => {}
        Err(DbError::Busy(_)) => return Ok(Prepared::Busy(name.to_string())),
        Err(e) => return Err(e),
    }
    let result = async {
        let existing = match admin.database(name).await? {
            None => Target::Absent,
            Some(info) => match RestoreMarker::parse(info.comment.as_deref()) {
                Some(marker) if marker.same_backup(backup) => {
                    return Ok(Prepared::Kept(name.to_string()));
                }
                Some(_) => Target::Replace { owner: info.owner },
                None if admin::is_empty(restore.server, name).await? => {
                    Target::Replace { owner: info.owner }
                }
                None => {
                    // A precondition (exit 3): the operator decides.
                    return Err(DbError::Backup(format!(
                        "database {name} holds data no restore made; \
                         it is not a pool database: drop it or choose another --pool-prefix"
                    )));
                }
            },
        };
        let run = Restore {
            target: name,
            ..restore.clone()
        };
        let Restored { .. } =
            restore::restore_and_swap(admin, storage, backup, &run, &existing, counter).await?;
        Ok(Prepared::Restored(name.to_string()))
    }
    .await;
    unlock(admin, name).await;
    result
}

/// Drop the members of the pool `prefix` above `size` that a restore made
/// (each under its lock); a database of a member's name without a marker
/// is left and logged. Returns the names dropped.
pub async fn shrink(admin: &mut Admin, prefix: &str, size: u32) -> Result<Vec<String>, DbError> {
    let mut dropped = Vec::new();
    for member in members(admin, prefix).await? {
        if member.index <= size {
            continue;
        }
        if member.marker.is_none() {
            tracing::warn!(
                database = %member.name,
                "named like a pool member but no restore made it: left alone"
            );
            continue;
        }
        if let Err(DbError::Busy(_)) = admin.lock(&member.name).await {
            tracing::warn!(database = %member.name, "being claimed; left to its claimer");
            continue;
        }
        // A claimer may have renamed it between the listing and the lock.
        let result = match admin.database(&member.name).await {
            Ok(Some(_)) => admin.drop_database(&member.name).await.map(|()| true),
            Ok(None) => Ok(false),
            Err(e) => Err(e),
        };
        unlock(admin, &member.name).await;
        if result? {
            dropped.push(member.name);
        }
    }
    Ok(dropped)
}

/// The outcome of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The member was renamed to the staging name; it holds `marker`.
    Claimed {
        /// The member's former name.
        member: String,
        /// Its owner.
        owner: String,
        /// The restore it holds.
        marker: RestoreMarker,
    },
    /// Nothing to claim: why, for the log and the outputs.
    Fallback(String),
}

/// SQLSTATEs of a rename another session made impossible: the member was
/// renamed away (`invalid_catalog_name`), is in use (`object_in_use`), or
/// the staging name was taken (`duplicate_database`).
const LOST_RACE: &[&str] = &["3D000", "55006", "42P04"];

/// Claim one member of the pool `prefix` that holds exactly `backup` (and,
/// with `max_age`, whose backup is no older than that) by renaming it to
/// `staging`. Members locked by another claimer or by `prepare-db` are
/// passed over; a rename that loses a race moves on to the next member.
/// The caller holds the lock of the sandbox's database, and `staging` does
/// not exist.
pub async fn claim(
    admin: &mut Admin,
    prefix: &str,
    backup: &Backup,
    max_age: Option<Duration>,
    staging: &str,
) -> Result<Claim, DbError> {
    let all = members(admin, prefix).await?;
    if all.is_empty() {
        return Ok(Claim::Fallback(format!("the pool {prefix} is empty")));
    }
    let too_old = max_age.is_some_and(|max| backup.age().is_none_or(|age| age > max));
    let fresh: Vec<(&Member, &RestoreMarker)> = all
        .iter()
        .filter_map(|m| Some((m, m.marker.as_ref().filter(|mk| mk.same_backup(backup))?)))
        .collect();
    if fresh.is_empty() || too_old {
        return Ok(Claim::Fallback(format!(
            "the pool {prefix} is stale: none of its {} database(s) holds the newest backup {}{}",
            all.len(),
            backup.url(),
            if too_old { " within --max-age" } else { "" }
        )));
    }
    for (member, marker) in fresh {
        match admin.lock(&member.name).await {
            Ok(()) => {}
            Err(DbError::Busy(_)) => continue,
            Err(e) => return Err(e),
        }
        failpoint::hit("pool-locked");
        // Identifiers are quoted by ident(); nothing else is interpolated.
        let sql = format!(
            "ALTER DATABASE {} RENAME TO {}",
            ident(&member.name),
            ident(staging)
        );
        let result = sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut admin.conn)
            .await;
        unlock(admin, &member.name).await;
        match result {
            Ok(_) => {
                tracing::info!(member = %member.name, staging, "claimed from the pool");
                return Ok(Claim::Claimed {
                    member: member.name.clone(),
                    owner: member.owner.clone(),
                    marker: marker.clone(),
                });
            }
            Err(sqlx::Error::Database(e))
                if e.code().is_some_and(|c| LOST_RACE.contains(&c.as_ref())) =>
            {
                tracing::info!(member = %member.name, "{e}; trying the next member");
            }
            Err(source) => {
                let error = DbError::Query {
                    what: format!("claim {}", member.name),
                    source,
                };
                if error.is_transient() {
                    tracing::warn!("{error}; trying the next member");
                    continue;
                }
                return Err(error);
            }
        }
    }
    Ok(Claim::Fallback(format!(
        "every database of the pool {prefix} holding the newest backup was taken by another claim"
    )))
}

/// A sandbox's database taken from the pool: where it came from and what
/// it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// The member claimed.
    pub member: String,
    /// The restore it holds (now the sandbox database's marker).
    pub marker: RestoreMarker,
}

/// Give `target` a member of the pool `prefix` holding `backup`: what an
/// earlier killed run left under the target's work names is dropped, a
/// member is claimed into the staging name, given to `owner`, the
/// post-restore SQL runs there, and one swap gives it the target's name
/// (the replaced target, when `existing` says there is one, is dropped).
/// `Ok(Err(why))` when there is nothing to claim: the caller restores
/// instead. A failure after the claim drops the staging database; the
/// target is as it was. The caller holds the target's lock.
pub async fn take(
    admin: &mut Admin,
    prefix: &str,
    backup: &Backup,
    max_age: Option<Duration>,
    restore: &Restore<'_>,
    existing: &Target,
) -> Result<Result<Taken, String>, DbError> {
    let (staging, old) = admin::work_names(restore.target);
    drop_leftovers(admin, &staging, &old).await?;
    let (member, owner, marker) = match claim(admin, prefix, backup, max_age, &staging).await? {
        Claim::Claimed {
            member,
            owner,
            marker,
        } => (member, owner, marker),
        Claim::Fallback(why) => return Ok(Err(why)),
    };
    failpoint::hit("pool-claimed");
    finish(admin, &staging, &owner, restore, existing).await?;
    Ok(Ok(Taken { member, marker }))
}

/// Drop what a killed run left under the target's work names: a staging
/// database (a claimed member or a clone that never reached the target,
/// or a half-made restore) and a replaced target never dropped.
pub async fn drop_leftovers(admin: &mut Admin, staging: &str, old: &str) -> Result<(), DbError> {
    for stale in [staging, old] {
        if admin.database(stale).await?.is_some() {
            tracing::warn!(database = %stale, "dropping what an earlier run left");
            admin.drop_database(stale).await?;
        }
    }
    Ok(())
}

/// Turn the prepared database now at `staging` (owned by `owner`) into
/// `restore.target`: give it to the wanted owner, run the post-restore SQL
/// there, swap it in (one transaction) and drop the replaced target. A
/// failure drops the staging database; the target is as it was.
pub async fn finish(
    admin: &mut Admin,
    staging: &str,
    owner: &str,
    restore: &Restore<'_>,
    existing: &Target,
) -> Result<(), DbError> {
    let (_, old) = admin::work_names(restore.target);
    let finished = async {
        if let Some(wanted) = restore.owner
            && wanted != owner
        {
            set_owner(admin, staging, wanted).await?;
        }
        failpoint::hit("staging-owned");
        admin::run_post_sql(restore.server, staging, restore.post_sql).await?;
        failpoint::hit("post-sql-done");
        admin.swap(staging, restore.target, &old).await?;
        failpoint::hit("swapped");
        if existing.exists() {
            admin.drop_database(&old).await?;
        }
        Ok::<_, DbError>(())
    }
    .await;
    if let Err(e) = finished {
        // What was prepared is used up; the sandbox keeps what it had.
        if let Err(drop_error) = admin.drop_database(staging).await {
            tracing::warn!("{drop_error}; the next run drops {staging}");
        }
        return Err(e);
    }
    Ok(())
}

/// Make `name` owned by `owner`.
pub async fn set_owner(admin: &mut Admin, name: &str, owner: &str) -> Result<(), DbError> {
    // Identifiers are quoted by ident(); nothing else is interpolated.
    sqlx::raw_sql(AssertSqlSafe(format!(
        "ALTER DATABASE {} OWNER TO {}",
        ident(name),
        ident(owner)
    )))
    .execute(&mut admin.conn)
    .await
    .map_err(query_error(format!("give database {name} to {owner}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_member_names_are_members() {
        assert_eq!(member_name("sbx_pool", 3), "sbx_pool_3");
        assert_eq!(member_index("sbx_pool", "sbx_pool_3"), Some(3));
        assert_eq!(member_index("sbx_pool", "sbx_pool_12"), Some(12));
        for other in [
            "sbx_pool",
            "sbx_pool_",
            "sbx_pool_03",
            "sbx_pool_3x",
            "sbx_pool_3_stg_0000",
            "sbx_pool_x_3",
            "sbx_poolx_3",
            "sbx_pr_3",
        ] {
            assert_eq!(member_index("sbx_pool", other), None, "{other}");
        }
    }
}
