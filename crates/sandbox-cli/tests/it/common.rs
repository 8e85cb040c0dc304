//! Shared by the integration tests: where the third-party fixtures are.

#![allow(dead_code, unreachable_pub, clippy::print_stderr)]

use std::path::{Path, PathBuf};

/// The third-party fixtures, through the harness's one rule: `None`
/// (said loudly) when they are absent on a developer's machine, a failure
/// under CI, where they always are.
pub fn fixtures() -> Option<PathBuf> {
    sandbox_harness::fixtures::dir()
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// This crate's directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
