//! The handful of Vault HTTP calls the sandbox needs: log in (token,
//! kubernetes, jwt), read a KV v2 secret, list a KV v2 folder, delete every
//! version and the metadata of a secret. Transient failures (connection,
//! timeout, 408, 429, 5xx) are retried with the run's [`Backoff`]; a 403 is a
//! precondition naming the login role and the path.
//!
//! No response body is ever logged or put into an error except Vault's own
//! `errors` list, which never holds secret data.

use crate::config::{Login, VaultConfig};
use reqwest::{Method, StatusCode};
use sandbox_core::credential::Secret;
use sandbox_core::retry::{Backoff, Retryable};
use sandbox_core::{Classify, ErrorKind};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

/// How deep [`VaultClient::kv2_list_recursive`] descends below its folder.
pub const MAX_LIST_DEPTH: usize = 32;

/// A failed Vault call.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// No answer: connection refused or reset, DNS, timeout.
    #[error("cannot reach Vault at {addr} ({what})")]
    Unreachable {
        /// Vault's address.
        addr: String,
        /// The call.
        what: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// A 408, 429 or 5xx answer (`sandbox_http::is_transient`).
    #[error("Vault answered {status} to {what}{errors}")]
    Unavailable {
        /// The HTTP status.
        status: u16,
        /// The call.
        what: String,
        /// Vault's `errors`, formatted `: a; b`, or empty.
        errors: String,
        /// A `Retry-After` the server sent.
        retry_after: Option<Duration>,
    },
    /// 403: the login's policies do not allow the call.
    #[error("permission denied: {what} with {login}{errors}")]
    Denied {
        /// The call, naming the path.
        what: String,
        /// The login method and role.
        login: String,
        /// Vault's `errors`, formatted `: a; b`, or empty.
        errors: String,
    },
    /// Any other refusal (400, 404 on a login mount, …).
    #[error("Vault answered {status} to {what}{errors}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The call.
        what: String,
        /// Vault's `errors`, formatted `: a; b`, or empty.
        errors: String,
    },
    /// The answer was not the JSON Vault sends.
    #[error("unexpected answer from Vault to {what}")]
    Decode {
        /// The call.
        what: String,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The service account token (kubernetes/jwt login) could not be read.
    #[error("cannot read the service account token {}", path.display())]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The CA file could not be read or holds no certificate.
    #[error("cannot use the CA file {}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
}

impl Classify for VaultError {
    fn kind(&self) -> ErrorKind {
        match self {
            VaultError::Unreachable { .. } | VaultError::Unavailable { .. } => ErrorKind::Transient,
            VaultError::Denied { .. }
            | VaultError::Rejected { .. }
            | VaultError::Decode { .. }
            | VaultError::TokenFile { .. }
            | VaultError::CaFile { .. } => ErrorKind::Precondition,
            VaultError::Client(_) => ErrorKind::Internal,
        }
    }
}

