//! Integration tests of sandbox-db, one binary: binary discovery over
//! real directories, and restores into a real PostgreSQL (started by
//! sandbox-harness).

mod pgbin;
mod pool;
mod restore;
