//! Who the GCS client is: anonymous (an emulator or a custom endpoint), or
//! Application Default Credentials — a service-account key or a user's
//! refresh token from `GOOGLE_APPLICATION_CREDENTIALS` (or gcloud's
//! well-known file), else the metadata server, which is how GKE Workload
//! Identity hands a pod its Google service account.

use crate::StorageError;
use crate::env;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls::SignatureScheme;
use rustls::sign::SigningKey;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;

/// The OAuth scope every request needs: read and write objects.
const SCOPE: &str = "https://www.googleapis.com/auth/devstorage.read_write";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
const METADATA_HOST: &str = "metadata.google.internal";
/// Refresh a token this long before it expires.
const EARLY: Duration = Duration::from_secs(120);

/// Where access tokens come from.
#[derive(Clone)]
pub enum Credentials {
    /// No `Authorization` header: emulators and public buckets.
    Anonymous,
    /// A service-account key: a signed JWT is exchanged for a token.
    ServiceAccount(Arc<ServiceAccount>),
    /// A user's refresh token (`gcloud auth application-default login`).
    AuthorizedUser(Arc<AuthorizedUser>),
    /// The GCE/GKE metadata server (Workload Identity on GKE).
    Metadata {
        /// `http://<host>`, from `GCE_METADATA_HOST` or the well-known name.
        base: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.identity())
    }
}

/// A service-account key file's useful part.
pub struct ServiceAccount {
    /// The account, e.g. `seeder@project.iam.gserviceaccount.com`.
    pub client_email: String,
    /// Where the JWT is exchanged.
    pub token_uri: String,
    key: Arc<dyn SigningKey>,
}

/// A user credential file's useful part.
pub struct AuthorizedUser {
    client_id: String,
    client_secret: String,
    refresh_token: String,
    token_uri: String,
}

#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    client_email: Option<String>,
    private_key: Option<String>,
    token_uri: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    refresh_token: Option<String>,
}

impl Credentials {
    /// Application Default Credentials: `GOOGLE_APPLICATION_CREDENTIALS`,
    /// then gcloud's well-known file, then the metadata server.
    pub fn application_default() -> Result<Self, StorageError> {
        if let Some(path) = std::env::var_os(env::GOOGLE_APPLICATION_CREDENTIALS) {
            return Credentials::from_file(Path::new(&path));
        }
        if let Some(home) = std::env::var_os("HOME") {
            let well_known =
                PathBuf::from(home).join(".config/gcloud/application_default_credentials.json");
            if well_known.is_file() {
                return Credentials::from_file(&well_known);
            }
        }
        let host = std::env::var(env::GCE_METADATA_HOST).unwrap_or_else(|_| METADATA_HOST.into());
        Ok(Credentials::Metadata {
            base: format!("http://{host}"),
        })
    }

    /// Read a service-account key or authorized-user file.
    pub fn from_file(path: &Path) -> Result<Self, StorageError> {
        let bad = |message: String| StorageError::Credentials { message };
        let text = std::fs::read(path).map_err(|e| {
            bad(format!(
                "cannot read credentials file {}: {e}",
                path.display()
            ))
        })?;
        let file: KeyFile = serde_json::from_slice(&text).map_err(|e| {
            bad(format!(
                "credentials file {} is not a Google credentials JSON: {e}",
                path.display()
            ))
        })?;
        match file.kind.as_str() {
            "service_account" => {
                let (Some(client_email), Some(pem)) = (file.client_email, file.private_key) else {
                    return Err(bad(format!(
                        "service-account file {} lacks client_email or private_key",
                        path.display()
                    )));
                };
                Ok(Credentials::ServiceAccount(Arc::new(ServiceAccount {
                    key: signing_key(&pem)?,
                    client_email,
                    token_uri: file.token_uri.unwrap_or_else(|| DEFAULT_TOKEN_URI.into()),
                })))
            }
            "authorized_user" => {
                let (Some(client_id), Some(client_secret), Some(refresh_token)) =
                    (file.client_id, file.client_secret, file.refresh_token)
                else {
                    return Err(bad(format!(
                        "authorized-user file {} lacks client_id, client_secret or refresh_token",
                        path.display()
                    )));
                };
                Ok(Credentials::AuthorizedUser(Arc::new(AuthorizedUser {
                    client_id,
                    client_secret,
                    refresh_token,
                    token_uri: file.token_uri.unwrap_or_else(|| DEFAULT_TOKEN_URI.into()),
                })))
            }
            other => Err(bad(format!(
                "credentials file {} has type {other:?}; use a service_account or authorized_user file",
                path.display()
            ))),
        }
    }