impl Retryable for VaultError {
    fn is_transient(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            VaultError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A logged-in Vault client.
#[derive(Clone)]
pub struct VaultClient {
    http: reqwest::Client,
    addr: String,
    namespace: Option<String>,
    token: Secret,
    /// `kubernetes login as role r at auth/kubernetes`: named in 403s.
    login: String,
    backoff: Backoff,
}

impl std::fmt::Debug for VaultClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultClient")
            .field("addr", &self.addr)
            .field("namespace", &self.namespace)
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<String>,
}

#[derive(Deserialize)]
struct LoginBody {
    auth: LoginAuth,
}

#[derive(Deserialize)]
struct LoginAuth {
    client_token: String,
}

#[derive(Deserialize)]
struct KvReadBody {
    data: KvReadData,
}

#[derive(Deserialize)]
struct KvReadData {
    data: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
struct ListBody {
    data: ListData,
}

#[derive(Deserialize)]
struct ListData {
    #[serde(default)]
    keys: Vec<String>,
}

/// What a request returned: the status and the body, read whole.
struct Answer {
    status: StatusCode,
    body: Vec<u8>,
}

impl VaultClient {
    /// Build the HTTP client and log in with the configured method.
    pub async fn login(config: &VaultConfig) -> Result<Self, VaultError> {
        let http = sandbox_http::ClientOptions {
            connect_timeout: Some(config.connect_timeout),
            timeout: Some(config.timeout),
            ca_file: config.ca_file.clone(),
            ..sandbox_http::ClientOptions::default()
        }
        .build()
        .map_err(|e| match e {
            sandbox_http::ClientError::Build(e) => VaultError::Client(e),
            sandbox_http::ClientError::CaRead { path, source } => VaultError::CaFile {
                path,
                source: Box::new(source),
            },
            sandbox_http::ClientError::CaPem { path, source } => VaultError::CaFile {
                path,
                source: match source {
                    Some(e) => Box::new(e),
                    None => "no PEM certificate in the file".into(),
                },
            },
        })?;
        let mut client = VaultClient {
            http,
            addr: config.addr.trim_end_matches('/').to_string(),
            namespace: config.namespace.clone(),
            token: Secret::new(String::new()),
            login: config.login.to_string(),
            backoff: config.backoff,
        };
        client.token = match &config.login {
            Login::Token(token) => token.clone(),
            Login::Kubernetes {
                mount,
                role,
                token_file,
            }
            | Login::Jwt {
                mount,
                role,
                token_file,
            } => {
                let jwt =
                    std::fs::read_to_string(token_file).map_err(|e| VaultError::TokenFile {
                        path: token_file.clone(),
                        source: e,
                    })?;
                let body = serde_json::json!({ "role": role, "jwt": jwt.trim() });
                let what = format!("login at auth/{mount}");
                let answer = client
                    .call(
                        Method::POST,
                        &format!("auth/{mount}/login"),
                        Some(&body),
                        &what,
                    )
                    .await?;
                let parsed: LoginBody = client.decode(&answer, &what)?;
                Secret::new(parsed.auth.client_token)
            }
        };
        tracing::debug!(login = %client.login, "logged in to Vault");
        Ok(client)
    }

    /// The token the login produced (for callers that need it as a
    /// credential, e.g. a test); never print it.
    pub fn token(&self) -> &Secret {
        &self.token
    }

    /// The data of the latest version of the KV v2 secret `mount/path`, or
    /// `None` when there is none (never written, or its latest version is
    /// deleted or destroyed).
    pub async fn kv2_read(
        &self,
        mount: &str,
        path: &str,
    ) -> Result<Option<Map<String, Value>>, VaultError> {
        let what = format!("read {mount}/{path}");
        let answer = self
            .call(Method::GET, &format!("{mount}/data/{path}"), None, &what)
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body: KvReadBody = self.decode(&answer, &what)?;
        Ok(body.data.data)
    }

    /// True when the KV v2 secret `mount/path` has metadata (any version,
    /// deleted or not).
    pub async fn kv2_exists(&self, mount: &str, path: &str) -> Result<bool, VaultError> {
        let what = format!("read {mount}/metadata/{path}");
        let answer = self
            .call(
                Method::GET,
                &format!("{mount}/metadata/{path}"),
                None,
                &what,
            )
            .await?;
        Ok(answer.status != StatusCode::NOT_FOUND)
    }

    /// The entries of the KV v2 folder `mount/path`: secret names, and
    /// sub-folders ending in `/`. Empty when the folder does not exist.
    pub async fn kv2_list(&self, mount: &str, path: &str) -> Result<Vec<String>, VaultError> {
        let what = format!("list {mount}/metadata/{path}/");
        let answer = self
            .call(
                Method::GET,
                &format!("{mount}/metadata/{path}/?list=true"),
                None,
                &what,
            )
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let body: ListBody = self.decode(&answer, &what)?;
        Ok(body.data.keys)
    }

