//! How to reach Vault and log in. Built by the task layer from its flags
//! (`sandbox_tasks::vault_args`); nothing here reads the environment.

use sandbox_core::credential::Secret;
use sandbox_core::retry::Backoff;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Where the projected service account token is in a pod.
pub const DEFAULT_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/// How to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// A token (from `VAULT_TOKEN`): local runs.
    Token(Secret),
    /// Vault's kubernetes auth: the service account token, checked by
    /// Vault through the cluster's TokenReview API.
    Kubernetes {
        /// The auth mount, `kubernetes` by default.
        mount: String,
        /// The Vault role bound to the service account.
        role: String,
        /// The service account token file.
        token_file: PathBuf,
    },
    /// Vault's jwt auth: the same projected token, checked by Vault against
    /// the cluster's OIDC discovery or configured public keys.
    Jwt {
        /// The auth mount, `jwt` by default.
        mount: String,
        /// The Vault role bound to the service account's subject.
        role: String,
        /// The service account token file.
        token_file: PathBuf,
    },
}

/// The method and role, as named in a permission error.
impl fmt::Display for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Login::Token(_) => f.write_str("token login"),
            Login::Kubernetes { mount, role, .. } => {
                write!(f, "kubernetes login as role {role} at auth/{mount}")
            }
            Login::Jwt { mount, role, .. } => write!(f, "jwt login as role {role} at auth/{mount}"),
        }
    }
}

/// Everything needed to talk to Vault.
#[derive(Debug, Clone)]
pub struct VaultConfig {
    /// `https://vault.example:8200`, no trailing slash needed.
    pub addr: String,
    /// Sent as `X-Vault-Namespace` when set.
    pub namespace: Option<String>,
    /// PEM file of the CA that signed Vault's certificate, added to the
    /// built-in roots.
    pub ca_file: Option<PathBuf>,
    /// How to log in.
    pub login: Login,
    /// Retries of transient failures (connection, 5xx, 429).
    pub backoff: Backoff,
    /// Limit of one request, connection included.
    pub timeout: Duration,
    /// Limit of establishing a connection.
    pub connect_timeout: Duration,
}

impl VaultConfig {
    /// A configuration with the default backoff and timeouts.
    pub fn new(addr: impl Into<String>, login: Login) -> Self {
        VaultConfig {
            addr: addr.into(),
            namespace: None,
            ca_file: None,
            login,
            backoff: Backoff::default(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
        }
    }
}
