//! Git failures, each with the DESIGN §3 kind it maps to. libgit2 reports
//! remote trouble as free text in a few classes; [`classify_remote`] turns
//! that into auth / not found / network / server, so the task exits 3 for
//! what waiting cannot fix and 4 for what it can.

use sandbox_core::redact::redact_url;
use sandbox_core::retry::Retryable;
use sandbox_core::{Classify, ErrorKind};
use std::error::Error as StdError;

/// A Git operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// The remote refused the credentials, or asked for some and there were none.
    #[error("authentication to {url} failed: {detail}")]
    Auth {
        /// The remote, redacted.
        url: String,
        /// What happened, e.g. "credentials rejected after 2 attempts".
        detail: String,
    },
    /// The repository (or the server path) does not exist.
    #[error("repository {url} not found or not exported")]
    NotFound {
        /// The remote, redacted.
        url: String,
        /// libgit2's report.
        #[source]
        source: git2::Error,
    },
    /// Connection refused, reset, timed out, or the server answered 5xx.
    #[error("{op} {url} failed (network or server error)")]
    Network {
        /// What was being done: fetch, push, list refs of.
        op: &'static str,
        /// The remote, redacted.
        url: String,
        /// libgit2's report.
        #[source]
        source: git2::Error,
    },
    /// Any other error talking to the remote (protocol, unsupported, …).
    #[error("{op} {url} failed")]
    Remote {
        /// What was being done.
        op: &'static str,
        /// The remote, redacted.
        url: String,
        /// libgit2's report.
        #[source]
        source: git2::Error,
    },
    /// A branch the operation needs is not on the remote.
    #[error("branch {branch} not found on {url}")]
    BranchNotFound {
        /// The branch.
        branch: String,
        /// The remote, redacted.
        url: String,
    },
    /// The branch exists and the caller asked to fail in that case.
    #[error("branch {branch} already exists on {url}")]
    BranchExists {
        /// The branch.
        branch: String,
        /// The remote, redacted.
        url: String,
    },
    /// Another writer kept winning: the push was rejected as not a fast
    /// forward on every attempt.
    #[error("push to {branch} was rejected {attempts} times (concurrent writers); giving up")]
    Conflict {
        /// The branch.
        branch: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The server refused the update for a reason other than a race (a
    /// hook, branch protection).
    #[error("the remote refused the update of {refname}: {message}")]
    Rejected {
        /// The ref.
        refname: String,
        /// The server's message.
        message: String,
    },
    /// The edit function refused or failed; its kind is kept.
    #[error("{message}")]
    Edit {
        /// The kind the edit chose.
        kind: ErrorKind,
        /// What failed.
        message: String,
        /// The cause.
        #[source]
        source: Option<Box<dyn StdError + Send + Sync>>,
    },
    /// The edit touched a path it may not write on this branch.
    #[error("refusing to write {path} on {branch}: only {allowed} may change there")]
    PathNotAllowed {
        /// The path.
        path: String,
        /// The branch.
        branch: String,
        /// The paths that may change.
        allowed: String,
    },
    /// The workdir is unusable (another remote's clone, not a repository, unwritable).
    #[error("workdir {path}: {message}")]
    Workdir {
        /// The directory.
        path: String,
        /// What is wrong.
        message: String,
        /// The cause.
        #[source]
        source: Option<Box<dyn StdError + Send + Sync>>,
    },
    /// A local repository operation failed (a bug or a broken workdir).
    #[error("local git operation failed: {op}")]
    Local {
        /// What was being done.
        op: &'static str,
        /// libgit2's report.
        #[source]
        source: git2::Error,
    },
}

impl Classify for GitError {
    fn kind(&self) -> ErrorKind {
        match self {
            GitError::Auth { .. }
            | GitError::NotFound { .. }
            | GitError::BranchNotFound { .. }
            | GitError::BranchExists { .. }
            | GitError::Rejected { .. }
            | GitError::Remote { .. }
            | GitError::Workdir { .. } => ErrorKind::Precondition,
            GitError::Network { .. } | GitError::Conflict { .. } => ErrorKind::Transient,
            GitError::PathNotAllowed { .. } => ErrorKind::Refused,
            GitError::Edit { kind, .. } => *kind,
            GitError::Local { .. } => ErrorKind::Internal,
        }
    }
}

impl Retryable for GitError {
    fn is_transient(&self) -> bool {
        matches!(self, GitError::Network { .. })
    }
}

impl GitError {
    pub(crate) fn local(op: &'static str) -> impl FnOnce(git2::Error) -> GitError {
        move |source| GitError::Local { op, source }
    }
}

/// Sort a libgit2 error from a remote operation into auth, not-found,
/// network/5xx or other. `auth_detail` is set when the credential callback
/// gave up (the error text libgit2 then reports is its own).
pub(crate) fn classify_remote(
    op: &'static str,
    url: &str,
    source: git2::Error,
    auth_detail: Option<String>,
) -> GitError {
    let url = redact_url(url);
    let message = source.message().to_ascii_lowercase();
    if let Some(detail) = auth_detail {
        return GitError::Auth { url, detail };
    }
    let http_status = message
        .split("status code: ")
        .nth(1)
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok());
    if source.code() == git2::ErrorCode::Certificate
        || message.contains("host key verification failed")
        || message.contains("remote ssh hostkey")
    {
        return GitError::Auth {
            url,
            detail: source.message().to_string(),
        };
    }
    if source.code() == git2::ErrorCode::Auth
        || matches!(http_status, Some(401 | 403))
        || message.contains("authentication")
        || message.contains("permission denied")
        || message.contains("too many redirects or authentication replays")
    {
        return GitError::Auth {
            url,
            detail: source.message().to_string(),
        };
    }
    if http_status == Some(404)
        || message.contains("not found")
        || message.contains("not exported")
        || message.contains("does not appear to be a git repository")
        || message.contains("could not find repository")
        || message.contains("failed to resolve path")
    {
        return GitError::NotFound { url, source };
    }
    let network_class = matches!(
        source.class(),
        git2::ErrorClass::Net
            | git2::ErrorClass::Os
            | git2::ErrorClass::Ssl
            | git2::ErrorClass::Ssh
    );
    if http_status.is_some_and(|s| s >= 500 || s == 429 || s == 408)
        || (network_class && !message.contains("unsupported"))
        || message.contains("connection")
        || message.contains("timed out")
        || message.contains("early eof")
        || message.contains("unexpected eof")
        || message.contains("broken pipe")
        || message.contains("failed to send request")
        || message.contains("failed to read")
        || message.contains("failed to write")
        || message.contains("invalid packet line")
        || message.contains("hung up")
    {
        return GitError::Network { op, url, source };
    }
    GitError::Remote { op, url, source }
}