    /// Every secret below the folder `mount/path`, as paths below the mount
    /// (`sandboxes/sbx-pr-7/db`), depth first, sorted. Folder names coming
    /// back from Vault are checked: an entry holding `..` or an empty
    /// segment is an error, never followed.
    pub async fn kv2_list_recursive(
        &self,
        mount: &str,
        path: &str,
    ) -> Result<Vec<String>, VaultError> {
        let root = path.trim_end_matches('/').to_string();
        let root_depth = root.split('/').count();
        let mut found = Vec::new();
        let mut folders = vec![root];
        while let Some(folder) = folders.pop() {
            // KV paths are shallow; a deeper tree means a server that keeps
            // inventing folders, and the walk must end.
            if folder.split('/').count() - root_depth >= MAX_LIST_DEPTH {
                return Err(VaultError::Rejected {
                    status: 200,
                    what: format!("list {mount}/metadata/{folder}/"),
                    errors: format!(": folders nested deeper than {MAX_LIST_DEPTH} levels"),
                });
            }
            for entry in self.kv2_list(mount, &folder).await? {
                let name = entry.trim_end_matches('/');
                if name.is_empty()
                    || name
                        .split('/')
                        .any(|s| s.is_empty() || s == "." || s == "..")
                {
                    return Err(VaultError::Rejected {
                        status: 200,
                        what: format!("list {mount}/metadata/{folder}/"),
                        errors: ": Vault listed an entry with an empty or '..' segment".into(),
                    });
                }
                let child = format!("{folder}/{name}");
                if entry.ends_with('/') {
                    folders.push(child);
                } else {
                    found.push(child);
                }
            }
        }
        found.sort();
        Ok(found)
    }

    /// Delete every version and the metadata of the KV v2 secret
    /// `mount/path`. Vault answers 204 also when there is nothing to delete,
    /// so this is idempotent.
    pub async fn kv2_delete_all(&self, mount: &str, path: &str) -> Result<(), VaultError> {
        let what = format!("delete {mount}/metadata/{path}");
        let answer = self
            .call(
                Method::DELETE,
                &format!("{mount}/metadata/{path}"),
                None,
                &what,
            )
            .await?;
        if answer.status.is_success() || answer.status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(self.refusal(&answer, &what))
        }
    }

    /// One call, retried while transient. Returns 2xx and 404 answers; any
    /// other status becomes an error.
    async fn call(
        &self,
        method: Method,
        api_path: &str,
        body: Option<&Value>,
        what: &str,
    ) -> Result<Answer, VaultError> {
        let url = format!("{}/v1/{api_path}", self.addr);
        self.backoff
            .retry(|_| {
                let mut request = self
                    .http
                    .request(method.clone(), &url)
                    .header("X-Vault-Request", "true");
                if !self.token.expose().is_empty() {
                    request = request.header("X-Vault-Token", self.token.expose());
                }
                if let Some(ns) = &self.namespace {
                    request = request.header("X-Vault-Namespace", ns);
                }
                if let Some(body) = body {
                    request = request
                        .header("Content-Type", "application/json")
                        .body(body.to_string());
                }
                async move {
                    let unreachable = |source| VaultError::Unreachable {
                        addr: self.addr.clone(),
                        what: what.to_string(),
                        source,
                    };
                    let response = request.send().await.map_err(unreachable)?;
                    let status = response.status();
                    let retry_after = sandbox_http::retry_after(response.headers());
                    let body = response.bytes().await.map_err(unreachable)?.to_vec();
                    let answer = Answer { status, body };
                    if status.is_success() || status == StatusCode::NOT_FOUND {
                        return Ok(answer);
                    }
                    if sandbox_http::is_transient(status) {
                        return Err(VaultError::Unavailable {
                            status: status.as_u16(),
                            what: what.to_string(),
                            errors: vault_errors(&answer.body),
                            retry_after,
                        });
                    }
                    Err(self.refusal(&answer, what))
                }
            })
            .await
    }

    fn refusal(&self, answer: &Answer, what: &str) -> VaultError {
        let errors = vault_errors(&answer.body);
        if answer.status == StatusCode::FORBIDDEN {
            VaultError::Denied {
                what: what.to_string(),
                login: self.login.clone(),
                errors,
            }
        } else {
            VaultError::Rejected {
                status: answer.status.as_u16(),
                what: what.to_string(),
                errors,
            }
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        answer: &Answer,
        what: &str,
    ) -> Result<T, VaultError> {
        if answer.status == StatusCode::NOT_FOUND {
            return Err(self.refusal(answer, what));
        }
        serde_json::from_slice(&answer.body).map_err(|source| VaultError::Decode {
            what: what.to_string(),
            source,
        })
    }
}

/// Vault's `{"errors":[…]}` as `: a; b` (at most 300 characters), or empty.
fn vault_errors(body: &[u8]) -> String {
    let errors = serde_json::from_slice::<ErrorBody>(body)
        .map(|b| b.errors)
        .unwrap_or_default();
    if errors.is_empty() {
        return String::new();
    }
    let mut text = format!(": {}", errors.join("; "));
    if text.len() > 300 {
        let mut cut = 300;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}
