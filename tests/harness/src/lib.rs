//! Real services for tests, each on a free loopback port and stopped when
//! dropped — also when a test panics (Drop runs while unwinding) and when the
//! test process dies (children get SIGKILL from the kernel on parent death).
//!
//! A missing binary fails the test with a message naming `scripts/test`,
//! which installs everything; nothing is ever silently skipped. Missing
//! third-party fixtures skip a test loudly, and fail it under CI
//! ([`fixtures`]).

pub mod fake_gcs;
pub mod fixtures;
pub mod git;
pub mod openbao;
pub mod postgres;
pub mod process;

pub use fake_gcs::FakeGcs;
pub use git::{GitDaemon, GitHttp, GitRoot};
pub use openbao::OpenBao;
pub use postgres::Postgres;
pub use process::{free_port, tool};
