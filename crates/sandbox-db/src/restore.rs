//! A whole restore of one backup into one database, as `restore-db` runs
//! it: what the target holds and so whether to restore at all
//! ([`inspect_target`]), which way the bytes go ([`Strategy`]: streamed,
//! or first made a seekable file for a parallel `pg_restore`), and the
//! record a finished restore leaves on its database ([`RestoreMarker`]) so
//! a rerun with the same backup knows it is done.

use crate::admin::{self, Admin};
use crate::discovery::Backup;
use crate::pipeline::{self, ByteCounter, RestoreOptions, RestoreReport};
use crate::server::Server;
use crate::{Compression, DbError, DumpFormat, Format, download};
use sandbox_core::params::BucketUrl;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the target database holds, and so what a restore of a backup
/// does with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// There is none: the staging database takes its name.
    Absent,
    /// It already holds exactly this backup (its marker says so) and was
    /// not asked to be replaced: nothing to do.
    Restored(RestoreMarker),
    /// It exists and is empty, or was asked to be replaced: the staging
    /// database replaces it, owned as it is.
    Replace {
        /// Its owner.
        owner: String,
    },
    /// It holds data and was not asked to be replaced.
    HoldsData,
}

impl Target {
    /// True unless [`Target::Absent`].
    pub fn exists(&self) -> bool {
        !matches!(self, Target::Absent)
    }
}

/// Look at `target` for a restore of `backup`; `replace` asks to replace
/// it even when it holds data (or this very backup).
pub async fn inspect_target(
    admin: &mut Admin,
    server: &Server,
    target: &str,
    backup: &Backup,
    replace: bool,
) -> Result<Target, DbError> {
    let Some(info) = admin.database(target).await? else {
        return Ok(Target::Absent);
    };
    if !replace {
        if let Some(done) = RestoreMarker::parse(info.comment.as_deref())
            && done.same_backup(backup)
        {
            return Ok(Target::Restored(done));
        }
        if !admin::is_empty(server, target).await? {
            return Ok(Target::HoldsData);
        }
    }
    Ok(Target::Replace { owner: info.owner })
}

/// How a backup reaches the restore tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// Streamed through the decompressor into psql or pg_restore on stdin:
    /// nothing on disk. Every plain-SQL backup, and every serial restore.
    Stream,
    /// An uncompressed custom-format file already on disk (`file://`):
    /// `pg_restore --jobs` reads it in place.
    InPlace(PathBuf),
    /// An uncompressed custom-format object: downloaded to a temporary file
    /// with parallel ranged reads, then `pg_restore --jobs`.
    Download,
    /// A gzipped custom-format backup: decompressed to a temporary file
    /// (`pg_restore --jobs` needs to seek), then `pg_restore --jobs`.
    Spool,
}

impl Strategy {
    /// The way for a backup of `format` at `location` (object `key`) with
    /// `jobs` parallel jobs: only a custom-format backup can be restored in
    /// parallel, and only from a seekable file.
    pub fn choose(format: Format, jobs: u32, location: &BucketUrl, key: &str) -> Strategy {
        if jobs <= 1 || format.dump != DumpFormat::Custom {
            return Strategy::Stream;
        }
        match (format.compression, location) {
            (Compression::None, BucketUrl::File { path }) => Strategy::InPlace(path.join(key)),
            (Compression::None, BucketUrl::Gs { .. }) => Strategy::Download,
            (Compression::Gzip, _) => Strategy::Spool,
        }
    }
}

/// Where and how a restore runs.
#[derive(Debug, Clone)]
pub struct RestoreRun<'a> {
    /// The server.
    pub server: &'a Server,
    /// The database restored into (the staging database).
    pub database: &'a str,
    /// How the tool restores.
    pub options: &'a RestoreOptions,
    /// Parallel jobs (custom format only).
    pub jobs: u32,
    /// Where a parallel restore's temporary file goes.
    pub temp_dir: &'a Path,
}

