//! Named points where a test kills the process (`SANDBOX_FAILPOINT`), to
//! prove that a claim or a clone killed between any two of its statements
//! leaves the pool, the template and the sandbox consistent.

/// Abort the process, as a SIGKILL would (no destructor, no rollback by
/// the client: the server sees the connection drop), when
/// `SANDBOX_FAILPOINT` names `point`. A no-op otherwise.
pub fn hit(point: &str) {
    if std::env::var(sandbox_core::env_vars::FAILPOINT).is_ok_and(|v| v == point) {
        tracing::error!(point, "failpoint: aborting");
        std::process::abort();
    }
}
