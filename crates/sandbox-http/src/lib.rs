//! The one way the sandbox crates talk HTTP to the services they call (the
//! GCS JSON API in `sandbox-storage`, Vault in `sandbox-vault`, GitHub in
//! `sandbox-forge`): how a client is built ([`ClientOptions::build`]: the
//! workspace's rustls with ring and both the bundled and the system roots,
//! an optional extra CA, timeouts, one user agent), how long a server asked
//! us to wait ([`retry_after`]) and which statuses are worth another
//! attempt ([`is_transient`]).
//!
//! Retrying itself is `sandbox_core::retry::Backoff`; this crate only reads
//! what the server said.
#![warn(missing_docs)]

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// The `User-Agent` of every request: servers' logs name the tool and its
/// version (GitHub rejects requests without one).
pub const USER_AGENT: &str = concat!("argo-sandbox/", env!("CARGO_PKG_VERSION"));

/// How to build a client. `Default` is the user agent and nothing else:
/// no timeouts, reqwest's connection pool, the bundled and system roots.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// The `User-Agent` header.
    pub user_agent: String,
    /// Longest wait for a connection (TCP and TLS).
    pub connect_timeout: Option<Duration>,
    /// Longest wait between two reads of a response: a stalled transfer
    /// fails without limiting how long a large download may take.
    pub read_timeout: Option<Duration>,
    /// Longest whole request, from sending to the end of the body.
    pub timeout: Option<Duration>,
    /// A PEM file of CA certificates trusted in addition to the bundled and
    /// system roots (a Vault or GitHub Enterprise with a private CA).
    pub ca_file: Option<PathBuf>,
    /// Most idle connections kept per host (reqwest's default: no limit).
    pub max_idle_per_host: Option<usize>,
    /// Headers sent with every request (`Authorization` marked sensitive by
    /// the caller, `Accept`, API versions).
    pub default_headers: HeaderMap,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            user_agent: USER_AGENT.to_string(),
            connect_timeout: None,
            read_timeout: None,
            timeout: None,
            ca_file: None,
            max_idle_per_host: None,
            default_headers: HeaderMap::new(),
        }
    }
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The CA file could not be read.
    #[error("cannot read the CA file {}", path.display())]
    CaRead {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The CA file is not PEM, or holds no certificate.
    #[error("the CA file {} holds no usable PEM certificate", path.display())]
    CaPem {
        /// The file.
        path: PathBuf,
        /// The parse error, when there was one (an empty file has none).
        #[source]
        source: Option<reqwest::Error>,
    },
    /// reqwest refused the configuration (the TLS backend failed to start).
    #[error("cannot build the HTTP client")]
    Build(#[source] reqwest::Error),
}

impl ClientOptions {
    /// Build the client.
    pub fn build(&self) -> Result<reqwest::Client, ClientError> {
        // rustls needs a process-wide crypto provider when more than one
        // could be chosen; ring is the one the workspace builds (no C
        // toolchain for aws-lc). Installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .user_agent(&self.user_agent)
            .default_headers(self.default_headers.clone());
        if let Some(t) = self.connect_timeout {
            builder = builder.connect_timeout(t);
        }
        if let Some(t) = self.read_timeout {
            builder = builder.read_timeout(t);
        }
        if let Some(t) = self.timeout {
            builder = builder.timeout(t);
        }
        if let Some(n) = self.max_idle_per_host {
            builder = builder.pool_max_idle_per_host(n);
        }
        if let Some(path) = &self.ca_file {
            let pem = std::fs::read(path).map_err(|source| ClientError::CaRead {
                path: path.clone(),
                source,
            })?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ClientError::CaPem {
                    path: path.clone(),
                    source: Some(e),
                })?;
            if certs.is_empty() {
                return Err(ClientError::CaPem {
                    path: path.clone(),
                    source: None,
                });
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        builder.build().map_err(ClientError::Build)
    }
}

/// The wait a `Retry-After` header asks for, in either form RFC 9110
/// §10.2.3 allows: delay seconds (`120`) or an HTTP-date (`Wed, 21 Oct 2015
/// 07:28:00 GMT`, also the two obsolete date formats recipients must
/// accept). A date in the past is no wait; an unreadable value is `None`.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_at(headers, SystemTime::now())
}

/// [`retry_after`] with the current time given (for tests).
pub fn retry_after_at(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for a u64 is still "a very long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// True for the statuses another attempt may cure: 408 (the server gave up
/// waiting for us), 429 (too many requests) and every 5xx.
pub fn is_transient(status: StatusCode) -> bool {
    status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use std::time::UNIX_EPOCH;

    fn with(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        // 1445412480 is Wed, 21 Oct 2015 07:28:00 GMT.
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480 - 90);
        assert_eq!(
            retry_after_at(&with("7"), now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after_at(&with(" 120 "), now),
            Some(Duration::from_secs(120))
        );
        for date in [
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Wednesday, 21-Oct-15 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2015",
        ] {
            assert_eq!(
                retry_after_at(&with(date), now),
                Some(Duration::from_secs(90)),
                "{date}"
            );
        }
        let later = now + Duration::from_secs(3600);
        assert_eq!(
            retry_after_at(&with("Wed, 21 Oct 2015 07:28:00 GMT"), later),
            Some(Duration::ZERO),
            "a date in the past is no wait"
        );
        assert_eq!(
            retry_after_at(&with("99999999999999999999999"), now),
            Some(Duration::from_secs(u64::MAX))
        );
        for bad in ["", "-1", "1.5", "soon", "Wed, 32 Oct 2015 07:28:00 GMT"] {
            assert_eq!(retry_after_at(&with(bad), now), None, "{bad:?}");
        }
        assert_eq!(retry_after_at(&HeaderMap::new(), now), None);
    }

    #[test]
    fn transient_statuses() {
        for s in [408, 429, 500, 502, 503, 504, 599] {
            assert!(is_transient(StatusCode::from_u16(s).unwrap()), "{s}");
        }
        for s in [200, 304, 400, 401, 403, 404, 409, 412, 422] {
            assert!(!is_transient(StatusCode::from_u16(s).unwrap()), "{s}");
        }
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let options = ClientOptions {
            ca_file: Some(empty.clone()),
            ..ClientOptions::default()
        };
        let err = options.build().unwrap_err();
        assert!(matches!(err, ClientError::CaPem { .. }), "{err:?}");
        assert!(err.to_string().contains("empty.pem"), "{err}");
        let missing = ClientOptions {
            ca_file: Some(dir.path().join("missing.pem")),
            ..ClientOptions::default()
        };
        assert!(matches!(
            missing.build().unwrap_err(),
            ClientError::CaRead { .. }
        ));
        assert!(ClientOptions::default().build().is_ok());
    }
}
