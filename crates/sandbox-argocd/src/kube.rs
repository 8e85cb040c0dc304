//! A minimal Kubernetes API client: one authenticated `GET` of one object.
//! The sandbox tasks read one Application; a full client (kube-rs and its
//! dependency tree) buys nothing for that.
//!
//! In a pod it is configured as kubernetes/client-go `rest/config.go`
//! `InClusterConfig` is: `https://` + `KUBERNETES_SERVICE_HOST` and
//! `KUBERNETES_SERVICE_PORT` (joined as `net.JoinHostPort` does, so an
//! IPv6 host gets brackets), the token at
//! `/var/run/secrets/kubernetes.io/serviceaccount/token` and the CA at
//! `…/serviceaccount/ca.crt`. The token file is read again before each
//! request: a projected token is rotated by the kubelet while the pod
//! runs (client-go re-reads it every minute, `transport/token_source.go`
//! `NewCachedFileTokenSource`).

use crate::KubeError;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue};
use sandbox_core::credential::Secret;
use sandbox_core::env_vars;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The service account's token, as a pod has it.
pub const IN_CLUSTER_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// The CA that signed the API server's certificate, as a pod has it.
pub const IN_CLUSTER_CA_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";

/// Where the bearer token comes from.
#[derive(Debug, Clone)]
pub enum TokenSource {
    /// A file read before every request (a projected, rotated token).
    File(PathBuf),
    /// A fixed token.
    Static(Secret),
}

impl TokenSource {
    fn read(&self) -> Result<Secret, KubeError> {
        match self {
            TokenSource::Static(secret) => Ok(secret.clone()),
            TokenSource::File(path) => std::fs::read_to_string(path)
                .map(|t| Secret::new(t.trim().to_string()))
                .map_err(|e| KubeError::Config {
                    message: format!(
                        "cannot read the Kubernetes token file {}: {e}; run in a pod with a service account token, or pass --kube-token-file",
                        path.display()
                    ),
                }),
        }
    }
}

/// How to reach the API server.
#[derive(Debug, Clone)]
pub struct KubeConfig {
    /// `https://host:port` of the API server (no trailing slash).
    pub api_url: String,
    /// The bearer token.
    pub token: TokenSource,
    /// A PEM CA to trust for the API server's certificate.
    pub ca_file: Option<PathBuf>,
    /// Timeout of one request.
    pub timeout: Duration,
}

impl KubeConfig {
    /// The pod's own configuration: the API from the kubelet's variables,
    /// the service account's token and CA at the standard paths.
    pub fn in_cluster() -> Result<Self, KubeError> {
        let host = std::env::var(env_vars::KUBERNETES_SERVICE_HOST).unwrap_or_default();
        let port = std::env::var(env_vars::KUBERNETES_SERVICE_PORT).unwrap_or_default();
        if host.is_empty() || port.is_empty() {
            return Err(KubeError::Config {
                message: format!(
                    "not running in a Kubernetes pod ({} and {} are not set); pass --kube-api-url",
                    env_vars::KUBERNETES_SERVICE_HOST,
                    env_vars::KUBERNETES_SERVICE_PORT
                ),
            });
        }
        let ca = Path::new(IN_CLUSTER_CA_FILE);
        Ok(KubeConfig {
            api_url: format!("https://{}", join_host_port(&host, &port)),
            token: TokenSource::File(IN_CLUSTER_TOKEN_FILE.into()),
            ca_file: ca.exists().then(|| ca.to_path_buf()),
            timeout: Duration::from_secs(30),
        })
    }
}

/// `host:port`, with brackets around an IPv6 host (Go's `net.JoinHostPort`).
pub fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The client.
#[derive(Debug, Clone)]
pub struct Kube {
    http: reqwest::Client,
    api: String,
    token: TokenSource,
}

impl Kube {
    /// A client for `config`.
    pub fn new(config: &KubeConfig) -> Result<Self, KubeError> {
        let api = config.api_url.trim_end_matches('/').to_string();
        let parsed = url::Url::parse(&api).map_err(|_| KubeError::Config {
            message: format!("the Kubernetes API URL {api:?} is not a URL"),
        })?;
        if !matches!(parsed.scheme(), "https" | "http")
            || !parsed.username().is_empty()
            || parsed.password().is_some()
        {
            return Err(KubeError::Config {
                message: "the Kubernetes API URL must be http(s) without credentials".into(),
            });
        }
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = sandbox_http::ClientOptions {
            timeout: Some(config.timeout),
            ca_file: config.ca_file.clone(),
            default_headers: headers,
            ..sandbox_http::ClientOptions::default()
        }
        .build()
        .map_err(|e| KubeError::Config {
            message: match std::error::Error::source(&e) {
                Some(cause) => format!("{e}: {cause}"),
                None => e.to_string(),
            },
        })?;
        Ok(Kube {
            http,
            api,
            token: config.token.clone(),
        })
    }

    /// The API server's URL.
    pub fn api(&self) -> &str {
        &self.api
    }

    /// `GET` the object at `path` (e.g. [`crate::application_path`]).
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, KubeError> {
        let url = format!("{}{path}", self.api);
        let token = self.token.read()?;
        let mut auth =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                KubeError::Config {
                    message: "the Kubernetes token has characters a header cannot carry".into(),
                }
            })?;
        auth.set_sensitive(true);
        let response = self
            .http
            .get(&url)
            .header(AUTHORIZATION, auth)
            .send()
            .await
            .map_err(|e| KubeError::Network {
                url: url.clone(),
                source: e.without_url(),
            })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| KubeError::Network {
            url: url.clone(),
            source: e.without_url(),
        })?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|source| KubeError::Decode { url, source });
        }
        let message = status_message(&bytes);
        Err(match status.as_u16() {
            401 => KubeError::Unauthorized { url, message },
            403 => KubeError::Forbidden { url, message },
            404 => KubeError::NotFound { url, message },
            s @ (429 | 500..) => KubeError::Server {
                url,
                status: s,
                message,
            },
            s => KubeError::Request {
                url,
                status: s,
                message,
            },
        })
    }
}

/// The `message` of the API server's `Status` object (k8s.io/apimachinery
/// `pkg/apis/meta/v1/types.go` `Status`), else the start of the body.
fn status_message(bytes: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Status {
        message: String,
    }
    serde_json::from_slice::<Status>(bytes)
        .map(|s| s.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(bytes).chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_service_host_gets_brackets() {
        assert_eq!(join_host_port("10.0.0.1", "443"), "10.0.0.1:443");
        assert_eq!(join_host_port("fd00::1", "443"), "[fd00::1]:443");
    }

    #[test]
    fn the_api_server_status_message_is_kept() {
        let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"applications.argoproj.io \"x\" not found","reason":"NotFound","code":404}"#;
        assert_eq!(
            status_message(body),
            "applications.argoproj.io \"x\" not found"
        );
        assert_eq!(status_message(b"Unauthorized"), "Unauthorized");
    }

    #[test]
    fn credentials_in_the_api_url_are_refused() {
        let config = KubeConfig {
            api_url: "https://u:p@k8s.example.com".into(),
            token: TokenSource::Static(Secret::new("t")),
            ca_file: None,
            timeout: Duration::from_secs(1),
        };
        assert!(matches!(Kube::new(&config), Err(KubeError::Config { .. })));
    }
}
