//! Resolving credential references for one run: `file:`, `env:` and
//! `vault://` (KV v2). Each reference is resolved once and cached; each
//! Vault secret is read once however many of its keys are used; Vault is
//! logged in to once, on the first `vault://` reference, and never when a
//! run has none. Every resolved value is registered with the run's
//! [`Redactor`] before it is returned, so no message of the run can show it.

use crate::client::{VaultClient, VaultError};
use crate::config::VaultConfig;
use sandbox_core::credential::{CredentialRef, Secret, VaultScope};
use sandbox_core::params::{EnvironmentName, Invalid};
use sandbox_core::redact::Redactor;
use sandbox_core::{Classify, ErrorKind};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{Mutex, OnceCell};

/// Why a credential could not be resolved. Messages name the reference or
/// the Vault path, never a value.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The reference is malformed, uses `{environment}` without one, or
    /// points outside the Vault scope. Nothing was sent.
    #[error("credential {reference} is not allowed: {source}")]
    Invalid {
        /// The reference, redacted.
        reference: String,
        /// Every rule it breaks.
        #[source]
        source: Invalid,
    },
    /// `file:` names a file that cannot be read.
    #[error("credential file {} cannot be read", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `env:` names an unset variable.
    #[error("environment variable {name} is not set")]
    Env {
        /// The variable.
        name: String,
    },
    /// The reference resolved to an empty value.
    #[error("credential {reference} is empty")]
    Empty {
        /// The reference, redacted.
        reference: String,
    },
    /// A `vault://` reference in a run with no Vault login configured.
    #[error("credential {reference} needs Vault, and no Vault address is configured")]
    NoVault {
        /// The reference, redacted.
        reference: String,
    },
    /// No KV v2 secret at the path.
    #[error("no secret at {location} (KV v2)")]
    MissingPath {
        /// `mount/path`.
        location: String,
    },
    /// The secret exists without the key.
    #[error("secret {location} has no key {key}")]
    MissingKey {
        /// `mount/path`.
        location: String,
        /// The key asked for.
        key: String,
    },
    /// Vault failed (login or read); its kind decides the exit code.
    #[error("cannot read {reference}")]
    Vault {
        /// The reference, redacted.
        reference: String,
        /// The cause.
        #[source]
        source: VaultError,
    },
}

impl Classify for CredentialError {
    fn kind(&self) -> ErrorKind {
        match self {
            CredentialError::Invalid { .. } => ErrorKind::InvalidParams,
            CredentialError::File { .. }
            | CredentialError::Env { .. }
            | CredentialError::Empty { .. }
            | CredentialError::NoVault { .. }
            | CredentialError::MissingPath { .. }
            | CredentialError::MissingKey { .. } => ErrorKind::Precondition,
            CredentialError::Vault { source, .. } => source.kind(),
        }
    }
}

/// The credential resolver of one run: cheap to clone, and clones share
/// the login and the caches.
#[derive(Clone)]
pub struct Credentials {
    redactor: Redactor,
    scope: VaultScope,
    environment: Option<EnvironmentName>,
    vault: Option<VaultConfig>,
    state: Arc<State>,
}

/// The data of one KV v2 secret.
type KvData = Arc<Map<String, Value>>;

#[derive(Default)]
struct State {
    client: OnceCell<VaultClient>,
    /// KV v2 data by `(mount, path)`; `None` when there is no secret.
    secrets: Mutex<HashMap<(String, String), Option<KvData>>>,
    values: Mutex<HashMap<CredentialRef, Secret>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("scope", &self.scope.to_string())
            .field("environment", &self.environment)
            .field("vault", &self.vault.as_ref().map(|v| &v.addr))
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// A resolver that registers every value with `redactor`, with the
    /// default scope (`secret/sandboxes`), no environment and no Vault.
    pub fn new(redactor: Redactor) -> Self {
        Credentials {
            redactor,
            scope: VaultScope::default(),
            environment: None,
            vault: None,
            state: Arc::default(),
        }
    }

    /// Confine `vault://` references to `scope`.
    pub fn with_scope(mut self, scope: VaultScope) -> Self {
        self.scope = scope;
        self
    }

    /// Fill `{environment}` with `environment`.
    pub fn with_environment(mut self, environment: Option<EnvironmentName>) -> Self {
        self.environment = environment;
        self
    }

    /// Resolve `vault://` references with this Vault (`None`: such a
    /// reference is a precondition error).
    pub fn with_vault(mut self, vault: Option<VaultConfig>) -> Self {
        self.vault = vault;
        self
    }

    /// The scope `vault://` references are confined to.
    pub fn scope(&self) -> &VaultScope {
        &self.scope
    }

