//! What can go wrong talking to a bucket, and which of DESIGN §3's kinds
//! each failure is: 429, 5xx and connection errors are transient (retried
//! with backoff, then exit 4); 401/403/404 on a bucket are preconditions
//! (exit 3) naming the bucket and the identity used.

use sandbox_core::retry::Retryable;
use sandbox_core::{Classify, ErrorKind};
use std::time::Duration;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The bucket does not exist (or is hidden from this identity).
    #[error("bucket {bucket} not found (as {identity})")]
    BucketNotFound {
        /// `gs://bucket` or `file:///dir`.
        bucket: String,
        /// Who asked: `anonymous`, a service account, the metadata server.
        identity: String,
    },
    /// The object does not exist.
    #[error("object {object} not found in {bucket}")]
    ObjectNotFound {
        /// `gs://bucket` or `file:///dir`.
        bucket: String,
        /// The full object name.
        object: String,
    },
    /// The identity may not do this.
    #[error("access to {bucket} denied for {identity} (HTTP {status})")]
    Denied {
        /// `gs://bucket`.
        bucket: String,
        /// Who asked.
        identity: String,
        /// 401 or 403.
        status: u16,
    },
    /// A write precondition failed: the object changed under us.
    #[error("object {object} in {bucket} changed while being written (HTTP 412)")]
    Changed {
        /// `gs://bucket`.
        bucket: String,
        /// The full object name.
        object: String,
    },
    /// Any other HTTP error status.
    #[error("{operation} failed with HTTP {status}: {message}")]
    Status {
        /// What was being done, e.g. `list gs://b/p/`.
        operation: String,
        /// The status code.
        status: u16,
        /// The server's message, shortened.
        message: String,
        /// `Retry-After`, when the server sent one.
        retry_after: Option<Duration>,
    },
    /// The connection failed or broke.
    #[error("{operation} failed")]
    Transport {
        /// What was being done.
        operation: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered something we cannot read.
    #[error("{operation}: unexpected response: {message}")]
    Protocol {
        /// What was being done.
        operation: String,
        /// What was wrong with it.
        message: String,
    },
    /// Local file I/O failed.
    #[error("{operation} failed")]
    Io {
        /// What was being done, with the path.
        operation: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// No credentials could be found or used.
    #[error("credentials: {message}")]
    Credentials {
        /// What is wrong.
        message: String,
    },
    /// The data read does not match its checksum.
    #[error("{object}: {message}")]
    Checksum {
        /// The object.
        object: String,
        /// What did not match.
        message: String,
    },
    /// Copying between these locations is not supported.
    #[error("{0}")]
    Unsupported(String),
}

impl StorageError {
    pub(crate) fn io(operation: impl Into<String>, source: std::io::Error) -> Self {
        StorageError::Io {
            operation: operation.into(),
            source,
        }
    }

    pub(crate) fn transport(operation: impl Into<String>, source: reqwest::Error) -> Self {
        StorageError::Transport {
            operation: operation.into(),
            source,
        }
    }

    pub(crate) fn protocol(operation: impl Into<String>, message: impl Into<String>) -> Self {
        StorageError::Protocol {
            operation: operation.into(),
            message: message.into(),
        }
    }

    /// True when the thing asked for does not exist (bucket or object).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            StorageError::BucketNotFound { .. } | StorageError::ObjectNotFound { .. }
        ) || matches!(self, StorageError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

impl Retryable for StorageError {
    fn is_transient(&self) -> bool {
        match self {
            StorageError::Status { status, .. } => {
                reqwest::StatusCode::from_u16(*status).is_ok_and(sandbox_http::is_transient)
            }
            StorageError::Transport { source, .. } => !source.is_builder(),
            StorageError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::TimedOut
            ),
            _ => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            StorageError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl Classify for StorageError {
    fn kind(&self) -> ErrorKind {
        match self {
            StorageError::BucketNotFound { .. }
            | StorageError::ObjectNotFound { .. }
            | StorageError::Denied { .. }
            | StorageError::Credentials { .. } => ErrorKind::Precondition,
            StorageError::Changed { .. } | StorageError::Checksum { .. } => ErrorKind::Transient,
            StorageError::Status { status, .. } if *status == 400 => ErrorKind::Precondition,
            StorageError::Io { source, .. } => match source.kind() {
                std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied => {
                    ErrorKind::Precondition
                }
                _ => ErrorKind::Transient,
            },
            StorageError::Unsupported(_) => ErrorKind::InvalidParams,
            StorageError::Protocol { .. } => ErrorKind::Transient,
            other if other.is_transient() => ErrorKind::Transient,
            _ => ErrorKind::Precondition,
        }
    }
}
