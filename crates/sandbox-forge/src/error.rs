//! GitHub failures and their DESIGN §3 kinds: what a token or a name fixes
//! is a precondition (3); what time fixes is transient (4).

use reqwest::StatusCode;
use sandbox_core::retry::Retryable;
use sandbox_core::{Classify, ErrorKind};

/// A GitHub request that failed. Messages carry the URL (never a token:
/// it travels in a sensitive header only) and GitHub's own message.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// 401: the token is missing, wrong or expired.
    #[error("GitHub rejected the token (401) for {url}: {message}")]
    Unauthorized {
        /// The request.
        url: String,
        /// GitHub's message.
        message: String,
    },
    /// 403 without a rate limit: the token lacks a permission.
    #[error("GitHub refused access (403) to {url}: {message}")]
    Forbidden {
        /// The request.
        url: String,
        /// GitHub's message.
        message: String,
    },
    /// 404: no such repository (or the token cannot see it).
    #[error(
        "GitHub has no {url} (404; a private repository needs a token that can read it): {message}"
    )]
    NotFound {
        /// The request.
        url: String,
        /// GitHub's message.
        message: String,
    },
    /// 403/429 rate limit whose reset is further away than we wait.
    #[error("GitHub rate limit reached for {url}; it resets in {wait_s} s: {message}")]
    RateLimited {
        /// The request.
        url: String,
        /// Seconds until it resets.
        wait_s: u64,
        /// GitHub's message.
        message: String,
    },
    /// 5xx after retries.
    #[error("GitHub answered {status} for {url}: {message}")]
    Server {
        /// The request.
        url: String,
        /// The status.
        status: u16,
        /// GitHub's message.
        message: String,
    },
    /// Any other 4xx (422 validation and the like).
    #[error("GitHub refused the request {url} ({status}): {message}")]
    Request {
        /// The request.
        url: String,
        /// The status.
        status: u16,
        /// GitHub's message.
        message: String,
    },
    /// Connection, TLS or timeout trouble, after retries.
    #[error("cannot reach GitHub at {url}")]
    Network {
        /// The request.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The answer is not what the API documents.
    #[error("unexpected answer from {url}")]
    Decode {
        /// The request.
        url: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A listing is longer than the client reads; callers that take an
    /// absent item as closed must not act on part of it.
    #[error("{url} lists more than {limit} items; it was not read to its end")]
    Truncated {
        /// The listing.
        url: String,
        /// How many items were read.
        limit: usize,
    },
    /// The client is misconfigured (base URL, token).
    #[error("{message}")]
    Config {
        /// What is wrong.
        message: String,
    },
}

impl ForgeError {
    pub(crate) fn from_status(status: StatusCode, url: &str, message: String) -> Self {
        let url = url.to_string();
        match status.as_u16() {
            401 => ForgeError::Unauthorized { url, message },
            403 => ForgeError::Forbidden { url, message },
            404 => ForgeError::NotFound { url, message },
            s if s >= 500 => ForgeError::Server {
                url,
                status: s,
                message,
            },
            s => ForgeError::Request {
                url,
                status: s,
                message,
            },
        }
    }
}

impl Classify for ForgeError {
    fn kind(&self) -> ErrorKind {
        match self {
            ForgeError::Unauthorized { .. }
            | ForgeError::Forbidden { .. }
            | ForgeError::NotFound { .. }
            | ForgeError::Request { .. }
            | ForgeError::Decode { .. }
            | ForgeError::Truncated { .. } => ErrorKind::Precondition,
            ForgeError::RateLimited { .. }
            | ForgeError::Server { .. }
            | ForgeError::Network { .. } => ErrorKind::Transient,
            ForgeError::Config { .. } => ErrorKind::InvalidParams,
        }
    }
}

impl Retryable for ForgeError {
    fn is_transient(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }
}
