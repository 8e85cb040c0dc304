//! What can go wrong in a restore, and which of DESIGN §3's kinds each is.

use sandbox_core::{Classify, ErrorKind};
use std::error::Error as StdError;

/// A failure of backup discovery, the restore pipeline or administration.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The server could not be reached or refused the login.
    #[error("cannot connect to the database server {server}")]
    Connect {
        /// The server, without credentials.
        server: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// An administrative statement failed.
    #[error("{what} failed")]
    Query {
        /// What was being done, e.g. `create the staging database`.
        what: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The backup's first bytes are not a dump in a format we restore.
    #[error("the backup is not a PostgreSQL dump: {0}")]
    NotADump(String),
    /// The gzip layer is corrupt or cut short.
    #[error("the backup cannot be decompressed")]
    Decode(#[source] std::io::Error),
    /// The dump ended before pg_dump's end marker.
    #[error("the backup is truncated: {0}")]
    Truncated(String),
    /// The dump would touch another database (`\connect`, `CREATE DATABASE`).
    #[error("the backup would leave the target database: {0}")]
    LeavesTarget(String),
    /// Reading the backup failed.
    #[error("reading the backup failed")]
    Source {
        /// Transient for network trouble, precondition for a missing object.
        kind: ErrorKind,
        /// The storage error.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
    /// psql or pg_restore could not be started.
    #[error("cannot run {tool}; install the PostgreSQL client (postgresql-client)")]
    Spawn {
        /// `psql` or `pg_restore`.
        tool: &'static str,
        /// The spawn error.
        #[source]
        source: std::io::Error,
    },
    /// psql or pg_restore failed; the message is theirs.
    #[error("{tool} failed: {message}")]
    Tool {
        /// `psql` or `pg_restore`.
        tool: &'static str,
        /// What the failure means for a retry.
        failure: ToolFailure,
        /// The tool's own error lines.
        message: String,
    },
    /// A local file (temporary download, post-restore SQL) failed.
    #[error("{what}")]
    File {
        /// What was being done, naming the file.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The restored database does not match the backup's table of contents.
    #[error("verification failed: {0}")]
    Verify(String),
    /// Another restore of the same target holds its lock.
    #[error("another restore of {0} is running")]
    Busy(String),
    /// No backup matched, or the one found is too old.
    #[error("{0}")]
    Backup(String),
}

/// How a failure of psql or pg_restore is to be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolFailure {
    /// The connection to the server was lost or refused: retrying may help.
    ConnectionLost,
    /// Authentication failed or the database is missing.
    Login,
    /// The dump itself is wrong: an SQL error, or a damaged archive.
    Dump,
}

impl Classify for DbError {
    fn kind(&self) -> ErrorKind {
        match self {
            DbError::Connect { source, .. } | DbError::Query { source, .. } => sqlx_kind(source),
            DbError::NotADump(_)
            | DbError::Decode(_)
            | DbError::Truncated(_)
            | DbError::Spawn { .. }
            | DbError::File { .. }
            | DbError::Verify(_)
            | DbError::Backup(_) => ErrorKind::Precondition,
            DbError::LeavesTarget(_) => ErrorKind::Refused,
            DbError::Source { kind, .. } => *kind,
            DbError::Tool { failure, .. } => match failure {
                ToolFailure::ConnectionLost => ErrorKind::Transient,
                ToolFailure::Login | ToolFailure::Dump => ErrorKind::Precondition,
            },
            DbError::Busy(_) => ErrorKind::Transient,
        }
    }
}

impl sandbox_core::retry::Retryable for DbError {
    fn is_transient(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }
}

/// Network trouble and a server going away are worth a retry; a refused
/// login, a missing database or a failed statement are not.
pub fn sqlx_kind(error: &sqlx::Error) -> ErrorKind {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Protocol(_) => {
            ErrorKind::Transient
        }
        sqlx::Error::Tls(_) | sqlx::Error::Configuration(_) => ErrorKind::Precondition,
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // admin_shutdown, crash_shutdown, cannot_connect_now,
            // too_many_connections, object_in_use (a rename racing a login),
            // lock_not_available, serialization / deadlock.
            Some("57P01" | "57P02" | "57P03" | "53300" | "55006" | "55P03" | "40001" | "40P01") => {
                ErrorKind::Transient
            }
            Some(code) if code.starts_with("08") => ErrorKind::Transient,
            _ => ErrorKind::Precondition,
        },
        _ => ErrorKind::Internal,
    }
}
