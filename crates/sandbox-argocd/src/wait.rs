//! Waiting for an Application to be ready at a revision, with a deadline.
//!
//! Right after register-app pushes the Application's file, the Application
//! does not exist yet: the app-of-apps parent creates it on its next sync.
//! A 404 is therefore waited out like any other "not yet", and so are the
//! API server's 5xx and network trouble; a rejected token (401) or a
//! missing right (403) ends the wait at once: waiting cannot fix them.

use crate::application::{Application, Failure, UnhealthyResource, Verdict, short, verdict};
use crate::{Kube, KubeError, application_path};
use std::time::Duration;
use tokio::time::Instant;

/// How long and how often.
#[derive(Debug, Clone, Copy)]
pub struct WaitOptions {
    /// The longest wait, from the first poll.
    pub deadline: Duration,
    /// The pause between two polls.
    pub interval: Duration,
}

/// The Application became ready.
#[derive(Debug, Clone)]
pub struct Ready {
    /// Polls made, the last included.
    pub polls: u32,
    /// From the first poll to the ready one.
    pub waited: Duration,
    /// The Application as last read.
    pub application: Application,
}

/// The wait ended without a ready Application.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// Degraded at the revision.
    #[error("{0}")]
    Failed(Failure),
    /// The deadline passed; `reason` says what the last poll saw.
    #[error(
        "Application {namespace}/{name} was not Synced at revision {} and Healthy after {} s ({polls} polls): {reason}",
        short(revision),
        waited.as_secs()
    )]
    TimedOut {
        /// Argo CD's namespace.
        namespace: String,
        /// The Application.
        name: String,
        /// The revision waited for.
        revision: String,
        /// How long.
        waited: Duration,
        /// Polls made.
        polls: u32,
        /// What the last poll saw.
        reason: String,
        /// Unhealthy or failed resources of the last poll.
        resources: Vec<UnhealthyResource>,
    },
    /// The API said no in a way waiting cannot change (401, 403, a bad answer).
    #[error("cannot read Application {namespace}/{name}")]
    Kube {
        /// Argo CD's namespace.
        namespace: String,
        /// The Application.
        name: String,
        /// The cause.
        #[source]
        source: KubeError,
    },
}

impl sandbox_core::Classify for WaitError {
    fn kind(&self) -> sandbox_core::ErrorKind {
        match self {
            WaitError::Failed(_) | WaitError::TimedOut { .. } => {
                sandbox_core::ErrorKind::Precondition
            }
            WaitError::Kube { source, .. } => sandbox_core::Classify::kind(source),
        }
    }
}

/// Poll Application `namespace/name` until [`verdict`] says ready or
/// failed, or `options.deadline` passes. `on_poll` sees each poll's
/// number and what it found (for logs and progress).
pub async fn wait_ready(
    kube: &Kube,
    namespace: &str,
    name: &str,
    revision: &str,
    options: WaitOptions,
    mut on_poll: impl FnMut(u32, &str),
) -> Result<Ready, WaitError> {
    let path = application_path(namespace, name);
    let start = Instant::now();
    let mut polls = 0u32;
    loop {
        polls += 1;
        let (reason, resources) = match kube.get::<Application>(&path).await {
            Ok(app) => match verdict(&app, revision) {
                Verdict::Ready => {
                    on_poll(polls, "ready");
                    return Ok(Ready {
                        polls,
                        waited: start.elapsed(),
                        application: app,
                    });
                }
                Verdict::Failed(failure) => {
                    on_poll(polls, &failure.summary);
                    return Err(WaitError::Failed(failure));
                }
                // The reason already names a failed operation and its
                // message; the resources include what it failed to apply.
                Verdict::Waiting(reason) => (reason, app.unhealthy_resources()),
            },
            Err(KubeError::NotFound { .. }) => (
                format!(
                    "Application {namespace}/{name} does not exist (yet): the app-of-apps parent creates it when it syncs the file register-app pushed"
                ),
                Vec::new(),
            ),
            Err(e) if e.is_transient() => (e.to_string(), Vec::new()),
            Err(source) => {
                return Err(WaitError::Kube {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    source,
                });
            }
        };
        on_poll(polls, &reason);
        let waited = start.elapsed();
        if waited >= options.deadline {
            return Err(WaitError::TimedOut {
                namespace: namespace.to_string(),
                name: name.to_string(),
                revision: revision.to_string(),
                waited,
                polls,
                reason: with_resources(reason, &resources),
                resources,
            });
        }
        // The last poll happens at the deadline, not an interval before it.
        tokio::time::sleep(options.interval.min(options.deadline - waited)).await;
    }
}

fn with_resources(mut reason: String, resources: &[UnhealthyResource]) -> String {
    for r in resources {
        reason.push_str(&format!("; {r}"));
    }
    reason
}
