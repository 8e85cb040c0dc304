//! What a running task gets besides its parameters: a progress counter the
//! plugin reports to Argo, and the redactor every message passes through.

use sandbox_core::redact::Redactor;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Work done out of work known, shared between a task and whoever watches it.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<(AtomicU64, AtomicU64)>);

impl Progress {
    /// Set the amount of work known so far.
    pub fn set_total(&self, total: u64) {
        self.0.1.store(total, Ordering::Relaxed);
    }

    /// Count `n` more units done.
    pub fn advance(&self, n: u64) {
        self.0.0.fetch_add(n, Ordering::Relaxed);
    }

    /// `(done, total)`.
    pub fn get(&self) -> (u64, u64) {
        (
            self.0.0.load(Ordering::Relaxed),
            self.0.1.load(Ordering::Relaxed),
        )
    }
}

/// The run-time context of one task run.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Progress for the plugin's `N/M`.
    pub progress: Progress,
    /// Masks secrets in anything the task reports.
    pub redactor: Redactor,
    /// `--dry-run`: say what would be done, change nothing.
    pub dry_run: bool,
}
