//! What the Git-writing tasks share besides their argument groups: running
//! libgit2 off the async runtime, and the name of the output that says what
//! happened.

use sandbox_core::TaskError;

/// Run blocking work (libgit2) off the async runtime's thread.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, TaskError> + Send + 'static,
) -> Result<T, TaskError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| TaskError::internal("the git worker failed").with_source(e))?
}

/// The outcome of a task as one of its outputs says: `created`, `reused`,
/// `pushed`, `unchanged`, `deleted`, `absent`, `kept`, `planned`.
pub const ACTION: &str = "action";