/// Restore `backup` as [`Strategy::choose`] says, counting the bytes read
/// in `counter`.
pub async fn restore_backup(
    storage: &sandbox_storage::Storage,
    backup: &Backup,
    run: &RestoreRun<'_>,
    counter: &ByteCounter,
) -> Result<RestoreReport, DbError> {
    let read_error = |e: sandbox_storage::StorageError| DbError::Source {
        kind: sandbox_core::Classify::kind(&e),
        source: Box::new(e),
    };
    let stream = storage
        .read(&backup.location, &backup.object.key)
        .await
        .map_err(read_error)?;
    let mut opened = pipeline::open(sandbox_storage::into_async_read(stream), counter).await?;
    tracing::info!(format = %opened.format, "backup format");
    let strategy = Strategy::choose(
        opened.format,
        run.jobs,
        &backup.location,
        &backup.object.key,
    );
    if run.jobs > 1 && strategy == Strategy::Stream {
        tracing::info!("--jobs applies to custom-format backups only; this one restores serially");
    }
    let temp = match strategy {
        Strategy::Stream => {
            return pipeline::restore(opened, run.server, run.database, run.options).await;
        }
        Strategy::InPlace(file) => {
            // Only the format was read from this stream.
            drop(opened);
            counter.set(backup.object.size);
            return pipeline::restore_file(&file, run.jobs, run.server, run.database, run.options)
                .await;
        }
        Strategy::Download => {
            drop(opened);
            counter.set(0);
            let temp = temp_dir_in(run.temp_dir)?;
            let streams = (run.jobs as usize).max(4);
            download::download(
                storage,
                backup,
                &temp.path().join("backup.dump"),
                streams,
                counter,
            )
            .await?;
            temp
        }
        Strategy::Spool => {
            let temp = temp_dir_in(run.temp_dir)?;
            pipeline::spool(&mut opened, &temp.path().join("backup.dump")).await?;
            temp
        }
    };
    let path = temp.path().join("backup.dump");
    pipeline::restore_file(&path, run.jobs, run.server, run.database, run.options).await
}

/// A whole restore of one backup into one target database.
#[derive(Debug, Clone)]
pub struct Restore<'a> {
    /// The server.
    pub server: &'a Server,
    /// The database restored into.
    pub target: &'a str,
    /// Owner of the new database (None: the connecting role).
    pub owner: Option<&'a str>,
    /// How the tool restores.
    pub options: &'a RestoreOptions,
    /// Parallel jobs (custom format only).
    pub jobs: u32,
    /// Where a parallel restore's temporary file goes.
    pub temp_dir: &'a Path,
    /// SQL run after the restore, all in one transaction: (name, text).
    pub post_sql: &'a [(String, String)],
}

/// What a finished restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The record now on the target.
    pub marker: RestoreMarker,
    /// The tables verified on it.
    pub tables: Vec<admin::RestoredTable>,
}

/// Restore `backup` into `restore.target` without ever half-filling it:
/// into a fresh staging database (what an earlier killed run left is
/// dropped first), then the post-restore SQL and the verification there,
/// then the marker, then one swap gives the staging database the target's
/// name; the replaced target (`existing`) is dropped. On a failure the
/// staging database is dropped and the target is as it was. The caller
/// holds the target's lock ([`Admin::lock`]).
pub async fn restore_and_swap(
    admin: &mut Admin,
    storage: &sandbox_storage::Storage,
    backup: &Backup,
    restore: &Restore<'_>,
    existing: &Target,
    counter: &ByteCounter,
) -> Result<Restored, DbError> {
    let (staging, old) = admin::work_names(restore.target);
    for stale in [&staging, &old] {
        if admin.database(stale).await?.is_some() {
            tracing::warn!(database = %stale, "dropping what an earlier run left");
            admin.drop_database(stale).await?;
        }
    }
    admin.create_database(&staging, restore.owner).await?;
    let run = RestoreRun {
        server: restore.server,
        database: &staging,
        options: restore.options,
        jobs: restore.jobs,
        temp_dir: restore.temp_dir,
    };
    let restored = async {
        let report = restore_backup(storage, backup, &run, counter).await?;
        admin::run_post_sql(restore.server, &staging, restore.post_sql).await?;
        admin::verify(restore.server, &staging, &report.tables).await
    }
    .await;
    let tables = match restored {
        Ok(tables) => tables,
        Err(e) => {
            // The staging database holds an unknown part of the backup: it
            // must never be mistaken for a restore.
            if let Err(drop_error) = admin.drop_database(&staging).await {
                tracing::warn!("{drop_error}; the next run drops {staging}");
            }
            return Err(e);
        }
    };
    let marker = RestoreMarker::new(backup, counter.get(), tables.len());
    admin.set_comment(&staging, &marker.to_comment()).await?;
    admin.swap(&staging, restore.target, &old).await?;
    if existing.exists() {
        admin.drop_database(&old).await?;
    }
    Ok(Restored { marker, tables })
}