    /// Resolve `reference`: `{environment}` filled in, confined to the
    /// scope (checked again here, so a task that skipped validation still
    /// sends no request outside it), read once, cached, registered with the
    /// redactor.
    #[tracing::instrument(skip_all, fields(credential = %reference))]
    pub async fn resolve(&self, reference: &CredentialRef) -> Result<Secret, CredentialError> {
        let bound = reference
            .clone()
            .bind(self.environment.as_ref(), &self.scope)
            .map_err(|source| CredentialError::Invalid {
                reference: reference.to_string(),
                source,
            })?;
        if let Some(value) = self.state.values.lock().await.get(&bound) {
            return Ok(value.clone());
        }
        let value = match &bound {
            CredentialRef::File(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|source| CredentialError::File {
                        path: path.clone(),
                        source,
                    })?;
                trim_newline(text)
            }
            CredentialRef::Env(name) => {
                std::env::var(name).map_err(|_| CredentialError::Env { name: name.clone() })?
            }
            CredentialRef::Vault { mount, path, key } => {
                self.read_vault(&bound, mount, path, key).await?
            }
        };
        if value.is_empty() {
            return Err(CredentialError::Empty {
                reference: bound.to_string(),
            });
        }
        self.redactor.add(&value);
        let secret = Secret::new(value);
        self.state.values.lock().await.insert(bound, secret.clone());
        tracing::debug!("credential resolved");
        Ok(secret)
    }

    /// Log in to Vault now (once per run) and return the client, for tasks
    /// that manage secrets rather than read credentials (cleanup-secrets).
    pub async fn vault(&self) -> Result<&VaultClient, CredentialError> {
        let Some(config) = &self.vault else {
            return Err(CredentialError::NoVault {
                reference: "vault://".into(),
            });
        };
        self.state
            .client
            .get_or_try_init(|| async {
                let client = VaultClient::login(config).await?;
                self.redactor.add(client.token().expose());
                Ok(client)
            })
            .await
            .map_err(|source| CredentialError::Vault {
                reference: format!("Vault at {}", config.addr),
                source,
            })
    }

    async fn read_vault(
        &self,
        reference: &CredentialRef,
        mount: &str,
        path: &str,
        key: &str,
    ) -> Result<String, CredentialError> {
        if self.vault.is_none() {
            return Err(CredentialError::NoVault {
                reference: reference.to_string(),
            });
        }
        let client = self.vault().await.map_err(|e| match e {
            CredentialError::Vault { source, .. } => CredentialError::Vault {
                reference: reference.to_string(),
                source,
            },
            other => other,
        })?;
        let location = format!("{mount}/{path}");
        let data = {
            let mut secrets = self.state.secrets.lock().await;
            let cache_key = (mount.to_string(), path.to_string());
            match secrets.get(&cache_key) {
                Some(cached) => cached.clone(),
                None => {
                    let read = client.kv2_read(mount, path).await.map_err(|source| {
                        CredentialError::Vault {
                            reference: reference.to_string(),
                            source,
                        }
                    })?;
                    let read = read.map(Arc::new);
                    // Every value of the secret is masked, not only the key
                    // asked for: a message may quote any of them.
                    for value in read.iter().flat_map(|d| d.values()) {
                        self.redactor.add(&value_text(value));
                    }
                    secrets.insert(cache_key, read.clone());
                    read
                }
            }
        };
        let Some(data) = data else {
            return Err(CredentialError::MissingPath { location });
        };
        match data.get(key) {
            Some(value) => Ok(value_text(value)),
            None => Err(CredentialError::MissingKey {
                location,
                key: key.to_string(),
            }),
        }
    }
}

/// A KV value as text: strings as they are, anything else as JSON.
fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A file's contents without the one trailing newline editors add.
fn trim_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn files_and_variables_resolve_once_and_are_masked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "file-secret-value\n").unwrap();
        let redactor = Redactor::new();
        let creds = Credentials::new(redactor.clone());
        let reference = CredentialRef::File(path.clone());
        let value = rt().block_on(creds.resolve(&reference)).unwrap();
        assert_eq!(value.expose(), "file-secret-value");
        assert_eq!(redactor.mask("x file-secret-value y"), "x *** y");
        // Cached: the file may go away.
        std::fs::remove_file(&path).unwrap();
        assert!(rt().block_on(creds.resolve(&reference)).is_ok());

        let missing = CredentialRef::Env("SANDBOX_TEST_SURELY_UNSET_VARIABLE".into());
        let err = rt().block_on(creds.resolve(&missing)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Precondition);
    }

    #[test]
    fn vault_without_login_or_outside_scope_sends_nothing() {
        let creds = Credentials::new(Redactor::new());
        let r = CredentialRef::parse("vault://secret/sandboxes/x/db#url").unwrap();
        let err = rt().block_on(creds.resolve(&r)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Precondition);
        let outside = CredentialRef::parse("vault://secret/elsewhere/db#url").unwrap();
        let err = rt().block_on(creds.resolve(&outside)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidParams);
        assert!(err.to_string().contains("vault://secret/…#url"), "{err}");
    }
}
