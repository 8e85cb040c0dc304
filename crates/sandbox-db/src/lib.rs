//! Restoring a PostgreSQL backup into a sandbox database.
//!
//! The bytes of a backup stream from wherever they are stored, through a
//! decompressor when they are gzipped, into `psql` (plain SQL, which may hold
//! psql meta-commands) or `pg_restore` (pg_dump's custom format) on stdin;
//! nothing is written to disk unless a parallel restore asks for a seekable
//! file. The restore goes into a staging database that takes the target's
//! name only once the restore, the post-restore SQL and the verification
//! succeeded. Administration (create, rename, drop, checks) goes through
//! sqlx; nothing here decides policy — the task applies the guard rails
//! before it calls in.
#![warn(missing_docs)]

pub mod admin;
pub mod discovery;
pub mod download;
pub mod drop;
pub mod error;
pub mod failpoint;
pub mod format;
pub mod pgbin;
pub mod pipeline;
pub mod plain;
pub mod pool;
pub mod restore;
pub mod server;
pub mod template;
pub mod toc;
pub mod tools;

pub use error::DbError;
pub use format::{Compression, DumpFormat, Format};