fn temp_dir_in(dir: &Path) -> Result<tempfile::TempDir, DbError> {
    tempfile::Builder::new()
        .prefix("restore-db-")
        .tempdir_in(dir)
        .map_err(|source| DbError::File {
            what: format!("cannot create a temporary directory in {}", dir.display()),
            source,
        })
}

/// Who writes the marker: a comment by anyone else is never taken for a
/// finished restore.
pub const MARKER_AUTHOR: &str = "restore-db";

/// What a finished restore records on its database (`COMMENT ON
/// DATABASE`), so a rerun with the same backup knows it is done. Written on
/// the staging database before it takes the target's name, so a database
/// carries it only when the restore, the post-restore SQL and the
/// verification all succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreMarker {
    /// Always [`MARKER_AUTHOR`].
    pub restored_by: String,
    /// The backup's URL.
    pub backup_object: String,
    /// When the backup was taken (RFC 3339), or empty when unknown.
    pub backup_time: String,
    /// The backup's size in bytes.
    pub backup_size: u64,
    /// Bytes of the backup read.
    pub bytes_read: u64,
    /// Tables in the restored database.
    pub tables_restored: usize,
}

impl RestoreMarker {
    /// The marker of a restore of `backup`.
    pub fn new(backup: &Backup, bytes_read: u64, tables_restored: usize) -> Self {
        RestoreMarker {
            restored_by: MARKER_AUTHOR.into(),
            backup_object: backup.url(),
            backup_time: backup_time(backup),
            backup_size: backup.object.size,
            bytes_read,
            tables_restored,
        }
    }

    /// The marker a database comment holds, if it is one.
    pub fn parse(comment: Option<&str>) -> Option<Self> {
        serde_json::from_str::<RestoreMarker>(comment?)
            .ok()
            .filter(|r| r.restored_by == MARKER_AUTHOR)
    }

    /// The comment to write.
    pub fn to_comment(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// True when this marker records a restore of exactly `backup` (same
    /// URL, size and time: a backup rewritten under the same name is not).
    pub fn same_backup(&self, backup: &Backup) -> bool {
        self.backup_object == backup.url()
            && self.backup_size == backup.object.size
            && self.backup_time == backup_time(backup)
    }
}

/// When `backup` was taken, RFC 3339, or empty when unknown.
pub fn backup_time(backup: &Backup) -> String {
    backup
        .time
        .map(sandbox_core::time::rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(dump: DumpFormat, compression: Compression) -> Format {
        Format { dump, compression }
    }

    #[test]
    fn only_a_parallel_custom_format_restore_leaves_the_stream() {
        let gs = BucketUrl::parse("gs://backups/nightly/").unwrap();
        let dir = BucketUrl::parse("file:///srv/backups").unwrap();
        let custom = format(DumpFormat::Custom, Compression::None);
        let custom_gz = format(DumpFormat::Custom, Compression::Gzip);
        let plain_gz = format(DumpFormat::Plain, Compression::Gzip);
        assert_eq!(Strategy::choose(custom, 1, &gs, "a.dump"), Strategy::Stream);
        assert_eq!(
            Strategy::choose(plain_gz, 8, &gs, "a.sql.gz"),
            Strategy::Stream
        );
        assert_eq!(
            Strategy::choose(custom, 4, &gs, "a.dump"),
            Strategy::Download
        );
        assert_eq!(
            Strategy::choose(custom_gz, 4, &gs, "a.dump.gz"),
            Strategy::Spool
        );
        assert_eq!(
            Strategy::choose(custom_gz, 4, &dir, "a.dump.gz"),
            Strategy::Spool
        );
        assert_eq!(
            Strategy::choose(custom, 4, &dir, "x/a.dump"),
            Strategy::InPlace(PathBuf::from("/srv/backups/x/a.dump"))
        );
    }
}