/// True when a per-ref rejection from the server is another writer having
/// moved the branch since we looked (a race, retried), not a policy refusal.
pub(crate) fn is_race(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "non-fast-forward",
        "fetch first",
        "failed to update ref",
        "failed to lock",
        "cannot lock ref",
        "stale info",
        "but expected",
        "incorrect old value",
    ]
    .iter()
    .any(|needle| m.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(class: git2::ErrorClass, code: git2::ErrorCode, msg: &str) -> git2::Error {
        git2::Error::new(code, class, msg)
    }

    #[test]
    fn remote_failures_map_to_the_contract() {
        use git2::{ErrorClass as C, ErrorCode as E};
        let cases = [
            (
                err(C::Http, E::GenericError, "unexpected http status code: 404"),
                ErrorKind::Precondition,
            ),
            (
                err(C::Http, E::Auth, "authentication required"),
                ErrorKind::Precondition,
            ),
            (
                err(C::Http, E::GenericError, "unexpected http status code: 503"),
                ErrorKind::Transient,
            ),
            (
                err(
                    C::Net,
                    E::GenericError,
                    "failed to connect to 127.0.0.1: Connection refused",
                ),
                ErrorKind::Transient,
            ),
            (
                err(
                    C::Net,
                    E::GenericError,
                    "remote error: access denied or repository not exported: /x.git",
                ),
                ErrorKind::Precondition,
            ),
            (
                err(C::Net, E::GenericError, "early EOF"),
                ErrorKind::Transient,
            ),
        ];
        for (e, kind) in cases {
            let text = e.message().to_string();
            assert_eq!(
                classify_remote("fetch", "git://h/x", e, None).kind(),
                kind,
                "{text}"
            );
        }
        let e = err(git2::ErrorClass::Callback, git2::ErrorCode::User, "x");
        let auth = classify_remote("fetch", "https://u:p@h/x", e, Some("rejected".into()));
        assert_eq!(auth.kind(), ErrorKind::Precondition);
        assert!(!auth.to_string().contains("u:p"));
    }

    #[test]
    fn races_are_told_from_refusals() {
        assert!(is_race("non-fast-forward"));
        assert!(is_race("failed to update ref"));
        assert!(!is_race("pre-receive hook declined"));
    }
}
