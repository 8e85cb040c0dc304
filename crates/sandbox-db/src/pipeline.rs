//! The restore pipeline: backup bytes → (gunzip) → psql or pg_restore on
//! stdin, with the format told from the bytes and the table of contents
//! learnt on the way. Memory stays flat whatever the dump's size: a few
//! chunks in flight, and for custom archives a copy of the head (the TOC).
//!
//! A failure anywhere kills the tool *before* its stdin is closed: psql
//! commits a `-1` transaction at end of input, so closing stdin on a
//! half-read backup would commit half a database.

use crate::DbError;
use crate::format::{self, Compression, DumpFormat, Format, PEEK};
use crate::plain::PlainScanner;
use crate::server::Server;
use crate::toc::{self, TableEntry};
use crate::tools;
use async_compression::tokio::bufread::GzipDecoder;
use sandbox_core::ErrorKind;
use std::io::Cursor;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, ReadBuf};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;

/// Size of one chunk read from the backup and written to the tool.
const CHUNK: usize = 256 << 10;
/// Chunks in flight between reading and writing.
const IN_FLIGHT: usize = 4;

/// How to restore.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Leave ownership to the restoring role (`pg_restore --no-owner`; for
    /// plain dumps the `OWNER TO` statements are dropped).
    pub no_owner: bool,
    /// The role to restore as (`pg_restore --role`; `SET ROLE` for plain).
    pub role: Option<String>,
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// The format found.
    pub format: Format,
    /// The backup's tables, with row counts when the dump tells them.
    pub tables: Vec<TableEntry>,
}

/// Bytes read from the backup, shared with whoever reports progress.
#[derive(Debug, Clone, Default)]
pub struct ByteCounter(Arc<AtomicU64>);

impl ByteCounter {
    /// Bytes counted so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    /// Start the count again at `n` (when a first read is abandoned).
    pub fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }

    /// Count `n` more bytes (read by someone else, e.g. pg_restore from a file).
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
}

/// The first error the backup's source returned, with its kind, kept so a
/// read error that surfaces through the decompressor is blamed on the
/// right layer.
type SourceFailure = Arc<Mutex<Option<(ErrorKind, std::io::Error)>>>;

/// The kind of a source read error: the storage error's own when it is one
/// (a missing object is a precondition), else transient.
fn source_kind(e: &std::io::Error) -> ErrorKind {
    use sandbox_core::Classify;
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<sandbox_storage::StorageError>())
        .map_or(ErrorKind::Transient, |s| s.kind())
}

