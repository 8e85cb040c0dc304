//! The Kubernetes API a task reads (wait-ready: Argo CD's Applications):
//! in a pod, the pod's own; elsewhere, a URL, a token file and a CA.

use clap::Args;
use sandbox_argocd::{Kube, KubeConfig, TokenSource, kube};
use sandbox_core::TaskError;
use sandbox_core::params::{Invalid, Problems};
use std::path::PathBuf;
use std::time::Duration;

/// The Kubernetes API and its credentials.
#[derive(Debug, Clone, Args)]
pub struct KubeArgs {
    /// Kubernetes API URL [default: the pod's own, from KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT].
    #[arg(long, env = "SANDBOX_KUBE_API_URL", value_name = "URL")]
    pub kube_api_url: Option<String>,
    /// File holding the bearer token for the Kubernetes API (read before each request).
    #[arg(
        long,
        env = "SANDBOX_KUBE_TOKEN_FILE",
        value_name = "FILE",
        default_value = kube::IN_CLUSTER_TOKEN_FILE
    )]
    pub kube_token_file: PathBuf,
    /// PEM CA of the Kubernetes API [default: the service account's ca.crt in a pod].
    #[arg(long, env = "SANDBOX_KUBE_CA_CERT", value_name = "FILE")]
    pub kube_ca_cert: Option<PathBuf>,
}

impl Default for KubeArgs {
    fn default() -> Self {
        KubeArgs {
            kube_api_url: None,
            kube_token_file: kube::IN_CLUSTER_TOKEN_FILE.into(),
            kube_ca_cert: None,
        }
    }
}

/// [`KubeArgs`] validated.
#[derive(Debug, Clone)]
pub struct KubePlan {
    /// An explicit API URL, else the pod's own.
    pub api_url: Option<String>,
    /// The token file.
    pub token_file: PathBuf,
    /// An explicit CA.
    pub ca_file: Option<PathBuf>,
}

impl KubeArgs {
    /// Validate (syntax only; nothing is read).
    pub fn validate(&self, problems: &mut Problems) -> Option<KubePlan> {
        let api_url =
            problems.parse_opt("kube_api_url", self.kube_api_url.as_deref(), parse_api_url);
        if self.kube_api_url.is_some() && api_url.is_none() {
            return None;
        }
        Some(KubePlan {
            api_url,
            token_file: self.kube_token_file.clone(),
            ca_file: self.kube_ca_cert.clone(),
        })
    }
}

fn parse_api_url(s: &str) -> Result<String, Invalid> {
    let fix = "give the API server's http(s) URL without credentials or path, e.g. https://10.0.0.1:443, or leave it empty in a pod";
    let url =
        url::Url::parse(s).map_err(|_| Invalid::one("url", format!("{s:?} is not a URL"), fix))?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
    {
        return Err(Invalid::one(
            "kube-api-url",
            "only http(s) URLs without credentials or query",
            fix,
        ));
    }
    Ok(s.trim_end_matches('/').to_string())
}

impl KubePlan {
    /// The client: the explicit URL, token file and CA, else the pod's own
    /// configuration (client-go `rest.InClusterConfig`, see
    /// `sandbox_argocd::kube`).
    pub fn client(&self, timeout: Duration) -> Result<Kube, TaskError> {
        let mut config = match &self.api_url {
            Some(url) => KubeConfig {
                api_url: url.clone(),
                token: TokenSource::File(self.token_file.clone()),
                ca_file: None,
                timeout,
            },
            None => KubeConfig::in_cluster()?,
        };
        config.token = TokenSource::File(self.token_file.clone());
        config.timeout = timeout;
        if let Some(ca) = &self.ca_file {
            config.ca_file = Some(ca.clone());
        }
        Ok(Kube::new(&config)?)
    }
}
