//! Downloading a backup to a local file with ranged reads in parallel, for
//! `pg_restore -j`, which needs a seekable archive. Each piece is written at
//! its offset as it arrives; a piece that fails is fetched again.

use crate::DbError;
use crate::discovery::Backup;
use crate::pipeline::ByteCounter;
use futures_util::{StreamExt, TryStreamExt};
use sandbox_core::Classify;
use sandbox_core::retry::Backoff;
use sandbox_storage::Storage;
use std::io::SeekFrom;
use std::path::Path;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

/// Size of one ranged read.
const PIECE: u64 = 16 << 20;

/// Download `backup` into `path` with up to `streams` ranged reads at once.
pub async fn download(
    storage: &Storage,
    backup: &Backup,
    path: &Path,
    streams: usize,
    counter: &ByteCounter,
) -> Result<(), DbError> {
    let size = backup.object.size;
    let file_error = |what: &str, source| DbError::File {
        what: format!("cannot {what} the temporary file {}", path.display()),
        source,
    };
    let file = tokio::fs::File::create(path)
        .await
        .map_err(|e| file_error("create", e))?;
    file.set_len(size)
        .await
        .map_err(|e| file_error("size", e))?;
    drop(file);
    let pieces: Vec<(u64, u64)> = (0..size.div_ceil(PIECE))
        .map(|i| (i * PIECE, ((i + 1) * PIECE).min(size)))
        .collect();
    futures_util::stream::iter(pieces)
        .map(|(start, end)| piece(storage, backup, path, start, end, counter))
        .buffer_unordered(streams.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

async fn piece(
    storage: &Storage,
    backup: &Backup,
    path: &Path,
    start: u64,
    end: u64,
    counter: &ByteCounter,
) -> Result<(), DbError> {
    Backoff::default()
        .retry(|_| async move {
            let file_error = |source| DbError::File {
                what: format!("cannot write the temporary file {}", path.display()),
                source,
            };
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .await
                .map_err(file_error)?;
            file.seek(SeekFrom::Start(start))
                .await
                .map_err(file_error)?;
            let mut stream = storage
                .read_range(&backup.location, &backup.object.key, start..end)
                .await
                .map_err(source_error)?;
            let mut written = 0u64;
            while let Some(chunk) = stream.try_next().await.map_err(source_error)? {
                file.write_all(&chunk).await.map_err(file_error)?;
                counter.add(chunk.len() as u64);
                written += chunk.len() as u64;
            }
            file.flush().await.map_err(file_error)?;
            if written != end - start {
                return Err(DbError::Source {
                    kind: sandbox_core::ErrorKind::Transient,
                    source: format!(
                        "bytes {start}..{end} of {} came back as {written} bytes",
                        backup.url()
                    )
                    .into(),
                });
            }
            Ok(())
        })
        .await
}

fn source_error(e: sandbox_storage::StorageError) -> DbError {
    DbError::Source {
        kind: e.kind(),
        source: Box::new(e),
    }
}