/// Counts the bytes of the source and remembers its failure.
struct Counting<R> {
    inner: R,
    counter: ByteCounter,
    failure: SourceFailure,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counting<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                this.counter.add((buf.filled().len() - before) as u64);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => {
                if let Ok(mut slot) = this.failure.lock() {
                    slot.get_or_insert_with(|| {
                        (
                            source_kind(&e),
                            std::io::Error::new(e.kind(), e.to_string()),
                        )
                    });
                }
                Poll::Ready(Err(e))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

type BoxRead = Box<dyn AsyncRead + Unpin + Send>;

/// Read up to `PEEK` bytes (fewer only at the end of the stream).
async fn peek(reader: &mut BoxRead) -> std::io::Result<Vec<u8>> {
    let mut head = vec![0; PEEK];
    let mut filled = 0;
    while filled < head.len() {
        let n = reader.read(&mut head[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    head.truncate(filled);
    Ok(head)
}

/// A reader that gives `head` again before the rest of `reader`.
fn rewind(head: Vec<u8>, reader: BoxRead) -> BoxRead {
    Box::new(Cursor::new(head).chain(reader))
}

/// The decoded dump stream and its format.
pub struct Opened {
    /// The format found.
    pub format: Format,
    /// The dump's bytes, decompressed.
    pub reader: Box<dyn AsyncRead + Unpin + Send>,
    failure: SourceFailure,
}

impl Opened {
    /// Blame an I/O error on the source when it failed, else on the decoder.
    fn read_error(&self, error: std::io::Error) -> DbError {
        let source = self.failure.lock().ok().and_then(|mut s| s.take());
        match source {
            Some((kind, source)) => DbError::Source {
                kind,
                source: Box::new(source),
            },
            None if self.format.compression == Compression::Gzip => DbError::Decode(error),
            None => DbError::Source {
                kind: source_kind(&error),
                source: Box::new(error),
            },
        }
    }
}

/// Tell the backup's format from its first bytes and open the dump stream.
pub async fn open<R>(source: R, counter: &ByteCounter) -> Result<Opened, DbError>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let failure = SourceFailure::default();
    let mut raw: BoxRead = Box::new(BufReader::with_capacity(
        CHUNK,
        Counting {
            inner: source,
            counter: counter.clone(),
            failure: failure.clone(),
        },
    ));
    let source_error = |e: std::io::Error, failure: &SourceFailure| {
        let _ = failure.lock().map(|mut s| s.take());
        DbError::Source {
            kind: source_kind(&e),
            source: Box::new(e),
        }
    };
    let head = peek(&mut raw)
        .await
        .map_err(|e| source_error(e, &failure))?;
    if !format::is_gzip(&head) {
        let dump = format::detect_dump(&head)?;
        return Ok(Opened {
            format: Format {
                compression: Compression::None,
                dump,
            },
            reader: rewind(head, raw),
            failure,
        });
    }
    let mut decoder = GzipDecoder::new(BufReader::with_capacity(CHUNK, rewind(head, raw)));
    decoder.multiple_members(true);
    let mut decoded: BoxRead = Box::new(decoder);
    let inner_head = match peek(&mut decoded).await {
        Ok(h) => h,
        Err(e) => {
            let from_source = failure.lock().ok().and_then(|mut s| s.take());
            return Err(match from_source {
                Some((kind, source)) => DbError::Source {
                    kind,
                    source: Box::new(source),
                },
                None => DbError::Decode(e),
            });
        }
    };
    let dump = format::detect_dump(&inner_head)?;
    Ok(Opened {
        format: Format {
            compression: Compression::Gzip,
            dump,
        },
        reader: rewind(inner_head, decoded),
        failure,
    })
}

/// Restore an opened dump into `database` by streaming it into psql or
/// pg_restore. The database must exist and be empty; on failure it holds
/// an unknown part of the dump and the caller drops it.
pub async fn restore(
    mut opened: Opened,
    server: &Server,
    database: &str,
    options: &RestoreOptions,
) -> Result<RestoreReport, DbError> {
    let tool = match opened.format.dump {
        DumpFormat::Plain => "psql",
        DumpFormat::Custom => "pg_restore",
    };
    let mut cmd = tools::command(tool, server, database);
    if tool == "pg_restore" {
        if options.no_owner {
            cmd.arg("--no-owner");
        }
        if let Some(role) = &options.role {
            cmd.arg(format!("--role={role}"));
        }
    }
    cmd.stdin(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|source| DbError::Spawn { tool, source })?;
    let stdin = child.stdin.take().ok_or_else(|| DbError::Spawn {
        tool,
        source: std::io::Error::other("no stdin"),
    })?;
    let stderr = child
        .stderr
        .take()
        .map(|s| tokio::spawn(tools::collect_stderr(tool, s)));
    tools::widen_pipe(&stdin);

    let (tx, rx) = mpsc::channel::<Vec<u8>>(IN_FLIGHT);
    let writer = tokio::spawn(write_all(stdin, rx));
    let pumped = pump(&mut opened, options, tx).await;
    if let Err(PumpError::Failed(_)) = &pumped {
        // Kill first: stdin is still open, so the tool cannot take the end
        // of input for the end of the dump and commit what it has.
        kill(&mut child).await;
    }
    // The writer ends when the channel closes (all sent) or the tool stops
    // reading; either way it hands stdin back, still open.
    let (stdin, written) = match writer.await {
        Ok(result) => result,
        Err(e) => {
            kill(&mut child).await;
            return Err(DbError::Tool {
                tool,
                failure: crate::error::ToolFailure::Dump,
                message: format!("the writer task failed: {e}"),
            });
        }
    };
    let tables = match pumped {
        Ok(tables) if written.is_ok() => tables,
        Ok(_) | Err(PumpError::ToolGone) => {
            // The tool stopped reading: its exit status and message say why.
            drop(stdin);
            let status = child
                .wait()
                .await
                .map_err(|source| DbError::Spawn { tool, source })?;
            let text = match stderr {
                Some(h) => h.await.unwrap_or_default(),
                None => String::new(),
            };
            return Err(tools::failure(tool, status, &text));
        }
        Err(PumpError::Failed(e)) => {
            drop(stdin);
            return Err(e);
        }
    };
    drop(stdin);
    let status = child
        .wait()
        .await
        .map_err(|source| DbError::Spawn { tool, source })?;
    let text = match stderr {
        Some(h) => h.await.unwrap_or_default(),
        None => String::new(),
    };
    if !status.success() {
        return Err(tools::failure(tool, status, &text));
    }
    let tables = match tables {
        Tables::Known(t) => t,
        Tables::CustomHead(head) => {
            toc::custom_toc(&tools::bin("pg_restore"), Some(&head), None).await?
        }
    };
    Ok(RestoreReport {
        format: opened.format,
        tables,
    })
}

async fn kill(child: &mut Child) {
    let _ = child.start_kill();
    let _ = child.wait().await;
}

enum Tables {
    Known(Vec<TableEntry>),
    CustomHead(Vec<u8>),
}

enum PumpError {
    /// The tool closed its stdin (it exited): its own error explains.
    ToolGone,
    /// Reading, decoding or scanning the backup failed.
    Failed(DbError),
}

/// Read the dump and send it to the writer, scanning plain SQL on the way.
async fn pump(
    opened: &mut Opened,
    options: &RestoreOptions,
    tx: mpsc::Sender<Vec<u8>>,
) -> Result<Tables, PumpError> {
    let mut scanner = match opened.format.dump {
        DumpFormat::Plain => Some(PlainScanner::new(options.no_owner)),
        DumpFormat::Custom => None,
    };
    let mut head = Vec::new();
    if let (Some(_), Some(role)) = (&scanner, &options.role) {
        let set_role = format!("SET ROLE \"{}\";\n", role.replace('"', "\"\""));
        tx.send(set_role.into_bytes())
            .await
            .map_err(|_| PumpError::ToolGone)?;
    }
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match opened.reader.read(&mut buf).await {
            Ok(n) => n,
            Err(e) => {
                return Err(PumpError::Failed(opened.read_error(e)));
            }
        };
        if n == 0 {
            break;
        }
        let chunk = match scanner.as_mut() {
            Some(scanner) => {
                let mut out = Vec::with_capacity(n + 256);
                scanner
                    .feed(&buf[..n], &mut out)
                    .map_err(PumpError::Failed)?;
                out
            }
            None => {
                if head.len() < toc::HEAD_LIMIT {
                    let take = n.min(toc::HEAD_LIMIT - head.len());
                    head.extend_from_slice(&buf[..take]);
                }
                buf[..n].to_vec()
            }
        };
        if !chunk.is_empty() {
            tx.send(chunk).await.map_err(|_| PumpError::ToolGone)?;
        }
    }
    match scanner {
        Some(scanner) => {
            let mut out = Vec::new();
            let summary = scanner.finish(&mut out).map_err(PumpError::Failed)?;
            if !out.is_empty() {
                tx.send(out).await.map_err(|_| PumpError::ToolGone)?;
            }
            Ok(Tables::Known(summary.tables))
        }
        None => Ok(Tables::CustomHead(head)),
    }
}

/// Write every chunk to the tool's stdin; returns stdin (open) and whether
/// every write succeeded.
async fn write_all(
    mut stdin: ChildStdin,
    mut rx: mpsc::Receiver<Vec<u8>>,
) -> (ChildStdin, std::io::Result<()>) {
    while let Some(chunk) = rx.recv().await {
        if let Err(e) = stdin.write_all(&chunk).await {
            return (stdin, Err(e));
        }
    }
    let flushed = stdin.flush().await;
    (stdin, flushed)
}

/// Copy an opened dump to a file (for a parallel restore from a gzipped
/// custom archive, which pg_restore -j needs seekable).
pub async fn spool(opened: &mut Opened, path: &Path) -> Result<u64, DbError> {
    let file_error = |source| DbError::File {
        what: format!("cannot write the temporary file {}", path.display()),
        source,
    };
    let mut file = tokio::fs::File::create(path).await.map_err(file_error)?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = opened
            .reader
            .read(&mut buf)
            .await
            .map_err(|e| opened.read_error(e))?;
        if n == 0 {
            break;
        }
        file.write_all(&buf[..n]).await.map_err(file_error)?;
        total += n as u64;
    }
    file.flush().await.map_err(file_error)?;
    Ok(total)
}

/// Restore a custom archive file with `pg_restore -j jobs`.
pub async fn restore_file(
    path: &Path,
    jobs: u32,
    server: &Server,
    database: &str,
    options: &RestoreOptions,
) -> Result<RestoreReport, DbError> {
    let tables = toc::custom_toc(&tools::bin("pg_restore"), None, Some(path)).await?;
    let mut cmd = tools::command("pg_restore", server, database);
    cmd.arg(format!("--jobs={jobs}"));
    if options.no_owner {
        cmd.arg("--no-owner");
    }
    if let Some(role) = &options.role {
        cmd.arg(format!("--role={role}"));
    }
    cmd.arg(path).stdin(std::process::Stdio::null());
    let mut child = cmd.spawn().map_err(|source| DbError::Spawn {
        tool: "pg_restore",
        source,
    })?;
    let stderr = child
        .stderr
        .take()
        .map(|s| tokio::spawn(tools::collect_stderr("pg_restore", s)));
    let status = child.wait().await.map_err(|source| DbError::Spawn {
        tool: "pg_restore",
        source,
    })?;
    let text = match stderr {
        Some(h) => h.await.unwrap_or_default(),
        None => String::new(),
    };
    if !status.success() {
        return Err(tools::failure("pg_restore", status, &text));
    }
    Ok(RestoreReport {
        format: Format {
            compression: Compression::None,
            dump: DumpFormat::Custom,
        },
        tables,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    async fn format_of(bytes: Vec<u8>) -> Result<Format, DbError> {
        let counter = ByteCounter::default();
        open(Cursor::new(bytes), &counter).await.map(|o| o.format)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn formats_are_detected_through_gzip() {
        let plain = b"--\n-- PostgreSQL database dump\n--\nSET x = 1;\n".to_vec();
        let custom = b"PGDMP\x01\x0e\x00\x04\x08\x01".to_vec();
        assert_eq!(format_of(plain.clone()).await.unwrap().to_string(), "plain");
        assert_eq!(
            format_of(gzip(&plain)).await.unwrap().to_string(),
            "gzip+plain"
        );
        assert_eq!(
            format_of(custom.clone()).await.unwrap().to_string(),
            "custom"
        );
        assert_eq!(
            format_of(gzip(&custom)).await.unwrap().to_string(),
            "gzip+custom"
        );
        assert!(matches!(
            format_of(gzip(b"\0\x01binary")).await,
            Err(DbError::NotADump(_))
        ));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_cut_gzip_stream_is_a_decoder_error() {
        let big: Vec<u8> = (0..200_000u32)
            .flat_map(|i| format!("row {i}\n").into_bytes())
            .collect();
        let mut dump = b"COPY t (x) FROM stdin;\n".to_vec();
        dump.extend_from_slice(&big);
        let mut z = gzip(&dump);
        z.truncate(z.len() / 2);
        let counter = ByteCounter::default();
        let mut opened = open(Cursor::new(z.clone()), &counter).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let err = spool(&mut opened, &dir.path().join("x")).await.unwrap_err();
        assert!(matches!(err, DbError::Decode(_)), "{err:?}");
        assert_eq!(counter.get(), z.len() as u64);
    }
}
