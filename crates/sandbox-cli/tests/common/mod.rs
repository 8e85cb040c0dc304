//! Shared by the integration tests: where the third-party fixtures are.

#![allow(dead_code, unreachable_pub, clippy::print_stderr)]

use std::path::{Path, PathBuf};

/// `$SANDBOX_FIXTURES`, or `../shared/fixtures` beside the repository root.
/// `None` (after saying so loudly on stderr) when it is absent.
pub fn fixtures() -> Option<PathBuf> {
    let dir = match std::env::var_os("SANDBOX_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("../shared/fixtures"),
    };
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "\n*** SKIPPED: third-party fixtures not found at {} — set SANDBOX_FIXTURES (CI always has them) ***\n",
            dir.display()
        );
        None
    }
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// This crate's directory.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}
