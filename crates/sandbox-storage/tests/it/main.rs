//! Integration tests of sandbox-storage, one binary: real fake-gcs-server
//! (started by sandbox-harness) and `file://` directories.

mod auth;
mod gcs;
mod sync;
