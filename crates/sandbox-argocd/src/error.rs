//! Kubernetes API failures and their DESIGN §3 kinds.

use sandbox_core::{Classify, ErrorKind};

/// A Kubernetes API request that failed. Messages carry the URL and the
/// API server's own message, never the token (it travels in a sensitive
/// header only).
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// Not configured: not in a cluster and no API URL given, a token file
    /// that cannot be read, a CA that cannot be loaded.
    #[error("{message}")]
    Config {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// 401: the token is missing, wrong or expired.
    #[error("the Kubernetes API rejected the token (401) for {url}: {message}")]
    Unauthorized {
        /// The request.
        url: String,
        /// The API server's message.
        message: String,
    },
    /// 403: the service account lacks the right.
    #[error(
        "the Kubernetes API refused access (403) to {url}: {message}; the service account needs `get` on applications.argoproj.io in that namespace"
    )]
    Forbidden {
        /// The request.
        url: String,
        /// The API server's message.
        message: String,
    },
    /// 404: no such object.
    #[error("the Kubernetes API has no {url} (404): {message}")]
    NotFound {
        /// The request.
        url: String,
        /// The API server's message.
        message: String,
    },
    /// 5xx, or 429 (the API server's priority and fairness).
    #[error("the Kubernetes API answered {status} for {url}: {message}")]
    Server {
        /// The request.
        url: String,
        /// The status.
        status: u16,
        /// The API server's message.
        message: String,
    },
    /// Any other 4xx.
    #[error("the Kubernetes API refused the request {url} ({status}): {message}")]
    Request {
        /// The request.
        url: String,
        /// The status.
        status: u16,
        /// The API server's message.
        message: String,
    },
    /// Connection, TLS or timeout trouble.
    #[error("cannot reach the Kubernetes API at {url}")]
    Network {
        /// The request.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The answer is not the documented object.
    #[error("unexpected answer from {url}")]
    Decode {
        /// The request.
        url: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
}

impl KubeError {
    /// True for what time may cure: 5xx, 429 and network trouble.
    pub fn is_transient(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }
}

impl Classify for KubeError {
    fn kind(&self) -> ErrorKind {
        match self {
            KubeError::Config { .. }
            | KubeError::Unauthorized { .. }
            | KubeError::Forbidden { .. }
            | KubeError::NotFound { .. }
            | KubeError::Request { .. }
            | KubeError::Decode { .. } => ErrorKind::Precondition,
            KubeError::Server { .. } | KubeError::Network { .. } => ErrorKind::Transient,
        }
    }
}
