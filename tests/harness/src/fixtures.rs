//! Where the third-party fixtures are (`$SANDBOX_FIXTURES`, default
//! `../shared/fixtures` beside the repository), for every test that reads
//! them. On a developer's machine without them a test is skipped, loudly;
//! under CI (`CI` set) a missing fixture fails the test, so a broken
//! checkout can never pass by skipping.

use sandbox_core::env_vars;
use std::path::{Path, PathBuf};

/// The fixtures directory, or `None` when it is absent outside CI (said on
/// stderr). Under CI a missing directory panics, naming `scripts/test` and
/// `SANDBOX_FIXTURES`.
pub fn dir() -> Option<PathBuf> {
    let dir = configured();
    if dir.is_dir() {
        Some(dir)
    } else {
        missing(&dir)
    }
}

/// The fixture `relative` (a file or directory below [`dir`]), with the
/// same rule when it is absent.
pub fn path(relative: impl AsRef<Path>) -> Option<PathBuf> {
    let path = dir()?.join(relative);
    if path.exists() {
        Some(path)
    } else {
        missing(&path)
    }
}

/// True when running under CI: `CI` set to anything but empty, `0` or
/// `false` (GitHub Actions, GitLab and this project's `.ci/run` set
/// `CI=true`).
pub fn under_ci() -> bool {
    std::env::var_os(env_vars::CI).is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn configured() -> PathBuf {
    std::env::var_os(env_vars::FIXTURES)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"))
}

#[allow(clippy::print_stderr)] // the one way a skipped test can say so
fn missing(path: &Path) -> Option<PathBuf> {
    let fix = format!(
        "run scripts/test (it sets {}), or set {} to the shared fixtures",
        env_vars::FIXTURES,
        env_vars::FIXTURES
    );
    assert!(
        !under_ci(),
        "third-party fixture {} not found under CI: {fix}",
        path.display()
    );
    eprintln!(
        "\n*** SKIPPED: third-party fixture {} not found: {fix} ***\n",
        path.display()
    );
    None
}