    /// Who we are, for error messages (never a secret).
    pub fn identity(&self) -> String {
        match self {
            Credentials::Anonymous => "anonymous".into(),
            Credentials::ServiceAccount(sa) => format!("service account {}", sa.client_email),
            Credentials::AuthorizedUser(_) => "the gcloud user credentials".into(),
            Credentials::Metadata { .. } => {
                "the metadata server's service account (Workload Identity)".into()
            }
        }
    }
}

fn signing_key(pem: &str) -> Result<Arc<dyn SigningKey>, StorageError> {
    let bad = |message: &str| StorageError::Credentials {
        message: message.into(),
    };
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .map_err(|_| bad("the service account's private_key is not a PEM private key"))?;
    rustls::crypto::ring::sign::any_supported_type(&der)
        .map_err(|_| bad("the service account's private_key is not a usable RSA key"))
}

/// The JWT a service account signs to ask for a token (RFC 7523).
fn jwt(sa: &ServiceAccount, now: u64) -> Result<String, StorageError> {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "iss": sa.client_email,
        "scope": SCOPE,
        "aud": sa.token_uri,
        "iat": now,
        "exp": now + 3600,
    });
    let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{header}.{claims}");
    let signer = sa
        .key
        .choose_scheme(&[SignatureScheme::RSA_PKCS1_SHA256])
        .ok_or_else(|| StorageError::Credentials {
            message: "the service account's key cannot sign RS256".into(),
        })?;
    let signature = signer
        .sign(input.as_bytes())
        .map_err(|e| StorageError::Credentials {
            message: format!("cannot sign the token request: {e}"),
        })?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

/// A bearer token, refreshed shortly before it expires. One refresh at a
/// time: concurrent requests wait for it instead of each asking.
pub(crate) struct TokenSource {
    credentials: Credentials,
    cached: Mutex<Option<(String, Instant)>>,
}

impl TokenSource {
    pub(crate) fn new(credentials: Credentials) -> Self {
        TokenSource {
            credentials,
            cached: Mutex::new(None),
        }
    }

    pub(crate) fn identity(&self) -> String {
        self.credentials.identity()
    }

    /// The `Authorization` header value, or None when anonymous.
    pub(crate) async fn header(
        &self,
        http: &reqwest::Client,
    ) -> Result<Option<String>, StorageError> {
        if matches!(self.credentials, Credentials::Anonymous) {
            return Ok(None);
        }
        let mut cached = self.cached.lock().await;
        if let Some((token, expires)) = cached.as_ref()
            && Instant::now() + EARLY < *expires
        {
            return Ok(Some(format!("Bearer {token}")));
        }
        let (token, ttl) = self.fetch(http).await?;
        let header = format!("Bearer {token}");
        *cached = Some((token, Instant::now() + ttl));
        Ok(Some(header))
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<(String, Duration), StorageError> {
        let request = match &self.credentials {
            Credentials::Anonymous => unreachable!("anonymous credentials have no token"),
            Credentials::ServiceAccount(sa) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs();
                let body = format!(
                    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={}",
                    jwt(sa, now)?
                );
                http.post(&sa.token_uri)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
            }
            Credentials::AuthorizedUser(user) => {
                let body = format!(
                    "grant_type=refresh_token&client_id={}&client_secret={}&refresh_token={}",
                    form_encode(&user.client_id),
                    form_encode(&user.client_secret),
                    form_encode(&user.refresh_token)
                );
                http.post(&user.token_uri)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
            }
            Credentials::Metadata { base } => http
                .get(format!(
                    "{base}/computeMetadata/v1/instance/service-accounts/default/token"
                ))
                .header("metadata-flavor", "Google"),
        };
        let identity = self.identity();
        let failed = |message: String| StorageError::Credentials {
            message: format!("cannot get an access token for {identity}: {message}"),
        };
        let response = request
            .send()
            .await
            .map_err(|e| failed(format!("{e}; set GOOGLE_APPLICATION_CREDENTIALS, run with Workload Identity, or pass --endpoint for an emulator")))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(failed(format!(
                "HTTP {}: {}",
                status.as_u16(),
                crate::gcs::shorten(&text)
            )));
        }
        let token: TokenResponse = response
            .json()
            .await
            .map_err(|e| failed(format!("unreadable token response: {e}")))?;
        Ok((
            token.access_token,
            Duration::from_secs(token.expires_in.unwrap_or(300)),
        ))
    }
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_without_a_key_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        std::fs::write(&path, r#"{"type":"service_account","client_email":"a@b"}"#).unwrap();
        let err = Credentials::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("lacks client_email or private_key"), "{err}");
        std::fs::write(&path, r#"{"type":"external_account"}"#).unwrap();
        let err = Credentials::from_file(&path).unwrap_err().to_string();
        assert!(err.contains("external_account"), "{err}");
    }
}
